"""Does the wording of the prompt matter? Two runs on the same images (standard and mixed prompts):
summaries, paired comparisons, per-group and per-class changes, and the wordings of the *Prompts*
chapter's conclusions (chosen by the numbers).

The study of the *Prompts* chapter (``book/prompts.md``); the prompts themselves (the paper's template, the
region and mixed phrases) are written by :mod:`geoclip_utils.engine.prompts`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .. import geo, stats
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
    "PromptComparison",
    "compare_prompts",
    "by_subregion",
    "class_change_table",
    "never_answerable",
    "headline_text",
    "comparison_numbers",
    "subregion_numbers",
    "change_numbers",
    "restricted_comparison",
    "restricted_numbers",
    "source_sentence",
    "without_by_subregion_numbers",
    "answers_without_photos",
    "without_photos_numbers",
]


@dataclass(frozen=True)
class PromptComparison:
    """Two runs (A: standard prompt, B: mixed prompts) on the images both scored.

    Attributes
    ----------
    a, b : the two predictions tables restricted to the shared images, in the same order.
    summary_a, summary_b : :func:`geoclip_utils.stats.summarize` of each.
    top1, top5 : paired comparisons at top-1 and top-5 (``top5`` is ``None`` when a run stores fewer than
        five answers).
    dup_top5 : share of B's photos whose top-5 names a country twice (several prompts per country).
    changed : share of photos whose first answer differs between A and B.
    """

    a: pd.DataFrame
    b: pd.DataFrame
    summary_a: dict
    summary_b: dict
    top1: stats.PairedComparison
    top5: stats.PairedComparison | None
    dup_top5: float
    changed: float


def compare_prompts(
    a: pd.DataFrame, b: pd.DataFrame, *, n_boot: int = DEFAULT_N_BOOT, seed: int = DEFAULT_SEED
) -> PromptComparison:
    """Compare two runs over the same label set image by image.

    Parameters
    ----------
    a, b : predictions tables (A: standard prompt, B: mixed prompts); only shared images are compared.
    n_boot, seed : bootstrap settings (the same resamples for every statistic).

    Returns
    -------
    PromptComparison

    Raises
    ------
    DataError
        As :func:`geoclip_utils.stats.paired_tables` (no image ids, no shared image, different gold).
    """
    aa, bb = stats.paired_tables(a, b)
    boot = {"n_boot": n_boot, "seed": seed}
    has5 = min(aa.attrs.get("k", 1), bb.attrs.get("k", 1)) >= 5
    return PromptComparison(
        a=aa,
        b=bb,
        summary_a=stats.summarize(aa, **boot),
        summary_b=stats.summarize(bb, **boot),
        top1=stats.paired_predictions(aa, bb, k=1, **boot),
        top5=stats.paired_predictions(aa, bb, k=5, **boot) if has5 else None,
        dup_top5=float(bb["top_labels"].map(lambda t: len(set(t)) < len(t)).mean()),
        changed=float((top1(aa).to_numpy() != top1(bb).to_numpy()).mean()),
    )


def by_subregion(
    result: PromptComparison, *, n_boot: int = DEFAULT_N_BOOT, seed: int = DEFAULT_SEED
) -> pd.DataFrame:
    """The top-1 comparison within each UN M49 sub-region of the true country (``"unknown"`` where a
    country has none): :func:`geoclip_utils.stats.per_group_paired`, sorted by the difference (B − A)."""
    sub = geo.un_regions(result.a["gold_iso3"])["subregion"].replace("", "unknown")
    return stats.per_group_paired(
        stats.correct_at_k(result.a, 1),
        stats.correct_at_k(result.b, 1),
        sub.to_numpy(),
        n_boot=n_boot,
        seed=seed,
    )


def class_change_table(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Per-class precision, recall and F1 of two runs side by side, with the change (B − A).

    Parameters
    ----------
    a, b : predictions tables over the same label set (e.g. standard and mixed prompts).

    Returns
    -------
    pandas.DataFrame
        Indexed by gold label (the labels with photos; answers naming a label without photos are shown by
        :func:`answers_without_photos`): ``support`` (of A), ``recall_a``, ``recall_b``, ``d_recall``,
        ``f1_a``, ``f1_b``, ``d_f1``, ``precision_a``, ``precision_b``; sorted by ``d_f1`` (largest gain
        first).
    """
    ra, rb = stats.per_class_report(a), stats.per_class_report(b)
    labels = pd.Index(sorted(set(a["gold"]) | set(b["gold"])))
    ra, rb = ra.reindex(labels, fill_value=0), rb.reindex(labels, fill_value=0)
    out = pd.DataFrame(
        {
            "support": ra["support"].astype(int),
            "recall_a": ra["recall"],
            "recall_b": rb["recall"],
            "d_recall": rb["recall"] - ra["recall"],
            "f1_a": ra["f1"],
            "f1_b": rb["f1"],
            "d_f1": rb["f1"] - ra["f1"],
            "precision_a": ra["precision"],
            "precision_b": rb["precision"],
        },
        index=labels,
    )
    return out.rename_axis("label").sort_values(["d_f1", "d_recall"], ascending=False)


def never_answerable(gold_labels, b: pd.DataFrame) -> list[str]:
    """Gold labels that run ``b`` never names in any answer (no prompt of B names them), sorted.

    Example
    -------
    >>> from geoclip_utils.schema import make_predictions
    >>> b = make_predictions(["1"], ["A"], [("A", "B")], experiment="b", source="local")
    >>> never_answerable(["A", "C", "B"], b)
    ['C']
    """
    answerable = {lab for t in b["top_labels"] for lab in t}
    return sorted(set(gold_labels) - answerable)


def headline_text(
    result: PromptComparison, names: tuple[str, str], restricted: stats.RestrictedComparison | None = None
) -> str:
    """The chapter's headline: both runs' top-1, top-5 and macro-F1 with 95 % CIs, the paired differences in
    percentage points and, given ``restricted``, the top-1 difference like for like.

    Parameters
    ----------
    result : :func:`compare_prompts`.
    names : the experiment names of A and B.
    restricted : :func:`restricted_comparison`.

    Returns
    -------
    str
        The printed lines, newline-terminated.
    """
    sa, p1, p5 = result.summary_a, result.top1, result.top5
    lines = [
        f"{p1.n} paired images, {sa['classes']} countries; chance {sa['chance']:.2%}, majority {sa['majority']:.2%}"
    ]
    for name, s in zip(names, (result.summary_a, result.summary_b), strict=True):
        top5 = format_ci(s["top5"], *s["top5_ci95"]) if s.get("top5") is not None else "n/a"
        lines += [
            f"{name:<24} top-1 {format_ci(s['top1'], *s['top1_ci95'])}",
            f"{'':<24} top-5 {top5}",
            f"{'':<24} macro-F1 {format_ci(s['macro_f1'], *s['macro_f1_ci95'])}",
        ]
    lines.append(
        f"mixed − standard, top-1: {format_points(p1.diff, *p1.diff_ci95, digits=2)}, "
        f"McNemar p = {p1.mcnemar_p:.2g}"
    )
    if p5 is not None:
        lines.append(
            f"mixed − standard, top-5: {format_points(p5.diff, *p5.diff_ci95, digits=2)}, "
            f"McNemar p = {p5.mcnemar_p:.2g}"
        )
    lines.append(f"discordant images: standard only {p1.only_a}, mixed only {p1.only_b}")
    if restricted is not None:
        r = restricted
        lo, hi = r.diff_bounds
        ci_lo, ci_hi = r.diff_bounds_ci95
        lines += [
            f"like for like ({r.labels} countries both can answer; first answers outside them: standard "
            f"{r.a_outside}, mixed {r.b_outside}; top-5 without one: standard {r.a_ran_out}, mixed {r.b_ran_out})",
            f"  top-1 standard {_range(r.point.accuracy_a, r.low.accuracy_a)}, "
            f"mixed {_range(r.point.accuracy_b, r.high.accuracy_b)}",
            f"  mixed − standard between {format_points(lo, digits=2, unit='')} and "
            f"{format_points(hi, digits=2)} (95% limits {format_points(ci_lo, digits=2, unit='')} and "
            f"{format_points(ci_hi, digits=2, unit='')})",
        ]
    return "\n".join(lines) + "\n"


def _range(lo: float, hi: float) -> str:
    """``"51.41%"`` when both ends agree to the printed digits, else ``"49.77% – 51.37%"``."""
    return f"{lo:.2%}" if f"{lo:.2%}" == f"{hi:.2%}" else f"{lo:.2%} – {hi:.2%}"


def comparison_numbers(result: PromptComparison) -> dict:
    """The glued numbers and wordings of the overall comparison.

    Returns
    -------
    dict
        ``n_images``, ``n_classes``, ``a_top1``, ``a_lo``, ``a_hi``, ``b_top1``, ``b_lo``, ``b_hi``, ``diff``,
        ``diff_lo``, ``diff_hi``, ``p``, ``only_a``, ``only_b``, ``diff5``, ``diff5_lo``, ``diff5_hi``, ``p5``
        (NaN without a top-5), ``chance``, ``majority``, ``a_f1``, ``b_f1``, ``f1_diff``, ``dup_top5``,
        ``changed``; and the wordings ``dup_words`` (what the repeated countries do to the top-5),
        ``balance_words`` (does the mixed prompt help, hurt or make no clear difference at top-1, by the
        95 % CI of the paired difference).
    """
    sa, sb, p1, p5 = result.summary_a, result.summary_b, result.top1, result.top5
    if result.dup_top5 > 0:
        dup_words = (
            "which leaves fewer than five distinct countries there and handicaps the mixed prompts at top-5"
        )
    else:
        dup_words = "so the comparison at top-5 is not handicapped by repeated countries"
    return {
        "n_images": p1.n,
        "n_classes": sa["classes"],
        "a_top1": sa["top1"],
        "a_lo": sa["top1_ci95"][0],
        "a_hi": sa["top1_ci95"][1],
        "b_top1": sb["top1"],
        "b_lo": sb["top1_ci95"][0],
        "b_hi": sb["top1_ci95"][1],
        **paired_glue(
            p1,
            diff="diff",
            diff_lo="diff_lo",
            diff_hi="diff_hi",
            p="p",
            only_a="only_a",
            only_b="only_b",
            diff_pts="diff",
            diff_lo_pts="diff_lo",
            diff_hi_pts="diff_hi",
        ),
        **paired_glue(
            p5,
            diff="diff5",
            diff_lo="diff5_lo",
            diff_hi="diff5_hi",
            p="p5",
            diff_pts="diff5",
            diff_lo_pts="diff5_lo",
            diff_hi_pts="diff5_hi",
        ),
        "chance": sa["chance"],
        "majority": sa["majority"],
        "a_f1": sa["macro_f1"],
        "b_f1": sb["macro_f1"],
        "f1_diff": sb["macro_f1"] - sa["macro_f1"],
        "dup_top5": result.dup_top5,
        "changed": result.changed,
        "dup_words": dup_words,
        "balance_words": word_for_interval(*p1.diff_ci95, "hurts", "makes no clear difference", "helps"),
        **points(f1_diff=sb["macro_f1"] - sa["macro_f1"]),
    }


def subregion_numbers(by_region: pd.DataFrame, alpha: float = 0.05) -> dict:
    """The glued numbers and wording of the per-sub-region comparison (:func:`by_subregion`).

    Returns
    -------
    dict
        ``n_subregions``, ``n_worse`` and ``n_better`` (McNemar p below ``alpha``, uncorrected),
        ``worst_region``, ``worst_region_diff``, ``best_region``, ``best_region_diff`` (the ends of the
        sorted table) and ``subregion_words`` (how the significant changes spread, in words).

    Example
    -------
    >>> t = pd.DataFrame({"diff": [-0.2, 0.1], "mcnemar_p": [0.01, 0.5]}, index=["x", "y"])
    >>> subregion_numbers(t)["subregion_words"]
    'significantly worse in 1 of the 2 sub-regions and significantly better in none'
    """
    sig = by_region[by_region["mcnemar_p"] < alpha]
    n, worse, better = len(by_region), int((sig["diff"] < 0).sum()), int((sig["diff"] > 0).sum())
    if worse and better:
        words = f"significantly worse in {worse} and significantly better in {better} of the {n} sub-regions"
    elif worse:
        words = f"significantly worse in {worse} of the {n} sub-regions and significantly better in none"
    elif better:
        words = f"significantly better in {better} of the {n} sub-regions and significantly worse in none"
    else:
        words = f"not significantly different in any of the {n} sub-regions"
    return {
        "n_subregions": n,
        "n_worse": worse,
        "n_better": better,
        "worst_region": by_region.index[0],
        "worst_region_diff": by_region["diff"].iloc[0],
        "best_region": by_region.index[-1],
        "best_region_diff": by_region["diff"].iloc[-1],
        "subregion_words": words,
        **points(worst_region_diff=by_region["diff"].iloc[0], best_region_diff=by_region["diff"].iloc[-1]),
    }


def change_numbers(changes: pd.DataFrame, never: list[str]) -> dict:
    """The glued numbers of the per-country changes.

    Parameters
    ----------
    changes : :func:`class_change_table`.
    never : :func:`never_answerable`.

    Returns
    -------
    dict
        ``top_gain``, ``top_gain_df1``, ``top_loss``, ``top_loss_df1`` (the ends of the table), ``n_gain``,
        ``n_loss`` (countries whose F1 rises, falls), ``never`` (comma-separated, ``"none"``), ``n_never``.
    """
    return {
        "top_gain": changes.index[0],
        "top_gain_df1": changes["d_f1"].iloc[0],
        "top_loss": changes.index[-1],
        "top_loss_df1": changes["d_f1"].iloc[-1],
        "n_gain": int((changes["d_f1"] > 0).sum()),
        "n_loss": int((changes["d_f1"] < 0).sum()),
        "never": ", ".join(never) or "none",
        "n_never": len(never),
    }


def restricted_comparison(
    result: PromptComparison,
    a_labels,
    b_labels,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
) -> stats.RestrictedComparison:
    """The two prompts compared like for like: both runs restricted to the countries both could answer
    (:func:`geoclip_utils.stats.restricted_paired` on the paired tables of ``result``).

    Parameters
    ----------
    result : :func:`compare_prompts`.
    a_labels, b_labels : the countries each run could answer
        (:func:`geoclip_utils.evaluate.candidate_labels`).
    n_boot, seed : bootstrap settings.
    """
    return stats.restricted_paired(result.a, result.b, a_labels, b_labels, n_boot=n_boot, seed=seed)


def restricted_numbers(r: stats.RestrictedComparison, raw: stats.PairedComparison) -> dict:
    """The glued numbers and wordings of the comparison like for like.

    Parameters
    ----------
    r : :func:`restricted_comparison`.
    raw : the raw top-1 comparison (``PromptComparison.top1``).

    Returns
    -------
    dict
        ``common``, ``a_labels``, ``b_labels``, ``a_outside``, ``b_outside``, ``b_outside_share``,
        ``gold_outside``, ``b_ran_out``, ``r_a_top1``, ``r_b_lo``, ``r_b_hi``, the points ``r_diff_lo_pts``,
        ``r_diff_hi_pts``, ``r_ci_lo_pts``, ``r_ci_hi_pts``; ``like_words`` (could the runs give the same
        answers?), ``restricted_words`` (the restricted comparison in words and numbers), ``like_verdict``
        (what the 95 % limits of the restricted difference allow, for the summary) and ``source_words`` (how
        much of the raw difference survives like for like: :func:`source_sentence`).

    Example
    -------
    >>> p = stats.paired([1, 1, 0, 0], [1, 0, 0, 0], n_boot=10)
    >>> r = stats.RestrictedComparison(4, 2, 2, 2, 0, 0, 0, 0, 0, p, p, p)
    >>> restricted_numbers(r, p)["like_verdict"]
    'the stored answers cannot tell whether the wording itself helps or hurts'
    """
    lo, hi = r.diff_bounds
    ci_lo, ci_hi = r.diff_bounds_ci95
    return {
        "common": r.labels,
        "a_labels": r.a_labels,
        "b_labels": r.b_labels,
        "a_outside": r.a_outside,
        "b_outside": r.b_outside,
        "b_outside_share": r.b_outside / r.n if r.n else float("nan"),
        "gold_outside": r.gold_outside,
        "b_ran_out": r.b_ran_out,
        "r_a_top1": r.point.accuracy_a,
        "r_b_lo": r.point.accuracy_b,
        "r_b_hi": r.high.accuracy_b,
        **points(r_diff_lo=lo, r_diff_hi=hi, r_ci_lo=ci_lo, r_ci_hi=ci_hi),
        "like_words": like_for_like_sentence(r, "the standard prompt", "the mixed prompts", "countries"),
        "restricted_words": restricted_sentence(
            r, "the standard prompt", "the mixed prompts", "countries", top="top-5"
        ),
        "like_verdict": word_for_interval(
            ci_lo,
            ci_hi,
            "the wording itself still hurts",
            "the stored answers cannot tell whether the wording itself helps or hurts",
            "the wording itself helps",
        ),
        "source_words": source_sentence(raw.diff, lo, hi),
    }


def source_sentence(raw: float, lo: float, hi: float) -> str:
    """How much of a raw difference survives like for like, in words: the restricted difference lies between
    ``lo`` and ``hi`` (its bounds); the raw one is ``raw``.

    * "Most of the raw difference comes from the larger candidate list, not from the wording" when even the
      bound farthest from zero on the raw side keeps less than half of ``raw``;
    * "Most of the raw difference remains like for like" when even the nearest keeps more than half;
    * otherwise the stored answers cannot split it; a zero raw difference has nothing to split.

    Example
    -------
    >>> source_sentence(-0.066, -0.016, -0.0003)
    'Most of the raw difference comes from the larger candidate list, not from the wording.'
    >>> source_sentence(-0.066, -0.06, -0.05)
    'Most of the raw difference remains like for like: it comes from the wording.'
    >>> source_sentence(0.0, -0.01, 0.01)
    'There is no raw difference to split between the candidate lists and the wording.'
    """
    if raw == 0:
        return "There is no raw difference to split between the candidate lists and the wording."
    far, near = (lo, hi) if raw < 0 else (hi, lo)
    if far / raw < 0.5:  # same sign as raw and less than half of it, or the other sign
        return "Most of the raw difference comes from the larger candidate list, not from the wording."
    if near / raw > 0.5:
        return "Most of the raw difference remains like for like: it comes from the wording."
    return "The stored answers cannot tell how much of the raw difference the wording itself accounts for."


def without_by_subregion_numbers(result: PromptComparison, by_region: pd.DataFrame) -> dict:
    """Where B's first answers name a label without photos (no gold label of the shared photos), by UN
    sub-region of the true country: the glued ``without_share_all`` (over every photo),
    ``most_without_region`` (the sub-region with the largest share), ``most_without_share`` and
    ``most_without_diff_pts`` (its raw top-1 difference in points, from :func:`by_subregion`)."""
    gold = set(result.a["gold"])
    without = ~top1(result.b).isin(gold).to_numpy()
    sub = geo.un_regions(result.a["gold_iso3"])["subregion"].replace("", "unknown").to_numpy()
    shares = pd.Series(without).groupby(sub).mean()
    shares = shares.sort_index().sort_values(ascending=False, kind="stable")
    region = shares.index[0]
    return {
        "without_share_all": float(without.mean()),
        "most_without_region": region,
        "most_without_share": float(shares.iloc[0]),
        **points(most_without_diff=by_region.loc[region, "diff"]),
    }


def answers_without_photos(b: pd.DataFrame, gold_labels, n_sources: int = 3) -> pd.DataFrame:
    """Where the first answers naming a label without photos went: one row per such label.

    Parameters
    ----------
    b : a predictions table (e.g. the mixed-prompt run).
    gold_labels : the labels that have photos (the label set's gold labels).
    n_sources : how many true labels to name per row.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``label`` (answered, no photos): ``answers`` (first answers naming it), ``share`` (of all
        photos) and ``from`` (the true labels of those photos, most frequent first, with counts); sorted by
        ``answers`` (most first, ties by name). Empty when every first answer names a label with photos.

    Example
    -------
    >>> from geoclip_utils.schema import make_predictions
    >>> b = make_predictions(["1", "2", "3"], ["A", "A", "B"], [("M",), ("M",), ("A",)], experiment="b", source="local")
    >>> answers_without_photos(b, ["A", "B"]).to_dict("records")
    [{'answers': 2, 'share': 0.6666666666666666, 'from': 'A 2'}]
    """
    first = top1(b)
    without = ~first.isin(set(gold_labels))
    if not without.any():
        return pd.DataFrame({"answers": [], "share": [], "from": []}, index=pd.Index([], name="label"))
    rows = []
    for label, golds in b.loc[without, "gold"].groupby(first[without]):
        counts = golds.value_counts()
        counts = counts.sort_index().sort_values(ascending=False, kind="stable")
        shown = ", ".join(f"{g} {n}" for g, n in counts.head(n_sources).items())
        more = len(counts) - n_sources
        rows.append(
            {
                "label": label,
                "answers": int(counts.sum()),
                "share": counts.sum() / len(b),
                "from": shown + (f" and {count_words(more, 'other')}" if more > 0 else ""),
            }
        )
    out = pd.DataFrame(rows).set_index("label")
    return out.sort_index().sort_values("answers", ascending=False, kind="stable")


def without_photos_numbers(table: pd.DataFrame, n_images: int, examples: int = 3) -> dict:
    """The glued numbers of :func:`answers_without_photos`: ``n_without`` (labels), ``without_answers``,
    ``without_share`` and ``without_examples`` (the most answered, with counts; ``"none"``).

    Example
    -------
    >>> t = pd.DataFrame({"answers": [3, 1]}, index=["M", "N"])
    >>> without_photos_numbers(t, 10)["without_examples"]
    'M (3) and N (1)'
    """
    from ..notebook import join_words

    answers = int(table["answers"].sum()) if len(table) else 0
    return {
        "n_without": len(table),
        "without_answers": answers,
        "without_share": answers / n_images if n_images else float("nan"),
        "without_examples": join_words(
            f"{lab} ({n:,})" for lab, n in table["answers"].head(examples).items()
        ),
    }
