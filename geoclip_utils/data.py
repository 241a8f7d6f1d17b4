"""The authors' published files: where they come from, how they are checked, how they are read.

Owns
    * the **registry** ``data/registry.tsv``: every file of the authors' public repository
      (``Ispanicus/geoguessr-ai``) that the book uses, with the commit it is pinned to, its sha256 and size;
    * **fetching**: a file is taken from a local mirror folder (``GEOCLIP_DATA_MIRROR``) or downloaded once
      from its public address into a cache folder (``GEOCLIP_CACHE``, default ``~/.cache/geoclip``), and
      is hash-checked wherever it comes from — a file that fails its check is never used;
    * **typed loaders** that turn the files into tidy :mod:`pandas` tables keyed by image id, with the
      quirks of the files handled (see :func:`read_result_file`) and countries carrying ISO-3 codes.

Does not own: geocoding and regions (:mod:`geoclip_utils.geo`), metrics, plots.

Environment variables
    ``GEOCLIP_DATA_MIRROR``  folder laid out like the public repository (offline use, CI)
    ``GEOCLIP_CACHE``        cache folder for downloads (default ``~/.cache/geoclip``)
    ``GEOCLIP_DATA_URL``     base address (default ``https://raw.githubusercontent.com/Ispanicus/geoguessr-ai``);
                             a file's address is ``<base>/<commit>/<path>``
"""

from __future__ import annotations

import ast
import csv
import functools
import hashlib
import json
import logging
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ConfigError, DataError
from .provenance import record_read
from .schema import make_predictions

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REGISTRY_FILE = PROJECT_ROOT / "data" / "registry.tsv"
ALIASES_FILE = PROJECT_ROOT / "data" / "country_aliases.csv"
DEFAULT_BASE_URL = "https://raw.githubusercontent.com/Ispanicus/geoguessr-ai"
REPOSITORY = "Ispanicus/geoguessr-ai"

#: The authors' result files, by experiment name (file stem without ``_results``).
EXPERIMENTS: dict[str, str] = {
    "country100": "country",
    "filtered_country100": "country",
    "country100_region": "region",
    "country100_country_from_region": "country",
    "country100_mixedprompt": "country",
    "US_states_max100": "US state",
    "France_states_max100": "French region",
    "UScity100": "US city",
    "city100": "city",
    "city300": "city",
}
#: Label files (``inputdata/<name>.csv``): image id, label.
LABEL_SETS = (
    "country100",
    "filtered_country100",
    "US_states_max100",
    "France_states_max100",
    "UScity100",
    "city100",
    "city300",
    "climates30k",
)


# --------------------------------------------------------------------------- registry and fetching
@dataclass(frozen=True)
class RegistryEntry:
    """One file of the authors' repository: its path there, the commit it is pinned to, sha256, size."""

    path: str
    commit: str
    sha256: str
    size: int

    def url(self, base_url: str | None = None) -> str:
        base = (base_url or os.environ.get("GEOCLIP_DATA_URL") or DEFAULT_BASE_URL).rstrip("/")
        return f"{base}/{self.commit}/{self.path}"


@functools.cache
def registry(path: Path = REGISTRY_FILE) -> dict[str, RegistryEntry]:
    """Read the registry (``data/registry.tsv``: path, commit, sha256, bytes) into a dict by path."""
    try:
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except FileNotFoundError as exc:
        raise DataError(f"the data registry {path} is missing; is the project checkout complete?") from exc
    entries = {}
    for row in df.itertuples(index=False):
        entries[row.path] = RegistryEntry(row.path, row.commit, row.sha256, int(row.bytes))
    return entries


def _entry(path: str) -> RegistryEntry:
    reg = registry()
    if path not in reg:
        raise DataError(
            f"{path!r} is not in the data registry {REGISTRY_FILE.name}; known files start with "
            f"{sorted({p.split('/')[0] for p in reg})}"
        )
    return reg[path]


def mirror_dir() -> Path | None:
    """The mirror folder from ``GEOCLIP_DATA_MIRROR``, or ``None`` when unset."""
    value = os.environ.get("GEOCLIP_DATA_MIRROR", "").strip()
    if not value:
        return None
    folder = Path(value).expanduser()
    if not folder.is_dir():
        raise ConfigError(
            f"GEOCLIP_DATA_MIRROR={value!r} is not a folder; point it at a copy of the "
            f"{REPOSITORY} repository (or unset it to download)"
        )
    return folder


def cache_dir() -> Path:
    """The download cache from ``GEOCLIP_CACHE`` (default ``~/.cache/geoclip``)."""
    return Path(os.environ.get("GEOCLIP_CACHE") or Path.home() / ".cache" / "geoclip").expanduser()


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


_VERIFIED: dict[tuple[str, int, int], str] = {}


def _check(path: Path, entry: RegistryEntry) -> str | None:
    """Return ``None`` when ``path`` holds exactly the registered bytes, else what is wrong."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if _VERIFIED.get(key) == entry.sha256:
        return None
    if st.st_size != entry.size:
        return f"size {st.st_size} bytes, expected {entry.size}"
    digest = sha256_of(path)
    if digest != entry.sha256:
        return f"sha256 {digest[:12]}…, expected {entry.sha256[:12]}…"
    _VERIFIED[key] = digest
    return None


def _download(entry: RegistryEntry, target: Path, progress: bool) -> None:
    from tqdm.auto import tqdm

    url = entry.url()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                resp = urllib.request.urlopen(url, timeout=60)  # noqa: S310 (address from the registry)
            except (urllib.error.URLError, OSError) as exc:
                raise DataError(
                    f"could not download {entry.path} from {url} ({exc}). Without network, set "
                    f"GEOCLIP_DATA_MIRROR to a folder laid out like the {REPOSITORY} repository."
                ) from exc
            with (
                resp,
                tqdm(
                    total=entry.size,
                    unit="B",
                    unit_scale=True,
                    desc=entry.path,
                    disable=not progress,
                    leave=False,
                ) as bar,
            ):
                while block := resp.read(1 << 16):
                    out.write(block)
                    bar.update(len(block))
        problem = _check(Path(tmp), entry)
        if problem:
            raise DataError(
                f"downloaded {entry.path} from {url} but it fails its check ({problem}); "
                "the file was not used. The public file may have changed: report it."
            )
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def fetch(path: str, *, progress: bool = True) -> Path:
    """Local path of a registered file, hash-checked; downloads it into the cache on first use.

    Parameters
    ----------
    path : path of the file in the authors' repository, e.g. ``"resultcsv/country100_results.csv"``.
    progress : show a download progress bar.

    Returns
    -------
    Path to a verified copy (in the mirror folder or the cache).

    Raises
    ------
    DataError
        Unknown file; file missing from the mirror; hash mismatch (the file is never used);
        download impossible (no network and no mirror).

    Example
    -------
    >>> fetch("inputdata/country100.csv").relative_to(cache_dir()).as_posix()  # doctest: +SKIP
    '81914fe…/inputdata/country100.csv'
    """
    entry = _entry(path)
    record_read(entry.path, entry.commit, entry.sha256, entry.size)  # for the reproducibility appendix
    mirror = mirror_dir()
    if mirror is not None:
        local = mirror / path
        if not local.is_file():
            raise DataError(
                f"{path} is missing from the mirror folder {mirror} (GEOCLIP_DATA_MIRROR); "
                "copy it there or unset the variable to download it"
            )
        problem = _check(local, entry)
        if problem:
            raise DataError(
                f"{local} fails its hash check ({problem}); the file was not used. "
                f"Restore it from the {REPOSITORY} repository at commit {entry.commit[:7]}."
            )
        return local
    cached = cache_dir() / entry.commit / path
    if cached.is_file():
        problem = _check(cached, entry)
        if problem is None:
            return cached
        log.warning("cached %s is corrupt or truncated (%s); downloading it again", cached, problem)
        cached.unlink()
        try:
            _download(entry, cached, progress)
        except DataError as exc:
            raise DataError(
                f"the cached copy {cached} was corrupt or truncated ({problem}) and was removed; "
                f"downloading it again failed: {exc}"
            ) from exc
        return cached
    _download(entry, cached, progress)
    return cached


def fetch_all(paths: Iterable[str] | None = None, *, progress: bool = True) -> pd.DataFrame:
    """Fetch and verify every registered file (or ``paths``); return a report table.

    Columns: ``path``, ``bytes``, ``status`` (``"ok"`` or ``"error"``), ``detail`` (local path or the error).
    Errors are collected, not raised, so one bad file does not hide the state of the others.
    """
    from tqdm.auto import tqdm

    rows = []
    items = list(paths) if paths is not None else list(registry())
    for p in tqdm(items, desc="verifying", disable=not progress, unit="file"):
        try:
            local = fetch(p, progress=progress)
            rows.append((p, _entry(p).size, "ok", str(local)))
        except DataError as exc:
            rows.append((p, registry().get(p, RegistryEntry(p, "", "", 0)).size, "error", str(exc)))
    return pd.DataFrame(rows, columns=["path", "bytes", "status", "detail"])


def provenance() -> dict[str, str]:
    """Repository and commit(s) the data are pinned to, for the book's provenance note."""
    commits = pd.Series([e.commit for e in registry().values()]).value_counts()
    return {
        "repository": REPOSITORY,
        "commit": commits.index[0],
        "n_files": str(len(registry())),
        "other_commits": ", ".join(c[:7] for c in commits.index[1:]),
    }


# --------------------------------------------------------------------------- country names -> ISO-3
@functools.cache
def _aliases() -> dict[str, str]:
    df = pd.read_csv(ALIASES_FILE, dtype=str, keep_default_na=False, comment="#")
    return dict(zip(df["name"], df["iso3"], strict=True))


@functools.cache
def _coco():
    logging.getLogger("country_converter").setLevel(logging.ERROR)
    import country_converter as coco

    return coco.CountryConverter()


def to_iso3(names: Sequence[str] | pd.Series, *, what: str = "country names") -> list[str]:
    """ISO-3 codes for country names (the authors' free-text names, shapefile names, …).

    Names in ``data/country_aliases.csv`` (documented exceptions) win; the rest go through
    ``country_converter``. An unresolved name is an error, never a silent NaN. A name the alias table
    maps to an empty code (e.g. the authors' placeholder candidate ``"other"``) gives ``""``.

    Raises
    ------
    DataError
        Listing every name that could not be resolved.

    Example
    -------
    >>> to_iso3(["Czechia", "Côte d'Ivoire", "Kosovo"])
    ['CZE', 'CIV', 'XKX']
    """
    names = [str(n) for n in names]
    uniq = sorted(set(names))
    alias = _aliases()
    todo = [n for n in uniq if n not in alias]
    out = dict((n, alias[n]) for n in uniq if n in alias)
    if todo:
        codes = _coco().convert(todo, to="ISO3", not_found=None)
        if isinstance(codes, str) or codes is None:
            codes = [codes]
        for n, c in zip(todo, codes, strict=True):
            if isinstance(c, str) and len(c) == 3:
                out[n] = c
    bad = [n for n in uniq if n not in out]
    if bad:
        raise DataError(f"{what}: no ISO-3 code for {bad}; add them to {ALIASES_FILE.name} (name,iso3,note)")
    return [out[n] for n in names]


# --------------------------------------------------------------------------- loaders
def _read_two_columns(path: Path, names: list[str]) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, header=None, names=names, dtype=str, keep_default_na=False, encoding="utf-8")
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a two-column CSV ({exc})") from exc
    return df


def load_labels(name: str) -> pd.DataFrame:
    """The image ids and gold labels of a label set (``inputdata/<name>.csv``).

    Returns
    -------
    DataFrame with ``image_id``, ``label``; plus ``iso3`` for the country sets; for ``climates30k``
    ``label`` is the Köppen code (e.g. ``"Dfc"``) and ``description`` the authors' long name.
    """
    if name not in LABEL_SETS:
        raise ConfigError(f"unknown label set {name!r}; choose one of {list(LABEL_SETS)}")
    path = fetch(f"inputdata/{name}.csv")
    df = _read_two_columns(path, ["image_id", "label"])
    if name == "climates30k":
        parts = df["label"].str.split(" ", n=1, expand=True)
        df = df.assign(label=parts[0], description=parts[1])
    if name.endswith("country100"):
        df["iso3"] = to_iso3(df["label"], what=path.name)
    dup = df["image_id"].duplicated()
    if dup.any():
        raise DataError(
            f"{path}: {int(dup.sum())} duplicated image ids, e.g. {df['image_id'][dup].iloc[0]!r}"
        )
    return df


def load_coordinates() -> pd.DataFrame:
    """Latitude/longitude of the 11,500 country100 images (``geoinputdata/country100_geoestimation.csv``).

    Returns ``image_id`` (``.jpg`` stripped), ``lat``, ``lon`` (float, degrees).
    """
    path = fetch("geoinputdata/country100_geoestimation.csv")
    df = pd.read_csv(path, dtype={"IMG_ID": str})
    df = pd.DataFrame({"image_id": df["IMG_ID"].str.removesuffix(".jpg"), "lat": df["LAT"], "lon": df["LON"]})
    bad = ~(df["lat"].between(-90, 90) & df["lon"].between(-180, 180))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{path}: row {i + 2} has coordinates out of range ({df.lat[i]}, {df.lon[i]})")
    return df


def load_geoestimation() -> pd.DataFrame:
    """GeoEstimation (base M, ResNet-50, MP-16) predictions for the country100 images.

    Returns one row per image and partitioning: ``image_id``, ``partitioning`` (coarse, middle, fine,
    hierarchy), ``pred_class``, ``pred_lat``, ``pred_lon``.
    """
    path = fetch("georesultcsv/country100_geoestimation_result.csv")
    df = pd.read_csv(path, dtype={"img_id": str, "p_key": str})
    return df.rename(columns={"img_id": "image_id", "p_key": "partitioning", "pred_lng": "pred_lon"})


def _parse_list(cell: str, path: Path, row: int, column: str) -> list:
    try:
        value = ast.literal_eval(cell)  # literals only: never evaluates code
    except (ValueError, SyntaxError) as exc:
        raise DataError(
            f"{path}: row {row}, column {column}: not a Python list literal: {cell[:60]!r}"
        ) from exc
    if not isinstance(value, list):
        raise DataError(f"{path}: row {row}, column {column}: expected a list, got {cell[:60]!r}")
    return value


def read_result_file(path: str | os.PathLike, experiment: str) -> pd.DataFrame:
    """Parse one of the authors' result files into the predictions schema (``source="paper"``).

    Handles both formats and their quirks:

    * tab-separated ``Gold, Predictions, Probabilities[, Filename]``; rows carry a 4th field (the image id)
      even when the header names only three — a naive reader shifts every column by one;
    * predictions/probabilities as Python list literals (parsed with :func:`ast.literal_eval`, which
      evaluates literals only);
    * the older comma-separated ``Gold, Predict`` city files: top-1 only, no image ids and no
      probabilities (``image_id`` is ``""``, probabilities NaN).

    Raises
    ------
    DataError naming the file, row and value on any malformed row.
    """
    path = Path(path)
    with open(path, encoding="utf-8", newline="") as fh:
        first = fh.readline()
        fh.seek(0)
        delim = "\t" if "\t" in first else ","
        rows = list(csv.reader(fh, delimiter=delim))
    if not rows:
        raise DataError(f"{path}: empty result file")
    header = [h.strip() for h in rows[0]]
    body = rows[1:]
    if header[:2] == ["Gold", "Predict"]:
        for i, r in enumerate(body):
            if len(r) != 2:
                raise DataError(f"{path}: row {i + 2} has {len(r)} fields, expected 2 (Gold, Predict)")
        return make_predictions(
            [""] * len(body),
            [r[0] for r in body],
            [(r[1],) for r in body],
            None,
            experiment=experiment,
            source="paper",
        )
    if header[:3] != ["Gold", "Predictions", "Probabilities"]:
        raise DataError(
            f"{path}: unknown header {header}; expected Gold, Predictions, Probabilities[, Filename]"
        )
    ids, gold, labels, probs = [], [], [], []
    for i, r in enumerate(body, start=2):
        if len(r) != 4:
            raise DataError(f"{path}: row {i} has {len(r)} fields, expected 4 (the 4th is the image id)")
        gold.append(r[0])
        labels.append(_parse_list(r[1], path, i, "Predictions"))
        probs.append(_parse_list(r[2], path, i, "Probabilities"))
        ids.append(r[3])
        if len(labels[-1]) != len(probs[-1]):
            raise DataError(
                f"{path}: row {i}: {len(labels[-1])} predictions but {len(probs[-1])} probabilities"
            )
    return make_predictions(ids, gold, labels, probs, experiment=experiment, source="paper")


def load_region_map(which: str = "country_to_region") -> dict[str, list[str]]:
    """One of the authors' two hand-made region lists, as region → list of country names.

    Both files map region → countries despite their names. ``country_to_region`` is the one their
    region and two-stage runs used (its 31 regions are the candidates of ``country100_region``);
    ``region_to_country`` is an earlier, different list. Regions overlap (a country can sit in several).
    """
    if which not in ("country_to_region", "region_to_country"):
        raise ConfigError(f"unknown region map {which!r}; choose 'country_to_region' or 'region_to_country'")
    path = fetch(f"pickles/{which}.json")
    with open(path, encoding="utf-8") as fh:
        mapping = json.load(fh)
    if not isinstance(mapping, dict) or not all(isinstance(v, list) for v in mapping.values()):
        raise DataError(f"{path}: expected a JSON object of region -> list of countries")
    return mapping


def regions_of(mapping: dict[str, list[str]]) -> dict[str, tuple[str, ...]]:
    """Invert a region map: country → tuple of the regions that list it (in file order)."""
    out: dict[str, list[str]] = {}
    for region, countries in mapping.items():
        for c in countries:
            out.setdefault(c, []).append(region)
    return {c: tuple(r) for c, r in out.items()}


def load_results(
    experiment: str, source: str = "paper", results_dir: str | os.PathLike | None = None
) -> pd.DataFrame:
    """The predictions table of an experiment, ready for :mod:`geoclip_utils.metrics`.

    Parameters
    ----------
    experiment : a name in :data:`EXPERIMENTS` (the authors' result-file stem without ``_results``), or
        with ``source="local"`` any experiment written by ``geoclip classify``.
    source : ``"paper"`` (the authors' files) or ``"local"`` (``<results_dir>/<experiment>.parquet``).
    results_dir : where local results live (default ``GEOCLIP_RESULTS`` or ``results/``).

    Returns
    -------
    A predictions table (see :mod:`geoclip_utils.schema`). Two experiments are reshaped so that
    "correct" is well defined:

    * ``country100_region`` — the candidates are regions and ``gold`` is the country; the table gains
      ``gold_set``: the regions whose country list (the authors' ``country_to_region`` map, the one their
      run used) contains the gold country. A region prediction is correct when it is in ``gold_set``.
      Germany is in none of the authors' regions, so its 100 images can never be correct.
    * ``country100_country_from_region`` — stage 2 of the two-stage run; the file's ``Gold`` holds the
      region predicted in stage 1 (kept as ``stage1_region``) and ``gold`` becomes the true country,
      joined from ``inputdata/country100.csv`` by image id.

    Country experiments gain ``gold_iso3`` and ``pred_iso3`` (top-1). Rows are sorted by ``image_id``, so
    bootstrap CIs of the same images agree across tables and chapters.
    """
    if source == "local":
        from .schema import read_predictions

        folder = Path(results_dir or os.environ.get("GEOCLIP_RESULTS") or "results")
        df = read_predictions(folder / f"{experiment}.parquet")
    elif source == "paper":
        if experiment not in EXPERIMENTS:
            raise ConfigError(
                f"unknown experiment {experiment!r}; the authors' files are {list(EXPERIMENTS)}"
            )
        reg = registry()
        path = f"resultcsv/{experiment}_results.csv"
        if path not in reg:
            raise DataError(f"{path} is not in the registry")
        df = read_result_file(fetch(path), experiment)
    else:
        raise ConfigError(f"unknown source {source!r}; choose 'paper' or 'local'")
    return _shape_experiment(df, experiment)


def _shape_experiment(df: pd.DataFrame, experiment: str) -> pd.DataFrame:
    attrs = dict(df.attrs)
    if experiment == "country100_region" and "gold_set" not in df.columns:
        inverse = regions_of(load_region_map("country_to_region"))
        df["gold_set"] = df["gold"].map(lambda c: inverse.get(c, ()))
    elif experiment == "country100_country_from_region" and "stage1_region" not in df.columns:
        labels = load_labels("country100").set_index("image_id")["label"]
        missing = ~df["image_id"].isin(labels.index)
        if missing.any():
            raise DataError(
                f"{experiment}: {int(missing.sum())} image ids not in country100.csv, "
                f"e.g. {df['image_id'][missing].iloc[0]!r}"
            )
        df = df.assign(stage1_region=df["gold"], gold=df["image_id"].map(labels).to_numpy())
    if EXPERIMENTS.get(experiment) == "country" or experiment.endswith("country100"):
        top = df["top_labels"].str[0]
        names = pd.concat([df["gold"], top]).unique()
        iso = dict(zip(names, to_iso3(names, what=experiment), strict=True))
        df["gold_iso3"] = df["gold"].map(iso)
        df["pred_iso3"] = top.map(iso)
    # One row order for every table, whatever file it came from: bootstrap resamples are drawn by
    # position, so the same images always get the same resamples (and the same CIs) in every chapter.
    df = df.sort_values("image_id", kind="stable").reset_index(drop=True)
    df.attrs.update(attrs)
    return df


def load_label_counts(name: str, kind: str = "substring") -> pd.DataFrame:
    """How many LAION-400M captions mention each label, as counted by the authors.

    Parameters
    ----------
    name : label set, e.g. ``"country100"``, ``"US_states_max100"``, ``"city300"``.
    kind : ``"substring"`` — their ``" " + label.lower()`` substring count (keys carry that leading
        space, stripped here); ``"tokens"`` — their token-set count, summed over the 32 shard files.

    Returns ``label`` (lower-case for ``substring``, as written for ``tokens``), ``count``.
    """
    reg = registry()
    if kind == "substring":
        paths = [f"label_counts/{name}_labelcount.json"]
    elif kind == "tokens":
        paths = sorted(p for p in reg if p.startswith(f"label_counts/{name}/{name}_tokens_labelcount"))
    else:
        raise ConfigError(f"unknown count kind {kind!r}; choose 'substring' or 'tokens'")
    if not paths or paths[0] not in reg:
        avail = sorted(
            {p.split("/")[1].removesuffix("_labelcount.json") for p in reg if p.startswith("label_counts/")}
        )
        raise ConfigError(f"no {kind} label counts for {name!r}; available: {avail}")
    total: dict[str, int] = {}
    for p in paths:
        with open(fetch(p), encoding="utf-8") as fh:
            counts = json.load(fh)
        for k, v in counts.items():
            key = k[1:] if kind == "substring" and k.startswith(" ") else k
            total[key] = total.get(key, 0) + int(v)
    return pd.DataFrame({"label": list(total), "count": list(total.values())})


_SHP_PARTS = (".shp", ".shx", ".dbf", ".prj")


@functools.cache
def _country_polygons_cached():
    import geopandas as gpd

    stem = "SHP/CountrySHP/world-administrative-boundaries"
    local = [fetch(stem + ext) for ext in _SHP_PARTS]
    gdf = gpd.read_file(local[0])
    # Some territories carry no iso3 in the file (Jersey, Guernsey, disputed areas): fill from the name
    # where country_converter knows it; the rest (disputed areas) keep their own name as key.
    missing = gdf["iso3"].isna() | (gdf["iso3"] == "")
    if missing.any():
        codes = _coco().convert(gdf.loc[missing, "name"].tolist(), to="ISO3", not_found=None)
        codes = [c if isinstance(c, str) and len(c) == 3 else None for c in codes]
        gdf.loc[missing, "iso3"] = codes
    gdf["iso3"] = gdf["iso3"].fillna("-" + gdf["name"].str.replace(" ", "_"))
    # one row per code (Portugal comes with Azores and Madeira as separate rows)
    main = (
        gdf.sort_values("status").drop_duplicates("iso3").set_index("iso3")[["name", "continent", "region"]]
    )
    dissolved = gdf.dissolve(by="iso3")[["geometry"]]
    out = dissolved.join(main).reset_index()
    return out[["iso3", "name", "continent", "region", "geometry"]]


def load_country_polygons():
    """Country polygons used by the paper (world-administrative-boundaries), one row per ISO-3 code.

    Returns a GeoDataFrame (EPSG:4326) with ``iso3``, ``name``, ``continent``, ``region``, ``geometry``.
    Rows whose file lacks a code get one from their name; disputed areas without any keep a key
    starting with ``-`` (e.g. ``-Aksai_Chin``). Kosovo has no polygon of its own in this file.
    """
    return _country_polygons_cached().copy()
