"""Exact point-in-polygon at dataset scale: a lon/lat cell grid in front of prepared shapely predicates.

The grid cuts the world into square cells of ``1 / resolution`` degrees. A cell that no polygon edge
touches (a *clean* cell) lies wholly inside the same polygons everywhere, since the answer of a
point-in-polygon test can only change across an edge; its answer is computed once, for one point of
each 4-connected patch of clean cells. A point in a clean cell takes its cell's answer with one array
lookup. The other cells (an edge within ``EPS_DEG`` of them) are *mixed*: their points get the exact
test, ``shapely.intersects_xy`` on the prepared polygons whose bounding box holds them. So the answer
is the one ``STRtree.query(points, predicate="intersects")`` gives, point for point; where a point
lies in two polygons (on a shared edge) the tie is left to that query, as before.

Build time is a few hundred milliseconds for the paper's 254 country polygons (215,000 edges) at the
default 1/16° (33 MB of ``int16``); about 95 % of random land points fall in clean cells.

Does not own: which polygons (:mod:`geoclip_utils.geo.reverse`), distances (:mod:`.distance`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .distance import EARTH_RADIUS_KM, haversine_km

__all__ = [
    "OUTSIDE",
    "MIXED",
    "EPS_DEG",
    "EdgeIndex",
    "GridAndEdges",
    "PolygonGrid",
    "far_from_edges",
    "nearest_across_180",
    "first_intersecting",
    "intersecting_pairs",
    "nearest_polygon",
]


#: Cell value of a clean cell inside no polygon.
OUTSIDE = -1


#: Cell value of a cell an edge touches (or inside several polygons): its points get the exact test.
MIXED = -2


#: Cells per side of the blocks of :attr:`PolygonGrid.block_distance`.
BLOCK = 8


#: Margin (degrees) by which every edge is widened before it marks cells; far above rounding error
#: (1e-13°), far below a cell (0.06°), so the marking is conservative.
EPS_DEG = 1e-7


#: Cells per degree of the grids built for the paper's polygons.
RESOLUTION = 16


#: Edges per piece of :class:`EdgeIndex`.
PIECE_EDGES = 32


#: Spacing (degrees) of the points along the edges whose k-d tree bounds a nearest-edge search.
SAMPLE_DEG = 0.05


def build_params() -> dict[str, Any]:
    """The parameters a grid and its edge pieces are built with, and the GEOS version that builds them
    (the settings of their disk cache, :mod:`.prepared`)."""
    import shapely

    return {
        "geos": shapely.geos_version_string,
        "resolution": RESOLUTION,
        "eps_deg": EPS_DEG,
        "block": BLOCK,
        "piece_edges": PIECE_EDGES,
        "sample_deg": SAMPLE_DEG,
    }


def intersecting_pairs(
    geoms: np.ndarray, tree: Any, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Every (point, polygon) pair where polygon ``intersects`` the point (edges included), exactly.

    Bounding-box candidates from ``tree`` (no predicate: cheap), then ``shapely.intersects_xy`` per
    polygon on the prepared geometries (vectorised over that polygon's candidate points).

    Parameters
    ----------
    geoms : the polygons (prepared for speed); tree : a shapely ``STRtree`` over them.
    x, y : 1-D float arrays, longitude and latitude.

    Returns
    -------
    ``(point_positions, polygon_indices)``, sorted by polygon.

    Example
    -------
    >>> import shapely
    >>> g = np.array([shapely.box(0, 0, 2, 2), shapely.box(2, 0, 4, 2)])
    >>> [a.tolist() for a in intersecting_pairs(g, shapely.STRtree(g), np.array([1.0, 2.0]), np.array([1.0, 1.0]))]
    [[0, 1, 1], [0, 0, 1]]
    """
    import shapely

    if not len(x):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    pi, gi = tree.query(shapely.points(x, y))
    order = np.argsort(gi, kind="stable")
    pi, gi = pi[order], gi[order]
    hit = np.zeros(len(pi), dtype=bool)
    starts = np.flatnonzero(np.r_[True, gi[1:] != gi[:-1]])
    for s, e in zip(starts, np.r_[starts[1:], len(gi)], strict=True):
        hit[s:e] = shapely.intersects_xy(geoms[gi[s]], x[pi[s:e]], y[pi[s:e]])
    return pi[hit], gi[hit]


def first_intersecting(geoms: np.ndarray, tree: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The polygon each point lies in (``-1``: none), exactly as ``tree.query(points,
    predicate="intersects")`` keeping each point's first match.

    Points in one polygon (nearly all) are answered by :func:`intersecting_pairs`; the few on a shared
    edge (two or more matches) are asked of the tree's own query, so ties break as they always did.

    Parameters
    ----------
    geoms, tree, x, y : as :func:`intersecting_pairs`.

    Returns
    -------
    int64 array of polygon indices.

    Example
    -------
    >>> import shapely
    >>> g = np.array([shapely.box(0, 0, 2, 2)])
    >>> first_intersecting(g, shapely.STRtree(g), np.array([1.0, 3.0]), np.array([1.0, 1.0])).tolist()
    [0, -1]
    """
    import shapely

    out = np.full(len(x), OUTSIDE, dtype=np.int64)
    pi, gi = intersecting_pairs(geoms, tree, x, y)
    out[pi] = gi
    multi = np.flatnonzero(np.bincount(pi, minlength=len(x)) > 1)
    if len(multi):
        qi, qg = tree.query(shapely.points(x[multi], y[multi]), predicate="intersects")
        first = np.unique(qi, return_index=True)[1]
        out[multi[qi[first]]] = qg[first]
    return out


def line_ends(lines: np.ndarray) -> np.ndarray:
    """The end points (n × 2) of two-point lines such as ``shapely.shortest_line`` gives."""
    import shapely

    return shapely.get_coordinates(lines)[1::2]


def _rings(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every vertex of every ring, in the order GEOS walks them (polygon by polygon, part by part, the
    exterior ring then the holes): ``(xy, ring, owner)`` with the ring number of each vertex and the
    polygon index of each ring."""
    import shapely

    parts, part_owner = shapely.get_parts(geoms, return_index=True)
    poly = shapely.get_type_id(parts) == shapely.GeometryType.POLYGON
    rings, ring_part = shapely.get_rings(parts[poly], return_index=True)
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    return xy, ring, part_owner[poly][ring_part]


def _edges(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end points (n × 2, lon/lat) of every edge of every ring (holes included)."""
    xy, ring, _ = _rings(geoms)
    same = ring[1:] == ring[:-1]
    return xy[:-1][same], xy[1:][same]


def _edge_samples(xy: np.ndarray, ring: np.ndarray, sample_deg: float) -> np.ndarray:
    """Points along every edge at most ``sample_deg`` apart, and every edge's end (n × 2; one point at
    infinity when there are no edges): the nearest of them is at most ``sample_deg / 2`` farther than the
    nearest edge, a cheap upper bound for the search box of :meth:`EdgeIndex.nearest_polygon`."""
    same = ring[1:] == ring[:-1]
    a, b = xy[:-1][same], xy[1:][same]
    if not len(a):
        return np.zeros((1, 2)) + np.inf
    steps = np.maximum(np.ceil(np.abs(b - a).max(axis=1) / sample_deg).astype(np.int64), 1)
    t = np.arange(steps.sum()) - np.repeat(np.cumsum(steps) - steps, steps)
    seg = np.repeat(np.arange(len(a)), steps)
    samples = a[seg] + (b[seg] - a[seg]) * (t / steps[seg])[:, None]
    return np.vstack([samples, b])


class EdgeIndex:
    """The polygons' rings cut into short line strings (*pieces*) of at most ``piece_edges`` edges,
    in the order GEOS walks them, with an ``STRtree`` over the pieces.

    For a point outside a polygon, GEOS's distance to the polygon is the smallest distance to one of
    its edges, and ``shapely.shortest_line(point, polygon)`` ends on the first edge (in walking order)
    at that distance. Over pieces the same edges give the same numbers, so the nearest polygon and
    nearest point come out identical, while each distance costs a few dozen edges instead of the
    20,000 of a large country.

    Parameters
    ----------
    geoms : polygons / multipolygons (lon/lat degrees).
    tree : a shapely ``STRtree`` over ``geoms``.
    piece_edges : edges per piece.
    sample_deg : spacing of the points along the edges whose k-d tree bounds the search.
    samples : those points (n × 2, lon/lat) when already computed with these ``geoms`` and ``sample_deg``
        (:attr:`sample_points` of an earlier index, from the disk cache).
    """

    def __init__(
        self,
        geoms: np.ndarray,
        tree: Any,
        piece_edges: int = PIECE_EDGES,
        sample_deg: float = SAMPLE_DEG,
        samples: np.ndarray | None = None,
    ) -> None:
        import shapely
        from scipy.spatial import cKDTree

        xy, ring, ring_owner = _rings(geoms)
        starts = np.flatnonzero(np.r_[True, ring[1:] != ring[:-1]])
        ends = np.r_[starts[1:], len(ring)]  # one past each ring's last vertex
        n_edges = ends - starts - 1
        per_ring = np.maximum(-(-n_edges // piece_edges), 1)
        piece_ring = np.repeat(np.arange(len(starts)), per_ring)
        k = np.arange(len(piece_ring)) - np.repeat(np.cumsum(per_ring) - per_ring, per_ring)
        first = starts[piece_ring] + k * piece_edges
        last = np.minimum(first + piece_edges, ends[piece_ring] - 1)  # shared with the next piece
        size = last - first + 1
        vertex = np.repeat(first - np.cumsum(size) + size, size) + np.arange(size.sum())
        self.pieces = shapely.linestrings(xy[vertex], indices=np.repeat(np.arange(len(size)), size))
        self.owner = ring_owner[piece_ring]
        self.geoms = geoms
        self.polygon_tree = tree
        self.tree = shapely.STRtree(self.pieces)
        if samples is None:
            samples = _edge_samples(xy, ring, sample_deg)
        self.sample_points = samples
        # unbalanced and not compacted: half the build time, and faster queries on these points
        self.samples = cKDTree(samples, balanced_tree=False, compact_nodes=False)

    def _first_closest(
        self, pts: np.ndarray, bi: np.ndarray, bp: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Among candidate (point, piece) pairs: per point, the pieces at its smallest distance.

        Returns ``(points, first_piece, tie)``: each point with a candidate, its first piece at that
        distance, and whether pieces of two polygons share that distance."""
        import shapely

        d = shapely.distance(pts[bi], self.pieces[bp])
        dmin = np.full(len(pts), np.inf)
        np.minimum.at(dmin, bi, d)
        keep = d == dmin[bi]
        bi, bp = bi[keep], bp[keep]
        order = np.lexsort((bp, bi))
        bi, bp = bi[order], bp[order]
        head = np.r_[True, bi[1:] != bi[:-1]]
        own = self.owner[bp]
        lo = np.minimum.reduceat(own, np.flatnonzero(head)) if len(bi) else own
        hi = np.maximum.reduceat(own, np.flatnonzero(head)) if len(bi) else own
        return bi[head], bp[head], lo != hi

    def _boxes(self, x: np.ndarray, y: np.ndarray, r: np.ndarray) -> np.ndarray:
        import shapely

        r = r * (1 + 1e-9) + 1e-12
        return shapely.box(x - r, y - r, x + r, y + r)

    def nearest_polygon(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For points outside every polygon: the nearest polygon (planar distance, as
        ``STRtree.query_nearest`` over the polygons) and the nearest point on it (as
        ``shapely.shortest_line``).

        Returns
        -------
        ``(polygon, end)``: polygon index per point (``-2`` where two polygons are equally near: ask the
        polygons' own tree) and the (n × 2) nearest points (``nan`` where ``-2``).
        """
        import shapely

        pts = shapely.points(x, y)
        poly = np.full(len(x), MIXED, dtype=np.int64)
        end = np.full((len(x), 2), np.nan)
        if not len(x) or not len(self.pieces):
            return poly, end
        # no edge is nearer than the nearest sample: every piece at the smallest distance meets the box
        r = self.samples.query(np.column_stack([x, y]), k=1)[0] + 1e-9
        bi, bp = self.tree.query(self._boxes(x, y, r))
        pi, piece, tie = self._first_closest(pts, bi, bp)
        pi, piece = pi[~tie], piece[~tie]
        poly[pi] = self.owner[piece]
        end[pi] = line_ends(shapely.shortest_line(pts[pi], self.pieces[piece]))
        return poly, end

    def within(self, x: np.ndarray, y: np.ndarray, dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every (point, polygon) pair at most ``dist[i]`` (planar degrees) apart, as
        ``STRtree.query(points, predicate="dwithin", distance=dist)`` over the polygons finds them: the
        polygons holding the point, and those with an edge within the distance.

        Returns
        -------
        ``(point_positions, polygon_indices)``, sorted by point then polygon.
        """
        import shapely

        pts = shapely.points(x, y)
        bi, bp = self.tree.query(self._boxes(x, y, dist))
        near = shapely.distance(pts[bi], self.pieces[bp]) <= dist[bi]
        ci, cg = intersecting_pairs(self.geoms, self.polygon_tree, x, y)
        pairs = np.unique(
            np.column_stack([np.r_[bi[near], ci], np.r_[self.owner[bp[near]], cg]]).astype(np.int64), axis=0
        )
        return pairs[:, 0], pairs[:, 1]

    def nearest_point(self, x: np.ndarray, y: np.ndarray, poly: np.ndarray, within: np.ndarray) -> np.ndarray:
        """The point of polygon ``poly[i]`` nearest to point ``i`` (as ``shapely.shortest_line``), for
        points at most ``within[i]`` (planar degrees) from it; exact for points inside it too.

        Returns
        -------
        (n × 2) array of lon/lat.
        """
        import shapely

        pts = shapely.points(x, y)
        end = np.full((len(x), 2), np.nan)
        inside = np.zeros(len(x), dtype=bool)
        for g in np.unique(poly):
            sel = np.flatnonzero(poly == g)
            inside[sel] = shapely.intersects_xy(self.geoms[g], x[sel], y[sel])
        bi, bp = self.tree.query(self._boxes(x, y, within))
        ok = (self.owner[bp] == poly[bi]) & ~inside[bi]
        pi, piece, _ = self._first_closest(pts, bi[ok], bp[ok])
        end[pi] = line_ends(shapely.shortest_line(pts[pi], self.pieces[piece]))
        rest = np.flatnonzero(np.isnan(end[:, 0]))  # inside the polygon (or not found): the plain way
        if len(rest):
            line = shapely.shortest_line(pts[rest], self.geoms[poly[rest]])
            end[rest] = line_ends(line)
        return end


@dataclass
class PolygonGrid:
    """A cell grid over lon/lat polygons: clean cells hold their answer, mixed cells :data:`MIXED`.

    Build with :meth:`build`; answer with :meth:`locate`.
    """

    cells: np.ndarray  # (rows, cols): row 0 at latitude -90, column 0 at longitude -180
    resolution: int  # cells per degree
    geoms: np.ndarray
    tree: Any

    @classmethod
    def build(cls, geoms: np.ndarray, tree: Any, resolution: int = RESOLUTION) -> PolygonGrid:
        """Mark every cell an edge passes within :data:`EPS_DEG` of, then label each 4-connected patch
        of unmarked cells with the answer at one of its cell centres.

        Parameters
        ----------
        geoms : polygons / multipolygons in lon/lat degrees (prepared for speed).
        tree : a shapely ``STRtree`` over ``geoms`` (its order).
        resolution : cells per degree.

        Returns
        -------
        The grid.

        Example
        -------
        >>> import shapely
        >>> g = np.array([shapely.box(0, 0, 10, 10)])
        >>> grid = PolygonGrid.build(g, shapely.STRtree(g), resolution=1)
        >>> grid.locate(np.array([5.0, 5.0]), np.array([5.0, 50.0])).tolist()
        [0, -1]
        """
        from scipy import ndimage

        res = int(resolution)
        w, h = 360 * res, 180 * res
        marked = np.zeros((h, w), dtype=bool)
        a, b = _edges(geoms)
        if len(a):
            # cut every edge into pieces at most one cell long, so a piece's box spans at most 3 × 3 cells
            steps = np.maximum(np.ceil(np.abs(b - a).max(axis=1) * res).astype(np.int64), 1)
            seg = np.repeat(np.arange(len(a)), steps)
            j = np.arange(len(seg)) - np.repeat(np.cumsum(steps) - steps, steps)
            t0 = (j / steps[seg])[:, None]
            t1 = ((j + 1) / steps[seg])[:, None]
            d = b[seg] - a[seg]
            p0, p1 = a[seg] + d * t0, a[seg] + d * t1
            lo = np.floor((np.minimum(p0, p1) - EPS_DEG + [180.0, 90.0]) * res).astype(np.int64)
            hi = np.floor((np.maximum(p0, p1) + EPS_DEG + [180.0, 90.0]) * res).astype(np.int64)
            for dx in range(3):
                for dy in range(3):
                    m = (lo[:, 0] + dx <= hi[:, 0]) & (lo[:, 1] + dy <= hi[:, 1])
                    marked[np.clip(lo[m, 1] + dy, 0, h - 1), np.clip(lo[m, 0] + dx, 0, w - 1)] = True
        labels, n = ndimage.label(~marked)
        del marked
        first = np.zeros(n + 1, dtype=np.int64)
        rows = 64  # a band of rows at a time, last to first: each patch keeps its first cell
        for r0 in range((h - 1) // rows * rows, -1, -rows):
            band = labels[r0 : r0 + rows].ravel()[::-1]
            first[band] = r0 * w + np.arange(band.size - 1, -1, -1)
        rep = first[1:]
        cx = (rep % w + 0.5) / res - 180.0
        cy = (rep // w + 0.5) / res - 90.0
        value = np.full(n + 1, MIXED, dtype=np.int64)
        if n:
            pi, gi = intersecting_pairs(geoms, tree, cx, cy)
            v = np.full(n, OUTSIDE, dtype=np.int64)
            v[pi] = gi
            v[np.bincount(pi, minlength=n) > 1] = MIXED
            value[1:] = v
        dtype = np.int16 if len(geoms) < np.iinfo(np.int16).max else np.int32
        cells = value.astype(dtype)[labels]  # label 0 = marked -> MIXED
        return cls(cells, res, geoms, tree)

    def cell_of(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row and column of the cell of each point (the last row/column holds latitude 90 / longitude 180)."""
        h, w = self.cells.shape
        row = np.clip(np.floor((lat + 90.0) * self.resolution), 0, h - 1).astype(np.int64)
        col = np.clip(np.floor((lon + 180.0) * self.resolution), 0, w - 1).astype(np.int64)
        return row, col

    def locate(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Index of the polygon each point lies in (``-1``: none), identical to
        :func:`first_intersecting` on every point, at the cost of a lookup for points in clean cells.

        Parameters
        ----------
        lat, lon : 1-D float arrays of degrees (checked by the caller).

        Returns
        -------
        int64 array of polygon indices.
        """
        row, col = self.cell_of(lat, lon)
        out = self.cells[row, col].astype(np.int64)
        mixed = np.flatnonzero(out == MIXED)
        if len(mixed):
            out[mixed] = first_intersecting(self.geoms, self.tree, lon[mixed], lat[mixed])
        return out

    @property
    def block(self) -> int:
        """Cells per side of a block: :data:`BLOCK`, or a divisor of it that divides the grid."""
        return math.gcd(BLOCK, 180 * self.resolution)

    @functools.cached_property
    def block_distance(self) -> np.ndarray:
        """For blocks of :attr:`block` × :attr:`block` cells: how many blocks away (chessboard) the nearest block
        holding a mixed cell is; every edge lies in a mixed cell, so a lon/lat box whose blocks all lie
        nearer than that to the block of its centre meets no edge. ``-1`` everywhere without edges."""
        from scipy import ndimage

        h, w = self.cells.shape
        b = self.block
        mixed = (self.cells == MIXED).reshape(h // b, b, w // b, b).any(axis=(1, 3))
        if not mixed.any():
            return np.full(mixed.shape, -1, dtype=np.int32)
        return ndimage.distance_transform_cdt(~mixed, metric="chessboard").astype(np.int32)

    def no_edge_in(self, lat: np.ndarray, lon: np.ndarray, dlat: np.ndarray, dlon: np.ndarray) -> np.ndarray:
        """True where the box ``lat ± dlat``, ``lon ± dlon`` (inside ±180° of longitude) surely meets no
        edge, by :attr:`block_distance`; False says nothing."""
        dist = self.block_distance
        per_deg = self.resolution / self.block
        nb_y, nb_x = dist.shape

        def block(v: np.ndarray, offset: float, n: int) -> np.ndarray:
            return np.clip(np.floor((v + offset) * per_deg), 0, n - 1).astype(np.int64)

        by, bx = block(lat, 90.0, nb_y), block(lon, 180.0, nb_x)
        reach = np.maximum.reduce(
            [
                by - block(lat - dlat, 90.0, nb_y),
                block(lat + dlat, 90.0, nb_y) - by,
                bx - block(lon - dlon, 180.0, nb_x),
                block(lon + dlon, 180.0, nb_x) - bx,
            ]
        )
        inside = (lon - dlon >= -180.0) & (lon + dlon <= 180.0)
        return inside & (reach < dist[by, bx])

    @property
    def clean_share(self) -> float:
        """Share of cells that answer without an exact test."""
        return float(np.mean(self.cells != MIXED))


class GridAndEdges:
    """For an index of polygons with ``geoms`` (prepared) and ``tree`` (their ``STRtree``): the
    point-in-polygon cell grid and the edge pieces over them, each built on first use, or taken from
    arrays built earlier (:meth:`prepared_arrays`, :meth:`use_prepared`: the disk cache of
    :mod:`.prepared`)."""

    geoms: np.ndarray
    tree: Any

    @functools.cached_property
    def grid(self) -> PolygonGrid:
        """The point-in-polygon grid over :attr:`geoms` (built once, about a second)."""
        return PolygonGrid.build(self.geoms, self.tree, resolution=RESOLUTION)

    @functools.cached_property
    def edges(self) -> EdgeIndex:
        """The polygons' edges in short pieces, for nearest-polygon searches (built once)."""
        return EdgeIndex(
            self.geoms, self.tree, PIECE_EDGES, SAMPLE_DEG, samples=self.__dict__.get("_edge_samples")
        )

    def prepared_arrays(self) -> dict[str, np.ndarray]:
        """What takes time to build, as arrays: the grid's cells and resolution, its block distances and
        the edge samples (built now if they were not)."""
        return {
            "grid_cells": self.grid.cells,
            "grid_resolution": np.array(self.grid.resolution, dtype=np.int64),
            "block_distance": self.grid.block_distance,
            "edge_samples": self.edges.sample_points,
        }

    def use_prepared(self, arrays: dict[str, np.ndarray]) -> None:
        """Take the grid, its block distances and the edge samples from :meth:`prepared_arrays` of the
        same polygons (the edge pieces and their trees are still made on first use, in milliseconds)."""
        grid = PolygonGrid(arrays["grid_cells"], int(arrays["grid_resolution"]), self.geoms, self.tree)
        grid.__dict__["block_distance"] = arrays["block_distance"]
        self.__dict__["grid"] = grid
        self.__dict__["_edge_samples"] = arrays["edge_samples"]


def nearest_across_180(la: np.ndarray, lo: np.ndarray, nearest: Any) -> tuple[np.ndarray, np.ndarray]:
    """The nearest polygon (index, great-circle km) of every point, by ``nearest(x, y) -> (polygon, end)``
    (polygon ``-1`` where none; ``end`` the nearest point on it, n × 2 lon/lat); points within 10° of the
    antimeridian are also tried shifted by 360°, as polygons are cut there, and the nearer answer wins.

    Example
    -------
    >>> import shapely
    >>> g = np.array([shapely.box(179, 0, 180, 1)])
    >>> t = shapely.STRtree(g)
    >>> near = lambda x, y: nearest_polygon(EdgeIndex(g, t), t, x, y)
    >>> poly, km = nearest_across_180(np.array([0.5]), np.array([-179.9]), near)
    >>> poly.tolist(), round(float(km[0]), 1)
    ([0], 11.1)
    """
    best_g = np.full(len(la), -1, dtype=np.int64)
    best_d = np.full(len(la), np.inf)
    shifts = [0.0]
    if np.any(np.abs(lo) > 170):
        shifts += [-360.0, 360.0]
    for s in shifts:
        sel = np.flatnonzero((s == 0) | ((s < 0) & (lo > 170)) | ((s > 0) & (lo < -170)))
        if not len(sel):
            continue
        g, end = nearest(lo[sel] + s, la[sel])
        ok = np.flatnonzero(g >= 0)
        d = haversine_km(la[sel][ok], lo[sel][ok], end[ok, 1], end[ok, 0])
        tgt = sel[ok]
        better = d < best_d[tgt]
        best_d[tgt[better]] = d[better]
        best_g[tgt[better]] = g[ok][better]
    return best_g, best_d


def nearest_polygon(
    edges: EdgeIndex, tree: Any, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The planar-nearest polygon of every point outside every polygon and the nearest point on it,
    exactly as ``tree.query_nearest(points, all_matches=False)`` and ``shapely.shortest_line`` give them:
    :meth:`EdgeIndex.nearest_polygon` over the short pieces, and the tree itself for a point equally near
    two polygons (it breaks such ties).

    Parameters
    ----------
    edges : the pieces of the polygons; tree : a shapely ``STRtree`` over ``edges.geoms`` (its order).
    x, y : 1-D float arrays, longitude and latitude.

    Returns
    -------
    ``(polygon, end)``: polygon index per point (``-2`` only where there are no polygons) and the
    (n × 2) nearest points.

    Example
    -------
    >>> import shapely
    >>> g = np.array([shapely.box(0, 0, 1, 1), shapely.box(3, 0, 4, 1)])
    >>> t = shapely.STRtree(g)
    >>> p, end = nearest_polygon(EdgeIndex(g, t), t, np.array([2.0, 2.5]), np.array([0.5, 0.5]))
    >>> p.tolist(), end.tolist()
    ([0, 1], [[1.0, 0.5], [3.0, 0.5]])
    """
    import shapely

    g, end = edges.nearest_polygon(x, y)
    tie = np.flatnonzero(g == MIXED)
    if len(tie):
        pts = shapely.points(x[tie], y[tie])
        pi, gi = tree.query_nearest(pts, all_matches=False)
        g[tie[pi]] = gi
        end[tie[pi]] = line_ends(shapely.shortest_line(pts[pi], edges.geoms[gi]))
    return g, end


def far_from_edges(
    grid: PolygonGrid, edges: EdgeIndex, la: np.ndarray, lo: np.ndarray, km: float
) -> np.ndarray:
    """True where no polygon can be within ``km`` (great-circle) of the point, for points outside every
    polygon: the lon/lat box that holds the spherical cap of radius ``km`` around the point (widened by a
    millionth, wrapped at ±180°) meets the bounding box of no piece of edge (:class:`EdgeIndex`), and the
    nearest point of a polygon to a point outside it lies on an edge (the grid's blocks answer first for
    boxes far from any edge). False says nothing.

    Parameters
    ----------
    grid, edges : the cell grid and the edge pieces of the same polygons.
    la, lo : 1-D float arrays of degrees (checked by the caller).
    km : the great-circle distance.

    Returns
    -------
    bool array.

    Example
    -------
    >>> import shapely
    >>> g = np.array([shapely.box(0, 0, 1, 1)])
    >>> t = shapely.STRtree(g)
    >>> far_from_edges(PolygonGrid.build(g, t), EdgeIndex(g, t), np.array([0.5, 0.5]), np.array([1.05, 40.0]), 10.0).tolist()
    [False, True]
    """
    import shapely

    ang = km / EARTH_RADIUS_KM
    if not len(la) or not ang < np.pi / 2:
        return np.zeros(len(la), dtype=bool)
    dlat = np.degrees(ang) * (1 + 1e-6) + 1e-6
    with np.errstate(divide="ignore"):
        s = np.sin(ang) / np.cos(np.radians(la))
    polar = (np.abs(la) + dlat >= 90.0) | (s >= 1.0)
    dlon = np.where(polar, 360.0, np.degrees(np.arcsin(np.minimum(s, 1.0))) * (1 + 1e-6) + 1e-6)
    y0, y1 = np.maximum(la - dlat, -90.0), np.minimum(la + dlat, 90.0)
    x0, x1 = lo - dlon, lo + dlon
    # most such points are far inland in Antarctica or far out at sea: the grid's blocks tell at once
    far = grid.no_edge_in(la, lo, dlat, dlon)
    ask = np.flatnonzero(~far)
    hit = np.zeros(len(la), dtype=bool)
    for shift, sel in (
        (0.0, ask),
        (360.0, ask[x0[ask] < -180.0]),
        (-360.0, ask[x1[ask] > 180.0]),
    ):
        if len(sel):
            boxes = shapely.box(
                np.maximum(x0[sel] + shift, -180.0), y0[sel], np.minimum(x1[sel] + shift, 180.0), y1[sel]
            )
            hit[sel[edges.tree.query(boxes)[0]]] = True
    far[ask] = ~hit[ask]
    return far
