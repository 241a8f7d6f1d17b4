"""The field's geolocation benchmarks: Im2GPS3k, YFCC4k and the OSV-5M test split, read from your copy.

(Benchmark *data sets* of coordinates; the *timings* of the package are :mod:`geoclip_utils.bench`.)

The images and metadata are not redistributed here: download them yourself (each benchmark's own terms
apply) and point :func:`load_benchmark` at them. The loader checks the layout strictly and stops at the
first problem with one line naming the file, the line and the value (:class:`~geoclip_utils.errors.InputError`).

Expected layouts
    ``im2gps3k`` — a metadata CSV with a header holding ``IMG_ID``, ``LAT``, ``LON`` (other columns, e.g.
    the Places365 labels of ``im2gps3k_places365.csv``, are ignored), one row per image, 2,997 rows;
    the images are ``<images>/<IMG_ID>`` (``IMG_ID`` is the file name, extension included).

    ``yfcc4k`` — the same columns (``yfcc4k_places365.csv``), 4,536 rows, images ``<images>/<IMG_ID>``.

    ``osv5m`` — the test split's ``test.csv`` with ``id``, ``latitude``, ``longitude`` (and ``country``,
    ``region``, ``sub-region``, ``city``, which are kept when present), 210,122 rows; the images are
    ``<id>.jpg`` anywhere under ``<images>`` (the published zips unpack into numbered sub-folders).

    ``custom`` — the Im2GPS3k layout with any number of rows: your own images with coordinates.

Checks (the one strict delimited reader, :mod:`geoclip_utils.io.delimited`): the header has the columns
(any case, none twice); no row is ragged; ids are non-empty and unique; latitudes are numbers in decimal
notation in [-90, 90] and longitudes in [-180, 180]; the row count is the benchmark's (``allow_subset=True``
accepts fewer, e.g. to score a part); every image file exists.

Scoring (:func:`score_benchmark`) is :func:`geoclip_utils.stats.distance.score_coordinates`: the same
code that scores GeoEstimation and the city runs (haversine, ``d < t``, GeoScore, bootstrap CIs).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ConfigError, InputError
from .io.delimited import LAT, LON, Column, Delimited
from .io.sources import open_input
from .stats.bootstrap import DEFAULT_N_BOOT, DEFAULT_SEED

__all__ = ["BENCHMARKS", "Benchmark", "load_benchmark", "score_benchmark", "write_custom_metadata"]


@dataclass(frozen=True)
class Benchmark:
    """How one benchmark's metadata is laid out."""

    name: str
    id_column: str
    lat_column: str
    lon_column: str
    n_rows: int | None  # None: any
    id_is_file: bool  # the id is the file name (with extension); else the file is <id>.jpg
    recursive: bool  # images may sit in sub-folders
    keep: tuple[str, ...] = ()
    source: str = ""


BENCHMARKS: dict[str, Benchmark] = {
    "im2gps3k": Benchmark(
        "im2gps3k",
        "IMG_ID",
        "LAT",
        "LON",
        2997,
        True,
        False,
        source="Vo, Jacobs, Hays 2017 (im2gps3k_places365.csv)",
    ),
    "yfcc4k": Benchmark(
        "yfcc4k",
        "IMG_ID",
        "LAT",
        "LON",
        4536,
        True,
        False,
        source="Vo, Jacobs, Hays 2017 (yfcc4k_places365.csv)",
    ),
    "osv5m": Benchmark(
        "osv5m",
        "id",
        "latitude",
        "longitude",
        210122,
        False,
        True,
        keep=("country", "region", "sub-region", "city"),
        source="Astruc et al. 2024, OpenStreetView-5M test split (test.csv)",
    ),
    "custom": Benchmark("custom", "IMG_ID", "LAT", "LON", None, True, False, source="your own images"),
}


def load_benchmark(
    name: str,
    metadata: str | os.PathLike,
    images: str | os.PathLike,
    *,
    allow_subset: bool = False,
) -> pd.DataFrame:
    """Read and check a benchmark's metadata and images (layouts in the module docstring).

    Parameters
    ----------
    name : ``im2gps3k``, ``yfcc4k``, ``osv5m`` or ``custom``.
    metadata : the metadata CSV.
    images : the image folder.
    allow_subset : accept fewer rows than the benchmark has.

    Returns
    -------
    DataFrame with ``image_id`` (the file name without extension, what ``geoclip embed`` stores),
    ``file`` (path relative to ``images``), ``lat``, ``lon`` (plus OSV-5M's area columns), in file order.
    ``attrs``: ``benchmark``, ``metadata``, ``images``.

    Raises
    ------
    ConfigError
        Unknown benchmark.
    InputError
        The first problem, in one line: a missing column, a ragged row, an empty or repeated id, a bad
        coordinate (file and line), the wrong row count, a missing image (how many, the first one).

    Example
    -------
    >>> bench = load_benchmark("im2gps3k", "im2gps3k_places365.csv", "im2gps3k/")  # doctest: +SKIP
    """
    if name not in BENCHMARKS:
        raise ConfigError(f"benchmark {name!r} unknown; choose one of {', '.join(BENCHMARKS)}")
    spec = BENCHMARKS[name]
    need = [spec.id_column, spec.lat_column, spec.lon_column]
    path, folder = Path(metadata), Path(images)
    if not path.is_file():
        raise InputError(
            f"{name} metadata {path} does not exist (expected layout: see geoclip_utils.geobench)"
        )
    if not folder.is_dir():
        raise InputError(f"{name} image folder {folder} does not exist or is not a folder")
    cols = [
        Column("id", (spec.id_column.lower(),), "text", spec.id_column, unique=True),
        replace(LAT, names=(spec.lat_column.lower(),), label=spec.lat_column, hint=""),
        replace(LON, names=(spec.lon_column.lower(),), label=spec.lon_column, hint=""),
        *(Column(c, (c.lower(),), "text", c, blank_ok=True) for c in spec.keep),
    ]
    reader = Delimited(open_input(path, f"{name} metadata"))
    layout = reader.layout(
        cols, optional=spec.keep, hints=dict.fromkeys(("id", "lat", "lon"), f"{name} needs columns {need}")
    )
    values, _ = reader.read(layout)
    ids = values["id"].to_pylist()
    lats, lons = values["lat"].tolist(), values["lon"].tolist()
    extra = {c: values[c].to_pylist() for c in spec.keep if c in values}
    if not ids:
        raise InputError(f"{path}: no rows after the header")
    if spec.n_rows is not None and len(ids) != spec.n_rows and not (allow_subset and len(ids) < spec.n_rows):
        raise InputError(
            f"{path}: {len(ids)} rows, but {name} has {spec.n_rows:,} images "
            f"({'pass allow_subset=True to score a part' if len(ids) < spec.n_rows else 'is this the right file?'})"
        )
    if spec.id_is_file:
        files = ids
    else:
        found = {}
        walker = folder.rglob("*.jpg") if spec.recursive else folder.glob("*.jpg")
        for p in walker:
            found.setdefault(p.stem, p.relative_to(folder).as_posix())
        files = [found.get(i, f"{i}.jpg") for i in ids]
    absent = [f for f in files if not (folder / f).is_file()]
    if absent:
        raise InputError(
            f"{folder}: {len(absent)} of the {len(files)} images of {path.name} are missing, "
            f"first {absent[0]!r} ({name}: see the expected layout in geoclip_utils.geobench)"
        )
    df = pd.DataFrame(
        {"image_id": [Path(f).stem for f in files], "file": files, "lat": lats, "lon": lons, **extra}
    )
    dup = df["image_id"].duplicated()
    if dup.any():
        raise InputError(
            f"{path}: two images share the name {df['image_id'][dup].iloc[0]!r} without extension "
            "(the embedding cache keys images by it); rename one"
        )
    df.attrs.update(benchmark=name, metadata=str(path), images=str(folder))
    return df


def write_custom_metadata(path: str | os.PathLike, files, lat, lon) -> Path:
    """Write a metadata CSV in the ``custom`` (Im2GPS3k) layout: ``IMG_ID,LAT,LON``.

    Example
    -------
    >>> write_custom_metadata(tmp / "meta.csv", ["a.jpg"], [48.85], [2.35])  # doctest: +SKIP
    """
    from ._io import write_csv

    df = pd.DataFrame({"IMG_ID": list(files), "LAT": np.asarray(lat, float), "LON": np.asarray(lon, float)})
    return write_csv(df, Path(path))


def score_benchmark(
    bench: pd.DataFrame,
    predictions: dict[str, tuple[np.ndarray, np.ndarray]],
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
) -> dict:
    """Score predicted coordinates on a benchmark with the book's metric code.

    Parameters
    ----------
    bench : :func:`load_benchmark` (or any frame with ``image_id``, ``lat``, ``lon``).
    predictions : method → (pred_lat, pred_lon), in the order of ``bench``.
    n_boot, seed : bootstrap (one set of resamples for every method).

    Returns
    -------
    ``{method: {"n", "acc_1km", "acc_1km_ci95", …, "median_km", "geoscore", "country_top1"}}``;
    ``country_top1`` compares the sovereign ISO-3 of the reverse-geocoded prediction and truth
    (:func:`geoclip_utils.geo.reverse_geocode`).

    Raises
    ------
    ConfigError
        Predictions whose length differs from the benchmark's.
    """
    from . import geo
    from .stats.distance import score_coordinates

    n = len(bench)
    truth = geo.reverse_geocode(bench["lat"].to_numpy(float), bench["lon"].to_numpy(float))["sovereign_iso3"]
    parts = []
    for method, (plat, plon) in predictions.items():
        plat, plon = np.asarray(plat, float), np.asarray(plon, float)
        if plat.shape != (n,) or plon.shape != (n,):
            raise ConfigError(f"predictions of {method!r} have {plat.shape[0]} rows; the benchmark has {n}")
        pred = geo.reverse_geocode(plat, plon)["sovereign_iso3"].to_numpy()
        parts.append(
            pd.DataFrame(
                {
                    "image_id": bench["image_id"].to_numpy(),
                    "method": method,
                    "error_km": geo.haversine_km(bench["lat"], bench["lon"], plat, plon),
                    "country_correct": (pred == truth.to_numpy()) & (pred != ""),
                }
            )
        )
    return score_coordinates(pd.concat(parts, ignore_index=True), n_boot=n_boot, seed=seed)
