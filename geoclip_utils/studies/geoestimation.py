"""Does a supervised geolocator do better? CLIP against GeoEstimation on the country100 images.

The authors ran GeoEstimation (Müller-Budack et al. 2018; base M, ResNet-50, trained on MP-16) on the
11,500 country100 photos, with its four partitionings of the globe (``coarse``, ``middle``, ``fine`` and
``hierarchy``). Each prediction is a cell of the partitioning, given as the coordinates of the cell
centre. This module scores those predictions:

* **distance** — the great-circle (haversine) distance between the predicted and the true coordinates
  (:func:`geoclip_utils.geo.haversine_km`); the share of images within 1 / 25 / 200 / 750 / 2500 km
  (street / city / region / country / continent, the thresholds of the image geolocation literature),
  the median error and the mean GeoScore (:func:`geoclip_utils.geo.geoscore`);
* **country** — the predicted coordinates are reverse-geocoded offline
  (:func:`geoclip_utils.geo.reverse_geocode`) and compared with the gold country of
  ``inputdata/country100.csv`` (the authors' Nominatim labels). Both sides are compared as **sovereign**
  ISO-3 codes: the prediction's ``sovereign_iso3`` column, and the gold code passed through the same map
  (:data:`geoclip_utils.geo.INTEGRAL_TERRITORIES`, e.g. Réunion → France, Hong Kong → China), so that
  a territory is never counted wrong for naming its sovereign state. A prediction that falls in no
  country (open sea beyond the tolerance) counts as wrong.

Every number has a percentile bootstrap 95 % CI (images resampled with replacement, the scheme of
:func:`geoclip_utils.stats.bootstrap_ci`; one set of resamples serves all metrics and partitionings).
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from .. import data, experiments, geo, stats
from ..errors import ConfigError, DataError
from ..stats.bootstrap import DEFAULT_N_BOOT, DEFAULT_SEED

#: GeoEstimation's partitionings, coarsest first; ``hierarchy`` combines the three.
PARTITIONINGS: tuple[str, ...] = ("coarse", "middle", "fine", "hierarchy")
#: Distance thresholds (km): street, city, region, country, continent.
THRESHOLDS_KM: tuple[int, ...] = (1, 25, 200, 750, 2500)
#: Metric keys of every partitioning, in display order.
METRIC_KEYS: tuple[str, ...] = tuple(f"acc_{t}km" for t in THRESHOLDS_KM) + (
    "median_km",
    "geoscore",
    "country_top1",
)


def sovereign(iso3s) -> np.ndarray:
    """Map ISO-3 codes to their sovereign state's code (integral territories only; others unchanged).

    Example
    -------
    >>> sovereign(["REU", "FRA", "HKG"]).tolist()
    ['FRA', 'FRA', 'CHN']
    """
    return np.array([geo.INTEGRAL_TERRITORIES.get(str(c), str(c)) for c in iso3s], dtype=object)


def threshold_shares(d_km, thresholds_km=THRESHOLDS_KM) -> dict[str, float]:
    """Share of errors at most each threshold (``d <= t``), keyed ``acc_<t>km``.

    Parameters
    ----------
    d_km : 1-D array of distances in km.
    thresholds_km : thresholds in km.

    Returns
    -------
    dict ``{"acc_1km": share, ...}``.

    Raises
    ------
    ConfigError
        When ``d_km`` is empty.

    Example
    -------
    >>> threshold_shares([0.5, 30, 1000, 5000], (1, 25, 2500))
    {'acc_1km': 0.25, 'acc_25km': 0.25, 'acc_2500km': 0.75}
    """
    d = np.asarray(d_km, dtype=float)
    if d.size == 0:
        raise ConfigError("no distances to score")
    return {f"acc_{t:g}km": float((d <= t).mean()) for t in thresholds_km}


def weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """Median of ``values`` where value ``i`` appears ``weights[i]`` times (the lower median of the expanded
    sample when the total weight is even, averaged with the upper one, as :func:`numpy.median` does).

    Example
    -------
    >>> weighted_median(np.array([1.0, 2.0, 10.0]), np.array([1.0, 0.0, 1.0]))
    5.5
    """
    v = np.asarray(values, float)
    w = np.asarray(weights, float)
    order = np.argsort(v, kind="stable")
    return _weighted_median_sorted(v[order], w[order])


def _weighted_median_sorted(v: np.ndarray, w: np.ndarray) -> float:
    cum = np.cumsum(w)
    total = cum[-1]
    if total <= 0:
        raise ConfigError("weighted median with zero total weight")
    # positions (1-based) of the two middle elements of the expanded sample
    lo_pos = np.floor((total + 1) / 2)
    hi_pos = np.ceil((total + 1) / 2)
    lo = v[np.searchsorted(cum, lo_pos)]
    hi = v[np.searchsorted(cum, hi_pos)]
    return float((lo + hi) / 2)


@functools.cache
def _table_cached() -> pd.DataFrame:
    exp = experiments.get("country100_geoestimation")
    pred = data.load_geoestimation(exp.results)
    truth = experiments.load_coordinates(exp.label_set)[["image_id", "lat", "lon", "label", "iso3"]]
    unknown = sorted(set(pred["partitioning"]) - set(PARTITIONINGS))
    if unknown:
        raise DataError(
            f"GeoEstimation results: unknown partitionings {unknown}; expected {list(PARTITIONINGS)}"
        )
    df = pred.merge(truth, on="image_id", how="inner", validate="m:1")
    if len(df) != len(pred):
        missing = sorted(set(pred["image_id"]) - set(df["image_id"]))
        raise DataError(
            f"GeoEstimation results: {len(missing)} image ids have no coordinates or label, e.g. {missing[0]!r}"
        )
    df["error_km"] = geo.haversine_km(df["lat"], df["lon"], df["pred_lat"], df["pred_lon"])
    df["geoscore"] = geo.geoscore(df["error_km"])
    # reverse-geocode each distinct predicted cell centre once
    cells = df[["pred_lat", "pred_lon"]].drop_duplicates().reset_index(drop=True)
    rev = geo.reverse_geocode(cells["pred_lat"].to_numpy(), cells["pred_lon"].to_numpy())
    cells["pred_iso3"] = rev["sovereign_iso3"].to_numpy()
    cells["pred_method"] = rev["method"].to_numpy()
    df = df.merge(cells, on=["pred_lat", "pred_lon"], how="left", validate="m:1")
    df["gold_iso3"] = sovereign(df["iso3"])
    df["country_correct"] = (df["pred_iso3"] == df["gold_iso3"]) & (df["pred_iso3"] != "")
    df["partitioning"] = pd.Categorical(df["partitioning"], categories=list(PARTITIONINGS), ordered=True)
    df = df.rename(columns={"label": "gold"}).sort_values(["partitioning", "image_id"], kind="stable")
    return df.reset_index(drop=True)


def geoestimation_table() -> pd.DataFrame:
    """GeoEstimation's predictions joined with the truth, one row per image and partitioning.

    Returns
    -------
    DataFrame with ``image_id``, ``partitioning`` (ordered categorical), ``pred_class``, ``pred_lat``,
    ``pred_lon``, ``lat``, ``lon`` (true), ``gold`` (country name), ``iso3`` (gold, as labelled),
    ``gold_iso3`` (its sovereign code), ``pred_iso3`` (sovereign code of the reverse-geocoded prediction,
    ``""`` for none), ``pred_method`` (how it was geocoded), ``error_km``, ``geoscore``,
    ``country_correct``. Rows are sorted by partitioning, then image id.

    Raises
    ------
    DataError
        When the results, coordinates and labels do not cover the same images.

    Example
    -------
    >>> geoestimation_table().groupby("partitioning", observed=True)["error_km"].median()  # doctest: +SKIP
    """
    return _table_cached().copy()


def _mean_columns(d: np.ndarray, gs: np.ndarray, cc: np.ndarray) -> np.ndarray:
    """Per-image columns whose weighted means are the threshold shares, GeoScore and country accuracy."""
    cols = [(d <= t).astype(float) for t in THRESHOLDS_KM] + [gs, cc]
    return np.column_stack(cols)


def _batch_stats(w: np.ndarray, cols: np.ndarray, d_sorted: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Metrics (columns in :data:`METRIC_KEYS` order) of a batch of weight vectors ``w`` (rows)."""
    total = w.sum(axis=1)
    means = (w @ cols) / total[:, None]
    cum = np.cumsum(w[:, order], axis=1)
    lo_pos = np.floor((total + 1) / 2)
    hi_pos = np.ceil((total + 1) / 2)
    # index of the first cumulative weight >= position, row by row
    lo = d_sorted[(cum < lo_pos[:, None]).sum(axis=1)]
    hi = d_sorted[(cum < hi_pos[:, None]).sum(axis=1)]
    med = (lo + hi) / 2
    k = len(THRESHOLDS_KM)
    return np.column_stack([means[:, :k], med, means[:, k:]])


def distance_metrics(df: pd.DataFrame, *, n_boot: int = DEFAULT_N_BOOT, seed: int = DEFAULT_SEED) -> dict:
    """Distance and country metrics of each partitioning of a :func:`geoestimation_table`-like frame.

    Parameters
    ----------
    df : needs ``image_id``, ``partitioning``, ``error_km``, ``geoscore``, ``country_correct``; every
        partitioning must cover the same images (the bootstrap resamples images, jointly for all).
    n_boot : bootstrap resamples (``0`` = no intervals).
    seed : bootstrap seed.

    Returns
    -------
    ``{partitioning: {"n": ..., "acc_1km": ..., "acc_1km_ci95": [lo, hi], ..., "median_km": ...,
    "geoscore": ..., "country_top1": ...}}``, partitionings in :data:`PARTITIONINGS` order.

    Raises
    ------
    ConfigError
        Empty frame, or partitionings covering different images.

    Example
    -------
    >>> distance_metrics(geoestimation_table())["hierarchy"]["median_km"]  # doctest: +SKIP
    """
    if len(df) == 0:
        raise ConfigError("no GeoEstimation predictions to score")
    parts = [p for p in PARTITIONINGS if p in set(df["partitioning"].astype(str))]
    parts += sorted(set(df["partitioning"].astype(str)) - set(parts))
    arrays = {}
    ids = None
    for p in parts:
        sub = df[df["partitioning"].astype(str) == p].sort_values("image_id", kind="stable")
        these = sub["image_id"].to_numpy(dtype=str)
        if ids is None:
            ids = these
        elif len(these) != len(ids) or (these != ids).any():
            raise ConfigError(f"partitioning {p!r} does not cover the same images as {parts[0]!r}")
        d = sub["error_km"].to_numpy(float)
        order = np.argsort(d, kind="stable")
        cols = _mean_columns(d, sub["geoscore"].to_numpy(float), sub["country_correct"].to_numpy(float))
        arrays[p] = (d[order], order, cols)
    n = len(ids)
    out: dict[str, dict] = {}
    boot: dict[str, list] = {p: [] for p in parts}
    if n_boot > 0:
        # stats.bootstrap_weights: the same resamples for every metric and partitioning
        for w in stats.bootstrap_weights(n, n_boot=n_boot, seed=seed):
            for p in parts:
                d_sorted, order, cols = arrays[p]
                boot[p].append(_batch_stats(w, cols, d_sorted, order))
    for p in parts:
        d_sorted, order, cols = arrays[p]
        point = _batch_stats(np.ones((1, n)), cols, d_sorted, order)[0]
        res: dict = {"n": int(n)}
        vals = np.vstack(boot[p]) if n_boot > 0 else None
        for j, key in enumerate(METRIC_KEYS):
            res[key] = float(point[j])
            if vals is not None:
                lo, hi = np.percentile(vals[:, j], [2.5, 97.5])
                res[key + "_ci95"] = [float(lo), float(hi)]
        out[p] = res
    return out


def geoestimation_metrics(*, n_boot: int = DEFAULT_N_BOOT, seed: int = DEFAULT_SEED) -> dict:
    """Headline metrics of the authors' GeoEstimation run on country100, per partitioning.

    What ``geoclip metrics --experiment country100_geoestimation --json`` prints.

    Parameters
    ----------
    n_boot : bootstrap resamples for the 95 % CIs.
    seed : bootstrap seed.

    Returns
    -------
    ``{"experiment": "country100_geoestimation", "source": "paper", "n": 11500, "n_boot": ..., "seed": ...,
    "thresholds_km": [...], "partitionings": {"coarse": {"n", "acc_1km", "acc_1km_ci95", "acc_25km", ...,
    "median_km", "geoscore", "country_top1", each with "_ci95"}, ...}}``.

    Raises
    ------
    DataError
        When the authors' files are missing or inconsistent.

    Example
    -------
    >>> geoestimation_metrics(n_boot=100)["partitionings"]["hierarchy"]["country_top1"]  # doctest: +SKIP
    """
    df = _table_cached()
    parts = distance_metrics(df, n_boot=n_boot, seed=seed)
    return {
        "experiment": "country100_geoestimation",
        "source": "paper",
        "n": int(df["image_id"].nunique()),
        "n_boot": int(n_boot),
        "seed": int(seed),
        "thresholds_km": list(THRESHOLDS_KM),
        "country_match": "sovereign ISO-3 of the reverse-geocoded prediction vs sovereign ISO-3 of the gold label",
        "partitionings": parts,
    }


def metrics_table(result: dict) -> pd.DataFrame:
    """The ``partitionings`` of :func:`geoestimation_metrics` as a table (one row per partitioning,
    columns :data:`METRIC_KEYS` plus ``<key>_lo`` / ``<key>_hi`` when intervals are present)."""
    rows = {}
    for p, m in result["partitionings"].items():
        row = {"n": m["n"]}
        for key in METRIC_KEYS:
            row[key] = m[key]
            if key + "_ci95" in m:
                row[key + "_lo"], row[key + "_hi"] = m[key + "_ci95"]
        rows[p] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("partitioning")


def clip_country_correct(df_clip: pd.DataFrame, image_ids) -> np.ndarray:
    """CLIP's top-1 country correctness (sovereign ISO-3 on both sides) in the order of ``image_ids``.

    Parameters
    ----------
    df_clip : a country predictions table with ``image_id``, ``gold_iso3``, ``pred_iso3``
        (from :func:`geoclip_utils.experiments.load_results`).
    image_ids : the images, in the order wanted.

    Raises
    ------
    DataError
        When an image is missing from ``df_clip``.
    """
    t = df_clip.set_index("image_id")
    ids = pd.Index(image_ids)
    missing = ids.difference(t.index)
    if len(missing):
        raise DataError(f"{len(missing)} images missing from the CLIP results, e.g. {missing[0]!r}")
    t = t.loc[ids]
    return (sovereign(t["pred_iso3"]) == sovereign(t["gold_iso3"])).astype(bool)


def per_country_comparison(
    table: pd.DataFrame, df_clip: pd.DataFrame, partitioning: str = "hierarchy"
) -> pd.DataFrame:
    """Per gold country: CLIP's and GeoEstimation's country accuracy (recall) and GeoEstimation's median error.

    Returns a frame indexed by gold ``iso3`` (sovereign) with ``country``, ``n``, ``clip``, ``geoestimation``,
    ``diff`` (GeoEstimation − CLIP), ``median_km``, sorted by ``diff``.
    """
    sub = table[table["partitioning"].astype(str) == partitioning]
    if sub.empty:
        raise ConfigError(f"unknown partitioning {partitioning!r}; choose one of {list(PARTITIONINGS)}")
    sub = sub.assign(clip=clip_country_correct(df_clip, sub["image_id"]).astype(float))
    out = sub.groupby("gold_iso3").agg(
        country=("gold", "first"),
        n=("image_id", "size"),
        clip=("clip", "mean"),
        geoestimation=("country_correct", "mean"),
        median_km=("error_km", "median"),
    )
    out["diff"] = out["geoestimation"] - out["clip"]
    return out.rename_axis("iso3").sort_values(["diff", "country"])
