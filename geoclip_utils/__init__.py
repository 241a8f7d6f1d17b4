"""geoclip_utils — the package behind the geoclip book: how well does CLIP geolocate street photos?

Layers, bottom first: each imports only the layers below it (``make lint`` checks, with the contract in
``pyproject.toml``; ``docs/developing.md`` draws it):

======================================  =============================================================================
``errors``                              the exception hierarchy (every user error exits the CLI with status 2)
``io``, ``_io``, ``provenance``         files in and out: what a file is, the strict delimited reader, the output
                                        policy (``_io``: its old name); the files a book build used
``schema``, ``names``                   the one predictions table; country names → ISO-3, the label normaliser
``data``, ``labels``                    the authors' files (registry, hash-checked fetch, loaders); label files
``experiments``                         the experiment registry (``resources/experiments.toml``: TOML as data)
``geo``                                 geocoding, regions, Köppen, distances, gazetteer, place matching, pins
``stats``, ``captions``, ``notebook``,  metrics, bootstrap, comparisons, calibration, distance scoring; caption
``plots``                               counts; glue, tables and words for the chapters; offline figures
``engine``                              CLIP inference: readers, units, the cache, prompts, zero-shot scoring
``evaluate``, ``pipeline``,             a run's metrics and comparisons (``geoclip metrics/compare``); the
``geobench``, ``reference``             pipeline in three steps; benchmark sets; the authors' original loops
``studies``                             one module per chapter, named after it; no study imports another
``bench``, ``parameters``               timings (``geoclip bench``); every chapter's parameters and checks
``cli``                                 the ``geoclip`` command line
======================================  =============================================================================

Nothing heavy is imported by ``import geoclip_utils``: each name below is loaded on first use.

Example
-------
>>> import geoclip_utils as gu
>>> df = gu.load_results("country100")  # doctest: +SKIP
>>> gu.summarize(df)["top1"]  # doctest: +SKIP
0.5173913043478261
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_MODULES = (
    "bench",
    "captions",
    "data",
    "engine",
    "errors",
    "evaluate",
    "experiments",
    "geo",
    "geobench",
    "labels",
    "names",
    "notebook",
    "parameters",
    "pipeline",
    "plots",
    "reference",
    "schema",
    "stats",
    "studies",
)
#: Public functions and classes, by the module that defines them.
_NAMES = {
    "GeoclipError": "errors",
    "ConfigError": "errors",
    "DataError": "errors",
    "InputError": "errors",
    "fetch": "data",
    "load_results": "experiments",
    "load_labels": "experiments",
    "experiment_metrics": "evaluate",
    "compare_experiments": "evaluate",
    "make_predictions": "schema",
    "read_predictions": "schema",
    "save_predictions": "schema",
    "summarize": "stats",
    "reverse_geocode": "geo",
    "geocode": "geo",
    "load_model": "engine",
    "embed_images": "engine",
    "run_experiment": "engine",
    "count_captions": "captions",
}

__all__ = ["__version__", *_MODULES, *_NAMES]


def __getattr__(name: str):
    if name in _MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _NAMES:
        return getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
