"""Scoring distances: shares within thresholds, median km, mean GeoScore, their bootstrap CIs, paired scores.

The book's one scoring of coordinates (GeoEstimation, the city runs, the benchmarks, CLIP's pins): the
distance is :func:`geoclip_utils.geo.haversine_km`, a photo is within ``t`` km when ``d < t`` (strict, as
OSV-5M's ``metrics/distance_based.py`` counts it; :func:`within`,
:data:`geoclip_utils.geo.distance.DISTANCE_DEFINITION`), the GeoScore is :func:`geoclip_utils.geo.geoscore`. Every interval is a percentile bootstrap over the
images with the resamples of :func:`geoclip_utils.stats.bootstrap_weights` (one set for every metric and
every method scored on the same images).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..geo.distance import geoscore
from .bootstrap import DEFAULT_N_BOOT, DEFAULT_SEED, bootstrap_ci, bootstrap_weights, weighted_means

__all__ = [
    "THRESHOLDS_KM",
    "DISTANCE_KEYS",
    "METRIC_KEYS",
    "within",
    "threshold_shares",
    "weighted_median",
    "distance_metrics",
    "score_coordinates",
    "paired_scores",
]

#: Distance thresholds (km): street, city, region, country, continent.
THRESHOLDS_KM: tuple[int, ...] = (1, 25, 200, 750, 2500)
#: Keys of the distance metrics, in display order.
DISTANCE_KEYS: tuple[str, ...] = tuple(f"acc_{t}km" for t in THRESHOLDS_KM) + ("median_km", "geoscore")
#: Keys of the distance metrics with the country accuracy (``country_top1``).
METRIC_KEYS: tuple[str, ...] = DISTANCE_KEYS + ("country_top1",)


def within(d_km, t_km: float) -> np.ndarray:
    """Whether each distance counts as within ``t_km``: ``d < t`` (strict), as OSV-5M's
    ``metrics/distance_based.py`` counts it (``haversine_distance < acc``).

    Example
    -------
    >>> within([0.5, 1.0, 1.5], 1).tolist()
    [True, False, False]
    """
    return np.asarray(d_km, dtype=float) < t_km


def threshold_shares(d_km, thresholds_km=THRESHOLDS_KM) -> dict[str, float]:
    """Share of errors within each threshold (:func:`within`), keyed ``acc_<t>km``.

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
    return {f"acc_{t:g}km": float(within(d, t).mean()) for t in thresholds_km}


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


def _mean_columns(d: np.ndarray, gs: np.ndarray, cc: np.ndarray | None) -> np.ndarray:
    """Per-image columns whose weighted means are the threshold shares, GeoScore (and country accuracy)."""
    cols = [within(d, t).astype(float) for t in THRESHOLDS_KM] + [gs] + ([] if cc is None else [cc])
    return np.column_stack(cols)


def _batch_stats(w: np.ndarray, cols: np.ndarray, d_sorted: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Metrics (shares, median, then the other means) of a batch of weight vectors ``w`` (rows)."""
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


def distance_metrics(
    df: pd.DataFrame,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
    by: str = "partitioning",
    order: Sequence[str] = (),
    country: bool = True,
) -> dict:
    """Distance (and country) metrics of each method of a frame, with bootstrap CIs.

    Parameters
    ----------
    df : needs ``image_id``, the method column ``by``, ``error_km``, ``geoscore`` and, with ``country``,
        ``country_correct``; every method must cover the same images (the bootstrap resamples images,
        jointly for all methods, in image-id order).
    n_boot : bootstrap resamples (``0`` = no intervals).
    seed : bootstrap seed.
    by : the column naming the method.
    order : methods listed first, in this order (the others follow, sorted).
    country : also the share of ``country_correct`` (``country_top1``).

    Returns
    -------
    ``{method: {"n": ..., "acc_1km": ..., "acc_1km_ci95": [lo, hi], ..., "median_km": ...,
    "geoscore": ..., "country_top1": ...}}`` (keys :data:`METRIC_KEYS`, or :data:`DISTANCE_KEYS` without
    ``country``).

    Raises
    ------
    ConfigError
        Empty frame, or methods covering different images.

    Example
    -------
    >>> f = pd.DataFrame({"image_id": ["a", "b"], "m": "x", "error_km": [0.5, 30.0], "geoscore": 1.0})
    >>> distance_metrics(f, n_boot=0, by="m", country=False)["x"]["acc_25km"]
    0.5
    """
    if len(df) == 0:
        raise ConfigError("no distances to score")
    present = set(df[by].astype(str))
    parts = [p for p in order if p in present]
    parts += sorted(present - set(parts))
    keys = METRIC_KEYS if country else DISTANCE_KEYS
    arrays = {}
    ids = None
    for p in parts:
        sub = df[df[by].astype(str) == p].sort_values("image_id", kind="stable")
        these = sub["image_id"].to_numpy(dtype=str)
        if ids is None:
            ids = these
        elif len(these) != len(ids) or (these != ids).any():
            raise ConfigError(f"{by} {p!r} does not cover the same images as {parts[0]!r}")
        d = sub["error_km"].to_numpy(float)
        order_d = np.argsort(d, kind="stable")
        cc = sub["country_correct"].to_numpy(float) if country else None
        cols = _mean_columns(d, sub["geoscore"].to_numpy(float), cc)
        arrays[p] = (d[order_d], order_d, cols)
    n = len(ids)
    out: dict[str, dict] = {}
    boot: dict[str, list] = {p: [] for p in parts}
    if n_boot > 0:
        # bootstrap_weights: the same resamples for every metric and method
        for w in bootstrap_weights(n, n_boot=n_boot, seed=seed):
            for p in parts:
                d_sorted, order_d, cols = arrays[p]
                boot[p].append(_batch_stats(w, cols, d_sorted, order_d))
    for p in parts:
        d_sorted, order_d, cols = arrays[p]
        point = _batch_stats(np.ones((1, n)), cols, d_sorted, order_d)[0]
        res: dict = {"n": int(n)}
        vals = np.vstack(boot[p]) if n_boot > 0 else None
        for j, key in enumerate(keys):
            res[key] = float(point[j])
            if vals is not None:
                lo, hi = np.percentile(vals[:, j], [2.5, 97.5])
                res[key + "_ci95"] = [float(lo), float(hi)]
        out[p] = res
    return out


def score_coordinates(
    frame: pd.DataFrame,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
) -> dict:
    """% within 1/25/200/750/2500 km, median km, GeoScore and country accuracy, each with a bootstrap CI.

    Parameters
    ----------
    frame : one row per image and method: ``image_id``, ``method``, ``error_km``, ``country_correct``
        (every method on the same images; the bootstrap resamples images, jointly for all methods).
    n_boot, seed : bootstrap resamples and seed (:func:`geoclip_utils.stats.bootstrap_weights`).

    Returns
    -------
    ``{method: {"n", "acc_1km", "acc_1km_ci95", …, "median_km", "geoscore", "country_top1", …}}`` — the
    output of :func:`distance_metrics`.

    Example
    -------
    >>> f = pd.DataFrame({"image_id": ["a", "b"], "method": "m", "error_km": [0.5, 30.0], "country_correct": True})
    >>> score_coordinates(f, n_boot=0)["m"]["acc_25km"]
    0.5
    """
    f = frame.rename(columns={"method": "partitioning"}).assign(geoscore=lambda x: geoscore(x["error_km"]))
    return distance_metrics(f, n_boot=n_boot, seed=seed)


def paired_scores(a, b, *, n_boot: int = DEFAULT_N_BOOT, seed: int = DEFAULT_SEED) -> dict:
    """Two methods' per-image scores (e.g. GeoScores) on the same images: the mean difference ``a − b`` with
    its paired bootstrap interval, and how often each side scores higher.

    Parameters
    ----------
    a, b : per-image scores, same images in the same order.
    n_boot, seed : bootstrap settings (:func:`geoclip_utils.stats.bootstrap_weights`: both members of a
        pair are resampled together); ``n_boot=0`` leaves the interval out.

    Returns
    -------
    ``{"n", "mean_a", "mean_b", "diff", "diff_ci95", "a_higher", "b_higher", "ties"}``: ``diff`` is
    ``mean(a − b)``; ``a_higher`` / ``b_higher`` / ``ties`` are shares of the images.

    Raises
    ------
    ConfigError
        Inputs of different lengths, empty, or not finite.

    Example
    -------
    >>> r = paired_scores([3.0, 1.0, 2.0, 2.0], [1.0, 1.0, 3.0, 0.0], n_boot=0)
    >>> r["diff"], r["a_higher"], r["b_higher"], r["ties"]
    (0.75, 0.5, 0.25, 0.25)
    """
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ConfigError(f"paired scores need two 1-D arrays of one length, got {x.shape} and {y.shape}")
    if x.size == 0:
        raise ConfigError("no paired scores to compare")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ConfigError("paired scores must be finite numbers")
    d = x - y
    out = {
        "n": int(d.size),
        "mean_a": float(x.mean()),
        "mean_b": float(y.mean()),
        "diff": float(d.mean()),
        "a_higher": float((d > 0).mean()),
        "b_higher": float((d < 0).mean()),
        "ties": float((d == 0).mean()),
    }
    if n_boot > 0:
        ci = bootstrap_ci(weighted_means(d), d.size, n_boot=n_boot, seed=seed, vectorized=True)
        out["diff_ci95"] = [float(ci[0]), float(ci[1])]
    return out
