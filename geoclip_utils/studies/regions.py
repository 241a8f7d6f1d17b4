"""Does asking for the region first help? The region and two-stage runs against the UN M49 taxonomy.

Every function takes plain tables (predictions tables of :mod:`geoclip_utils.schema`, dicts, arrays), so
the tests can check it on hand-made cases; the *Regions* chapter feeds them the authors' files.

The study of the *Regions* chapter (``book/regions.md``); the region lists themselves (UN M49, the authors' two
hand lists compared) are :mod:`geoclip_utils.geo.regions`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import stats
from ..errors import ConfigError, DataError
from ..geo import un_regions
from ..names import to_iso3
from ..notebook import (
    count_words,
    format_ci,
    format_points,
    like_for_like_sentence,
    paired_glue,
    points,
    restricted_sentence,
    word_for_interval,
)
from ..schema import top1
from ..stats.bootstrap import DEFAULT_N_BOOT, DEFAULT_SEED

__all__ = [
    "region_profile",
    "un_region_correct",
    "un_gold_sets",
    "un_subregions_of",
    "constant_answer_accuracy",
    "two_stage_breakdown",
    "outcome_table",
    "region_absorption",
    "RULES",
    "region_rules_table",
    "conditional_comparison",
    "broad_regions",
    "region_numbers",
    "two_stage_numbers",
    "breakdown_numbers",
    "absorption_numbers",
    "headline_text",
    "conclusions",
    "AnsweredComparison",
    "answered_comparison",
    "conditional_like",
    "like_numbers",
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


#: The three scorings of a region answer, in the order the chapter shows them.
RULES = ("authors' lists", "UN, majority", "UN, any")


def region_rules_table(
    regions_df: pd.DataFrame,
    region_map: Mapping[str, Sequence[str]],
    *,
    subregion_of: Mapping[str, str] | None = None,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
) -> pd.DataFrame:
    """Top-1 accuracy of the region answers under each scoring rule, with chance and majority baselines.

    The rules (:data:`RULES`): the authors' lists (right when the region lists the true country, the
    table's ``gold_set``); UN majority and UN any (:func:`un_region_correct` against the UN M49
    sub-region of the true country).

    Parameters
    ----------
    regions_df : predictions of the region run, with ``gold_set``.
    region_map : region → list of countries (the map the run used).
    subregion_of : country → UN sub-region; default :func:`un_subregions_of` of every country seen.
    n_boot, seed : bootstrap settings (the same resamples for every rule).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``rule``: ``top1``, ``ci_lo``, ``ci_hi`` (bootstrap 95 % CI), ``chance`` (mean accuracy
        of always giving one answer, over the answers seen), ``majority`` (the best such answer) and
        ``above_chance`` (``(top1 - chance) / (1 - chance)``: the share of the way from chance to every photo
        right, so rules with different chance levels can be set side by side).
    """
    listed = {c for countries in region_map.values() for c in countries}
    if subregion_of is None:
        subregion_of = un_subregions_of(sorted(set(regions_df["gold"]) | listed))
    profile = region_profile(region_map, subregion_of)
    gold_sub = [subregion_of.get(g, "") for g in regions_df["gold"]]
    top1_region = regions_df["top_labels"].str[0].tolist()
    candidates = sorted({r for t in regions_df["top_labels"] for r in t})
    scorings = [
        regions_df["gold_set"].tolist(),
        un_gold_sets(gold_sub, profile, "majority"),
        un_gold_sets(gold_sub, profile, "any"),
    ]
    rows = []
    for rule, sets in zip(RULES, scorings, strict=True):
        correct = np.array([p in s for p, s in zip(top1_region, sets, strict=True)])
        lo, hi = stats.accuracy_ci(correct, n_boot=n_boot, seed=seed)
        base = constant_answer_accuracy(candidates, sets)
        rows.append(
            {
                "rule": rule,
                "top1": correct.mean(),
                "ci_lo": lo,
                "ci_hi": hi,
                "chance": base.mean(),
                "majority": base.max(),
                "above_chance": (correct.mean() - base.mean()) / (1 - base.mean())
                if base.mean() < 1
                else float("nan"),
            }
        )
    return pd.DataFrame(rows).set_index("rule")


def conditional_comparison(
    breakdown: pd.DataFrame,
    direct: pd.DataFrame,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
) -> stats.PairedComparison:
    """The direct run (A) against stage 2 (B) on the photos whose region stage 1 got right.

    Parameters
    ----------
    breakdown : :func:`two_stage_breakdown`.
    direct : predictions of the direct country run (every image of ``breakdown``).
    n_boot, seed : bootstrap settings.

    Returns
    -------
    geoclip_utils.stats.PairedComparison

    Raises
    ------
    DataError
        If an image of ``breakdown`` is missing from ``direct``.
    """
    direct_by_id = pd.Series(stats.correct_at_k(direct, 1), index=direct["image_id"].to_numpy())
    missing = ~breakdown["image_id"].isin(direct_by_id.index)
    if missing.any():
        raise DataError(
            f"{int(missing.sum())} images of the two-stage run are not in the direct run, "
            f"e.g. {breakdown['image_id'][missing].iloc[0]!r}"
        )
    right_region = breakdown["stage1_correct"].to_numpy(bool)
    direct_rr = direct_by_id.loc[breakdown["image_id"].to_numpy()].to_numpy(bool)[right_region]
    stage2_rr = breakdown["stage2_correct"].to_numpy(bool)[right_region]
    return stats.paired(direct_rr, stage2_rr, n_boot=n_boot, seed=seed)


def broad_regions(region_map: Mapping[str, Sequence[str]], n: int = 3) -> list[str]:
    """The ``n`` regions that list the most countries (ties alphabetical): the broad answers.

    Example
    -------
    >>> broad_regions({"a": ["X"], "b": ["X", "Y"], "c": ["X", "Y", "Z"]}, n=2)
    ['c', 'b']
    """
    return sorted(region_map, key=lambda r: (-len(region_map[r]), r))[:n]


def region_numbers(
    regions_df: pd.DataFrame, region_map: Mapping[str, Sequence[str]], summary: Mapping
) -> dict:
    """The glued numbers of the region answers under the authors' lists.

    Parameters
    ----------
    regions_df : predictions of the region run.
    region_map : region → countries.
    summary : :func:`geoclip_utils.stats.summarize` of ``regions_df``.

    Returns
    -------
    dict
        ``n_images``, ``n_regions``, ``region_top1``, ``region_top1_lo``, ``region_top1_hi``, ``region_top5``
        (NaN without a top-5), ``region_chance``, ``region_majority``, ``unlisted`` (countries of the photos in
        no region, ``"none"``), ``n_unlisted_images``, ``unlisted_sentence`` (what that means, in words),
        ``single_regions`` (regions listing one country, ``"none"``).
    """
    listed = {c for countries in region_map.values() for c in countries}
    unlisted = sorted(set(regions_df["gold"]) - listed)
    n_unlisted = int(regions_df["gold"].isin(unlisted).sum())
    if unlisted:
        one = len(unlisted) == 1
        sentence = (
            f"{', '.join(unlisted)} {'is' if one else 'are'} in none of the authors' regions, so "
            f"{'its' if one else 'their'} {n_unlisted:,} photos are wrong in both stages whatever CLIP answers."
        )
    else:
        sentence = "Every country of the photos is in at least one of the authors' regions."
    single = sorted(r for r, countries in region_map.items() if len(countries) == 1)
    return {
        "n_images": summary["n"],
        "n_regions": len(region_map),
        "region_top1": summary["top1"],
        "region_top1_lo": summary["top1_ci95"][0],
        "region_top1_hi": summary["top1_ci95"][1],
        "region_top5": summary.get("top5", float("nan")),
        "region_chance": summary["chance"],
        "region_majority": summary["majority"],
        "unlisted": ", ".join(unlisted) or "none",
        "n_unlisted_images": n_unlisted,
        "unlisted_sentence": sentence,
        "single_regions": ", ".join(r.title() for r in single) or "none",
    }


def two_stage_numbers(paired: stats.PairedComparison, direct: pd.DataFrame, stage2: pd.DataFrame) -> dict:
    """The glued numbers of the direct (A) against the two-stage (B) comparison.

    Returns
    -------
    dict
        ``n_paired``, ``direct_top1``, ``direct_lo``, ``direct_hi``, ``two_stage_top1``, ``two_stage_lo``,
        ``two_stage_hi``, ``two_stage_diff``, ``two_stage_diff_abs``, ``two_stage_diff_lo``,
        ``two_stage_diff_hi``, ``two_stage_p``, ``only_direct``, ``only_two_stage``, ``country_chance``
        (1 / countries of the shared photos), ``n_other`` (stage-2 answers ``"other"``),
        ``better_or_worse`` (what the difference's 95 % CI supports, in words), and the difference and its interval in
        percentage points (``two_stage_diff_pts``, ``two_stage_diff_lo_pts``, ``two_stage_diff_hi_pts``).
    """
    direct_p, _ = stats.paired_tables(direct, stage2)
    return {
        **paired_glue(
            paired,
            n="n_paired",
            a="direct_top1",
            a_lo="direct_lo",
            a_hi="direct_hi",
            b="two_stage_top1",
            b_lo="two_stage_lo",
            b_hi="two_stage_hi",
            diff="two_stage_diff",
            diff_abs="two_stage_diff_abs",
            diff_lo="two_stage_diff_lo",
            diff_hi="two_stage_diff_hi",
            p="two_stage_p",
            only_a="only_direct",
            only_b="only_two_stage",
            diff_pts="two_stage_diff",
            diff_lo_pts="two_stage_diff_lo",
            diff_hi_pts="two_stage_diff_hi",
        ),
        "country_chance": 1 / direct_p["gold"].nunique(),
        "n_other": int((top1(stage2) == "other").sum()),
        "better_or_worse": word_for_interval(
            *paired.diff_ci95, "worse", "not clearly better or worse", "better"
        ),
    }


def breakdown_numbers(outcomes: pd.DataFrame, cond: stats.PairedComparison) -> dict:
    """The glued numbers of where the two-stage run loses its images.

    Parameters
    ----------
    outcomes : :func:`outcome_table`.
    cond : :func:`conditional_comparison`.

    Returns
    -------
    dict
        ``share_region_wrong``, ``share_country_wrong``, ``share_both_right`` (0 for an outcome that never
        happens), ``stage2_given_region``, ``direct_given_region``, ``cond_diff``, ``cond_lo``, ``cond_hi``,
        ``cond_p``.
    """
    share = outcomes["share"]
    return {
        "share_region_wrong": share.get("region wrong", 0.0),
        "share_country_wrong": share.get("region right, country wrong", 0.0),
        "share_both_right": share.get("both right", 0.0),
        **paired_glue(
            cond,
            b="stage2_given_region",
            a="direct_given_region",
            diff="cond_diff",
            diff_lo="cond_lo",
            diff_hi="cond_hi",
            p="cond_p",
        ),
    }


def absorption_numbers(absorb: pd.DataFrame, broad: Sequence[str]) -> dict:
    """The glued numbers of which regions absorb the answers.

    Parameters
    ----------
    absorb : :func:`region_absorption`.
    broad : the broad regions (:func:`broad_regions`).

    Returns
    -------
    dict
        ``top_absorber`` (highest ``ratio``), ``top_absorber_ratio``, ``top_absorber_precision``,
        ``most_predicted``, ``broad_regions`` (quoted, comma-separated), ``broad_answers`` (top-1 answers
        naming one of them), ``broad_share`` (their share of all answers), ``broad_ratio`` (answers over the
        photos they would be right for, summed over the broad regions; NaN when they cover no photo) and
        ``broad_words`` (how the answers compare with the photos they would be right for, in words).
    """
    top = absorb["ratio"].idxmax()
    rows = absorb.reindex(list(broad), fill_value=0)
    answers = int(rows["predicted"].sum())
    right_for = int(rows["right_for"].sum())
    ratio = answers / right_for if right_for else float("nan")
    if not right_for:
        words = "though they would be right for none of the photos"
    elif ratio < 0.5:
        words = f"far fewer than the {right_for:,} photos they would be right for"
    elif ratio < 1:
        words = f"fewer than the {right_for:,} photos they would be right for"
    else:
        words = f"at least as many as the {right_for:,} photos they would be right for"
    return {
        "top_absorber": top,
        "top_absorber_ratio": absorb["ratio"].max(),
        "top_absorber_precision": absorb.loc[top, "precision"],
        "most_predicted": absorb.index[0],
        "broad_regions": ", ".join(f'"{r}"' for r in broad),
        "broad_answers": answers,
        "broad_share": answers / max(int(absorb["predicted"].sum()), 1),
        "broad_ratio": ratio,
        "broad_words": words,
    }


def headline_text(
    summary: Mapping,
    rules: pd.DataFrame,
    two_stage: stats.PairedComparison,
    like: stats.RestrictedComparison | None = None,
) -> str:
    """The chapter's headline: region accuracy under each rule, the two country runs and their difference
    (in percentage points), raw and, given ``like``, like for like.

    Parameters
    ----------
    summary : :func:`geoclip_utils.stats.summarize` of the region run.
    rules : :func:`region_rules_table`.
    two_stage : the direct (A) against the two-stage (B) run.
    like : the same restricted to the countries both could answer (:func:`geoclip_utils.stats.restricted_paired`).

    Returns
    -------
    str
        The printed lines, newline-terminated.
    """
    pad = " " * 25
    top5 = format_ci(summary["top5"], *summary["top5_ci95"]) if summary.get("top5") is not None else "n/a"
    lines = [
        f"region, authors' lists : top-1 {format_ci(summary['top1'], *summary['top1_ci95'])}",
        f"{pad}top-5 {top5}",
        f"{pad}chance {summary['chance']:.2%}, majority {summary['majority']:.2%}",
    ]
    for rule in RULES[1:]:
        r = rules.loc[rule]
        lines.append(f"region, {rule:<15}: top-1 {format_ci(r['top1'], r['ci_lo'], r['ci_hi'])}")
        lines.append(f"{pad}chance {r['chance']:.2%}, majority {r['majority']:.2%}")
    p = two_stage
    lines += [
        f"country, direct        : top-1 {format_ci(p.accuracy_a, *p.accuracy_a_ci95)}  ({p.n} images)",
        f"country, two-stage     : top-1 {format_ci(p.accuracy_b, *p.accuracy_b_ci95)}",
        f"two-stage − direct     : {format_points(p.diff, *p.diff_ci95, digits=2)}, McNemar p = {p.mcnemar_p:.2g}",
        f"discordant images      : direct only {p.only_a}, two-stage only {p.only_b}",
    ]
    if like is not None:
        lo, hi = like.diff_bounds
        ci_lo, ci_hi = like.diff_bounds_ci95
        lines += [
            f"like for like          : {like.labels} countries both can answer; two-stage answers outside them "
            f"{like.b_outside}",
            f"{pad}direct {like.point.accuracy_a:.2%}, two-stage {like.point.accuracy_b:.2%} – "
            f"{like.high.accuracy_b:.2%}",
            f"{pad}two-stage − direct between {format_points(lo, digits=2, unit='')} and "
            f"{format_points(hi, digits=2)} (95% limits {format_points(ci_lo, digits=2, unit='')} and "
            f"{format_points(ci_hi, digits=2, unit='')})",
        ]
    return "\n".join(lines) + "\n"


def _rules_order(rules: pd.DataFrame) -> str:
    """Where the authors' lists score against the two UN rules: ``"above"``, ``"below"``, ``"between"``
    or ``"equal"`` (when they tie with one of them)."""
    authors, strict, lenient = (rules.loc[r, "top1"] for r in RULES)
    lo, hi = min(strict, lenient), max(strict, lenient)
    if authors in (strict, lenient):
        return "equal"
    if authors > hi:
        return "above"
    if authors < lo:
        return "below"
    return "between"


def conclusions(
    rules: pd.DataFrame,
    two_stage: stats.PairedComparison,
    cond: stats.PairedComparison,
    like: stats.RestrictedComparison | None = None,
    cond_like: stats.RestrictedComparison | None = None,
) -> dict[str, str]:
    """The data-dependent wordings of the chapter's prose, chosen by the numbers.

    Parameters
    ----------
    rules : :func:`region_rules_table`.
    two_stage : the direct (A) against the two-stage (B) run on every shared photo.
    cond : the same on the photos whose region stage 1 got right (:func:`conditional_comparison`).
    like : the direct against the two-stage run restricted to the countries both could answer
        (:func:`geoclip_utils.stats.restricted_paired`); without it the verdicts rest on the raw comparison.
    cond_like : the same on the photos whose region stage 1 got right (:func:`conditional_like`).

    Returns
    -------
    dict
        ``lists_words`` (how the authors' lists score against the two UN rules), ``rules_words`` (what the
        two UN rules say about the authors' lists), ``above_order_words`` (do the three scorings rank the same
        above chance as raw?), ``rr_easier`` (are the right-region photos easier for the
        direct run than the average photo?), ``cond_words`` (does narrowing the candidates help once the
        region is known: by the 95 % limits of the comparison like for like when given, else of the raw
        one), ``cond_sentence`` (the conditional comparison in words and numbers; a note when no photo got its
        region right), ``region_vs_country``, ``first_step`` (the summary's verdict on the two-stage run, like
        for like when given) and ``taxonomy_words`` (what the UN taxonomy says, for the summary).

    Example
    -------
    >>> from geoclip_utils.stats import paired
    >>> rules = pd.DataFrame({"top1": [0.6, 0.4, 0.7]}, index=list(RULES))
    >>> two = paired([1, 1, 0, 0], [1, 0, 0, 0], n_boot=10)
    >>> conclusions(rules, two, two)["lists_words"]
    'more generous than the strict UN rule and less generous than the lenient one'
    """
    authors, strict, lenient = (rules.loc[r, "top1"] for r in RULES)
    order = _rules_order(rules)
    lists_words = {
        "above": "more generous than either UN rule",
        "below": "less generous than either UN rule",
        "between": "more generous than the strict UN rule and less generous than the lenient one",
        "equal": "as generous as one of the UN rules",
    }[order]
    if "above_chance" in rules.columns:
        same = list(rules["top1"].rank()) == list(rules["above_chance"].rank())
        above_order_words = "the order is the same" if same else "the order changes"
    else:
        above_order_words = "the order is not computed"
    rules_words = {
        "above": "under both, the region answers score lower than under the authors' lists, so the lists "
        "flatter the result",
        "below": "under both, the region answers score higher than under the authors' lists, so the lists "
        "do not flatter the result",
        "between": "the authors' lists score between them, so whether the lists flatter the result depends on "
        "how a broad region is credited",
        "equal": "the authors' lists score as one of them does",
    }[order]
    taxonomy_words = {
        "above": "a less flattering picture under both of its rules",
        "below": "a more flattering picture under both of its rules",
        "between": (
            f"a range around them ({strict:.1%} under the strict rule, {lenient:.1%} under the lenient one), "
            "not a verdict that the lists flatter the result"
        ),
        "equal": "the same picture under one of its rules",
    }[order]
    rr_easier = "easier than" if cond.accuracy_a > two_stage.accuracy_a else "no easier than"
    if like is not None:
        lo, hi = like.diff_bounds_ci95
        first_step = word_for_interval(
            lo,
            hi,
            "but it is a poor first step: a wrong region removes the true country from the second stage's "
            "options, and even like for like, with every second-stage answer naming a country without photos "
            "counted right wherever it could be, the two-stage run names the right country less often",
            "and the stored answers cannot tell whether it is a useful first step once the answers naming "
            "countries without photos are set aside",
            "and it is a useful first step: even like for like, with every second-stage answer naming a country "
            "without photos counted wrong, the two-stage run names the right country more often",
        )
    elif two_stage.diff > 0:
        first_step = (
            "and it is a useful first step: a wrong region removes the true country from the second stage's "
            "options, but the choice inside the right region more than makes up for that loss"
        )
    else:
        first_step = (
            "but it is a poor first step: a wrong region removes the true country from the second stage's "
            "options, and that loss is not made up by the choice inside the right region"
        )
    narrowing = ("narrowing the candidates to the region", "once the region is known")
    if cond_like is not None and cond_like.n:
        c_lo, c_hi = cond_like.diff_bounds_ci95
    else:
        c_lo, c_hi = cond.diff_ci95
    cond_words = word_for_interval(
        c_lo,
        c_hi,
        f"{narrowing[0]} hurts {narrowing[1]}",
        f"the stored answers cannot tell whether {narrowing[0]} helps or hurts {narrowing[1]}",
        f"{narrowing[0]} helps {narrowing[1]}",
    )
    if cond.n:
        cond_sentence = (
            f"On the photos whose region stage 1 got right, stage 2 finds the country for {cond.accuracy_b:.1%} "
            f"of them, while the direct run finds it for {cond.accuracy_a:.1%} of the same photos (raw paired "
            f"difference {format_points(cond.diff)}, 95 % CI {format_points(cond.diff_ci95[0], unit='')} – "
            f"{format_points(cond.diff_ci95[1], unit='')}, McNemar p = {cond.mcnemar_p:.2g})."
        )
        if cond_like is not None and cond_like.n:
            r = cond_like
            lo, hi = r.diff_bounds
            cond_sentence += (
                f" But stage 2 could still name countries without photos, and "
                f"{'did so for ' + count_words(r.b_outside, 'photo') if r.b_outside else 'never did'}"
                f"{f' ({r.b_outside / r.n:.1%})' if r.b_outside else ''}; such an answer is always wrong. Like "
                f"for like, restricted to the {r.labels:,} countries both runs could answer, the direct run is "
                f"right for {r.point.accuracy_a:.1%} of these photos and stage 2 for "
                + (
                    f"{r.point.accuracy_b:.1%}"
                    if r.exact
                    else f"between {r.point.accuracy_b:.1%} and {r.high.accuracy_b:.1%}"
                )
                + (
                    f" (difference {format_points(r.point.diff)}, 95 % CI "
                    f"{format_points(r.point.diff_ci95[0], unit='')} – {format_points(r.point.diff_ci95[1], unit='')})"
                    if r.exact
                    else f" (difference between {format_points(lo, unit='')} and {format_points(hi)}, 95 % limits "
                    f"{format_points(c_lo, unit='')} and {format_points(c_hi, unit='')})"
                )
                + f": {cond_words}."
            )
        else:
            cond_sentence += f" So {cond_words}."
        cond_sentence += (
            f" For the direct run those photos are {rr_easier} the average photo ({cond.accuracy_a:.1%} "
            f"against {two_stage.accuracy_a:.1%} on all photos), so the two numbers are to be read against each "
            "other, not against the overall accuracy."
        )
    else:
        cond_sentence = (
            "No photo got its region right in stage 1, so the two runs cannot be compared on such photos."
        )
    return {
        "lists_words": lists_words,
        "rules_words": rules_words,
        "above_order_words": above_order_words,
        "rr_easier": rr_easier,
        "cond_words": cond_words,
        "cond_sentence": cond_sentence,
        "region_vs_country": (
            "CLIP names a right region more often than the right country"
            if authors > two_stage.accuracy_a
            else "CLIP names a right region no more often than the right country"
        ),
        "first_step": first_step,
        "taxonomy_words": taxonomy_words,
    }


@dataclass(frozen=True)
class AnsweredComparison:
    """The direct run (A) against stage 2 (B) on the photos where stage 2 named a country both could answer.

    Attributes
    ----------
    paired : the paired comparison on those photos.
    n_dropped : photos left out (stage 2 named a label the direct run could not give).
    direct_right_dropped : how many of the dropped photos the direct run got right.
    n_other : dropped photos whose stage-2 answer is the placeholder ``"other"``.
    """

    paired: stats.PairedComparison
    n_dropped: int
    direct_right_dropped: int
    n_other: int


def answered_comparison(
    direct: pd.DataFrame,
    stage2: pd.DataFrame,
    common,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
) -> AnsweredComparison:
    """Compare the direct run with stage 2 on the photos whose stage-2 answer is one of the ``common`` labels
    (a country both runs could answer). Stage 2 is wrong on every photo left out, so the comparison leans
    towards the two-stage run.

    Parameters
    ----------
    direct, stage2 : predictions tables of the direct and the two-stage run.
    common : the labels both could answer.
    n_boot, seed : bootstrap settings.

    Returns
    -------
    AnsweredComparison
    """
    aa, bb = stats.paired_tables(direct, stage2)
    answer = top1(bb).to_numpy()
    keep = np.isin(answer, list(common))
    a_ok, b_ok = stats.correct_at_k(aa, 1), stats.correct_at_k(bb, 1)
    return AnsweredComparison(
        paired=stats.paired(a_ok[keep], b_ok[keep], n_boot=n_boot, seed=seed),
        n_dropped=int((~keep).sum()),
        direct_right_dropped=int(a_ok[~keep].sum()),
        n_other=int((answer[~keep] == "other").sum()),
    )


def conditional_like(
    breakdown: pd.DataFrame,
    direct: pd.DataFrame,
    stage2: pd.DataFrame,
    a_labels,
    b_labels,
    b_possible: pd.Series | None = None,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
) -> stats.RestrictedComparison | None:
    """:func:`conditional_comparison` like for like: the direct run against stage 2 on the photos whose region
    stage 1 got right, both restricted to the countries both could answer
    (:func:`geoclip_utils.stats.restricted_paired`); ``None`` when no photo got its region right (nothing to
    compare: :func:`conclusions` says so).

    Raises
    ------
    DataError
        As :func:`geoclip_utils.stats.restricted_paired`.
    """
    right = set(breakdown.loc[breakdown["stage1_correct"].to_numpy(bool), "image_id"])
    if not right:
        return None
    return stats.restricted_paired(
        direct[direct["image_id"].isin(right)],
        stage2[stage2["image_id"].isin(right)],
        a_labels,
        b_labels,
        b_possible=b_possible,
        n_boot=n_boot,
        seed=seed,
    )


def like_numbers(like: stats.RestrictedComparison, answered: AnsweredComparison) -> dict:
    """The glued numbers and wordings of the two-stage run compared like for like with the direct run.

    Parameters
    ----------
    like : the direct (A) against the two-stage (B) run restricted to the countries both could answer.
    answered : :func:`answered_comparison`.

    Returns
    -------
    dict
        ``ts_common``, ``ts_direct_labels``, ``ts_stage2_labels``, ``ts_outside`` (stage-2 answers outside the
        common countries), ``ts_outside_countries`` (of them, countries without photos), ``ts_other``
        (the placeholder), ``ts_outside_share``, ``ts_direct_right_outside`` (the direct run's right answers
        on those photos), ``ts_like_direct``, ``ts_like_lo``, ``ts_like_hi`` (accuracies like for like: the
        two-stage run's as a range), the points ``ts_like_diff_lo_pts``, ``ts_like_diff_hi_pts``,
        ``ts_like_ci_lo_pts``, ``ts_like_ci_hi_pts``; ``ans_n``, ``ans_direct``, ``ans_stage2``, the points
        ``ans_diff_pts``, ``ans_lo_pts``, ``ans_hi_pts``, ``ans_p``; the sentences ``ts_like_words`` (could
        the runs give the same answers?), ``ts_restricted_words`` and ``ans_words`` (the answered-photo
        comparison, by its 95 % CI).
    """
    lo, hi = like.diff_bounds
    ci_lo, ci_hi = like.diff_bounds_ci95
    p = answered.paired
    ans_words = word_for_interval(
        *p.diff_ci95,
        "even there the two-stage run is worse",
        "there the two runs cannot be told apart",
        "there the two-stage run is better",
    )
    return {
        "ts_common": like.labels,
        "ts_direct_labels": like.a_labels,
        "ts_stage2_labels": like.b_labels,
        "ts_outside": like.b_outside,
        "ts_outside_countries": answered.n_dropped - answered.n_other,
        "ts_other": answered.n_other,
        "ts_outside_share": like.b_outside / like.n if like.n else float("nan"),
        "ts_direct_right_outside": answered.direct_right_dropped,
        "ts_like_direct": like.point.accuracy_a,
        "ts_like_lo": like.point.accuracy_b,
        "ts_like_hi": like.high.accuracy_b,
        **points(ts_like_diff_lo=lo, ts_like_diff_hi=hi, ts_like_ci_lo=ci_lo, ts_like_ci_hi=ci_hi),
        **paired_glue(
            p,
            n="ans_n",
            a="ans_direct",
            b="ans_stage2",
            diff_pts="ans_diff",
            diff_lo_pts="ans_lo",
            diff_hi_pts="ans_hi",
            p="ans_p",
        ),
        "ts_like_words": like_for_like_sentence(like, "the direct run", "the two-stage run", "labels"),
        "ts_restricted_words": restricted_sentence(
            like, "the direct run", "the two-stage run", "countries", top="first answer"
        ),
        "ans_words": ans_words,
    }
