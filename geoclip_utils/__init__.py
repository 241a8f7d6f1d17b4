"""geoclip_utils — the package behind the geoclip book: how well does CLIP geolocate street photos?

Layers, each importing only the ones above it:

=====================  ==================================================================================
``errors``, ``io``     the exception hierarchy (every user error exits the CLI with status 2); files in and out:
                       what a file is, the strict delimited reader, the output policy (``_io``: its old name)
``names``, ``labels``  country names → ISO-3, the label normaliser; label files and gold tables
``data``               the authors' files: registry, hash-checked fetch (mirror or cache), file loaders
``schema``             the one predictions table shared by the authors' files and our runs
``experiments``        the experiment registry (``resources/experiments.toml``) and the results loader
``stats``              metrics, the bootstrap, paired comparisons, calibration
``geo``                offline geocoding, regions, Köppen climate, distances, de-duplication
``engine``             CLIP inference: models, images, the embedding cache, prompts, zero-shot scoring
``captions``           counting label mentions in caption files (LAION-style)
``studies``            the analyses behind the chapters, one module per question
``reference``          the authors' original loops, kept as reference implementations
``plots``, ``notebook``  offline plotly figures; glue and tables for the chapters
``parameters``         every chapter's parameters: declarations and the one check of a chapter's check cell
``bench``, ``cli``     benchmarks; the ``geoclip`` command line
=====================  ==================================================================================

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
    "experiments",
    "geo",
    "labels",
    "names",
    "notebook",
    "parameters",
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
    "experiment_metrics": "experiments",
    "compare_experiments": "experiments",
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
