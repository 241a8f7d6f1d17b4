"""The authors' GeoEstimation run on country100, scored (what ``geoclip metrics`` prints for it).

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

from .. import data, experiments, geo
from ..errors import DataError
from ..stats import distance as stats_distance
from ..stats.bootstrap import DEFAULT_N_BOOT, DEFAULT_SEED
from ..stats.distance import THRESHOLDS_KM

__all__ = ["PARTITIONINGS", "sovereign", "geoestimation_table", "distance_metrics", "geoestimation_metrics"]

#: GeoEstimation's partitionings, coarsest first; ``hierarchy`` combines the three.
PARTITIONINGS: tuple[str, ...] = ("coarse", "middle", "fine", "hierarchy")


def sovereign(iso3s) -> np.ndarray:
    """Map ISO-3 codes to their sovereign state's code (integral territories only; others unchanged).

    Example
    -------
    >>> sovereign(["REU", "FRA", "HKG"]).tolist()
    ['FRA', 'FRA', 'CHN']
    """
    return np.array([geo.INTEGRAL_TERRITORIES.get(str(c), str(c)) for c in iso3s], dtype=object)


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


def distance_metrics(df: pd.DataFrame, *, n_boot: int = DEFAULT_N_BOOT, seed: int = DEFAULT_SEED) -> dict:
    """Distance and country metrics of each partitioning of a :func:`geoestimation_table`-like frame:
    :func:`geoclip_utils.stats.distance.distance_metrics` with the partitionings in :data:`PARTITIONINGS`
    order.

    Example
    -------
    >>> distance_metrics(geoestimation_table())["hierarchy"]["median_km"]  # doctest: +SKIP
    """
    return stats_distance.distance_metrics(df, n_boot=n_boot, seed=seed, order=PARTITIONINGS)


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
