"""The *GeoGuessr* chapter: would CLIP win at GeoGuessr? CLIP's country answers as pins on the map, scored
against GeoEstimation.

The pins and their scores (every rule, the hedge, the pairing with GeoEstimation) are
:mod:`geoclip_utils.evaluate.map_guess`, what ``geoclip metrics --json`` prints as ``map_guess`` too; this
module words the chapter: tables, glued numbers, sentences chosen by the numbers, per-country wins and the
distance curves.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..evaluate.map_guess import RULES, SINGLE_RULES, Guesses, paired_frame
from ..stats import distance as stats_distance

__all__ = [
    "result_table",
    "result_view",
    "wins_view",
    "headline_text",
    "headline_glue",
    "candidates_glue",
    "dropped_sentence",
    "verdict_sentence",
    "rules_sentence",
    "country_wins",
    "wins_glue",
    "curve_rules",
    "distance_curves",
]


# --------------------------------------------------------------------------- the chapter's views and words
def result_table(result: dict) -> pd.DataFrame:
    """:func:`geoclip_utils.evaluate.map_guess.score_guesses` as a table, one row per rule: the shares, ``median_km``, ``geoscore`` with
    ``_lo`` / ``_hi``, and ``diff`` / ``diff_lo`` / ``diff_hi`` / ``clip_higher`` against GeoEstimation."""
    rows = {}
    for r, m in result.items():
        row = {"n": m["n"]}
        for k in stats_distance.DISTANCE_KEYS:
            row[k] = m[k]
            if k + "_ci95" in m:
                row[k + "_lo"], row[k + "_hi"] = m[k + "_ci95"]
        vs = m.get("vs_geoestimation")
        if vs:
            row["diff"] = vs["geoscore_diff"]
            row["diff_lo"], row["diff_hi"] = vs.get("geoscore_diff_ci95", [np.nan, np.nan])
            row["clip_higher"] = vs["clip_higher"]
            row["ge_higher"] = vs["geoestimation_higher"]
        rows[r] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("rule")


def headline_text(result: dict, partitioning: str) -> str:
    """The chapter's checked lines: per rule, the shares within 25 / 750 / 2500 km, median km and GeoScore
    with their 95 % CIs, and the paired GeoScore difference against GeoEstimation."""
    from ..notebook import format_ci

    def ci(m: dict, key: str, fmt: str) -> str:
        return (
            format_ci(m[key], *m[key + "_ci95"], fmt=fmt, style="bracket")
            if key + "_ci95" in m
            else format(m[key], fmt)
        )

    first = next(iter(result.values()))
    vs0 = first.get("vs_geoestimation", {})
    lines = [f"{first['n']} photos; 95% bootstrap CIs in brackets"]
    if vs0:
        lines.append(f"GeoEstimation ({partitioning}): GeoScore {vs0['geoestimation_geoscore']:.0f}")
    for r, m in result.items():
        shares = ", ".join(f"{t} km {m[f'acc_{t}km']:.1%}" for t in (25, 750, 2500))
        lines.append(f"{r}")
        lines.append(f"  within {shares}; median {ci(m, 'median_km', '.0f')} km")
        text = f"  GeoScore {ci(m, 'geoscore', '.0f')}"
        vs = m.get("vs_geoestimation")
        if vs and "geoscore_diff_ci95" in vs:
            diff = format_ci(vs["geoscore_diff"], *vs["geoscore_diff_ci95"], fmt="+.0f", style="bracket")
            text += f"; minus GeoEstimation's {diff}"
        lines.append(text)
    return "\n".join(lines)


#: Column names of :func:`result_view` and :func:`wins_view`.
VIEW_NAMES: dict[str, str] = {
    "median_km": "median km",
    "geoscore": "GeoScore",
    "geoscore_lo": "GeoScore lo",
    "geoscore_hi": "GeoScore hi",
    "diff": "minus GeoEst",
    "diff_lo": "diff lo",
    "diff_hi": "diff hi",
    "clip_higher": "CLIP higher",
    "clip": "CLIP GeoScore",
    "geoestimation": "GeoEst GeoScore",
}


def result_view(result: dict):
    """:func:`result_table` as the chapter shows it (a pandas ``Styler``): shares and the share of photos
    CLIP's pin scores higher in %, km and GeoScores rounded, the difference against GeoEstimation signed."""
    shares = [f"acc_{t}km" for t in stats_distance.THRESHOLDS_KM]
    cols = [
        *shares,
        "median_km",
        "geoscore",
        "geoscore_lo",
        "geoscore_hi",
        "diff",
        "diff_lo",
        "diff_hi",
        "clip_higher",
    ]
    t = result_table(result)
    shown = t[[c for c in cols if c in t.columns]].rename(columns=VIEW_NAMES)
    fmt = {c: "{:.1%}" for c in shares} | {"CLIP higher": "{:.1%}"}
    fmt |= {VIEW_NAMES[c]: "{:,.0f}" for c in ("median_km", "geoscore", "geoscore_lo", "geoscore_hi")}
    fmt |= {VIEW_NAMES[c]: "{:+,.0f}" for c in ("diff", "diff_lo", "diff_hi")}
    return shown.style.format({k: v for k, v in fmt.items() if k in shown.columns})


def wins_view(per: pd.DataFrame):
    """:func:`country_wins` as the chapter shows it (a pandas ``Styler``)."""
    shown = per[["country", "n", "clip", "geoestimation", "diff", "clip_higher"]].rename(columns=VIEW_NAMES)
    return shown.style.format(
        {
            "CLIP GeoScore": "{:,.0f}",
            "GeoEst GeoScore": "{:,.0f}",
            "minus GeoEst": "{:+,.0f}",
            "CLIP higher": "{:.0%}",
        }
    )


def dropped_sentence(g: Guesses) -> str:
    """Which photos of the run are left out, and why, worded by the counts.

    Example
    -------
    >>> dropped_sentence(Guesses(pd.DataFrame(), "x", "capital", 1.0, n_results=10, n_unanswered=1))
    "of the run's 10 photos, 1 whose first answer names no country is left out"
    """
    parts = []
    if g.n_dropped:
        parts.append(f"{g.n_dropped:,} without coordinates")
    if g.n_unanswered:
        parts.append(f"{g.n_unanswered:,} whose first answer names no country")
    if not parts:
        return "every photo of the run has coordinates and a country for an answer"
    verb = "is" if g.n_dropped + g.n_unanswered == 1 else "are"
    return f"of the run's {g.n_results:,} photos, {' and '.join(parts)} {verb} left out"


def verdict_sentence(entry: dict, who: str = "CLIP") -> str:
    """Who wins a game of these photos, worded by the paired interval of the GeoScore difference.

    Parameters
    ----------
    entry : a rule's entry of :func:`geoclip_utils.evaluate.map_guess.score_guesses`.
    who : the player of that rule, for the words.

    Example
    -------
    >>> verdict_sentence({"vs_geoestimation": {"geoscore_diff": 120.0, "geoscore_diff_ci95": [80.0, 160.0]}})
    'CLIP would win, the paired interval of the difference lying above zero'
    """
    vs = entry.get("vs_geoestimation")
    if not vs or "geoscore_diff_ci95" not in vs:
        return "the two cannot be compared on the same photos"
    lo, hi = vs["geoscore_diff_ci95"]
    if lo > 0:
        return f"{who} would win, the paired interval of the difference lying above zero"
    if hi < 0:
        return "GeoEstimation would win, the paired interval of the difference lying below zero"
    return f"neither {who} nor GeoEstimation would win clearly, the paired interval of the difference including zero"


def headline_glue(result: dict, g: Guesses, rule: str, partitioning: str) -> dict:
    """The numbers the chapter quotes: the chosen rule against GeoEstimation, the best CLIP rule, the oracle
    ceiling, the hedge's settings, the photos and pins compared, and the verdicts."""
    nan = float("nan")
    m = result[rule]
    vs = m.get("vs_geoestimation", {})
    clip_rules = [r for r in RULES if not r.startswith("oracle_")]
    best = max(clip_rules, key=lambda r: (result[r]["geoscore"], -RULES.index(r)))
    oracles = [r for r in RULES if r.startswith("oracle_")]
    best_oracle = max(oracles, key=lambda r: (result[r]["geoscore"], -RULES.index(r)))
    return {
        "rule": rule,
        "part": partitioning,
        "n_photos": g.n,
        "n_results": g.n_results,
        "n_dropped": g.n_dropped,
        "n_unanswered": g.n_unanswered,
        "dropped_sentence": dropped_sentence(g),
        "rule_geoscore": m["geoscore"],
        "rule_geoscore_lo": m.get("geoscore_ci95", [nan, nan])[0],
        "rule_geoscore_hi": m.get("geoscore_ci95", [nan, nan])[1],
        "rule_median": m["median_km"],
        "rule_acc_750": m["acc_750km"],
        "rule_acc_2500": m["acc_2500km"],
        "rule_acc_25": m["acc_25km"],
        "ge_geoscore": vs.get("geoestimation_geoscore", nan),
        "diff": vs.get("geoscore_diff", nan),
        "diff_abs": abs(vs.get("geoscore_diff", nan)),
        "diff_lo": vs.get("geoscore_diff_ci95", [nan, nan])[0],
        "diff_hi": vs.get("geoscore_diff_ci95", [nan, nan])[1],
        "clip_higher": vs.get("clip_higher", nan),
        "ge_higher": vs.get("geoestimation_higher", nan),
        "verdict": verdict_sentence(m),
        "best_rule": best,
        "best_geoscore": result[best]["geoscore"],
        "best_verdict": verdict_sentence(result[best]),
        "best_oracle": best_oracle,
        "oracle_geoscore": result[best_oracle]["geoscore"],
        "oracle_median": result[best_oracle]["median_km"],
        "oracle_verdict": verdict_sentence(result[best_oracle], who="a player naming the right country"),
        "hedge_rule": g.hedge_rule,
        "temperature": g.temperature,
        "moved": g.moved["hedged"],
        "moved_calibrated": g.moved["hedged_calibrated"],
        "fallback": g.fallback,
        "clip_pins": g.distinct_pins[rule],
        "capital_pins": g.distinct_pins["capital"],
        "capital_geoscore": result["capital"]["geoscore"],
        "capital_diff": result["capital"].get("vs_geoestimation", {}).get("geoscore_diff", nan),
        "capital_verdict": verdict_sentence(result["capital"]),
        "calibrated_gain": result["hedged_calibrated"]["geoscore"] - result[g.hedge_rule]["geoscore"],
        "rules_sentence": rules_sentence(result),
    }


def rules_sentence(result: dict) -> str:
    """How many of CLIP's ways to play (the rules that use CLIP's answers, not the oracles) beat
    GeoEstimation, worded by each rule's paired interval.

    Example
    -------
    >>> win = {"vs_geoestimation": {"geoscore_diff": 9.0, "geoscore_diff_ci95": [1.0, 20.0]}}
    >>> rules_sentence({"capital": win, "photo_prior": win})
    'each of the 2 ways CLIP can play scores more than GeoEstimation, every paired interval above zero'
    """
    mine = {r: m for r, m in result.items() if not r.startswith("oracle_")}
    n = len(mine)
    cis = [m.get("vs_geoestimation", {}).get("geoscore_diff_ci95") for m in mine.values()]
    win = sum(1 for c in cis if c and c[0] > 0)
    lose = sum(1 for c in cis if c and c[1] < 0)
    every = "the one way CLIP can play" if n == 1 else f"each of the {n} ways CLIP can play"
    if win == n:
        return f"{every} scores more than GeoEstimation, every paired interval above zero"
    if lose == n:
        return f"{every} scores less than GeoEstimation, every paired interval below zero"
    parts = [
        f"{win} of the {n} ways CLIP can play score more than GeoEstimation (paired interval above zero)"
    ]
    if lose:
        parts.append(f"{lose} score less (interval below zero)")
    if n - win - lose:
        parts.append(f"{n - win - lose} cannot be told apart from it (interval includes zero)")
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]


def candidates_glue(g: Guesses, ge_table: pd.DataFrame, rule: str, partitioning: str = "hierarchy") -> dict:
    """Whether both sides could give the same answers: how many distinct points each side's pins take on the
    photos both scored, and whether the photos are the same.

    Returns
    -------
    dict with ``clip_points`` (distinct pins of ``rule``), ``ge_points`` (distinct GeoEstimation cell centres
    predicted), ``n_paired``, ``same_photos`` (``True`` when every photo of the run with coordinates has a
    GeoEstimation prediction), ``photos_sentence``; ``clip_candidates`` (the run's candidate countries, the
    placeholder ``"other"`` left out), ``clip_candidates_words``
    (:func:`geoclip_utils.notebook.candidates_words`: how many of them have no photo).
    """
    from ..evaluate.runs import candidate_labels
    from ..notebook import candidates_words

    # a run the registry does not know: its photos' countries (what a run of the same labels could answer)
    cands = (candidate_labels(g.experiment) or frozenset(g.table["gold"])) - {"other"}
    outside = len(cands - set(g.table["gold"]))
    ge, ids = paired_frame(g, ge_table, partitioning)
    mine = g.rule(rule)
    same = len(ids) == len(mine)
    if same:
        sentence = f"the same {len(ids):,} photos"
    else:
        sentence = f"the {len(ids):,} photos both scored ({len(mine) - len(ids):,} of CLIP's have no GeoEstimation prediction)"
    return {
        "clip_points": g.distinct_pins[rule],
        "ge_points": int(ge[["pred_lat", "pred_lon"]].drop_duplicates().shape[0]),
        "n_paired": int(len(ids)),
        "same_photos": bool(same),
        "photos_sentence": sentence,
        "clip_candidates": len(cands),
        "clip_candidates_words": candidates_words(len(cands), outside),
    }


def country_wins(
    g: Guesses, ge_table: pd.DataFrame, rule: str, partitioning: str = "hierarchy"
) -> pd.DataFrame:
    """Per gold country: the mean GeoScore of ``rule``'s pins and of GeoEstimation's, and who wins.

    Returns
    -------
    DataFrame indexed by ``iso3`` (the gold label's code) with ``country``, ``n``, ``clip``, ``geoestimation``
    (mean GeoScores), ``diff`` (CLIP − GeoEstimation), ``clip_higher`` (share of photos on which CLIP's pin
    scores more), sorted by ``diff``.
    """
    ge, ids = paired_frame(g, ge_table, partitioning)
    mine = g.rule(rule).set_index("image_id").loc[ids]
    t = pd.DataFrame(
        {
            "iso3": mine["gold_iso3"].to_numpy(),
            "country": mine["gold"].to_numpy(),
            "clip": mine["geoscore"].to_numpy(float),
            "geoestimation": ge["geoscore"].to_numpy(float),
        }
    )
    t["higher"] = (t["clip"] > t["geoestimation"]).astype(float)
    out = t.groupby("iso3").agg(
        country=("country", "first"),
        n=("clip", "size"),
        clip=("clip", "mean"),
        geoestimation=("geoestimation", "mean"),
        clip_higher=("higher", "mean"),
    )
    out["diff"] = out["clip"] - out["geoestimation"]
    return out.sort_values(["diff", "country"])


def wins_glue(per: pd.DataFrame) -> dict:
    """How many countries each side wins (mean GeoScore), the largest gaps, and the colour range of the map
    (symmetric about zero, from the data), worded by the numbers.

    Example
    -------
    >>> per = pd.DataFrame({"country": ["A", "B"], "diff": [-300.0, 100.0]}, index=["AAA", "BBB"])
    >>> wins_glue(per)["wins_sentence"]
    'CLIP’s pins score more in 1 of the 2 countries and GeoEstimation’s in 1.'
    """
    n = len(per)
    n_clip, n_ge = int((per["diff"] > 0).sum()), int((per["diff"] < 0).sum())
    ties = n - n_clip - n_ge
    level = f"; {ties} {'is' if ties == 1 else 'are'} level" if ties else ""
    if n == 1:
        who = "CLIP’s" if n_clip else "GeoEstimation’s" if n_ge else None
        sentence = (
            f"{who} pins score more in the one country." if who else "The two are level in the one country."
        )
    elif n_clip == n:
        sentence = f"CLIP’s pins score more in all {n} countries."
    elif n_ge == n:
        sentence = f"GeoEstimation’s pins score more in all {n} countries."
    elif n_ge == 0:
        sentence = (
            f"CLIP’s pins score more in {n_clip} of the {n} countries and GeoEstimation’s in none{level}."
        )
    elif n_clip == 0:
        sentence = (
            f"GeoEstimation’s pins score more in {n_ge} of the {n} countries and CLIP’s in none{level}."
        )
    else:
        sentence = (
            f"CLIP’s pins score more in {n_clip} of the {n} countries and GeoEstimation’s in {n_ge}{level}."
        )
    top_clip, top_ge = per.iloc[-1], per.iloc[0]
    return {
        "n_wins_countries": n,
        "n_clip_wins": n_clip,
        "n_ge_wins": n_ge,
        "wins_sentence": sentence,
        "clip_best_country": str(top_clip["country"]),
        "clip_best_diff": float(top_clip["diff"]),
        "ge_best_country": str(top_ge["country"]),
        "ge_best_diff": float(-top_ge["diff"]),
        "map_range": float(per["diff"].abs().max()) if n else 0.0,
    }


def curve_rules(rule: str, g: Guesses) -> list[str]:
    """The rules the chapter's distance curves show: the chosen rule, the capital (the plainest) and the
    oracle of the chosen rule (of the rule a hedged pin uses), without repeats.

    Example
    -------
    >>> g = Guesses(pd.DataFrame(), "x", hedge_rule="photo_prior", temperature=1.0)
    >>> curve_rules("hedged", g)
    ['hedged', 'capital', 'oracle_photo_prior']
    >>> curve_rules("oracle_capital", g)
    ['oracle_capital', 'capital']
    """
    if rule.startswith("oracle_"):
        oracle = rule
    else:
        oracle = "oracle_" + (rule if rule in SINGLE_RULES else g.hedge_rule)
    return list(dict.fromkeys([rule, "capital", oracle]))


def distance_curves(
    g: Guesses,
    ge_table: pd.DataFrame,
    rules,
    partitioning: str = "hierarchy",
    grid_km=None,
) -> pd.DataFrame:
    """The share of photos within each distance (``d < km``) for some rules and GeoEstimation, on the photos
    both sides scored: a long table ``km``, ``share``, ``method`` (a light figure: the grid, not the photos).

    Parameters
    ----------
    grid_km : distances at which to evaluate (default: 161 log-spaced from 1 to 20,000 km).
    """
    grid = np.geomspace(1, 20000, 161) if grid_km is None else np.asarray(grid_km, float)
    ge, ids = paired_frame(g, ge_table, partitioning)
    curves = {f"GeoEstimation ({partitioning})": ge["error_km"].to_numpy(float)}
    for r in rules:
        name = f"gold country, {r.removeprefix('oracle_')}" if r.startswith("oracle_") else f"CLIP, {r}"
        curves[name] = g.rule(r).set_index("image_id").loc[ids, "error_km"].to_numpy(float)
    parts = []
    for name, d in curves.items():
        s = np.sort(d)
        share = np.searchsorted(s, grid, side="left") / len(s)  # d < km
        parts.append(pd.DataFrame({"km": grid, "share": share, "method": name}))
    return pd.concat(parts, ignore_index=True)
