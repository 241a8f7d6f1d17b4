"""Experiment-level results: load an experiment's predictions and compute its headline numbers.

The glue between :mod:`geoclip_utils.data` (tables) and :mod:`geoclip_utils.metrics` (numbers) that the
CLI (``geoclip metrics``, ``geoclip compare``) and the chapters share, so both report the same values.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from . import data, metrics
from .errors import ConfigError, DataError


def experiment_metrics(
    experiment: str,
    *,
    source: str = "paper",
    results_dir: str | os.PathLike | None = None,
    n_boot: int = metrics.DEFAULT_N_BOOT,
    seed: int = metrics.DEFAULT_SEED,
) -> dict:
    """Headline metrics (see :func:`geoclip_utils.metrics.summarize`) of one experiment.

    ``country100_geoestimation`` is dispatched to the distance metrics of the GeoEstimation
    comparison when that module is present.
    """
    if experiment == "country100_geoestimation":
        try:
            from . import geoestimation
        except ModuleNotFoundError as exc:
            raise ConfigError("the GeoEstimation comparison is not available in this version") from exc
        return geoestimation.geoestimation_metrics(n_boot=n_boot, seed=seed)
    df = data.load_results(experiment, source=source, results_dir=results_dir)
    return metrics.summarize(df, n_boot=n_boot, seed=seed)


def paired_tables(a: pd.DataFrame, b: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Restrict two predictions tables to the images both share, in the same order.

    Raises
    ------
    DataError
        If a table has no image ids (the authors' older city files) or the two share no image,
        or if a shared image has different gold labels in the two tables.
    """
    for t in (a, b):
        if (t["image_id"] == "").any():
            raise DataError(f"{t.attrs.get('experiment')!r} has no image ids, so it cannot be paired")
    shared = pd.Index(a["image_id"]).intersection(pd.Index(b["image_id"]))
    if len(shared) == 0:
        raise DataError(f"{a.attrs.get('experiment')!r} and {b.attrs.get('experiment')!r} share no image")
    aa = a.set_index("image_id", drop=False).loc[shared]
    bb = b.set_index("image_id", drop=False).loc[shared]
    diff = aa["gold"].to_numpy() != bb["gold"].to_numpy()
    if diff.any() and "gold_set" not in aa.columns and "gold_set" not in bb.columns:
        i = int(np.flatnonzero(diff)[0])
        raise DataError(
            f"image {shared[i]!r}: gold {aa['gold'].iloc[i]!r} in A but {bb['gold'].iloc[i]!r} in B"
        )
    for t, src in ((aa, a), (bb, b)):
        t.attrs.update(src.attrs)
    return aa.reset_index(drop=True), bb.reset_index(drop=True)


def compare_experiments(
    a: str,
    b: str,
    *,
    source: str = "paper",
    results_dir: str | os.PathLike | None = None,
    n_boot: int = metrics.DEFAULT_N_BOOT,
    seed: int = metrics.DEFAULT_SEED,
) -> dict:
    """Paired top-1 comparison of experiments ``a`` and ``b`` on the images both share.

    Returns ``a``, ``b``, ``n``, ``a_top1``, ``b_top1``, ``diff`` (b − a), ``diff_ci95`` (paired bootstrap),
    ``mcnemar_p`` (exact), ``b01``/``b10`` (discordant counts).
    """
    ta = data.load_results(a, source=source, results_dir=results_dir)
    tb = data.load_results(b, source=source, results_dir=results_dir)
    ta, tb = paired_tables(ta, tb)
    ca, cb = metrics.correct_at_k(ta, 1), metrics.correct_at_k(tb, 1)
    out = {"a": a, "b": b}
    out.update(metrics.paired_accuracy_diff(ca, cb, n_boot=n_boot, seed=seed))
    mc = metrics.mcnemar_exact(ca, cb)
    out.update(b01=mc["b01"], b10=mc["b10"])
    return out


def per_country_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per-country precision/recall/F1 of a country experiment, with ISO-3 code and UN sub-region.

    Returns the columns of :func:`geoclip_utils.metrics.per_class_report` plus ``iso3`` and
    ``region`` (the sub-region of the paper's polygon file; ``"unknown"`` where the file has no polygon,
    e.g. Kosovo), indexed by country label, sorted by F1 (best first).
    """
    report = metrics.per_class_report(df)
    iso = data.to_iso3(report.index, what=str(df.attrs.get("experiment")))
    polygons = data.load_country_polygons().set_index("iso3")["region"]
    report.insert(0, "iso3", iso)
    report.insert(1, "region", [polygons.get(i, "unknown") if i else "none" for i in iso])
    return report.sort_values(["f1", "support"], ascending=False)


def top_confusions(df: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The ``n`` most frequent wrong (gold, predicted) top-1 pairs with their count and share of gold."""
    gold = df["gold"]
    pred = df["top_labels"].str[0]
    wrong = gold != pred
    pairs = pd.DataFrame({"gold": gold[wrong], "predicted": pred[wrong]}).value_counts().rename("images")
    out = pairs.reset_index().head(n)
    out["share_of_gold"] = out["images"] / out["gold"].map(gold.value_counts())
    return out
