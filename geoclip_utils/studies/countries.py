"""Which countries does CLIP recognise? Per-country scores, the most frequent confusions, and the
wordings of the *Countries* chapter's conclusions (chosen by the numbers)."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from .. import data, stats
from ..names import to_iso3
from ..notebook import format_ci, share_in_words
from ..schema import top1

__all__ = [
    "MODES",
    "per_country_table",
    "top_confusions",
    "confusion_share",
    "region_confusion",
    "region_f1",
    "mistakes_within_region",
    "headline_text",
    "conclusions",
]

#: The modes whose answers are countries of a country label set (the chapter's experiments).
MODES = ("flat", "mixed")


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


def confusion_share(counts: pd.DataFrame, gold: str, predicted: str) -> float:
    """Share of ``gold``'s photos whose first answer is ``predicted``, from a confusion count matrix.

    Parameters
    ----------
    counts : :func:`geoclip_utils.stats.confusion_matrix` (rows gold, columns predicted, counts).
    gold, predicted : two labels.

    Returns
    -------
    float
        0 when a label is absent or ``gold`` has no photo.

    Example
    -------
    >>> m = pd.DataFrame([[3, 1], [0, 2]], index=["A", "B"], columns=["A", "B"])
    >>> confusion_share(m, "A", "B"), confusion_share(m, "A", "Z")
    (0.25, 0.0)
    """
    if gold not in counts.index or predicted not in counts.columns:
        return 0.0
    return float(counts.loc[gold, predicted] / max(counts.loc[gold].sum(), 1))


def region_confusion(df: pd.DataFrame, region_of: Mapping[str, str], normalize: bool = False) -> pd.DataFrame:
    """The confusion matrix between sub-regions: rows the true country's sub-region, columns the sub-region
    of CLIP's first answer, every photo counted (answers in a sub-region without photos get a column too).

    Parameters
    ----------
    df : predictions of a country run.
    region_of : label → sub-region (the ``region`` column of :func:`per_country_table`); a label missing
        from it counts as ``"unknown"``.
    normalize : divide each row by its number of photos (shares of the true sub-region).

    Returns
    -------
    pandas.DataFrame
        Rows (``gold region``) in name order, columns (``predicted region``) the same order then any
        sub-region that only answers have.

    Example
    -------
    >>> from geoclip_utils.schema import make_predictions
    >>> p = make_predictions(["1", "2", "3"], ["A", "B", "C"], [("B",), ("B",), ("D",)], [(1.0,)] * 3,
    ...                      experiment="t", source="local")
    >>> region_confusion(p, {"A": "X", "B": "X", "C": "Y", "D": "Z"}).to_dict("index")
    {'X': {'X': 2, 'Y': 0, 'Z': 0}, 'Y': {'X': 0, 'Y': 0, 'Z': 1}}
    """
    region = lambda label: str(region_of.get(label) or "unknown")  # noqa: E731
    gold = df["gold"].astype(str).map(region)
    pred = top1(df).astype(str).map(region)
    rows = sorted(set(gold))
    cols = rows + sorted(set(pred) - set(rows))
    cm = pd.crosstab(
        pd.Categorical(gold, categories=rows), pd.Categorical(pred, categories=cols), dropna=False
    )
    cm = cm.reindex(index=rows, columns=cols, fill_value=0)
    cm.index.name, cm.columns.name = "gold region", "predicted region"
    if normalize:
        cm = cm.div(cm.sum(axis=1).replace(0, 1), axis=0)
    return cm


def region_f1(table: pd.DataFrame, min_countries: int = 3) -> pd.DataFrame:
    """Mean F1 per sub-region of :func:`per_country_table`, worst first.

    Only sub-regions with at least ``min_countries`` countries are kept, unless none has that many
    (a small local run), then all are.

    Returns
    -------
    pandas.DataFrame
        Indexed by region: ``mean`` (F1), ``size`` (countries), sorted by ``mean``.

    Example
    -------
    >>> t = pd.DataFrame({"region": ["X", "X", "X", "Y"], "f1": [0.2, 0.4, 0.6, 0.9]})
    >>> region_f1(t).index.tolist(), region_f1(t, min_countries=5).index.tolist()
    (['X'], ['X', 'Y'])
    """
    by_region = table.groupby("region")["f1"].agg(["mean", "size"]).sort_values("mean")
    if (by_region["size"] >= min_countries).any():
        by_region = by_region[by_region["size"] >= min_countries]
    return by_region


def mistakes_within_region(df: pd.DataFrame, region_of: Mapping[str, str]) -> dict:
    """How many wrong first answers name a country of the true country's own sub-region.

    Parameters
    ----------
    df : a predictions table of countries.
    region_of : label → sub-region (e.g. the ``region`` column of :func:`per_country_table`); labels
        missing from it, or in region ``"unknown"``/``"none"``/``""``, never count as within.

    Returns
    -------
    dict
        ``wrong`` (images whose first answer is wrong), ``within`` (of those, answers in the true
        country's sub-region), ``share`` (``within / wrong``; 0 when nothing is wrong).

    Example
    -------
    >>> from geoclip_utils.schema import make_predictions
    >>> df = make_predictions(list("123"), ["A", "A", "B"], [("B",), ("C",), ("B",)], experiment="t", source="local")
    >>> mistakes_within_region(df, {"A": "X", "B": "X", "C": "Y"})
    {'wrong': 2, 'within': 1, 'share': 0.5}
    """
    gold = df["gold"].astype(str)
    pred = top1(df).astype(str)
    wrong = (gold != pred).to_numpy()
    unknown = {"", "unknown", "none"}
    g = gold[wrong].map(lambda x: region_of.get(x, ""))
    p = pred[wrong].map(lambda x: region_of.get(x, ""))
    within = int(((g == p) & ~g.isin(unknown)).sum())
    n_wrong = int(wrong.sum())
    return {"wrong": n_wrong, "within": within, "share": within / n_wrong if n_wrong else 0.0}


def headline_text(summary: Mapping) -> str:
    """The chapter's headline: experiment, size, top-1, top-5 and macro-F1 with their 95 % CIs, chance.

    Parameters
    ----------
    summary : :func:`geoclip_utils.stats.summarize` of the run.

    Returns
    -------
    str
        One line per number (``n/a`` for a metric the run lacks), newline-terminated.
    """
    lines = [
        f"{summary['experiment']} ({summary['source']}): {summary['n']} images, {summary['classes']} classes"
    ]
    for key in ["top1", "top5", "macro_f1"]:
        if summary.get(key) is None:
            lines.append(f"{key:>9}: n/a")
        else:
            lines.append(f"{key:>9}: {format_ci(summary[key], *summary[key + '_ci95'])}")
    lines.append(f"   chance: {summary['chance']:.2%}")
    return "\n".join(lines) + "\n"


def conclusions(
    summary: Mapping, *, within: Mapping, experiment: str, source: str, narrow: float = 0.05
) -> dict[str, str]:
    """The data-dependent wordings of the chapter's prose, chosen by the numbers.

    Parameters
    ----------
    summary : :func:`geoclip_utils.stats.summarize` of the run.
    within : :func:`mistakes_within_region` of the run.
    experiment, source : the chapter's parameters.
    narrow : the widest top-1 interval still called narrow.

    Returns
    -------
    dict
        ``ci_width_words`` (``"narrow"`` or ``"wide"``), ``within_words`` (e.g. ``"about half"``, the share
        of mistakes within the true sub-region), ``map_relation`` (whether the paper's map shows the same
        result file as ours).

    Example
    -------
    >>> s = {"top1_ci95": [0.50, 0.52]}
    >>> c = conclusions(s, within={"share": 0.62}, experiment="country100", source="paper")
    >>> c["ci_width_words"], c["within_words"]
    ('narrow', 'about two thirds')
    """
    lo, hi = summary["top1_ci95"]
    same = source == "paper" and experiment == "country100"
    return {
        "ci_width_words": "narrow" if hi - lo <= narrow else "wide",
        "within_words": share_in_words(within["share"]),
        "map_relation": (
            "from the same result file, so the pattern agrees country by country"
            if same
            else f"but theirs comes from the authors' country100 file and ours from {experiment} ({source}), so "
            "the two agree only as far as the runs do"
        ),
    }
