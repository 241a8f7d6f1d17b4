"""Every chapter's parameters, declared in one place and checked by one function.

A chapter's ``parameters`` cell (``book/<chapter>.md``) stays the readable source of the defaults a reader
edits or passes to papermill (``-p n_boot 200``). This module declares, for every chapter, each parameter's
name, type, bounds or choices and meaning (:data:`CHAPTERS`), plus the checks that need the registry or
several parameters at once (an experiment the chapter can analyse, a results folder that exists).
``tests/test_parameters.py`` keeps the declarations and the chapters' parameters cells in agreement.

A chapter's check cell calls :func:`check_notebook` with its ``globals()``. It refuses:

* a parameter the chapter does not declare, with one sentence naming it and the chapter's real parameters.
  papermill only warns about such a parameter (``-p n_bot 5`` runs the chapter on its defaults), so the
  check reads the cells the kernel ran before the check cell: papermill's injected cell (and the parameters
  cell, should a reader add a name to it) assigns every parameter given;
* a value of the wrong type, out of its bounds (upper bounds where a value would exhaust memory or time:
  ``n_bins = 100000000`` used to die 84 s later in a ``MemoryError``) or not among its choices;
* a combination the chapter cannot run (:attr:`Chapter.check`).

Every message is one line, a :class:`~geoclip_utils.errors.ConfigError` that a notebook shows without a
traceback. :func:`check` does the same for values given as keywords.

Example
-------
>>> check("calibration", source="paper", experiment="country100", results_dir=None, n_bins=10, n_boot=1000,
...       seed=0)
>>> check("calibration", n_bot=5)
Traceback (most recent call last):
...
geoclip_utils.errors.ConfigError: the calibration chapter has no parameter 'n_bot' (did you mean 'n_boot'?); its parameters are source, experiment, results_dir, n_bins, n_boot, seed
"""

from __future__ import annotations

import ast
import difflib
import math
import numbers
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import experiments as registry
from .errors import ConfigError
from .evaluate import map_guess
from .evaluate.geoestimation import PARTITIONINGS
from .geo.gazetteer import MIN_POPULATION
from .geobench import BENCHMARKS
from .studies import below_country
from .studies.climate import COUNTRY_MODES
from .studies.countries import MODES as COUNTRY_RUN_MODES
from .studies.geoestimation import clip_experiments

__all__ = [
    "Param",
    "Chapter",
    "CHAPTERS",
    "check",
    "check_notebook",
    "injected_names",
    "check_value",
    "check_experiment",
    "check_label_set",
    "check_results_dir",
    "check_model_name",
    "check_device",
    "check_image_source",
    "experiment_names",
    "DEVICES",
]

#: The largest distance between two points of the Earth (half its circumference, km).
MAX_KM = math.pi * 6371.0
#: Bootstrap resamples above this would take hours (time grows linearly; 1,000 take seconds).
MAX_N_BOOT = 100_000
#: Device names a chapter parameter takes (and ``"cuda:N"``).
DEVICES = ("auto", "cuda", "mps", "cpu")


# --------------------------------------------------------------------------- declarations
@dataclass(frozen=True)
class Param:
    """One chapter parameter: its name, type and allowed values, and what it means.

    ``kind`` is ``int``, ``float`` (an int is accepted) or ``str``; ``optional`` allows ``None``. Numbers
    are checked against ``minimum`` / ``maximum`` (inclusive) and ``above`` (exclusive); ``choices`` lists
    the allowed values and ``hint`` is appended to the message when the value is not one of them.
    """

    name: str
    kind: type
    meaning: str
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None
    choices: tuple | None = None
    optional: bool = False
    hint: str = ""

    def bounds(self) -> str:
        """A number's type and bounds in words (``"an integer from 1 to 100000"``); its parameters cell
        comment says the same (a test checks)."""
        what = "an integer" if self.kind is int else "a number"
        if self.minimum is not None and self.maximum is not None:
            return f"{what} from {self.minimum:g} to {self.maximum:g}"
        limits = []
        if self.above is not None:
            limits.append(f"greater than {self.above:g}")
        if self.minimum is not None:
            limits.append(f"at least {self.minimum:g}")
        if self.maximum is not None:
            limits.append(f"at most {self.maximum:g}")
        if len(limits) == 1 and self.above is None:
            return f"{what} of {limits[0]}"
        return f"{what} " + " and ".join(limits) if limits else what

    def allowed(self) -> str:
        """What the parameter takes, in words (the end of its messages)."""
        if self.choices is not None:
            return f"choose one of {list(self.choices)}" + (f"; {self.hint}" if self.hint else "")
        if self.kind is str:
            return "give a string" + (" or None" if self.optional else "")
        return f"use {self.bounds()}"


@dataclass(frozen=True)
class Chapter:
    """A chapter's parameters (in the order of its parameters cell) and its checks across parameters.

    ``check`` receives every parameter's value once each has passed its own check, and raises
    :class:`ConfigError` for a combination the chapter cannot run.
    """

    name: str
    params: tuple[Param, ...]
    check: Callable[[dict[str, Any]], None] | None = None

    @property
    def names(self) -> list[str]:
        """The parameter names, in order."""
        return [p.name for p in self.params]


def check_value(param: Param, value: Any) -> Any:
    """Check one value against its declaration (type, bounds, choices); returns it unchanged.

    Raises
    ------
    ConfigError
        ``"<name>=<value> is not allowed: <what it takes>"``.

    Example
    -------
    >>> check_value(Param("n_boot", int, "resamples", minimum=1), -5)
    Traceback (most recent call last):
    ...
    geoclip_utils.errors.ConfigError: n_boot=-5 is not allowed: use an integer of at least 1
    """
    if value is None and param.optional:
        return value
    if param.choices is not None:
        ok = isinstance(value, str | int | float) and not isinstance(value, bool) and value in param.choices
    elif param.kind is str:
        ok = isinstance(value, str)
    else:
        ok = isinstance(value, numbers.Integral if param.kind is int else numbers.Real)
        ok = ok and not isinstance(value, bool) and math.isfinite(value)
        ok = ok and (param.minimum is None or value >= param.minimum)
        ok = ok and (param.maximum is None or value <= param.maximum)
        ok = ok and (param.above is None or value > param.above)
    if not ok:
        raise ConfigError(f"{param.name}={value!r} is not allowed: {param.allowed()}")
    return value


# --------------------------------------------------------------------------- checks that need the registry
def check_results_dir(results_dir: Any, source: str) -> Any:
    """``results_dir``: ``None`` ($GEOCLIP_RESULTS or ``results/``), or with ``source="local"`` a folder.

    Example
    -------
    >>> check_results_dir("somewhere", "paper")
    Traceback (most recent call last):
    ...
    geoclip_utils.errors.ConfigError: results_dir='somewhere' is read only with source='local': drop it, or set source='local'
    """
    if results_dir is None:
        return None
    if source != "local":
        raise ConfigError(
            f"results_dir={results_dir!r} is read only with source='local': drop it, or set source='local'"
        )
    if not isinstance(results_dir, str | Path) or not Path(results_dir).expanduser().is_dir():
        raise ConfigError(
            f"results_dir={results_dir!r} is not a folder: give the folder `geoclip classify` wrote its "
            "results to"
        )
    return results_dir


def check_experiment(
    experiment: Any,
    *,
    source: str = "paper",
    results_dir: str | os.PathLike | None = None,
    chapter: str | None = None,
    modes: tuple[str, ...] | None = None,
    countries: bool | None = None,
    parameter: str = "experiment",
) -> registry.Experiment | None:
    """Check an experiment parameter: registered (or, with ``source="local"``, a results file), of a mode
    and a kind of label the chapter analyses, with a published file when ``source="paper"``.

    Parameters
    ----------
    experiment : the name given.
    source : ``"paper"`` or ``"local"``.
    results_dir : local results folder (``source="local"``).
    chapter : the chapter asking (named in the message).
    modes : the modes the chapter can analyse.
    countries : whether the chapter needs a label set of countries.
    parameter : the parameter's name in the messages (a chapter may call it ``standard`` or ``mixed``).

    Returns
    -------
    The registry record, or ``None`` for a local experiment that is not registered.

    Raises
    ------
    ConfigError
        Naming the parameter, the value, what is allowed, and the chapter that fits instead.
    """
    if source not in ("paper", "local"):
        raise ConfigError(f"source={source!r} is not allowed; use 'paper' (the authors' files) or 'local'")
    exps = registry.experiments()
    here = f"the {chapter} chapter" if chapter else "this step"
    fits = [
        n
        for n, e in exps.items()
        if (modes is None or e.mode in modes)
        and (countries is None or e.labels.countries == countries)
        and (source == "local" or e.published)
    ]
    given = f"{parameter}={experiment!r}"
    if not isinstance(experiment, str):
        raise ConfigError(f"{given} is not allowed: give an experiment name (a string)")

    def need_local_results() -> None:
        path = registry.local_results_dir(results_dir) / f"{registry.check_name(experiment)}.parquet"
        if not path.is_file():
            raise ConfigError(
                f"{given}: no local results at {path}; run `geoclip classify` first or set results_dir"
            )

    exp = exps.get(experiment)
    if exp is None:
        if source == "local":
            need_local_results()
            return None
        raise ConfigError(f"{given} is not a registered experiment; {here} takes {fits}")
    wrong_mode = modes is not None and exp.mode not in modes
    wrong_kind = countries is not None and exp.labels.countries != countries
    if wrong_mode or wrong_kind:
        what = f"a {exp.labels.place} experiment" if wrong_kind else f"a {exp.mode} experiment"
        instead = f"; the {exp.chapter} chapter analyses it" if exp.chapter else ""
        raise ConfigError(f"{given} is {what}; {here} takes {fits}{instead}")
    if source == "paper" and not exp.published:
        raise ConfigError(f"{given} has no published result file; run it yourself and use source='local'")
    if source == "local":
        need_local_results()
    return exp


def check_label_set(
    name: Any, *, parameter: str = "label_set", chapter: str = "", coordinates: bool = False, countries=None
) -> registry.LabelSet:
    """Check a label-set parameter: registered, with coordinates (``coordinates=True``) and of countries
    (``countries=True``) when the chapter needs them.

    Raises
    ------
    ConfigError
        Naming the parameter, the value, the label sets the chapter takes and the chapter that analyses
        the set instead.
    """
    sets = registry.label_sets()
    fits = [
        n
        for n, s in sets.items()
        if (not coordinates or s.coordinates) and (countries is None or s.countries == countries)
    ]
    here = f"the {chapter} chapter" if chapter else "this step"
    if not isinstance(name, str) or name not in sets:
        raise ConfigError(f"{parameter}={name!r} is not a registered label set; {here} takes {fits}")
    if name not in fits:
        ls = sets[name]
        why = "has no coordinates" if coordinates and not ls.coordinates else f"is a set of {ls.place} labels"
        others = sorted(
            {e.chapter for e in registry.experiments().values() if e.label_set == name and e.chapter}
        )
        instead = f"; the {' and '.join(others)} chapter analyses it" if others else ""
        raise ConfigError(f"{parameter}={name!r} {why}; {here} takes {fits}{instead}")
    return sets[name]


def experiment_names(spec: Any, *, parameter: str = "experiments") -> list[str]:
    """The experiments named by a parameter: ``"all"`` (every registered experiment the engine runs from a
    cache) or comma-separated registered names.

    Raises
    ------
    ConfigError
        Naming the parameter, the value, what is allowed and, for an experiment that is not run from a
        cache, the chapter that analyses it.

    Example
    -------
    >>> experiment_names("country100, country100_region")
    ['country100', 'country100_region']
    """
    exps = registry.experiments()
    runnable = [n for n, e in exps.items() if e.mode in registry.RUNNABLE_MODES]
    allowed = f"use 'all' or comma-separated names among {runnable}"
    if not isinstance(spec, str):
        raise ConfigError(f"{parameter}={spec!r} is not allowed: {allowed}")
    if spec.strip() == "all":
        return runnable
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        raise ConfigError(f"{parameter}={spec!r} is not allowed: {allowed}")
    for name in names:
        if name not in exps:
            raise ConfigError(f"{parameter}={spec!r} is not allowed: {name!r} is not registered; {allowed}")
        if name not in runnable:
            e = exps[name]
            instead = f" (the {e.chapter} chapter analyses it)" if e.chapter else ""
            raise ConfigError(
                f"{parameter}={spec!r} is not allowed: {name!r} is a {e.mode} experiment, which is not run "
                f"from an embedding cache{instead}; {allowed}"
            )
    return names


def check_model_name(name: Any, *, parameter: str = "model_name", backends: bool = False) -> str:
    """A model parameter, before loading: ``"tiny"``, a CLIP name or an existing checkpoint file; with
    ``backends`` also ``open_clip:ARCH[:WEIGHTS]`` and ``hf:FOLDER`` (checked when loaded).

    Raises
    ------
    ConfigError
        Naming the parameter, the value and what is allowed.
    """
    import clip

    from .engine.backends import split_backend

    known = clip.available_models()
    if isinstance(name, str) and name:
        backend, rest = split_backend(name)
        if backend != "openai" and backends and rest.strip():
            return name
        if backend == "openai" and (rest == "tiny" or rest in known or Path(rest).expanduser().is_file()):
            return name
    other = ", 'open_clip:ARCH:WEIGHTS', 'hf:FOLDER'" if backends else ""
    raise ConfigError(
        f"{parameter}={name!r} is not allowed: use 'tiny' (random weights, offline), a CLIP name "
        f"({', '.join(known)}){other} or the path of a checkpoint file"
    )


def check_device(device: Any, *, parameter: str = "device") -> str:
    """A device parameter: one of :data:`DEVICES` (or ``"cuda:N"``), available on this machine.

    Raises
    ------
    ConfigError
        Naming the parameter, the value and what is allowed.
    """
    from .engine.models import pick_device

    ok = device in DEVICES or (isinstance(device, str) and device.startswith("cuda:"))
    if not ok:
        raise ConfigError(f"{parameter}={device!r} is not allowed: choose one of {list(DEVICES)}")
    try:
        pick_device(None if device == "auto" else device)
    except ConfigError as exc:
        raise ConfigError(
            f"{parameter}={device!r} is not allowed: that device is not available on this machine; "
            "use 'auto' or 'cpu'"
        ) from exc
    return device


def check_image_source(image_dir: str, ids_csv: str) -> None:
    """``image_dir`` and ``ids_csv``: ``""`` (the demo set / the experiments' ids), an existing folder, an
    existing file; ``ids_csv`` only with ``image_dir``.

    Raises
    ------
    ConfigError
        Naming the parameter, the value and what is allowed.
    """
    if image_dir and not Path(image_dir).is_dir():
        raise ConfigError(
            f"image_dir={image_dir!r} is not allowed: it is not a folder; give the folder of "
            "<image_id>.jpg files, or '' for the synthetic demo set"
        )
    if ids_csv and not Path(ids_csv).is_file():
        raise ConfigError(
            f"ids_csv={ids_csv!r} is not allowed: it is not a file; give a CSV of image ids, or '' for "
            "the ids of the demo set or of the experiments"
        )
    if ids_csv and not image_dir:
        raise ConfigError(
            f"ids_csv={ids_csv!r} is not allowed without image_dir: the demo set has its own ids; "
            "give image_dir too, or ids_csv=''"
        )


# --------------------------------------------------------------------------- the chapters' own checks
#: The registered experiments the regions chapter reads whatever its parameters.
_REGIONS_RUNS = ("country100_region", "country100_country_from_region", "country100")
_KIND_HINT = "the authors counted captions these two ways only"
_GE_HINT = "GeoEstimation's partitionings of the globe"


def _fits(
    v: dict[str, Any], chapter: str, name: str = "experiment", **kind: Any
) -> registry.Experiment | None:
    """:func:`check_experiment` of parameter ``name``, with the chapter's ``source`` and ``results_dir``."""
    return check_experiment(
        v[name], source=v["source"], results_dir=v["results_dir"], chapter=chapter, parameter=name, **kind
    )


def _results(chapter: str, *fixed: str) -> Callable[[dict[str, Any]], None]:
    """``results_dir`` fits ``source``; the chapter's fixed experiments can be read from that source."""

    def run(v: dict[str, Any]) -> None:
        check_results_dir(v["results_dir"], v["source"])
        for name in fixed:
            check_experiment(name, source=v["source"], results_dir=v["results_dir"], chapter=chapter)

    return run


def _countries(v: dict[str, Any]) -> None:
    from .schema import read_predictions

    check_results_dir(v["results_dir"], v["source"])
    if _fits(v, "countries", modes=COUNTRY_RUN_MODES, countries=True) is not None:
        return
    # an unregistered local run: its results file says what it is
    path = registry.local_results_dir(v["results_dir"]) / f"{v['experiment']}.parquet"
    attrs = read_predictions(path).attrs
    label_set = registry.label_sets().get(str(attrs.get("label_set", "")))
    mode = attrs.get("mode", "flat")
    if label_set is None or not label_set.countries or mode not in COUNTRY_RUN_MODES:
        what = f"label set {attrs.get('label_set')!r}" if label_set is None else f"a {label_set.place} run"
        raise ConfigError(
            f"experiment={v['experiment']!r}: {path} holds {what} (mode {mode!r}); the countries chapter "
            f"takes runs of mode {' or '.join(COUNTRY_RUN_MODES)} over a label set of countries (the "
            "below_country chapter takes other places)"
        )


def _calibration(v: dict[str, Any]) -> None:
    check_results_dir(v["results_dir"], v["source"])
    source, experiment = v["source"], v["experiment"]
    exp = _fits(v, "calibration")
    if exp is not None and not exp.probabilities:
        fits = [
            n
            for n, e in registry.experiments().items()
            if e.probabilities and (source == "local" or e.published)
        ]
        instead = f"; the {exp.chapter} chapter analyses it" if exp.chapter else ""
        raise ConfigError(
            f"experiment={experiment!r} stores no probabilities; the calibration chapter takes "
            f"{fits}{instead}"
        )


def _climate(v: dict[str, Any]) -> None:
    check_model_name(v["climate_model"], parameter="climate_model")
    exp = registry.experiments().get(v["experiment"])
    if exp is not None and exp.mode == "climate":
        raise ConfigError(
            f"experiment={v['experiment']!r} is not allowed: this parameter takes a country experiment to "
            "break down by climate; a climate run is read from results_dir in the chapter's last section"
        )
    _fits(v, "climate", modes=COUNTRY_MODES, countries=True)


def _data(v: dict[str, Any]) -> None:
    check_label_set(v["label_set"], chapter="data", coordinates=True, countries=True)


def _geoestimation(v: dict[str, Any]) -> None:
    fits = clip_experiments()
    name = v["clip_experiment"]
    if name not in fits:
        exp = registry.experiments().get(name)
        instead = f"; the {exp.chapter} chapter analyses {name}" if exp and exp.chapter else ""
        raise ConfigError(
            f"clip_experiment={name!r} is not allowed: GeoEstimation ran on the country100 photos, so choose "
            f"a published CLIP run that names a country for them, one of {fits}{instead}"
        )


def _geoguessr(v: dict[str, Any]) -> None:
    fits = map_guess.clip_experiments()
    name = v["experiment"]
    if name not in fits:
        exp = registry.experiments().get(name)
        instead = f"; the {exp.chapter} chapter analyses it" if exp is not None and exp.chapter else ""
        raise ConfigError(
            f"experiment={name!r} is not allowed: choose a CLIP run that names a country for photos "
            f"with coordinates, one of {fits}{instead}"
        )


def _prompts(v: dict[str, Any]) -> None:
    check_results_dir(v["results_dir"], v["source"])
    for name, modes in (("standard", ("flat",)), ("mixed", ("mixed",))):
        _fits(v, "prompts", name, modes=modes, countries=True)


def _running_at_scale(v: dict[str, Any]) -> None:
    if v["n_shards"] > v["n_images"]:
        raise ConfigError(
            f"n_shards={v['n_shards']!r} is not allowed: there are n_images={v['n_images']!r} pictures to "
            "spread; give at most one shard per picture"
        )


def _running_clip(v: dict[str, Any]) -> None:
    check_model_name(v["model_name"])
    check_image_source(v["image_dir"], v["ids_csv"])
    check_device(v["device"])
    experiment_names(v["experiments"])


def _your_model(v: dict[str, Any]) -> None:
    check_model_name(v["model_name"], backends=True)
    check_device(v["device"])
    if v["benchmark"] == "demo" and (v["metadata"] or v["images"]):
        raise ConfigError(
            "metadata and images are for a real benchmark; leave them empty with benchmark='demo'"
        )
    if v["benchmark"] != "demo" and not (v["metadata"] and v["images"]):
        raise ConfigError(f"benchmark={v['benchmark']!r} needs metadata= (its CSV) and images= (its folder)")


# --------------------------------------------------------------------------- the declarations
def _int(name: str, meaning: str, minimum: int, maximum: int | None = None) -> Param:
    return Param(name, int, meaning, minimum=minimum, maximum=maximum)


def _str(name: str, meaning: str, optional: bool = False) -> Param:
    return Param(name, str, meaning, optional=optional)


def _choice(name: str, meaning: str, choices: Iterable[str], hint: str = "") -> Param:
    return Param(name, str, meaning, choices=tuple(choices), hint=hint)


def _km(name: str, meaning: str) -> Param:
    return Param(name, float, meaning + " (km)", above=0, maximum=round(MAX_KM, 1))


_PAPER = "'paper': the authors' result files; 'local': our own runs (geoclip classify)"
_SOURCE = _choice("source", _PAPER, ("paper", "local"), "'paper' reads the authors' files, 'local' your runs")
_RESULTS_DIR = _str("results_dir", "folder of local results (source 'local'); None: $GEOCLIP_RESULTS", True)
_N_BOOT = _int("n_boot", "bootstrap resamples for the 95 % confidence intervals", 1, MAX_N_BOOT)
_SEED = _int("seed", "bootstrap seed", 0)
_RUN = (_SOURCE, _RESULTS_DIR, _N_BOOT, _SEED)

#: Every chapter with parameters, by name (the file ``book/<name>.md``), its parameters in the order of its
#: parameters cell.
CHAPTERS: dict[str, Chapter] = {
    c.name: c
    for c in (
        Chapter("below_country", _RUN, _results("below_country", *below_country.RUNS)),
        Chapter(
            "calibration",
            (
                _SOURCE,
                _str("experiment", "the run of the reliability diagrams: any run that stored probabilities"),
                _RESULTS_DIR,
                _int(
                    "n_bins", "equal-width confidence bins of the reliability diagrams and the ECE", 1, 1000
                ),
                _N_BOOT,
                _SEED,
            ),
            _calibration,
        ),
        Chapter(
            "climate",
            (
                _SOURCE,
                _str("experiment", "a country experiment on photos with coordinates"),
                _str("results_dir", "folder of local results (and of a local climates30k.parquet)", True),
                _int("min_images", "climate groups and classes with fewer photos are left out", 1),
                _N_BOOT,
                _SEED,
                _str("climate_model", "model of the climate zero-shot demonstration"),
            ),
            _climate,
        ),
        Chapter(
            "countries",
            (_SOURCE, _str("experiment", "a run over countries"), _RESULTS_DIR, _N_BOOT, _SEED),
            _countries,
        ),
        Chapter(
            "data",
            (
                _str("label_set", "a label set of countries with coordinates"),
                _km("dedupe_km", "two photos closer than this count as the same place"),
                _km("tolerance_km", "a photo outside every polygon takes the nearest country this close"),
                _km("border_km", "near a border, the nearest town decides within this distance"),
            ),
            _data,
        ),
        Chapter(
            "geoestimation",
            (
                _choice(
                    "partitioning", "GeoEstimation's partitioning compared with CLIP", PARTITIONINGS, _GE_HINT
                ),
                _str("clip_experiment", "a published CLIP run on the country100 photos naming a country"),
                _N_BOOT,
                _SEED,
            ),
            _geoestimation,
        ),
        Chapter(
            "geoguessr",
            (
                _str("experiment", "a published CLIP run naming a country for the photos with coordinates"),
                _choice(
                    "rule",
                    "the rule shown on the map and in the curves",
                    map_guess.RULES,
                    "the rules that turn a country answer into a pin",
                ),
                _choice(
                    "partitioning", "GeoEstimation's partitioning to play against", PARTITIONINGS, _GE_HINT
                ),
                _N_BOOT,
                _SEED,
            ),
            _geoguessr,
        ),
        Chapter(
            "prompts",
            (
                _SOURCE,
                _str("standard", "experiment with the standard prompt (A): a flat run over countries"),
                _str("mixed", "experiment with the mixed region prompts (B): a mixed run over countries"),
                _RESULTS_DIR,
                _N_BOOT,
                _SEED,
            ),
            _prompts,
        ),
        Chapter("regions", _RUN, _results("regions", *_REGIONS_RUNS)),
        Chapter(
            "running_at_scale",
            (
                _int("n_images", "synthetic pictures written as tar shards", 1, 10_000),
                _int("n_shards", "tar shards they are spread over", 1, 10_000),
                _int("part_size", "images per piece of a shard (one cache chunk)", 1, 10_000),
                _choice(
                    "backend", "where to embed", ("local", "ray"), "the commands below show a cluster run"
                ),
                _str("cache_dir", "the embedding cache of the demo"),
            ),
            _running_at_scale,
        ),
        Chapter(
            "running_clip",
            (
                _str("model_name", "'tiny', a CLIP name or a checkpoint path"),
                _str("image_dir", "folder with <image_id>.jpg; '': the synthetic demo set"),
                _str("ids_csv", "CSV of image ids; '': the demo's ids or those of the experiments"),
                _str("device", "'auto', 'cuda', 'mps' or 'cpu'"),
                _int("batch_size", "images per forward pass", 1, 4096),
                _int("workers", "image-decoding worker processes; -1: automatic", -1, 64),
                _str("experiments", "registered experiments run from a cache, comma-separated, or 'all'"),
                _str("cache_dir", "embedding and text cache"),
                _str("results_dir", "where <experiment>.parquet goes"),
            ),
            _running_clip,
        ),
        Chapter(
            "training_data",
            (
                _choice("kind", "caption count of the figures", registry.COUNT_KINDS, _KIND_HINT),
                _int("n_flag", "classes flagged on each side of the trend, per label set", 1, 100),
                _int("n_boot", "bootstrap resamples (of classes) for the 95 % intervals", 1, MAX_N_BOOT),
                _int("seed", "bootstrap seed and seed of the synthetic captions", 0),
                _int("demo_captions", "synthetic captions counted (the authors' loop too)", 1, 200_000),
            ),
        ),
        Chapter(
            "your_model",
            (
                _str("model_name", "'tiny', an openai name, 'open_clip:ARCH:WEIGHTS' or 'hf:FOLDER'"),
                _str("device", "'cpu', 'cuda' or 'auto'"),
                _choice("benchmark", "geotagged photos", ("demo", *BENCHMARKS), "see geoclip_utils.geobench"),
                _str("metadata", "the benchmark's metadata CSV (empty for 'demo')"),
                _str("images", "the benchmark's image folder (empty for 'demo')"),
                _int(
                    "min_population", "cities of the label set have at least this many people", MIN_POPULATION
                ),
                _int("max_cities", "keep only the most populous cities; 0 keeps them all", 0),
                _int("top_k", "cities averaged by the probability-weighted refinement", 1, 1000),
                _km("threshold_km", "distance at which the two country-to-city rules are compared"),
                _str("cache_dir", "embedding and prompt cache of the run"),
                _N_BOOT,
                _SEED,
            ),
            _your_model,
        ),
    )
}


# --------------------------------------------------------------------------- the one check
def _chapter(chapter: str) -> Chapter:
    if chapter not in CHAPTERS:
        raise ConfigError(f"no parameters are declared for chapter {chapter!r}; chapters: {sorted(CHAPTERS)}")
    return CHAPTERS[chapter]


def _refuse_unknown(spec: Chapter, names: Iterable[str]) -> None:
    for name in names:
        if name not in spec.names:
            close = difflib.get_close_matches(name, spec.names, n=1)
            mean = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"the {spec.name} chapter has no parameter {name!r}{mean}; its parameters are "
                f"{', '.join(spec.names)}"
            )


def check(chapter: str, **values: Any) -> None:
    """Check a chapter's parameters: no undeclared name, every value of its declaration, then the chapter's
    checks across parameters (those run only when every declared parameter is given).

    Raises
    ------
    ConfigError
        One sentence naming the first wrong parameter.
    """
    spec = _chapter(chapter)
    _refuse_unknown(spec, values)
    for param in spec.params:
        if param.name in values:
            check_value(param, values[param.name])
    if spec.check is not None and all(name in values for name in spec.names):
        spec.check(values)


#: The first line of the cell papermill injects (``papermill.translators.PythonTranslator.codify``).
_PAPERMILL_HEADER = "# Parameters"


def _assigned(source: str) -> list[str] | None:
    """The names a cell of plain assignments binds, or None for any other cell."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    names: list[str] = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if not isinstance(node, ast.Assign | ast.AnnAssign) or not all(
            isinstance(t, ast.Name) for t in targets
        ):
            return None
        names += [t.id for t in targets]
    return names


def injected_names(history: list[str], declared: Iterable[str]) -> list[str]:
    """The parameter names set by the cells run just before the current one (the last of ``history``).

    Walking back from the cell before the current one, a cell counts while it is papermill's injected
    cell (its first line is ``# Parameters``) or a cell of plain assignments that sets a declared name
    (the chapter's parameters cell); the walk stops at the first other cell. So a misspelt ``-p n_bot 5``
    is found, while cells a reader ran earlier in an interactive session are not taken for parameters.
    """
    declared = set(declared)
    found: list[str] = []
    for source in reversed(history[:-1]):
        names = _assigned(source)
        injected = source.lstrip().startswith(_PAPERMILL_HEADER)
        if names is None or not (injected or declared & set(names)):
            break
        found = names + found
    return list(dict.fromkeys(found))


def check_notebook(chapter: str, namespace: Mapping[str, Any]) -> None:
    """The check cell of a chapter: ``check_notebook("calibration", globals())``.

    Refuses a parameter the chapter does not declare, found in the cells the kernel ran just before
    (:func:`injected_names`: papermill's injected cell and the parameters cell), then checks every
    declared parameter's value in ``namespace`` (:func:`check`).

    Raises
    ------
    ConfigError
        One sentence naming the first wrong parameter.
    """
    spec = _chapter(chapter)
    history = namespace.get("_ih") or namespace.get("In") or []
    _refuse_unknown(spec, injected_names(list(history), spec.names))
    missing = [name for name in spec.names if name not in namespace]
    if missing:
        raise ConfigError(
            f"the {chapter} chapter's parameter {missing[0]!r} is not set: run the parameters cell first"
        )
    check(chapter, **{name: namespace[name] for name in spec.names})
