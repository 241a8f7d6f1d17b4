"""Does asking for the region first help? The region and two-stage runs against the UN M49 taxonomy.

Every function takes plain tables (predictions tables of :mod:`geoclip_utils.schema`, dicts, arrays), so
the tests can check it on hand-made cases; the *Regions* chapter feeds them the authors' files.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .. import stats
from ..errors import ConfigError, DataError
from ..geo import un_regions
from ..names import to_iso3
from ..notebook import format_ci, word_for_interval
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
        of always giving one answer, over the answers seen), ``majority`` (the best such answer).
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
        ``better_or_worse`` (the sign of the difference in words).
    """
    direct_p, _ = stats.paired_tables(direct, stage2)
    return {
        "n_paired": paired.n,
        "direct_top1": paired.accuracy_a,
        "direct_lo": paired.accuracy_a_ci95[0],
        "direct_hi": paired.accuracy_a_ci95[1],
        "two_stage_top1": paired.accuracy_b,
        "two_stage_lo": paired.accuracy_b_ci95[0],
        "two_stage_hi": paired.accuracy_b_ci95[1],
        "two_stage_diff": paired.diff,
        "two_stage_diff_abs": abs(paired.diff),
        "two_stage_diff_lo": paired.diff_ci95[0],
        "two_stage_diff_hi": paired.diff_ci95[1],
        "two_stage_p": paired.mcnemar_p,
        "only_direct": paired.only_a,
        "only_two_stage": paired.only_b,
        "country_chance": 1 / direct_p["gold"].nunique(),
        "n_other": int((top1(stage2) == "other").sum()),
        "better_or_worse": "better" if paired.diff > 0 else "worse",
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
        "stage2_given_region": cond.accuracy_b,
        "direct_given_region": cond.accuracy_a,
        "cond_diff": cond.diff,
        "cond_lo": cond.diff_ci95[0],
        "cond_hi": cond.diff_ci95[1],
        "cond_p": cond.mcnemar_p,
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


def headline_text(summary: Mapping, rules: pd.DataFrame, two_stage: stats.PairedComparison) -> str:
    """The chapter's headline: region accuracy under each rule, the two country runs and their difference.

    Parameters
    ----------
    summary : :func:`geoclip_utils.stats.summarize` of the region run.
    rules : :func:`region_rules_table`.
    two_stage : the direct (A) against the two-stage (B) run.

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
        f"two-stage − direct     : {format_ci(p.diff, *p.diff_ci95)}, McNemar p = {p.mcnemar_p:.2g}",
        f"discordant images      : direct only {p.only_a}, two-stage only {p.only_b}",
    ]
    return "\n".join(lines) + "\n"


def conclusions(
    rules: pd.DataFrame, two_stage: stats.PairedComparison, cond: stats.PairedComparison
) -> dict[str, str]:
    """The data-dependent wordings of the chapter's prose, chosen by the numbers.

    Parameters
    ----------
    rules : :func:`region_rules_table`.
    two_stage : the direct (A) against the two-stage (B) run on every shared photo.
    cond : the same on the photos whose region stage 1 got right (:func:`conditional_comparison`).

    Returns
    -------
    dict
        ``lists_words`` (are the authors' lists more generous than the strict UN rule?), ``rr_easier``
        (are the right-region photos easier for the direct run than the average photo?), ``cond_words``
        (does narrowing the candidates help once the region is known, by the 95 % CI), ``cond_sentence`` (the
        conditional comparison in words and numbers; a note when no photo got its region right),
        ``region_vs_country``,
        ``first_step`` (the summary's verdict on the two-stage run, by the sign of the difference, as
        ``better_or_worse``) and ``taxonomy_words`` (does the UN taxonomy flatter less?).

    Example
    -------
    >>> from geoclip_utils.stats import paired
    >>> rules = pd.DataFrame({"top1": [0.6, 0.4, 0.7]}, index=list(RULES))
    >>> two = paired([1, 1, 0, 0], [1, 0, 0, 0], n_boot=10)
    >>> conclusions(rules, two, two)["lists_words"]
    'generous'
    """
    authors, strict = rules.loc[RULES[0], "top1"], rules.loc[RULES[1], "top1"]
    cond_lo, cond_hi = cond.diff_ci95
    if two_stage.diff > 0:
        first_step = (
            "and it is a useful first step: a wrong region removes the true country from the second stage's "
            "options, but the choice inside the right region more than makes up for that loss"
        )
    else:
        first_step = (
            "but it is a poor first step: a wrong region removes the true country from the second stage's "
            "options, and that loss is not made up by the choice inside the right region"
        )
    cond_words = word_for_interval(cond_lo, cond_hi, "hurts", "makes no clear difference", "helps")
    rr_easier = "easier than" if cond.accuracy_a > two_stage.accuracy_a else "no easier than"
    if cond.n:
        cond_sentence = (
            f"On the photos whose region stage 1 got right, stage 2 finds the country for {cond.accuracy_b:.1%} "
            f"of them, while the direct run finds it for {cond.accuracy_a:.1%} of the same photos (paired "
            f"difference {cond.diff:+.1%}, 95 % CI {cond_lo:+.1%} – {cond_hi:+.1%}, McNemar p = "
            f"{cond.mcnemar_p:.2g}): narrowing the candidate list {cond_words} once the region is known. For the "
            f"direct run those photos are {rr_easier} the average photo ({cond.accuracy_a:.1%} against "
            f"{two_stage.accuracy_a:.1%} on all photos), so the two numbers are to be read against each other, "
            "not against the overall accuracy."
        )
    else:
        cond_sentence = (
            "No photo got its region right in stage 1, so the two runs cannot be compared on such photos."
        )
    return {
        "lists_words": "generous" if authors > strict else "no more generous than the UN sub-regions",
        "rr_easier": rr_easier,
        "cond_words": cond_words,
        "cond_sentence": cond_sentence,
        "region_vs_country": (
            "CLIP names a right region more often than the right country"
            if authors > two_stage.accuracy_a
            else "CLIP names a right region no more often than the right country"
        ),
        "first_step": first_step,
        "taxonomy_words": "a less flattering picture" if strict < authors else "no less flattering a picture",
    }
