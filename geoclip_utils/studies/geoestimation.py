"""The *GeoEstimation* chapter: does a supervised geolocator do better? CLIP against GeoEstimation on the
country100 images.

The scoring of GeoEstimation's predictions (distances, GeoScore, countries by offline reverse geocoding, with
bootstrap CIs) is :mod:`geoclip_utils.evaluate.geoestimation`, what ``geoclip metrics`` prints too; this
module compares them with CLIP's country answers (:func:`compare_with_clip`, :func:`per_country_comparison`)
and words the chapter (tables, glued numbers, sentences chosen by the numbers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import experiments, geo, stats
from ..errors import ConfigError, DataError
from ..evaluate.geoestimation import PARTITIONINGS, sovereign
from ..stats.bootstrap import DEFAULT_N_BOOT, DEFAULT_SEED
from ..stats.distance import METRIC_KEYS, THRESHOLDS_KM


def metrics_table(result: dict) -> pd.DataFrame:
    """The ``partitionings`` of :func:`~geoclip_utils.evaluate.geoestimation.geoestimation_metrics` as a table (one row per partitioning,
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
    """Per gold country: CLIP's and GeoEstimation's recall, precision and F1, and GeoEstimation's median error.

    Recall is the share of a country's photos each model places in it; precision the share of the photos a
    model places in the country that are from it (NaN when it never answers the country; for GeoEstimation,
    a point in the country); F1 their harmonic mean (0 when both are 0 or precision is undefined).

    Returns a frame indexed by gold ``iso3`` (sovereign) with ``country``, ``n``, ``clip``, ``geoestimation``
    (the recalls), ``diff`` (GeoEstimation − CLIP recall), ``clip_precision``, ``ge_precision``, ``clip_f1``,
    ``ge_f1``, ``f1_diff`` (GeoEstimation − CLIP), ``median_km``, sorted by ``diff``.
    """
    sub = table[table["partitioning"].astype(str) == partitioning]
    if sub.empty:
        raise ConfigError(f"unknown partitioning {partitioning!r}; choose one of {list(PARTITIONINGS)}")
    sub = sub.assign(clip=clip_country_correct(df_clip, sub["image_id"]).astype(float))
    clip_pred = sovereign(df_clip.set_index("image_id").loc[pd.Index(sub["image_id"]), "pred_iso3"])
    out = sub.groupby("gold_iso3").agg(
        country=("gold", "first"),
        n=("image_id", "size"),
        clip=("clip", "mean"),
        geoestimation=("country_correct", "mean"),
        median_km=("error_km", "median"),
    )
    out["diff"] = out["geoestimation"] - out["clip"]
    gold = sub["gold_iso3"].to_numpy()
    for name, pred, recall in (
        ("clip", np.asarray(clip_pred, dtype=object), "clip"),
        ("ge", sub["pred_iso3"].to_numpy(dtype=object), "geoestimation"),
    ):
        answered = pd.Series(pred).value_counts()
        hits = pd.Series(pred[pred == gold]).value_counts()
        precision = (hits.reindex(out.index, fill_value=0) / answered.reindex(out.index)).astype(float)
        out[f"{name}_precision"] = precision
        r = out[recall]
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = (2 * precision * r / (precision + r)).fillna(0.0)
        out[f"{name}_f1"] = f1
    out["f1_diff"] = out["ge_f1"] - out["clip_f1"]
    return out.rename_axis("iso3").sort_values(["diff", "country"])


# --------------------------------------------------------------------------- the chapter's checks and views
#: Modes of a CLIP run whose first answer is a country, so it can be compared with GeoEstimation.
CLIP_MODES: tuple[str, ...] = ("flat", "two_stage", "mixed")


def clip_experiments() -> list[str]:
    """The published CLIP runs on the country100 images that name a country (what the chapter compares).

    Example
    -------
    >>> clip_experiments()[:2]
    ['country100', 'country100_country_from_region']
    """
    ge = experiments.get("country100_geoestimation")
    return [
        n
        for n, e in experiments.experiments().items()
        if e.label_set == ge.label_set and e.mode in CLIP_MODES and e.published
    ]


def metrics_text(result: dict) -> str:
    """The chapter's checked summary of :func:`~geoclip_utils.evaluate.geoestimation.geoestimation_metrics`: per partitioning, the share within
    each threshold, then median error, GeoScore and country accuracy with their 95 % CIs in brackets."""
    from ..notebook import format_ci

    def ci(m, key, fmt):
        return format_ci(m[key], *m[key + "_ci95"], fmt=fmt, style="bracket")

    lines = [f"GeoEstimation (base M) on {result['n']} country100 images; 95% bootstrap CIs in brackets"]
    for p, m in result["partitionings"].items():
        shares = "  ".join(f"{t}km {m[f'acc_{t}km']:.1%}" for t in result["thresholds_km"])
        lines.append(f"{p:>9}: {shares}")
        lines.append(
            f"{'':>9}  median {ci(m, 'median_km', '.0f')} km  GeoScore {ci(m, 'geoscore', '.0f')}"
            f"  country {ci(m, 'country_top1', '.1%')}"
        )
    return "\n".join(lines)


def metrics_view(mt: pd.DataFrame):
    """:func:`metrics_table` as the chapter shows it: shares and country accuracy in %, median and GeoScore in
    km / points, with the country and median intervals as text columns (a pandas ``Styler``)."""
    cols = [*(f"acc_{t}km" for t in THRESHOLDS_KM), "median_km", "geoscore", "country_top1"]
    shown = mt[cols].copy()
    shown["country 95% CI"] = [
        f"{lo:.1%} – {hi:.1%}" for lo, hi in zip(mt["country_top1_lo"], mt["country_top1_hi"], strict=True)
    ]
    shown["median 95% CI"] = [
        f"{lo:,.0f} – {hi:,.0f}" for lo, hi in zip(mt["median_km_lo"], mt["median_km_hi"], strict=True)
    ]
    return shown.style.format(
        {c: "{:.1%}" for c in cols if c.startswith("acc") or c == "country_top1"}
        | {"median_km": "{:,.0f}", "geoscore": "{:,.0f}"}
    )


def metrics_glue(result: dict, partitioning: str) -> dict:
    """The numbers the chapter quotes from :func:`~geoclip_utils.evaluate.geoestimation.geoestimation_metrics` for the chosen partitioning, the
    partitioning with the best country accuracy, and the wording of :func:`partitionings_sentence`."""
    mt = metrics_table(result)
    m = result["partitionings"][partitioning]
    best = mt["country_top1"].idxmax()
    return {
        "n_images": result["n"],
        "part": partitioning,
        "acc_25": m["acc_25km"],
        "acc_750": m["acc_750km"],
        "acc_2500": m["acc_2500km"],
        "median_km": m["median_km"],
        "median_lo": m["median_km_ci95"][0],
        "median_hi": m["median_km_ci95"][1],
        "geoscore": m["geoscore"],
        "ge_country": m["country_top1"],
        "ge_country_lo": m["country_top1_ci95"][0],
        "ge_country_hi": m["country_top1_ci95"][1],
        "best_part": best,
        "best_country": mt.loc[best, "country_top1"],
        "parts_differ": partitionings_sentence(mt),
        "finer_help": finer_sentence(result),
    }


#: :func:`partitionings_sentence`: the partitionings "differ little" when their country accuracies lie
#: within this many percentage points (as a share) of each other …
SIMILAR_COUNTRY = 0.05
#: … and the largest median error is at most this many times the smallest.
SIMILAR_MEDIAN_RATIO = 1.25


def partitionings_sentence(mt: pd.DataFrame) -> str:
    """Whether the partitionings differ, worded by the numbers (:data:`SIMILAR_COUNTRY`,
    :data:`SIMILAR_MEDIAN_RATIO`).

    Example
    -------
    >>> mt = pd.DataFrame({"country_top1": [0.20, 0.22], "median_km": [1700.0, 1800.0]})
    >>> partitionings_sentence(mt)
    'differ little'
    """
    country_range = mt["country_top1"].max() - mt["country_top1"].min()
    median_ratio = mt["median_km"].max() / mt["median_km"].min()
    if country_range <= SIMILAR_COUNTRY and median_ratio <= SIMILAR_MEDIAN_RATIO:
        return "differ little"
    return "differ clearly"


#: Names of the distance thresholds, for prose.
SCALES: dict[int, str] = {1: "street", 25: "city", 200: "region", 750: "country", 2500: "continent"}
#: :func:`finer_sentence` says GeoEstimation "rarely succeeds" at a scale where it places fewer than this
#: share of the photos.
RARE = 0.10


def finer_sentence(result: dict) -> str:
    """Where the finer partitionings help, worded by the numbers.

    A scale (distance threshold) counts as helped when *every* partitioning finer than ``coarse``
    (``middle`` and ``fine``) places a larger share of the photos within it than ``coarse`` does. The
    sentence names the helped scales; "where GeoEstimation rarely succeeds anyway" is added when, at the
    largest helped scale, the finest partitioning places fewer than :data:`RARE` of the photos.

    Example
    -------
    >>> parts = {"coarse": {"acc_1km": 0.005, "acc_25km": 0.05, "acc_750km": 0.35},
    ...          "middle": {"acc_1km": 0.011, "acc_25km": 0.07, "acc_750km": 0.34},
    ...          "fine": {"acc_1km": 0.009, "acc_25km": 0.08, "acc_750km": 0.33}}
    >>> finer_sentence({"thresholds_km": [1, 25, 750], "partitionings": parts})
    'the finer partitionings help only at the street and city scales, where GeoEstimation rarely succeeds anyway'
    """
    parts = result["partitionings"]
    finer = [p for p in ("middle", "fine") if p in parts]
    if "coarse" not in parts or not finer:
        return "the partitionings cannot be compared from coarse to fine here"
    thresholds = list(result["thresholds_km"])
    helped = [
        t for t in thresholds if all(parts[p][f"acc_{t}km"] > parts["coarse"][f"acc_{t}km"] for p in finer)
    ]
    if not helped:
        return "the finer partitionings help at no scale"
    names = [SCALES.get(t, f"{t} km") for t in helped]
    scales = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    if len(helped) == len(thresholds):
        return f"the finer partitionings help at every scale, from {names[0]} to {names[-1]}"
    plural = "scale" if len(helped) == 1 else "scales"
    text = f"the finer partitionings help only at the {scales} {plural}"
    if parts[finer[-1]][f"acc_{helped[-1]}km"] < RARE:
        text += ", where GeoEstimation rarely succeeds anyway"
    return text


@dataclass(frozen=True)
class ClipComparison:
    """CLIP's first answer against GeoEstimation's point, country by country, on the same photos.

    Attributes
    ----------
    paired : the paired comparison (A = CLIP, B = GeoEstimation; :func:`geoclip_utils.stats.paired`).
    clip_correct, ge_correct : per-photo correctness, in the order of ``images``.
    images : the photos of the chosen partitioning (rows of :func:`geoclip_utils.evaluate.geoestimation.geoestimation_table`).
    geocoder_agree : share of photos whose *true* coordinates reverse-geocode to the gold country (the
        ceiling a perfect coordinate prediction reaches here).
    """

    paired: stats.PairedComparison
    clip_correct: np.ndarray
    ge_correct: np.ndarray
    images: pd.DataFrame
    geocoder_agree: float


def compare_with_clip(
    table: pd.DataFrame,
    clip_df: pd.DataFrame,
    partitioning: str = "hierarchy",
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
) -> ClipComparison:
    """Compare CLIP's top-1 country with the country of GeoEstimation's point on the same photos.

    Parameters
    ----------
    table : :func:`geoclip_utils.evaluate.geoestimation.geoestimation_table`.
    clip_df : a CLIP predictions table of the country100 photos (:func:`geoclip_utils.experiments.load_results`).
    partitioning : one of :data:`PARTITIONINGS`.
    n_boot, seed : bootstrap settings of the paired comparison.

    Raises
    ------
    ConfigError
        Unknown partitioning.
    DataError
        A photo missing from ``clip_df``.
    """
    sub = table[table["partitioning"].astype(str) == partitioning].reset_index(drop=True)
    if sub.empty:
        raise ConfigError(f"unknown partitioning {partitioning!r}; choose one of {list(PARTITIONINGS)}")
    clip_ok = clip_country_correct(clip_df, sub["image_id"])
    ge_ok = sub["country_correct"].to_numpy(bool)
    truth = geo.reverse_geocode(sub["lat"].to_numpy(), sub["lon"].to_numpy())
    agree = float((truth["sovereign_iso3"].to_numpy() == sub["gold_iso3"].to_numpy()).mean())
    return ClipComparison(stats.paired(clip_ok, ge_ok, n_boot=n_boot, seed=seed), clip_ok, ge_ok, sub, agree)


def comparison_glue(c: ClipComparison, clip_experiment: str) -> dict:
    """The numbers the chapter quotes from :func:`compare_with_clip`, and the wording of
    :func:`comparison_sentence`."""
    from ..notebook import paired_glue

    p = c.paired
    return {
        "n_countries": c.images["gold_iso3"].nunique(),
        **paired_glue(
            p,
            a="clip_country",
            a_lo="clip_lo",
            a_hi="clip_hi",
            diff="diff",
            diff_abs="diff_abs",
            diff_lo="diff_lo",
            diff_hi="diff_hi",
            p_text="mcnemar_p",
            only_a="only_clip",
            only_b="only_ge",
            diff_pts="diff",
            diff_lo_pts="diff_lo",
            diff_hi_pts="diff_hi",
        ),
        "both": int((c.clip_correct & c.ge_correct).sum()),
        "neither": int((~c.clip_correct & ~c.ge_correct).sum()),
        "geocoder_agree": c.geocoder_agree,
        "clip_name": clip_experiment,
        "comparison_sentence": comparison_sentence(p),
    }


def comparison_text(c: ClipComparison, clip_experiment: str, partitioning: str) -> str:
    """The chapter's checked lines of :func:`compare_with_clip` (the difference in percentage points)."""
    from ..notebook import format_ci, format_points

    p = c.paired
    diff = format_points(p.diff, *p.diff_ci95, digits=2).replace("(95% CI", "(paired 95% CI", 1)
    return "\n".join(
        [
            f"country accuracy on the same {p.n} images (sovereign ISO-3 match)",
            f"  CLIP {clip_experiment} top-1:      {format_ci(p.accuracy_a, *p.accuracy_a_ci95)}",
            f"  GeoEstimation {partitioning:>9}: {p.accuracy_b:.2%}",
            f"  difference (GeoEst − CLIP): {diff}",
            f"  discordant: CLIP only {p.only_a}, GeoEstimation only {p.only_b}; McNemar p {p.p_text}",
        ]
    )


def like_numbers(c: ClipComparison, *, n_boot: int = DEFAULT_N_BOOT, seed: int = DEFAULT_SEED) -> dict:
    """Could CLIP and GeoEstimation give the same answers? CLIP chooses among its candidate countries
    (:func:`candidates_numbers`); GeoEstimation's point can lie anywhere. The glued numbers of that difference and of the comparison on the
    photos whose GeoEstimation point lies in a country with photos (which leans towards GeoEstimation: it is
    wrong on every photo left out).

    Returns
    -------
    dict
        ``ge_outside`` (points outside the countries of the photos, CLIP's candidates: in a country without
        photos or in no country), ``ge_outside_share``, ``ge_no_country`` (points in no
        country), ``ge_other_countries`` (distinct countries without photos GeoEstimation's points fall in),
        ``clip_right_outside`` (CLIP right on the photos left out), ``in_n``, ``in_clip``, ``in_ge``, the
        points ``in_diff_pts``, ``in_lo_pts``, ``in_hi_pts`` and ``in_words`` (the verdict of that comparison,
        by its 95 % CI), ``gap_explained`` (whether GeoEstimation's wider choice explains CLIP's lead on all
        photos, by the same interval).
    """
    from ..notebook import paired_glue, word_for_interval

    gold = c.images["gold_iso3"].to_numpy(dtype=object)
    pred = c.images["pred_iso3"].fillna("").to_numpy(dtype=object)
    photo_countries = set(gold)
    inside = np.isin(pred, list(photo_countries))
    p = stats.paired(c.clip_correct[inside], c.ge_correct[inside], n_boot=n_boot, seed=seed)
    lo, hi = p.diff_ci95
    words = word_for_interval(
        lo,
        hi,
        "even there CLIP names the country more often",
        "there the two cannot be told apart",
        "there GeoEstimation places its guess in the right country more often",
    )
    if c.paired.diff_ci95[1] < 0:  # CLIP ahead on all photos: does GeoEstimation's wider choice explain it?
        gap = word_for_interval(
            lo,
            hi,
            "but that explains little of the gap",
            "and that may explain the gap",
            "and that explains the gap",
        )
    else:
        gap = "and CLIP is not ahead on all photos, so there is no gap in its favour to explain"
    return {
        "ge_outside": int((~inside).sum()),
        "ge_outside_share": float((~inside).mean()),
        "ge_no_country": int((pred == "").sum()),
        "ge_other_countries": len(set(pred[~inside]) - {""}),
        "clip_right_outside": int(c.clip_correct[~inside].sum()),
        **paired_glue(
            p, n="in_n", a="in_clip", b="in_ge", diff_pts="in_diff", diff_lo_pts="in_lo", diff_hi_pts="in_hi"
        ),
        "in_words": words,
        "gap_explained": gap,
    }


def candidates_numbers(clip_experiment: str, clip_df: pd.DataFrame) -> dict:
    """What CLIP could answer, against the photos' countries: ``clip_candidates`` (the candidate countries of
    the run, the placeholder ``"other"`` left out), ``clip_candidates_outside`` (those without photos) and
    ``clip_candidates_words`` (:func:`geoclip_utils.notebook.candidates_words`)."""
    from ..evaluate.runs import candidate_labels
    from ..notebook import candidates_words

    cands = candidate_labels(clip_experiment, clip_df) - {"other"}
    outside = len(cands - set(clip_df["gold"]))
    return {
        "clip_candidates": len(cands),
        "clip_candidates_outside": outside,
        "clip_candidates_words": candidates_words(len(cands), outside),
    }


#: :func:`comparison_sentence` says "far more often" when the difference is at least this large (a share).
FAR = 0.10


def comparison_sentence(p: stats.PairedComparison) -> str:
    """Which model finds the right country more often, worded by the paired comparison.

    * the direction is named only when the paired 95 % CI of the difference excludes zero; otherwise the
      two are "about as often right";
    * "far more often" when ``|diff| >= FAR``, else "more often";
    * the interval "lies far from zero" when its bound nearest to zero is at least ``FAR / 2`` away,
      else it merely "excludes zero".

    Example
    -------
    >>> from geoclip_utils.stats import paired
    >>> comparison_sentence(paired([1] * 50 + [0] * 50, [0] * 100, n_boot=50))[:52]
    'the zero-shot CLIP names the country far more often '
    """
    lo, hi = p.diff_ci95
    if not (lo > 0 or hi < 0):
        return (
            "the zero-shot CLIP names the country about as often as the supervised GeoEstimation model places "
            "its guess inside that country, on the same photos: the paired interval of the difference "
            "includes zero"
        )
    how = "far more often" if abs(p.diff) >= FAR else "more often"
    near = min(abs(lo), abs(hi))
    where = "lies far from zero" if near >= FAR / 2 else "excludes zero"
    if hi < 0:
        lead = (
            f"the zero-shot CLIP names the country {how} than the supervised GeoEstimation model places its "
            "guess inside that country"
        )
    else:
        lead = (
            f"the supervised GeoEstimation model places its guess inside the right country {how} than the "
            "zero-shot CLIP names it"
        )
    return f"{lead}, on the same photos, and the paired interval of the difference {where}"


def error_map_frame(images: pd.DataFrame) -> pd.DataFrame:
    """The photos of one partitioning ready for the error map: ``error`` (km, rounded), ``log10_error_km``
    (errors under 1 km drawn at 1 km) and ``predicted`` (``"none"`` for no country)."""
    return images.assign(
        error=np.round(images["error_km"]).astype(int),
        log10_error_km=np.log10(images["error_km"].clip(lower=1)),
        predicted=images["pred_iso3"].replace("", "none"),
    )


def per_country_glue(per: pd.DataFrame) -> dict:
    """The numbers the chapter quotes from :func:`per_country_comparison` and the sentences on the largest
    recall gaps (each with both models' precision for that country, since a model that answers a country
    often finds more of its photos and is right less often when it does), worded by their signs (a side ahead
    in no country is said to be so), and on the counts by F1."""
    ge_best, clip_best = per.iloc[-1], per.iloc[0]
    n_ge, n_clip = int((per["diff"] > 0).sum()), int((per["diff"] < 0).sum())
    n_ge_f1, n_clip_f1 = int((per["f1_diff"] > 0).sum()), int((per["f1_diff"] < 0).sum())

    def precisions(row) -> str:
        def p(x: float) -> str:
            return "no answer" if pd.isna(x) else f"{x:.2f}"

        return f"precision: GeoEstimation {p(row['ge_precision'])}, CLIP {p(row['clip_precision'])}"

    ge_gap = f"{ge_best['country']} (recall {100 * ge_best['diff']:+.0f} points; {precisions(ge_best)})"
    clip_gap = f"{clip_best['country']} (recall {100 * -clip_best['diff']:+.0f} points for CLIP; {precisions(clip_best)})"
    if n_ge and n_clip:
        sentence = f"The largest gap in GeoEstimation's favour is {ge_gap}, in CLIP's favour {clip_gap}."
    elif n_clip:
        sentence = f"GeoEstimation is ahead in no country; the largest gap in CLIP's favour is {clip_gap}."
    elif n_ge:
        sentence = f"The largest gap in GeoEstimation's favour is {ge_gap}; CLIP is ahead in no country."
    else:
        sentence = "The two are level in every country."
    return {
        "n_ge_better": n_ge,
        "n_clip_better": n_clip,
        "n_ge_better_f1": n_ge_f1,
        "n_clip_better_f1": n_clip_f1,
        "ge_best_country": ge_best["country"],
        "ge_best_diff": ge_best["diff"],
        "clip_best_country": clip_best["country"],
        "clip_best_diff": -clip_best["diff"],
        "clip_best_precision": clip_best["clip_precision"],
        "gap_sentence": sentence,
    }
