"""The experiment registry: every experiment and label set of the book, as typed records, in one place.

A **label set** is a set of images with gold labels (``country100``: 11,500 Mapillary photos of 115
countries). An **experiment** asks one question about the images of a label set (``country100_region``:
which of the authors' regions?). The records live in ``resources/experiments.toml`` (and in any TOML
file of the same form named by ``GEOCLIP_EXPERIMENTS``); everything else reads them:

* the loaders (:func:`load_labels`, :func:`load_results`, :func:`label_counts`);
* the inference engine (:func:`geoclip_utils.engine.zeroshot.run_experiment`: mode, prompt, region map);
* the CLI (``geoclip experiments``, ``classify --experiment all``) and the evaluation behind ``geoclip metrics``
  and ``compare`` (:mod:`geoclip_utils.evaluate`: a label set with ``cities = true`` makes a city run, scored
  in km too);
* the chapters' parameter checks (:mod:`geoclip_utils.parameters`) and the label-frequency study.

Adding an experiment is one entry (plus a label file if its images are new); see ``docs/developing.md``.

How a table is scored follows from the mode:

* ``flat`` and ``climate``: one label among all labels of the set; right when it equals the gold label;
* ``region``: candidates are regions, gold is the country; the table gains ``gold_set`` (the regions whose
  country list contains the gold country) and a region is right when it is in ``gold_set``;
* ``two_stage``: stage 2 of the region → country run; the authors' file holds the stage-1 region in its
  ``Gold`` column (kept as ``stage1_region``) and ``gold`` becomes the true country of the label set;
* ``mixed``: one label among countries, prompts carrying a region phrase;
* ``geoestimation``: coordinates, not labels (:mod:`geoclip_utils.evaluate.geoestimation`).

Label sets of countries gain ``gold_iso3`` and ``pred_iso3`` (top-1). Every table is sorted by image id,
so bootstrap resamples — drawn by position — are the same for the same images in every chapter.
"""

from __future__ import annotations

import functools
import os
import re
import tomllib
from dataclasses import MISSING, dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import get_origin, get_type_hints

import pandas as pd

from . import data
from .errors import ConfigError, DataError, InputError
from .names import to_iso3
from .schema import read_predictions, top1

__all__ = [
    "MODES",
    "PROMPTS",
    "LabelSet",
    "Experiment",
    "experiments",
    "label_sets",
    "get",
    "get_label_set",
    "load_labels",
    "load_coordinates",
    "load_results",
    "label_counts",
    "local_results_dir",
    "check_name",
    "describe",
]

#: How an experiment asks its question (see the module docstring).
MODES = ("flat", "region", "two_stage", "mixed", "climate", "geoestimation")
#: The prompts an experiment uses (see :mod:`geoclip_utils.engine.prompts`).
PROMPTS = ("paper", "region", "region+paper", "mixed", "climate", "none")
#: Modes the inference engine runs from an embedding cache.
RUNNABLE_MODES = ("flat", "region", "two_stage", "mixed", "climate")
RESULT_FORMATS = ("", "predictions", "gold_predict", "geoestimation")
REGION_MAPS = ("", "country_to_region", "region_to_country")
LABEL_FORMATS = ("label", "koppen")
COUNT_KINDS = ("substring", "tokens")
#: The registry file shipped inside the package.
REGISTRY = "experiments.toml"
#: Environment variable naming extra registry files (separated by ``os.pathsep``).
ENV_EXTRA = "GEOCLIP_EXPERIMENTS"


@dataclass(frozen=True)
class LabelSet:
    """Images with gold labels (one ``[label_sets.NAME]`` entry of the registry)."""

    name: str
    place: str
    prompt_kind: str
    gold: str
    format: str = "label"
    countries: bool = False
    coordinates: str = ""
    counts: dict[str, str] = field(default_factory=dict)
    cities: bool = False
    in_country: str = ""
    source: str = REGISTRY  # the registry file the entry came from

    @property
    def local(self) -> bool:
        """Whether the gold file is a local CSV rather than a file of the authors' repository."""
        return self.gold not in data.registry()


@dataclass(frozen=True)
class Experiment:
    """One question about the images of a label set (one ``[experiments.NAME]`` entry of the registry)."""

    name: str
    label_set: str
    mode: str
    prompt: str
    results: str = ""
    format: str = ""
    top_k: int = 5
    probabilities: bool = True
    region_map: str = ""
    chapter: str = ""
    description: str = ""
    source: str = REGISTRY

    @property
    def labels(self) -> LabelSet:
        """The label set record."""
        return get_label_set(self.label_set)

    @property
    def published(self) -> bool:
        """Whether the authors published a result file (so ``source="paper"`` works)."""
        return bool(self.results)


_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")


def check_name(name: str, what: str = "experiment") -> str:
    """An experiment name is also a file name (``<results>/<name>.parquet``): letters, digits, ``_ . + -``,
    not starting with a dot, never a path.

    Raises
    ------
    ConfigError
        For a name with a path separator, ``..``, or other characters.

    Example
    -------
    >>> check_name("../../etc/x")
    Traceback (most recent call last):
    ...
    geoclip_utils.errors.ConfigError: experiment name '../../etc/x' is not allowed: use letters, digits, '_', '.', '+' and '-' (it names a file in the results folder)
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
        raise ConfigError(
            f"{what} name {name!r} is not allowed: use letters, digits, '_', '.', '+' and '-' "
            "(it names a file in the results folder)"
        )
    return name


#: What a registry entry is called in messages.
_KIND = {"LabelSet": "label set", "Experiment": "experiment"}


def _type_words(kind: object) -> str:
    """The registry's words for a field type (TOML: strings quoted, booleans and numbers not)."""
    if get_origin(kind) is dict:
        return 'a table of strings (e.g. { substring = "file" })'
    words = {
        str: 'a string (in quotes, e.g. "x")',
        bool: "true or false (TOML booleans, without quotes)",
        int: "an integer (without quotes)",
        float: "a number (without quotes)",
    }
    return words[kind]


def _type_ok(kind: object, value: object) -> bool:
    if get_origin(kind) is dict:
        return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    if kind in (int, float) and isinstance(value, bool):
        return False
    return isinstance(value, (int, float) if kind is float else kind)


def _make(cls, name: str, entry: object, where: str):
    """One registry entry as a record, validated against the record's schema (its dataclass fields and
    their types): a table, no unknown key, every required key, every value of its type. Each message
    names the file, the entry and the key."""
    kind = _KIND[cls.__name__]
    section = "label_sets" if cls is LabelSet else "experiments"
    check_name(name, f"{where}: {kind}")
    if not isinstance(entry, dict):
        raise ConfigError(
            f"{where}: {kind} {name!r} is not a table: write [{section}.{name}] followed by its keys"
        )
    hints = get_type_hints(cls)
    schema = {f.name: f for f in fields(cls) if f.name not in ("name", "source")}
    unknown = sorted(set(entry) - set(schema))
    if unknown:
        raise ConfigError(
            f"{where}: {kind} {name!r}: unknown key {unknown[0]!r}; known keys: {sorted(schema)}"
        )
    required = [k for k, f in schema.items() if f.default is MISSING and f.default_factory is MISSING]
    missing = [k for k in required if k not in entry]
    if missing:
        raise ConfigError(
            f"{where}: {kind} {name!r}: missing key {missing[0]!r} (required: {', '.join(required)})"
        )
    for key, value in entry.items():
        if not _type_ok(hints[key], value):
            raise ConfigError(
                f"{where}: {kind} {name!r}: {key} must be {_type_words(hints[key])}, got {value!r}"
            )
    return cls(name=name, source=where, **entry)


def _check_label_set(ls: LabelSet, base: Path | None) -> LabelSet:
    where = f"{ls.source}: label set {ls.name!r}"
    for key in ("place", "prompt_kind", "gold"):
        if not isinstance(getattr(ls, key), str) or not getattr(ls, key).strip():
            raise ConfigError(f"{where}: {key} must be a non-empty string")
    if ls.format not in LABEL_FORMATS:
        raise ConfigError(f"{where}: format {ls.format!r} is not one of {LABEL_FORMATS}")
    if ls.in_country and not re.fullmatch(r"[A-Z]{2}", ls.in_country):
        raise ConfigError(f'{where}: in_country {ls.in_country!r} must be an ISO-2 country code such as "US"')
    if ls.in_country and not ls.cities:
        raise ConfigError(f"{where}: in_country is for city label sets; add cities = true or drop it")
    bad = sorted(set(ls.counts) - set(COUNT_KINDS))
    if bad:
        raise ConfigError(f"{where}: count kinds {bad} unknown; use {COUNT_KINDS}")
    if base is not None and ls.gold not in data.registry():
        gold = Path(ls.gold).expanduser()
        gold = gold if gold.is_absolute() else base / gold
        object.__setattr__(ls, "gold", str(gold))
    return ls


def _check_experiment(e: Experiment, sets: dict[str, LabelSet]) -> Experiment:
    where = f"{e.source}: experiment {e.name!r}"
    if e.label_set not in sets:
        raise ConfigError(f"{where}: label set {e.label_set!r} is not defined; known: {sorted(sets)}")
    for key, allowed in (
        ("mode", MODES),
        ("prompt", PROMPTS),
        ("format", RESULT_FORMATS),
        ("region_map", REGION_MAPS),
    ):
        if getattr(e, key) not in allowed:
            raise ConfigError(f"{where}: {key} {getattr(e, key)!r} is not one of {allowed}")
    if bool(e.results) != bool(e.format):
        raise ConfigError(f"{where}: give both results and format, or neither")
    if not isinstance(e.top_k, int) or e.top_k < 1:
        raise ConfigError(f"{where}: top_k must be a positive integer, got {e.top_k!r}")
    if e.mode in ("region", "two_stage", "mixed") and not e.region_map:
        raise ConfigError(f"{where}: mode {e.mode} needs a region_map")
    return e


def _read_registry(text: str, where: str) -> tuple[dict, dict]:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML ({exc})") from exc
    unknown = sorted(set(doc) - {"label_sets", "experiments"})
    if unknown:
        raise ConfigError(
            f"{where}: unknown sections {unknown}; use [label_sets.NAME] and [experiments.NAME]"
        )
    for section in ("label_sets", "experiments"):
        if not isinstance(doc.get(section, {}), dict):
            raise ConfigError(f"{where}: {section} is not a table; use [{section}.NAME] entries")
    return doc.get("label_sets", {}), doc.get("experiments", {})


def _read_text(path: Path) -> str:
    """A user registry file as text: it must be UTF-8 (TOML is)."""
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise ConfigError(f"{ENV_EXTRA}: registry file {path} {what}")
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{ENV_EXTRA}: registry file {path} is not UTF-8 text (byte 0x{raw[exc.start]:02x} on line "
            f"{line}); save it as UTF-8"
        ) from exc


@functools.cache
def _registry(extra: str) -> tuple[dict[str, LabelSet], dict[str, Experiment]]:
    text = resources.files("geoclip_utils.resources").joinpath(REGISTRY).read_text(encoding="utf-8")
    sources = [(REGISTRY, text, None)]
    for item in [p for p in extra.split(os.pathsep) if p.strip()]:
        path = Path(item).expanduser()
        sources.append((str(path), _read_text(path), path.resolve().parent))
    sets: dict[str, LabelSet] = {}
    exps: dict[str, Experiment] = {}
    for where, body, base in sources:
        raw_sets, raw_exps = _read_registry(body, where)
        for name, entry in raw_sets.items():
            if name in sets:
                raise ConfigError(f"{where}: label set {name!r} is already defined in {sets[name].source}")
            sets[name] = _check_label_set(_make(LabelSet, name, entry, where), base)
        for name, entry in raw_exps.items():
            if name in exps:
                raise ConfigError(f"{where}: experiment {name!r} is already defined in {exps[name].source}")
            exps[name] = _make(Experiment, name, entry, where)
    for e in exps.values():
        _check_experiment(e, sets)
    return sets, exps


def _current() -> tuple[dict[str, LabelSet], dict[str, Experiment]]:
    return _registry(os.environ.get(ENV_EXTRA, ""))


def experiments() -> dict[str, Experiment]:
    """Every registered experiment, by name (packaged ones first, in file order)."""
    return dict(_current()[1])


def label_sets() -> dict[str, LabelSet]:
    """Every registered label set, by name."""
    return dict(_current()[0])


def get(name: str) -> Experiment:
    """The record of an experiment.

    Raises
    ------
    ConfigError
        For an unknown name (the message lists the known ones).

    Example
    -------
    >>> get("country100_region").mode
    'region'
    """
    exps = _current()[1]
    if name not in exps:
        raise ConfigError(
            f"unknown experiment {name!r}; known: {', '.join(exps)} "
            f"(add your own in a TOML file named by {ENV_EXTRA})"
        )
    return exps[name]


def get_label_set(name: str) -> LabelSet:
    """The record of a label set (:class:`ConfigError` for an unknown name)."""
    sets = _current()[0]
    if name not in sets:
        raise ConfigError(f"unknown label set {name!r}; known: {', '.join(sets)}")
    return sets[name]


# --------------------------------------------------------------------------- loaders
def load_labels(name: str) -> pd.DataFrame:
    """The image ids and gold labels of a label set.

    Returns
    -------
    DataFrame with ``image_id``, ``label``; plus ``iso3`` for sets of countries; for the ``koppen`` format
    ``label`` is the Köppen code (e.g. ``"Dfc"``) and ``description`` the authors' long name.

    Raises
    ------
    ConfigError
        Unknown label set.
    DataError
        A missing file; a malformed published file (repeated image ids included: the reader names their
        lines); a country name without an ISO-3 code.
    InputError
        A malformed gold file of your own (``GEOCLIP_EXPERIMENTS``), as :func:`geoclip_utils.labels.read_gold_csv`.
    """
    from .labels import read_gold_csv  # the one reader of image_id,label tables, the authors' and the user's

    ls = get_label_set(name)
    if ls.local:
        path = Path(ls.gold)
        if not path.is_file():
            raise DataError(f"label set {name!r}: gold file {path} does not exist ({ls.source})")
        df = read_gold_csv(path)
    else:
        path = data.fetch(ls.gold)
        try:
            df = read_gold_csv(path)
        except InputError as exc:  # the authors' published file, hash-checked: damaged data, not bad input
            raise DataError(str(exc)) from exc
    if ls.format == "koppen":
        parts = df["label"].str.split(" ", n=1, expand=True)
        df = df.assign(label=parts[0], description=parts[1])
    if ls.countries:
        df["iso3"] = to_iso3(df["label"], what=path.name)
    return df  # repeated image ids were refused by the reader, naming their lines


def load_coordinates(name: str) -> pd.DataFrame:
    """Coordinates of the images of a label set: ``image_id``, ``lat``, ``lon``, ``label`` (and ``iso3``
    for countries), in the order of the label file.

    Raises
    ------
    ConfigError
        When the label set has no coordinates (the registry names those that do).
    """
    ls = get_label_set(name)
    if not ls.coordinates:
        have = [n for n, s in label_sets().items() if s.coordinates]
        raise ConfigError(f"label set {name!r} has no coordinates; these do: {have}")
    coords = data.load_coordinates(ls.coordinates)
    return load_labels(name).merge(coords, on="image_id", how="inner", validate="one_to_one")


def label_counts(name: str, kind: str = "substring") -> pd.DataFrame:
    """How many LAION-400M captions mention each label of a label set (the authors' counts).

    Parameters
    ----------
    name : label set with counts (see :func:`label_sets`, field ``counts``).
    kind : ``"substring"`` or ``"tokens"``.

    Returns ``label`` (lower-case for ``substring``, as written for ``tokens``), ``count``.
    """
    ls = get_label_set(name)
    if kind not in COUNT_KINDS:
        raise ConfigError(f"unknown count kind {kind!r}; choose 'substring' or 'tokens'")
    where = ls.counts.get(kind)
    if not where:
        have = [n for n, s in label_sets().items() if kind in s.counts]
        raise ConfigError(f"no {kind} label counts for {name!r}; available: {have}")
    reg = data.registry()
    paths = [where] if where in reg else sorted(p for p in reg if p.startswith(where))
    if not paths:
        raise DataError(f"label set {name!r}: no registered count files at {where!r}")
    return data.load_label_counts(paths, kind)


def local_results_dir(folder: str | os.PathLike | None = None) -> Path:
    """Where local results live: ``folder``, else ``GEOCLIP_RESULTS``, else ``results/``."""
    return Path(folder or os.environ.get("GEOCLIP_RESULTS") or "results")


def load_results(
    experiment: str, source: str = "paper", results_dir: str | os.PathLike | None = None
) -> pd.DataFrame:
    """The predictions table of an experiment, ready for :mod:`geoclip_utils.stats`.

    Parameters
    ----------
    experiment : a registered experiment, or with ``source="local"`` any experiment written by
        ``geoclip classify``.
    source : ``"paper"`` (the authors' files) or ``"local"`` (``<results_dir>/<experiment>.parquet``).
    results_dir : where local results live (default ``GEOCLIP_RESULTS`` or ``results/``).

    Returns
    -------
    A predictions table (see :mod:`geoclip_utils.schema`), shaped by the experiment's mode (see the
    module docstring), sorted by image id.

    Raises
    ------
    ConfigError
        Unknown experiment or source; an experiment without a published result file with
        ``source="paper"``; the GeoEstimation experiment (coordinates, not labels).
    DataError
        Missing or malformed files.
    """
    if source not in ("paper", "local"):
        raise ConfigError(f"unknown source {source!r}; choose 'paper' or 'local'")
    exp = _current()[1].get(experiment)
    if exp is not None and exp.mode == "geoestimation":
        raise ConfigError(
            f"{experiment!r} predicts coordinates, not labels: use `geoclip metrics --experiment {experiment}` "
            "or geoclip_utils.evaluate.geoestimation"
        )
    if source == "local":
        df = read_predictions(local_results_dir(results_dir) / f"{check_name(experiment)}.parquet")
    else:
        if exp is None:
            get(experiment)  # raises with the list of known names
        if not exp.published:
            raise ConfigError(
                f"the authors published no result file for {experiment!r}; run it yourself "
                "(geoclip classify) and read it with source='local'"
            )
        df = data.read_result_file(data.fetch(exp.results), experiment)
        if df.attrs["k"] != exp.top_k:
            raise DataError(
                f"{exp.results}: stores top-{df.attrs['k']} answers, the registry says top-{exp.top_k} "
                f"({exp.source})"
            )
    return _shape(df, exp)


def _shape(df: pd.DataFrame, exp: Experiment | None) -> pd.DataFrame:
    attrs = dict(df.attrs)
    mode = exp.mode if exp is not None else attrs.get("mode")
    if mode == "region" and "gold_set" not in df.columns and exp is not None:
        inverse = data.regions_of(data.load_region_map(exp.region_map))
        df["gold_set"] = df["gold"].map(lambda c: inverse.get(c, ()))
    elif mode == "two_stage" and "stage1_region" not in df.columns and exp is not None:
        labels = load_labels(exp.label_set).set_index("image_id")["label"]
        missing = ~df["image_id"].isin(labels.index)
        if missing.any():
            raise DataError(
                f"{exp.name}: {int(missing.sum())} image ids not in label set {exp.label_set!r}, "
                f"e.g. {df['image_id'][missing].iloc[0]!r}"
            )
        df = df.assign(stage1_region=df["gold"], gold=df["image_id"].map(labels).to_numpy())
    ls = exp.labels if exp is not None else _current()[0].get(str(attrs.get("label_set", "")))
    countries = ls.countries if ls is not None else False
    if countries and mode in ("flat", "two_stage", "mixed"):
        top = top1(df)
        names = pd.concat([df["gold"], top]).unique()
        iso = dict(zip(names, to_iso3(names, what=str(attrs.get("experiment"))), strict=True))
        df["gold_iso3"] = df["gold"].map(iso)
        df["pred_iso3"] = top.map(iso)
    # One row order for every table, whatever file it came from: bootstrap resamples are drawn by
    # position, so the same images always get the same resamples (and the same CIs) in every chapter.
    df = df.sort_values("image_id", kind="stable").reset_index(drop=True)
    df.attrs.update(attrs)
    return df


# --------------------------------------------------------------------------- summaries
def describe() -> pd.DataFrame:
    """One row per registered experiment: ``experiment``, ``mode``, ``label_set``, ``place``, ``images``,
    ``classes``, ``published`` (the authors' result file exists), ``chapter``, ``description``.

    Image and class counts come from the label sets' gold files (fetched and hash-checked).
    """
    sizes: dict[str, tuple[int, int]] = {}
    rows = []
    for name, e in experiments().items():
        if e.label_set not in sizes:
            gold = load_labels(e.label_set)
            sizes[e.label_set] = (len(gold), int(gold["label"].nunique()))
        n, k = sizes[e.label_set]
        rows.append(
            {
                "experiment": name,
                "mode": e.mode,
                "label_set": e.label_set,
                "place": e.labels.place,
                "images": n,
                "classes": k,
                "published": e.published,
                "chapter": e.chapter,
                "description": e.description,
            }
        )
    return pd.DataFrame(rows)
