"""Does asking for the region first help? The region and two-stage runs against the UN M49 taxonomy.

Every function takes plain tables (predictions tables of :mod:`geoclip_utils.schema`, dicts, arrays), so
the tests can check it on hand-made cases; the *Regions* chapter feeds them the authors' files.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from ..geo import un_regions
from ..names import to_iso3
from ..schema import top1

__all__ = [
    "region_profile",
    "un_region_correct",
    "un_gold_sets",
    "un_subregions_of",
    "constant_answer_accuracy",
    "two_stage_breakdown",
    "outcome_table",
    "region_absorption",
]


def region_profile(mapping: Mapping[str, Sequence[str]], subregion_of: Mapping[str, str]) -> pd.DataFrame:
    """Describe each region of a hand-made region map in terms of UN M49 sub-regions.

    Parameters
    ----------
    mapping : region → list of country names (e.g. :func:`geoclip_utils.data.load_region_map`).
    subregion_of : country name → UN sub-region; countries missing from it (or mapped to ``""``) are
        counted as ``"unknown"``.

    Returns
    -------
    pandas.DataFrame
        Indexed by region: ``n_countries``, ``subregions`` (tuple of the distinct UN sub-regions of its
        countries, most frequent first, ties alphabetical), ``majority`` (the first of them) and
        ``majority_share`` (share of the region's countries in the majority sub-region).

    Example
    -------
    >>> region_profile({"r": ["A", "B", "C"]}, {"A": "X", "B": "X", "C": "Y"}).loc["r", "majority"]
    'X'
    """
    rows = []
    for region, countries in mapping.items():
        subs = Counter(subregion_of.get(c) or "unknown" for c in countries)
        ranked = sorted(subs.items(), key=lambda kv: (-kv[1], kv[0]))
        n = len(countries)
        rows.append(
            {
                "region": region,
                "n_countries": n,
                "subregions": tuple(s for s, _ in ranked),
                "majority": ranked[0][0] if ranked else "",
                "majority_share": ranked[0][1] / n if n else float("nan"),
            }
        )
    return pd.DataFrame(rows).set_index("region")


def un_region_correct(
    predicted: Sequence[str],
    gold_subregion: Sequence[str],
    profile: pd.DataFrame,
    rule: str = "majority",
) -> np.ndarray:
    """Score region answers against the UN M49 sub-region of the true country.

    Parameters
    ----------
    predicted : the predicted region of each image (a region of ``profile``).
    gold_subregion : the UN sub-region of each image's true country.
    profile : :func:`region_profile` of the region map.
    rule : ``"majority"`` — correct when the gold sub-region is the predicted region's majority
        sub-region (a broad answer such as "europe" counts only for its largest sub-region);
        ``"any"`` — correct when any country the region lists lies in the gold sub-region (lenient).

    Returns
    -------
    numpy.ndarray of bool, one per image. Unknown regions or an empty gold sub-region are wrong.

    Raises
    ------
    ConfigError
        For an unknown ``rule`` or inputs of different lengths.
    """
    if rule not in ("majority", "any"):
        raise ConfigError(f"unknown rule {rule!r}; choose 'majority' or 'any'")
    if len(predicted) != len(gold_subregion):
        raise ConfigError(f"{len(predicted)} predictions but {len(gold_subregion)} gold sub-regions")
    if rule == "majority":
        lookup = {r: {m} for r, m in profile["majority"].items()}
    else:
        lookup = {r: set(s) for r, s in profile["subregions"].items()}
    return np.fromiter(
        (bool(g) and g in lookup.get(p, ()) for p, g in zip(predicted, gold_subregion, strict=True)),
        bool,
        len(predicted),
    )


def two_stage_breakdown(region_df: pd.DataFrame, stage2_df: pd.DataFrame) -> pd.DataFrame:
    """Join stage 1 (region) and stage 2 (country within the region) of the two-stage run by image id.

    Parameters
    ----------
    region_df : predictions of the region run, with ``gold_set`` (regions listing the true country).
    stage2_df : predictions of stage 2, with ``stage1_region`` and the true country as ``gold``.

    Returns
    -------
    pandas.DataFrame
        One row per shared image: ``image_id``, ``gold``, ``stage1_region``, ``stage1_correct`` (the
        region lists the true country), ``stage2_pred``, ``stage2_correct`` and ``outcome``: one of
        ``"region wrong"``, ``"region right, country wrong"``, ``"both right"`` (and, should it happen,
        ``"region wrong, country right"``).

    Raises
    ------
    DataError
        If the two tables share no image.
    """
    s1 = region_df[["image_id", "gold_set"]].copy()
    s1["region_top1"] = top1(region_df).to_numpy()
    s2 = stage2_df[["image_id", "gold", "stage1_region"]].copy()
    s2["stage2_pred"] = top1(stage2_df).to_numpy()
    m = s2.merge(s1, on="image_id", how="inner")
    if m.empty:
        raise DataError("the region run and stage 2 share no image id")
    m["stage1_correct"] = [r in g for r, g in zip(m["stage1_region"], m["gold_set"], strict=True)]
    m["stage2_correct"] = (m["stage2_pred"] == m["gold"]).to_numpy()
    names = np.array(
        [["region wrong", "region wrong, country right"], ["region right, country wrong", "both right"]]
    )
    m["outcome"] = names[m["stage1_correct"].astype(int), m["stage2_correct"].astype(int)]
    return m[
        ["image_id", "gold", "stage1_region", "stage1_correct", "stage2_pred", "stage2_correct", "outcome"]
    ]


def outcome_table(breakdown: pd.DataFrame) -> pd.DataFrame:
    """Counts and shares of the outcomes of :func:`two_stage_breakdown` (fixed order, zeros kept)."""
    order = ["both right", "region right, country wrong", "region wrong", "region wrong, country right"]
    counts = breakdown["outcome"].value_counts().reindex(order, fill_value=0)
    if counts.iloc[-1] == 0:
        counts = counts.iloc[:-1]
    return pd.DataFrame({"images": counts, "share": counts / len(breakdown)}).rename_axis("outcome")


def region_absorption(df: pd.DataFrame) -> pd.DataFrame:
    """How often each region is answered (top-1) versus how many images it would be right for.

    Parameters
    ----------
    df : region predictions with ``gold_set``.

    Returns
    -------
    pandas.DataFrame
        Indexed by region (every candidate seen in the predictions): ``predicted`` (top-1 answers),
        ``right_for`` (images whose true country the region lists), ``ratio`` (predicted / right_for;
        > 1 means the region absorbs answers), ``precision`` (share of its answers that are right),
        sorted by ``predicted`` (most first).
    """
    top = top1(df)
    candidates = sorted({lab for t in df["top_labels"] for lab in t})
    pred = top.value_counts().reindex(candidates, fill_value=0)
    right_for = pd.Series(Counter(r for s in df["gold_set"] for r in s)).reindex(candidates, fill_value=0)
    ok = pd.Series([t in s for t, s in zip(top, df["gold_set"], strict=True)], index=df.index)
    hits = top[ok].value_counts().reindex(candidates, fill_value=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = pd.DataFrame(
            {
                "predicted": pred,
                "right_for": right_for,
                "ratio": pred / right_for.replace(0, np.nan),
                "precision": hits / pred.replace(0, np.nan),
            }
        )
    return out.rename_axis("region").sort_values(["predicted", "right_for"], ascending=False)


def un_subregions_of(names: Sequence[str]) -> dict[str, str]:
    """UN M49 sub-region of country names (``""`` where a name has no ISO-3 code, e.g. ``"other"``).

    Names go through :func:`geoclip_utils.names.to_iso3` (an unknown name gives ``""`` rather than an
    error), then :func:`geoclip_utils.geo.un_regions`.

    Example
    -------
    >>> un_subregions_of(["France", "Brazil"])
    {'France': 'Western Europe', 'Brazil': 'South America'}
    """
    uniq = list(dict.fromkeys(str(n) for n in names))
    subs = un_regions(to_iso3(uniq, strict=False))["subregion"].tolist()
    return dict(zip(uniq, subs, strict=True))


def constant_answer_accuracy(
    candidates: Sequence[str], gold_sets: Sequence[frozenset[str] | set[str] | tuple[str, ...]]
) -> pd.Series:
    """Accuracy of always giving the same answer, for every candidate answer.

    Parameters
    ----------
    candidates : the answers the classifier could give.
    gold_sets : for each image, the answers that count as right for it.

    Returns
    -------
    pandas.Series
        Indexed by candidate. Its mean is the accuracy of a uniformly random answer (chance), its
        maximum the majority baseline.

    Example
    -------
    >>> constant_answer_accuracy(["a", "b"], [{"a"}, {"a", "b"}]).tolist()
    [1.0, 0.5]
    """
    if len(gold_sets) == 0:
        raise ConfigError("no images")
    sets = [set(s) for s in gold_sets]
    return pd.Series({c: sum(c in s for s in sets) / len(sets) for c in candidates}, dtype=float)


def un_gold_sets(
    gold_subregion: Sequence[str], profile: pd.DataFrame, rule: str = "majority"
) -> list[set[str]]:
    """For each image, the regions that :func:`un_region_correct` would score as right (for baselines)."""
    cache: dict[str, set[str]] = {}
    regions = list(profile.index)
    for g in set(gold_subregion):
        ok = un_region_correct(regions, [g] * len(regions), profile, rule)
        cache[g] = {r for r, k in zip(regions, ok, strict=True) if k}
    return [cache[g] for g in gold_subregion]
