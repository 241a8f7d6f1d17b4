"""The *Below the country* chapter: its runs, their summary and per-label tables, and their labels put at
GeoNames coordinates, offline, by the book's place matcher (:mod:`geoclip_utils.geo.matching`).

Named after its chapter (``book/below_country.md``); the matching itself (place names, areas, alternate names)
is geo, in :mod:`geoclip_utils.geo.matching`.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from .. import stats
from ..evaluate.cities import label_countries
from ..geo.matching import (
    FRANCE_REGIONS,
    US_AREAS,
    match_admin_areas,
    place_labels,
)
from ..notebook import format_ci, format_interval, tied_at

__all__ = [
    "RUNS",
    "summary_table",
    "above_chance",
    "headline_text",
    "summary_numbers",
    "label_reports",
    "label_numbers",
    "locate_labels",
    "match_counts",
    "match_numbers",
    "recall_points",
    "unplaced_labels",
    "unplaced_note",
]

#: The runs of the chapter (experiment → the level of its labels), in the order it shows them.
RUNS: dict[str, str] = {
    "US_states_max100": "US state",
    "France_states_max100": "French region",
    "UScity100": "US city",
    "city100": "city (worldwide)",
    "city300": "city (worldwide)",
}


# --------------------------------------------------------------------------- the chapter's tables and numbers
def summary_table(heads: Mapping[str, Mapping], levels: Mapping[str, str] = RUNS) -> pd.DataFrame:
    """One row per run: ``level``, ``images``, ``labels``, ``top1``, ``top1 CI`` (text), ``top5`` (``None``
    without one), ``macro-F1``, ``chance``, ``majority``, ``above chance`` (:func:`above_chance`).

    Parameters
    ----------
    heads : experiment → :func:`geoclip_utils.stats.summarize`.
    levels : experiment → what its labels are (default :data:`RUNS`).
    """
    rows = {
        e: {
            "level": levels[e],
            "images": h["n"],
            "labels": h["classes"],
            "top1": h["top1"],
            "top1 CI": format_interval(*h["top1_ci95"]),
            "top5": h.get("top5"),
            "macro-F1": h["macro_f1"],
            "chance": h["chance"],
            "majority": h["majority"],
            "above chance": above_chance(h["top1"], h["chance"]),
        }
        for e, h in heads.items()
    }
    return pd.DataFrame(rows).T


def above_chance(top1: float, chance: float) -> float:
    """Accuracy above chance, ``(top1 - chance) / (1 - chance)``: the share of the way from a random answer to
    every photo right (0 at chance, 1 when every photo is right, negative below chance; NaN when chance is 1).
    Unlike ``top1 / chance`` it does not grow with the number of labels just because chance shrinks.

    Example
    -------
    >>> round(above_chance(0.4, 0.2), 3), above_chance(0.2, 0.2), above_chance(1.0, 1.0)
    (0.25, 0.0, nan)
    """
    return (top1 - chance) / (1 - chance) if chance < 1 else float("nan")


def headline_text(heads: Mapping[str, Mapping]) -> str:
    """The chapter's headline: per run top-1, top-5 and macro-F1 with 95 % CIs (``n/a`` where a run lacks
    one), chance and majority. Returns the printed lines, newline-terminated."""

    def ci(h: Mapping, key: str) -> str:
        if h.get(key) is None:
            return f"{key}: n/a"
        return f"{key} {format_ci(h[key], *h[key + '_ci95'], style='paren')}"

    lines = []
    for e, h in heads.items():
        lines += [
            f"{e} ({h['n']} images, {h['classes']} labels)",
            f"    {ci(h, 'top1')}; {ci(h, 'top5')}; {ci(h, 'macro_f1')}",
            f"    chance {h['chance']:.2%}, majority {h['majority']:.2%}",
        ]
    return "\n".join(lines) + "\n"


def summary_numbers(heads: Mapping[str, Mapping], balanced: float = 1.5) -> dict:
    """The glued numbers and wordings of the headline section.

    Parameters
    ----------
    heads : experiment → :func:`geoclip_utils.stats.summarize`, for every run of :data:`RUNS`.
    balanced : the largest majority/chance ratio still called nearly balanced.

    Returns
    -------
    dict
        ``top1_<run>``, ``chance_<run>``, ``classes_<run>`` for the US state, French region and US city runs;
        ``<run>_lo``, ``<run>_hi`` for every run; ``top1_city100``, ``top1_city300``, ``classes_city100``,
        ``classes_city300``; the lifts over chance ``lift_city100``, ``lift_us``, ``lift_fr`` (top-1 / chance);
        ``above_<run>`` (:func:`above_chance`) for every run; and the wordings ``top5_note`` (which runs lack a
        top-5), ``balance_words`` (are the label sets balanced?), ``compare_words`` (why runs of different label
        counts are not ranked against each other) and ``summary_words`` (the summary: every run against its own
        chance level).

    Example
    -------
    >>> h = {"n": 10, "classes": 5, "top1": 0.4, "top1_ci95": [0.3, 0.5], "chance": 0.2, "majority": 0.2}
    >>> numbers = summary_numbers({e: h for e in RUNS})
    >>> numbers["lift_us"], round(numbers["above_city100"], 2)
    (2.0, 0.25)
    """
    lift = {e: h["top1"] / h["chance"] for e, h in heads.items()}
    above = {e: above_chance(h["top1"], h["chance"]) for e, h in heads.items()}
    out: dict = {}
    for e in ["US_states_max100", "France_states_max100", "UScity100"]:
        out |= {
            f"top1_{e}": heads[e]["top1"],
            f"chance_{e}": heads[e]["chance"],
            f"classes_{e}": heads[e]["classes"],
        }
    for e in heads:
        out |= {
            f"{e}_lo": heads[e]["top1_ci95"][0],
            f"{e}_hi": heads[e]["top1_ci95"][1],
            f"above_{e}": above[e],
        }
    for e in ["city100", "city300"]:
        out |= {f"top1_{e}": heads[e]["top1"], f"classes_{e}": heads[e]["classes"]}
    us, fr, city = lift["US_states_max100"], lift["France_states_max100"], lift["city100"]
    out |= {"lift_city100": city, "lift_us": us, "lift_fr": fr}

    no_top5 = [e for e, h in heads.items() if h.get("top5") is None]
    if no_top5:
        names = " and ".join(no_top5)
        out["top5_note"] = f"{names} store only CLIP's first answer, so they have no top-5."
    else:
        out["top5_note"] = "Every run stores five answers."
    ratio = {e: h["majority"] / h["chance"] for e, h in heads.items()}
    worst = max(ratio, key=ratio.get)
    if ratio[worst] <= balanced:
        out["balance_words"] = (
            "Every label set is nearly balanced, so the majority baseline is close to chance."
        )
    else:
        out["balance_words"] = (
            f"Not every label set is balanced: on {worst}, always answering the most common label scores "
            f"{ratio[worst]:.1f} times chance."
        )
    sizes = sorted({int(h["classes"]) for h in heads.values()})
    lowest = min(lift, key=lift.get)
    if len(sizes) > 1:
        out["compare_words"] = (
            f"The runs ask different questions over label sets of {sizes[0]:,} to {sizes[-1]:,} labels, so their "
            "numbers are not on one scale. A ratio to chance grows with the number of labels just because "
            f"chance shrinks (it is {city:.0f} for city100 against {us:.0f} for the US states), and accuracy "
            "above chance still compares different tasks: it says how far each run is from its own random "
            "answer, not which level of place CLIP knows best."
        )
    else:
        out["compare_words"] = (
            f"Every run has {sizes[0]:,} labels, so accuracy above chance compares them on one scale, though the "
            "labels are different places."
        )
    if lift[lowest] >= 2:
        level = f"well above chance in every run (at least {lift[lowest]:.1f} times chance, on {lowest})"
    elif lift[lowest] > 1:
        level = f"above chance in every run, but only {lift[lowest]:.1f} times on {lowest}"
    else:
        level = f"not above chance on {lowest}"
    spread = (
        f"; accuracy above chance (the share of the way from chance to every photo right) runs from "
        f"{min(above.values()):.1%} to {max(above.values()):.1%}"
        if len(above) > 1
        else ""
    )
    out["summary_words"] = (
        f"Below the country CLIP's answers are {level}{spread}. The runs differ in how many labels they offer "
        "and in what a label is, so they do not say at which level of place CLIP is best."
    )
    return out


def label_reports(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """:func:`geoclip_utils.stats.per_class_report` of every run, sorted by F1 then support (best first)."""
    return {
        e: stats.per_class_report(df).sort_values(["f1", "support"], ascending=False)
        for e, df in tables.items()
    }


def label_numbers(reports: Mapping[str, pd.DataFrame]) -> dict:
    """The glued best and worst labels (every label tied at the printed F1, :func:`geoclip_utils.notebook.tied_at`):
    ``best_state``, ``best_state_f1``, ``worst_state``, ``worst_state_f1`` (US states), ``best_fr``,
    ``best_fr_f1`` (French regions), from :func:`label_reports`."""
    us, fr = reports["US_states_max100"], reports["France_states_max100"]
    return {
        "best_state": tied_at(us["f1"], "max"),
        "best_state_f1": us["f1"].max(),
        "worst_state": tied_at(us["f1"], "min"),
        "worst_state_f1": us["f1"].min(),
        "best_fr": tied_at(fr["f1"], "max"),
        "best_fr_f1": fr["f1"].max(),
    }


def locate_labels(reports: Mapping[str, pd.DataFrame], places: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Put the labels of the mapped runs at GeoNames coordinates: US states and French regions as areas
    (:func:`geoclip_utils.geo.matching.match_admin_areas` with :data:`~geoclip_utils.geo.matching.US_AREAS`,
    :data:`~geoclip_utils.geo.matching.FRANCE_REGIONS`), cities by the book's one city matcher
    (:func:`geoclip_utils.geo.matching.place_labels`, as the kilometre scores of these runs do), each label in
    its country where one is known (:func:`geoclip_utils.evaluate.cities.label_countries`: the US for
    ``UScity100``; for ``city100`` the country its country100 photos name).

    Parameters
    ----------
    reports : :func:`label_reports` (the labels are their index).
    places : :func:`geoclip_utils.geo.matching.places_table` (for the areas).

    Returns
    -------
    dict
        experiment → the matching table.
    """
    out = {
        "US_states_max100": match_admin_areas(reports["US_states_max100"].index, places, US_AREAS),
        "France_states_max100": match_admin_areas(
            reports["France_states_max100"].index, places, FRANCE_REGIONS
        ),
    }
    for run in ("UScity100", "city100"):
        cc = label_countries(run).set_index("label")["cc"]
        labels = reports[run].index
        out[run] = place_labels(labels, {lab: cc.get(lab, "") for lab in labels})
    return out


def match_counts(located: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """How the labels of each run were matched: one column per ``status`` (``matched``, ``ambiguous``,
    ``not found``; 0 where absent) and ``labels`` (their sum), one row per run."""
    counts = (
        pd.DataFrame({e: loc["status"].value_counts() for e, loc in located.items()}).T.fillna(0).astype(int)
    )
    counts["labels"] = counts.sum(axis=1)
    return counts


def match_numbers(counts: pd.DataFrame, located: Mapping[str, pd.DataFrame], examples: int = 3) -> dict:
    """The glued numbers of :func:`match_counts`: ``city100_not_found``, ``city100_ambiguous``,
    ``city100_labels``, ``uscity_not_found``, and ``city100_unplaced_examples`` (the first ``examples``
    city100 labels that could not be placed, ``"none"``)."""

    def get(run: str, col: str) -> int:
        return int(counts.loc[run, col]) if col in counts.columns else 0

    loc = located["city100"]
    unplaced = loc.loc[loc["status"] == "not found", "label"].head(examples).tolist()
    return {
        "city100_not_found": get("city100", "not found"),
        "city100_ambiguous": get("city100", "ambiguous"),
        "city100_labels": get("city100", "labels"),
        "uscity_not_found": get("UScity100", "not found"),
        "city100_unplaced_examples": "; ".join(unplaced) or "none",
    }


def recall_points(located: pd.DataFrame, report: pd.DataFrame) -> pd.DataFrame:
    """The placed labels of one run with their ``recall``, ``f1`` and ``support`` (for a map); labels that
    could not be placed are left out.

    Parameters
    ----------
    located : a table of :func:`locate_labels` (``label``, ``lat``, ``lon``, ``status``, …).
    report : the run's :func:`label_reports` entry.
    """
    points = located.set_index("label").join(report[["recall", "f1", "support"]])
    return points.dropna(subset=["lat"]).reset_index()


def unplaced_labels(located: pd.DataFrame, report: pd.DataFrame) -> pd.DataFrame:
    """The labels of one run that could not be placed, with their ``f1`` and ``support``, best F1 first
    (then most photos, then name).

    Parameters
    ----------
    located : a table of :func:`locate_labels`.
    report : the run's :func:`label_reports` entry.
    """
    missing = located.loc[located["lat"].isna(), "label"]
    out = report.reindex(missing)[["f1", "support"]].rename_axis("label").reset_index()
    return out.sort_values(["f1", "support", "label"], ascending=[False, False, True], ignore_index=True)


def unplaced_note(unplaced: pd.DataFrame, n_labels: int) -> str:
    """The sentence under a map that names every label missing from it (:func:`unplaced_labels`), with its
    F1 and number of photos (said once when every one has the same number).

    Example
    -------
    >>> unplaced_note(pd.DataFrame({"label": [], "f1": [], "support": []}), 50)
    'Every one of the 50 labels is on the map.'
    >>> unplaced_note(pd.DataFrame({"label": ["Tucumcari City Limit"], "f1": [0.5], "support": [100]}), 77)
    'Not on the map: 1 of the 77 labels (100 photos), for which no GeoNames place has that name: Tucumcari City Limit (F1 0.50).'
    """

    def photos(n: int) -> str:
        return f"{n:,} photo{'' if n == 1 else 's'}"

    s = "" if n_labels == 1 else "s"
    if unplaced.empty:
        return f"Every one of the {n_labels:,} label{s} is on the map."
    supports = unplaced["support"].astype(int)
    same = supports.nunique() == 1
    items = "; ".join(
        f"{r.label} (F1 {r.f1:.2f}{'' if same else ', ' + photos(int(r.support))})"
        for r in unplaced.itertuples()
    )
    each = f" ({photos(int(supports.iloc[0]))}{' each' if len(unplaced) > 1 else ''})" if same else ""
    return (
        f"Not on the map: {len(unplaced):,} of the {n_labels:,} label{s}{each}, for which no GeoNames place has "
        f"that name: {items}."
    )
