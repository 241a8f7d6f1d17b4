"""The authors' published files: where they come from, how they are checked, how they are read.

Owns
    * the **registry** ``resources/registry.tsv`` (shipped inside the package): every file of the authors' public repository
      (``Ispanicus/geoguessr-ai``) that the book uses, with the commit it is pinned to, its sha256 and size;
    * **fetching**: a file is taken from a local mirror folder (``GEOCLIP_DATA_MIRROR``) or downloaded once
      from its public address into a cache folder (``GEOCLIP_CACHE``, default ``~/.cache/geoclip``), and
      is hash-checked wherever it comes from — a file that fails its check is never used;
    * **file loaders** that turn the files into tidy :mod:`pandas` tables keyed by image id, with the
      quirks of the files handled (see :func:`read_result_file`).

Does not own: which file belongs to which experiment and how its rows are scored (the experiment
registry, :mod:`geoclip_utils.experiments`), country names (:mod:`geoclip_utils.names`), geocoding
(:mod:`geoclip_utils.geo`), metrics, plots.

Environment variables
    ``GEOCLIP_DATA_MIRROR``  folder laid out like the public repository (offline use, CI)
    ``GEOCLIP_CACHE``        cache folder for downloads (default ``~/.cache/geoclip``); the geocoder keeps its
                             prepared structures in its ``prepared/`` folder (:mod:`geoclip_utils.geo.prepared`)
    ``GEOCLIP_DATA_URL``     base address (default ``https://raw.githubusercontent.com/Ispanicus/geoguessr-ai``);
                             a file's address is ``<base>/<commit>/<path>``
"""

from __future__ import annotations

import ast
import csv
import functools
import io
import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ._io import atomic_write, sha256_of
from .errors import ConfigError, DataError
from .names import country_converter
from .provenance import record_read

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

#: The registry of the authors' files, shipped inside the package (``geoclip_utils/resources``).
REGISTRY_FILE = "registry.tsv"
DEFAULT_BASE_URL = "https://raw.githubusercontent.com/Ispanicus/geoguessr-ai"
REPOSITORY = "Ispanicus/geoguessr-ai"


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
def registry(path: str | None = None) -> dict[str, RegistryEntry]:
    """Read the registry (path, commit, sha256, bytes; tab-separated) into a dict by path.

    Parameters
    ----------
    path : a registry file to read instead of the packaged ``resources/registry.tsv``.
    """
    try:
        if path is None:
            with resources.files("geoclip_utils.resources").joinpath(REGISTRY_FILE).open("rb") as fh:
                rows = list(csv.DictReader(io.TextIOWrapper(fh, encoding="utf-8"), delimiter="\t"))
        else:
            with open(path, encoding="utf-8", newline="") as fh:
                rows = list(csv.DictReader(fh, delimiter="\t"))
    except FileNotFoundError as exc:
        raise DataError(
            f"the data registry {path or REGISTRY_FILE} is missing; is the installation complete?"
        ) from exc
    entries = {}
    for row in rows:
        entries[row["path"]] = RegistryEntry(row["path"], row["commit"], row["sha256"], int(row["bytes"]))
    return entries


def _entry(path: str) -> RegistryEntry:
    reg = registry()
    if path not in reg:
        raise DataError(
            f"{path!r} is not in the data registry {REGISTRY_FILE}; known files start with "
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
    """The cache folder from ``GEOCLIP_CACHE`` (default ``~/.cache/geoclip``): downloads under
    ``<commit>/<path>``, the geocoder's prepared structures under ``prepared/``."""
    return Path(os.environ.get("GEOCLIP_CACHE") or Path.home() / ".cache" / "geoclip").expanduser()


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
    """Download one registered file into ``target``, checking size and sha256 while it streams; the file
    appears (atomically) only when it passed."""
    import hashlib

    from tqdm.auto import tqdm

    url = entry.url()

    def write(out) -> None:
        try:
            resp = urllib.request.urlopen(url, timeout=60)  # noqa: S310 (address from the registry)
        except (urllib.error.URLError, OSError) as exc:
            raise DataError(
                f"could not download {entry.path} from {url} ({exc}). Without network, set "
                f"GEOCLIP_DATA_MIRROR to a folder laid out like the {REPOSITORY} repository."
            ) from exc
        digest, size = hashlib.sha256(), 0
        bar = tqdm(
            total=entry.size, unit="B", unit_scale=True, desc=entry.path, disable=not progress, leave=False
        )
        with resp, bar:
            while block := resp.read(1 << 16):
                out.write(block)
                digest.update(block)
                size += len(block)
                bar.update(len(block))
        problem = (
            f"size {size} bytes, expected {entry.size}"
            if size != entry.size
            else (
                f"sha256 {digest.hexdigest()[:12]}…, expected {entry.sha256[:12]}…"
                if digest.hexdigest() != entry.sha256
                else ""
            )
        )
        if problem:
            raise DataError(
                f"downloaded {entry.path} from {url} but it fails its check ({problem}); "
                "the file was not used. The public file may have changed: report it."
            )

    atomic_write(target, write)


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
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        writable = os.access(cached.parent, os.W_OK)
    except OSError as exc:
        raise ConfigError(
            f"the download cache {cache_dir()} cannot be used ({exc.strerror or exc}); point GEOCLIP_CACHE at a "
            "writable folder, or set GEOCLIP_DATA_MIRROR to a copy of the data"
        ) from exc
    if not writable and not cached.is_file():
        raise ConfigError(
            f"the download cache {cached.parent} is not writable; point GEOCLIP_CACHE at a writable folder, "
            "or set GEOCLIP_DATA_MIRROR to a copy of the data"
        )
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
    import pandas as pd
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
    import pandas as pd

    commits = pd.Series([e.commit for e in registry().values()]).value_counts()
    return {
        "repository": REPOSITORY,
        "commit": commits.index[0],
        "n_files": str(len(registry())),
        "other_commits": ", ".join(c[:7] for c in commits.index[1:]),
    }


# --------------------------------------------------------------------------- loaders
def load_coordinates(registered: str) -> pd.DataFrame:
    """Latitude/longitude of images, from one of the authors' coordinate files (``IMG_ID, LAT, LON``).

    Parameters
    ----------
    registered : its path in the registry, e.g. ``"geoinputdata/country100_geoestimation.csv"`` (the
        11,500 country100 images; a label set names its file in the experiment registry).

    Returns ``image_id`` (``.jpg`` stripped), ``lat``, ``lon`` (float, degrees).
    """
    import pandas as pd

    path = fetch(registered)
    df = pd.read_csv(path, dtype={"IMG_ID": str})
    df = pd.DataFrame({"image_id": df["IMG_ID"].str.removesuffix(".jpg"), "lat": df["LAT"], "lon": df["LON"]})
    bad = ~(df["lat"].between(-90, 90) & df["lon"].between(-180, 180))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{path}: row {i + 2} has coordinates out of range ({df.lat[i]}, {df.lon[i]})")
    return df


def load_geoestimation(registered: str) -> pd.DataFrame:
    """GeoEstimation (base M, ResNet-50, MP-16) predictions, from the authors' result file.

    Parameters
    ----------
    registered : its path in the registry (``georesultcsv/country100_geoestimation_result.csv``).

    Returns one row per image and partitioning: ``image_id``, ``partitioning`` (coarse, middle, fine,
    hierarchy), ``pred_class``, ``pred_lat``, ``pred_lon``.
    """
    import pandas as pd

    path = fetch(registered)
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
    from .schema import make_predictions

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


def read_region_map(
    path: str | os.PathLike, *, what: str = "region map", error: type[Exception] | None = None
) -> dict[str, list[str]]:
    """Read a region map: a JSON object of region → list of country names. The one reader of region maps
    (the authors' files through :func:`load_region_map`, a user's ``--region-map``).

    Parameters
    ----------
    path : the JSON file (UTF-8).
    what : what the file is, for the messages.
    error : the error class to raise (default :class:`~geoclip_utils.errors.InputError`, a user's file;
        :func:`load_region_map` raises :class:`~geoclip_utils.errors.DataError` for the authors' files).

    Returns
    -------
    dict region -> list of country names, in file order.

    Raises
    ------
    InputError (or ``error``)
        A missing or unreadable file, not UTF-8, not JSON, not an object of lists of strings, a region
        named twice, a blank name, an empty region, or a country listed twice in one region — each named
        with the region and the value.

    Example
    -------
    >>> read_region_map("regions.json")  # doctest: +SKIP
    {'baltic': ['Latvia', 'Lithuania', 'Estonia'], ...}
    """
    from .errors import InputError

    error = error or InputError
    p = Path(path)
    if not p.is_file():
        raise error(f"{what} {p} does not exist or is not a file")

    def pairs(items: list[tuple[str, object]]) -> dict:
        seen: set[str] = set()
        for key, _ in items:
            if key in seen:
                raise error(f"{what} {p} names region {key!r} twice; merge the two entries")
            seen.add(key)
        return dict(items)

    try:
        mapping = json.loads(p.read_text(encoding="utf-8"), object_pairs_hook=pairs)
    except UnicodeDecodeError as exc:
        raise error(f"{what} {p} is not UTF-8 text (byte {exc.start}); save it as UTF-8 JSON") from exc
    except json.JSONDecodeError as exc:
        raise error(f"{what} {p} is not valid JSON ({exc})") from exc
    except OSError as exc:
        raise error(f"{what} {p} cannot be read ({exc.strerror or exc})") from exc
    if not isinstance(mapping, dict) or not mapping:
        raise error(f"{what} {p} must be a non-empty JSON object of region -> list of countries")
    for region, countries in mapping.items():
        if not region.strip():
            raise error(f"{what} {p} has a region with a blank name")
        if not isinstance(countries, list) or not all(isinstance(c, str) for c in countries):
            raise error(
                f"{what} {p}: region {region!r} must be a list of country names, got {json.dumps(countries)[:80]}"
            )
        if not countries:
            raise error(f"{what} {p}: region {region!r} lists no country; remove it or fill it")
        blank = next((c for c in countries if not c.strip()), None)
        if blank is not None:
            raise error(f"{what} {p}: region {region!r} lists a blank country name")
        twice = next((c for i, c in enumerate(countries) if c in countries[:i]), None)
        if twice is not None:
            raise error(f"{what} {p}: region {region!r} lists {twice!r} twice")
    return mapping


def load_region_map(which: str = "country_to_region") -> dict[str, list[str]]:
    """One of the authors' two hand-made region lists, as region → list of country names.

    Both files map region → countries despite their names. ``country_to_region`` is the one their
    region and two-stage runs used (its 31 regions are the candidates of ``country100_region``);
    ``region_to_country`` is an earlier, different list. Regions overlap (a country can sit in several).
    Read by :func:`read_region_map`.
    """
    if which not in ("country_to_region", "region_to_country"):
        raise ConfigError(f"unknown region map {which!r}; choose 'country_to_region' or 'region_to_country'")
    return read_region_map(fetch(f"pickles/{which}.json"), what="the authors' region map", error=DataError)


def regions_of(mapping: dict[str, list[str]]) -> dict[str, tuple[str, ...]]:
    """Invert a region map: country → tuple of the regions that list it (in file order)."""
    out: dict[str, list[str]] = {}
    for region, countries in mapping.items():
        for c in countries:
            out.setdefault(c, []).append(region)
    return {c: tuple(r) for c, r in out.items()}


def load_label_counts(paths: Sequence[str], kind: str = "substring") -> pd.DataFrame:
    """How many LAION-400M captions mention each label, as counted by the authors, summed over files.

    Parameters
    ----------
    paths : registry paths of the count files (JSON ``{key: count}``); the per-shard token counts of one
        label set are summed.
    kind : ``"substring"`` — their ``" " + label.lower()`` substring count (keys carry that leading
        space, stripped here); ``"tokens"`` — their token-set count (keys as written).

    Returns ``label``, ``count``.
    """
    import pandas as pd

    if kind not in ("substring", "tokens"):
        raise ConfigError(f"unknown count kind {kind!r}; choose 'substring' or 'tokens'")
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
        codes = country_converter().convert(gdf.loc[missing, "name"].tolist(), to="ISO3", not_found=None)
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
