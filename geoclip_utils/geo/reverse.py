"""Offline reverse geocoding: the country of every point (see :mod:`geoclip_utils.geo` for the rules)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..names import country_converter
from .distance import as_coords, haversine_km
from .koppen import climate
from .places import nearest_places
from .regions import un_regions

__all__ = [
    "TOLERANCE_KM",
    "BORDER_KM",
    "PLACE_KM",
    "DE_FACTO",
    "INTEGRAL_TERRITORIES",
    "CountryIndex",
    "country_index",
    "reverse_geocode",
    "geocode",
]


#: Default distance beyond which a point outside every polygon has no country.
TOLERANCE_KM = 25.0


#: Default distance to another country's polygon within which the border rule applies.
BORDER_KM = 2.0


#: Default distance within which the nearest GeoNames place may decide the country.
PLACE_KM = 10.0


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
    from .. import data

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

    la, lo = as_coords(lat, lon)
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
        names = country_converter().convert(
            sorted(set(p_iso[missing])), src="ISO3", to="name_short", not_found=None
        )
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
