"""Which countries does CLIP recognise? Per-country scores and the most frequent confusions."""

from __future__ import annotations

import pandas as pd

from .. import data, stats
from ..names import to_iso3
from ..schema import top1

__all__ = ["per_country_table", "top_confusions"]


def per_country_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per-country precision/recall/F1 of a country experiment, with ISO-3 code and UN sub-region.

    Returns the columns of :func:`geoclip_utils.stats.per_class_report` plus ``iso3`` and
    ``region`` (the sub-region of the paper's polygon file; ``"unknown"`` where the file has no polygon,
    e.g. Kosovo), indexed by country label, sorted by F1 (best first).
    """
    report = stats.per_class_report(df)
    iso = to_iso3(report.index, what=str(df.attrs.get("experiment")))
    polygons = data.load_country_polygons().set_index("iso3")["region"]
    report.insert(0, "iso3", iso)
    report.insert(1, "region", [polygons.get(i, "unknown") if i else "none" for i in iso])
    return report.sort_values(["f1", "support"], ascending=False)


def top_confusions(df: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The ``n`` most frequent wrong (gold, predicted) top-1 pairs with their count and share of gold."""
    gold = df["gold"]
    pred = top1(df)
    wrong = gold != pred
    pairs = pd.DataFrame({"gold": gold[wrong], "predicted": pred[wrong]}).value_counts().rename("images")
    out = pairs.reset_index().head(n)
    out["share_of_gold"] = out["images"] / out["gold"].map(gold.value_counts())
    return out
