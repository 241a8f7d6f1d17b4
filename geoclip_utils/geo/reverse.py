"""Offline reverse geocoding: the country of every point (see :mod:`geoclip_utils.geo` for the rules)."""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..names import country_converter
from .distance import as_coords, check_km, haversine_km
from .grid import GridAndEdges, far_from_edges, nearest_across_180, nearest_polygon
from .koppen import climate
from .places import _places, nearest_place_index
from .regions import un_regions

if TYPE_CHECKING:
    import pandas as pd

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
    "geocode_arrow",
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
class _Coding:
    """Every ISO-3 code of the polygons and of the GeoNames places as a small integer (0 = no country), so
    a million points compare and look up integers, not strings; with what each code stands for (its
    sovereign code, UN M49 region and sub-region, and the country name rule 4 gives)."""

    codes: np.ndarray  # integer -> code (object)
    sovereign: np.ndarray  # integer -> sovereign_iso3 (object)
    polygon: np.ndarray  # polygon index -> integer
    place: np.ndarray  # GeoNames row -> integer
    place_missing: np.ndarray  # GeoNames row -> its country has a code but no polygon (Kosovo)
    region: np.ndarray  # integer -> UN M49 region (object; ``un_regions`` of the code)
    subregion: np.ndarray  # integer -> UN M49 sub-region (object)
    place_name: np.ndarray  # integer -> country name of a code with places but no polygon ("" otherwise)

    @classmethod
    def build(cls, index: CountryIndex) -> _Coding:
        place_iso = _places().table["iso3"].to_numpy(dtype=object)
        codes = np.array([""] + sorted((set(index.iso3) | set(place_iso)) - {""}), dtype=object)
        number = {c: i for i, c in enumerate(codes)}
        place_missing = np.array([c != "" and c not in index.codes for c in place_iso], dtype=bool)
        reg = un_regions(codes)
        place_name = np.full(len(codes), "", dtype=object)
        missing = np.unique([number[c] for c in place_iso[place_missing]]).astype(np.int64)
        if len(missing):
            names = country_converter().convert(
                list(codes[missing]), src="ISO3", to="name_short", not_found=None
            )
            place_name[missing] = [names] if isinstance(names, str) else names
        return cls(
            codes,
            np.array([INTEGRAL_TERRITORIES.get(c, c) for c in codes], dtype=object),
            np.array([number[c] for c in index.iso3], dtype=np.int64),
            np.array([number[c] for c in place_iso], dtype=np.int64),
            place_missing,
            reg["region"].to_numpy(),
            reg["subregion"].to_numpy(),
            place_name,
        )

    def arrays(self) -> dict[str, np.ndarray]:
        """The fields as arrays (what the disk cache keeps)."""
        return dict(vars(self))

    @classmethod
    def from_arrays(cls, arrays: dict[str, Any]) -> _Coding:
        from .prepared import objects

        return cls(**{k: np.array(objects(v)) for k, v in arrays.items()})


#: ``method`` values by number (the order of the rules).
METHODS = np.array(["within", "nearest", "border", "place", "none"], dtype=object)


@dataclass
class CountryIndex(GridAndEdges):
    """The country polygons with a shapely ``STRtree`` over them; the cell grid that answers point in
    polygon (:attr:`grid`) and the edge pieces (:attr:`edges`) are built on first use."""

    iso3: np.ndarray
    name: np.ndarray
    geoms: np.ndarray
    tree: Any
    codes: frozenset[str] = field(default_factory=frozenset)

    @functools.cached_property
    def coding(self) -> _Coding:
        """Integer codes for the ISO-3 codes of the polygons and of the GeoNames places (built once, or
        loaded from the disk cache for the paper's polygons)."""
        source = self.__dict__.get("_coding_source")
        return source() if source is not None else _Coding.build(self)

    @functools.cached_property
    def country_names(self) -> np.ndarray:
        """The ``country`` values a point can get: ``""``, then the polygons' names (polygon ``i`` at
        ``1 + i``), then the names rule 4 gives (code ``c`` at ``1 + len(name) + c``)."""
        return np.concatenate([np.array([""], dtype=object), self.name, self.coding.place_name])

    @functools.cached_property
    def _arrow_tables(self) -> dict[str, Any]:
        """The tables the text columns are looked up in, as pyarrow arrays (made once)."""
        import pyarrow as pa

        places = _places()
        cd = self.coding
        text = {
            "iso3": cd.codes,
            "sovereign_iso3": cd.sovereign,
            "region": cd.region,
            "subregion": cd.subregion,
            "country": self.country_names,
            "method": METHODS,
        }
        return {
            **{k: pa.array(v, type=pa.string()) for k, v in text.items()},
            "place": places.text("name"),
            "admin1": pa.concat_arrays([places.text("admin1"), pa.array([""], type=pa.string())]),
        }

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

    def prepared_arrays(self) -> dict[str, np.ndarray]:
        """Everything :meth:`from_prepared` needs, as arrays (codes, names, the polygons as WKB, the grid
        and edge samples): what the disk cache keeps (:mod:`.prepared`)."""
        import shapely

        return {
            "iso3": self.iso3,
            "name": self.name,
            "geoms": shapely.to_wkb(self.geoms),
            **super().prepared_arrays(),
        }

    @classmethod
    def from_prepared(cls, arrays: dict[str, np.ndarray]) -> CountryIndex:
        """The index :meth:`prepared_arrays` was taken from (the same polygons, bit for bit, in the same
        order; the same grid and edge samples)."""
        import shapely

        from .prepared import objects

        iso = objects(arrays["iso3"])
        geoms = shapely.from_wkb(objects(arrays["geoms"]))
        shapely.prepare(geoms)
        idx = cls(
            iso,
            objects(arrays["name"]),
            geoms,
            shapely.STRtree(geoms),
            frozenset(c for c in iso if c),
        )
        idx.use_prepared(arrays)
        return idx


#: The authors' country polygons (``data.load_country_polygons`` reads them).
COUNTRY_FILES = tuple(
    f"SHP/CountrySHP/world-administrative-boundaries{e}" for e in (".shp", ".shx", ".dbf", ".prj")
)


def build_country_index() -> CountryIndex:
    """The paper's country polygons, read, dissolved and indexed in memory (the grid and edge pieces are
    built on first use; a few seconds in all): what :func:`country_index` keeps on disk, and the
    reference its cache is tested against."""
    from .. import data

    return CountryIndex.from_frame(data.load_country_polygons())


@functools.cache
def _countries_settings() -> dict[str, Any]:
    from . import prepared
    from .grid import build_params

    return prepared.settings(
        inputs=prepared.registry_inputs(COUNTRY_FILES),
        packages=("geopandas", "pyogrio", "shapely", "pandas", "numpy", "scipy", "country_converter"),
        modules=("data.py", "names.py", "geo/reverse.py", "geo/grid.py", "geo/prepared.py"),
        params=build_params(),
    )


@functools.cache
def country_index() -> CountryIndex:
    """The paper's country polygons (via :func:`geoclip_utils.data.load_country_polygons`), indexed; loaded
    from the prepared-structures cache when it holds them with this run's settings
    (:mod:`~geoclip_utils.geo.prepared`), else built (:func:`build_country_index`) and cached. Their
    :attr:`~CountryIndex.coding` (which needs the GeoNames places too) is cached the same way."""
    from . import prepared
    from .places import _places_settings

    wanted = _countries_settings()
    idx = CountryIndex.from_prepared(
        prepared.load_or_build("countries", wanted, lambda: build_country_index().prepared_arrays())
    )

    def coding() -> _Coding:
        settings = prepared.settings(
            inputs={},
            packages=("country_converter", "pandas"),
            modules=("names.py", "geo/regions.py", "geo/reverse.py", "geo/places.py", "geo/prepared.py"),
            params={"countries": wanted, "places": _places_settings()},
        )
        return _Coding.from_arrays(
            prepared.load_or_build("coding", settings, lambda: _Coding.build(idx).arrays())
        )

    idx.__dict__["_coding_source"] = coding
    return idx


def _nearest_polygon(index: CountryIndex, la: np.ndarray, lo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest polygon (index, great-circle km) of every point outside every polygon; also tries the
    point shifted by 360° near the antimeridian, as the polygons are cut there.

    The polygon is the planar-nearest one (``STRtree.query_nearest``) and the km are measured to the
    planar-nearest point on it (``shapely.shortest_line``), both found over the polygons' short pieces
    (:class:`~geoclip_utils.geo.grid.EdgeIndex`); a point equally near two polygons is asked of the
    polygons' tree, which breaks such ties."""
    return nearest_across_180(la, lo, lambda x, y: nearest_polygon(index.edges, index.tree, x, y))


def _far_from_polygons(index: CountryIndex, la: np.ndarray, lo: np.ndarray, km: float) -> np.ndarray:
    """True where no polygon can be within ``km`` of the point, for points outside every polygon
    (:func:`~geoclip_utils.geo.grid.far_from_edges`); such a point gets ``method == "none"`` without the
    nearest-polygon search."""
    return far_from_edges(index.grid, index.edges, la, lo, km)


@dataclass
class _Labels:
    """The labels of a batch of points while the stages of :func:`reverse_geocode` fill them in."""

    la: np.ndarray
    lo: np.ndarray
    polygon: np.ndarray  # polygon index (-1: none)
    method: np.ndarray  # int8 into METHODS
    dist: np.ndarray
    iso: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # into _Coding.codes
    country: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # into country_names
    place_row: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    place_km: np.ndarray = field(default_factory=lambda: np.zeros(0))
    place_iso: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def _stage_polygons(idx: CountryIndex, la: np.ndarray, lo: np.ndarray) -> _Labels:
    """Rule 1, point in polygon (the grid: a lookup, or the exact test near an edge)."""
    gidx = idx.grid.locate(la, lo) if len(la) else np.zeros(0, dtype=np.int64)
    return _Labels(la, lo, gidx, np.where(gidx >= 0, 0, 4).astype(np.int8), np.zeros(len(la)))


def _stage_nearest(idx: CountryIndex, lab: _Labels, tolerance_km: float) -> None:
    """Rule 2, the nearest polygon within ``tolerance_km`` for points inside none."""
    out = np.flatnonzero(lab.polygon < 0)
    if not len(out):
        return
    lab.dist[out] = np.nan
    near = out[~_far_from_polygons(idx, lab.la[out], lab.lo[out], tolerance_km)]
    if len(near):
        ng, nd = _nearest_polygon(idx, lab.la[near], lab.lo[near])
        ok = (ng >= 0) & (nd <= tolerance_km)
        lab.polygon[near[ok]] = ng[ok]
        lab.method[near[ok]] = 1  # nearest
        lab.dist[near] = np.where(ok, nd, np.nan)


def _stage_places(
    idx: CountryIndex, lab: _Labels, found: tuple[np.ndarray, np.ndarray] | None = None
) -> None:
    """The nearest GeoNames place of every point (place, admin-1; the evidence of rules 3 and 4);
    ``found``: the ``nearest_place_index`` answer when already computed."""
    has = lab.polygon >= 0
    lab.iso = np.zeros(len(lab.la), dtype=np.int64)
    lab.iso[has] = idx.coding.polygon[lab.polygon[has]]
    lab.country = np.where(has, lab.polygon + 1, 0)
    if found is not None:
        lab.place_row, lab.place_km = found
    elif len(lab.la):
        lab.place_row, lab.place_km = nearest_place_index(lab.la, lab.lo)
    lab.place_iso = idx.coding.place[lab.place_row]


#: From this many points on, the place search runs in a thread beside rules 1 and 2 (both release the
#: GIL: k-d tree queries and shapely's vectorised functions).
_CONCURRENT_FROM = 20_000


def _stage_border(idx: CountryIndex, lab: _Labels, border_km: float, place_km: float) -> None:
    """Rule 3: within ``border_km`` of another country's polygon, the nearest place's country decides."""
    iso, p_iso, la, lo = lab.iso, lab.place_iso, lab.la, lab.lo
    if not border_km > 0 or not len(la):
        return
    # only points whose nearest place lies in another country can change: query those alone
    sel = np.flatnonzero((p_iso != iso) & (p_iso != 0) & (lab.place_km <= place_km))
    deg = border_km / 111.0 / np.maximum(np.cos(np.radians(la[sel])), 0.02)
    poly_code = idx.coding.polygon

    def kept(bq: np.ndarray, bg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cand, bp = poly_code[bg], sel[bq]
        keep = (cand != iso[bp]) & (cand == p_iso[bp]) & (cand != 0)
        return bq[keep], bg[keep]

    bq, bg = kept(*idx.edges.within(lo[sel], la[sel], deg))
    twice = np.unique(bq[1:][bq[1:] == bq[:-1]])
    if len(twice):
        # two polygons of that country in reach (India and Jammu-Kashmir): the last one found wins,
        # so take them in the order the polygons' tree gives
        import shapely

        solo = ~np.isin(bq, twice)
        pts = shapely.points(lo[sel[twice]], la[sel[twice]])
        rq, rg = idx.tree.query(pts, predicate="dwithin", distance=deg[twice])
        rq, rg = kept(twice[rq], rg)
        bq, bg = np.r_[bq[solo], rq], np.r_[bg[solo], rg]
    if not len(bq):
        return
    bp = sel[bq]
    end = idx.edges.nearest_point(lo[bp], la[bp], bg, deg[bq])
    d = haversine_km(la[bp], lo[bp], end[:, 1], end[:, 0])
    ok = d <= border_km
    bp, bg, d = bp[ok], bg[ok], d[ok]
    iso[bp] = poly_code[bg]
    lab.country[bp] = bg + 1
    lab.method[bp] = 2  # border
    lab.dist[bp] = d


def _stage_missing(idx: CountryIndex, lab: _Labels, place_km: float) -> None:
    """Rule 4: countries absent from the polygon file (Kosovo) come from the nearest place."""
    cd = idx.coding
    missing = np.flatnonzero(cd.place_missing[lab.place_row] & (lab.place_km <= place_km))
    if not len(missing):
        return
    codes = lab.place_iso[missing]
    lab.iso[missing] = codes
    lab.country[missing] = 1 + len(idx.name) + codes  # the name of the code (country_names)
    lab.method[missing] = 3  # place
    lab.dist[missing] = np.nan


def _label(
    lat: Any,
    lon: Any,
    *,
    tolerance_km: float = TOLERANCE_KM,
    border_km: float = BORDER_KM,
    place_km: float = PLACE_KM,
    index: CountryIndex | None = None,
) -> tuple[CountryIndex, _Labels]:
    """The four rules on every point (see :func:`reverse_geocode`)."""
    tolerance_km = check_km("tolerance_km", tolerance_km)
    border_km = check_km("border_km", border_km)
    place_km = check_km("place_km", place_km)
    la, lo = as_coords(lat, lon)
    idx = index or country_index()
    if len(la) >= _CONCURRENT_FROM:
        with ThreadPoolExecutor(1) as pool:
            places = pool.submit(nearest_place_index, la, lo)
            lab = _stage_polygons(idx, la, lo)
            _stage_nearest(idx, lab, tolerance_km)
            _stage_places(idx, lab, places.result())
    else:
        lab = _stage_polygons(idx, la, lo)
        _stage_nearest(idx, lab, tolerance_km)
        _stage_places(idx, lab)
    _stage_border(idx, lab, border_km, place_km)
    _stage_missing(idx, lab, place_km)
    return idx, lab


def _text_columns(idx: CountryIndex, lab: _Labels) -> dict[str, np.ndarray]:
    """The text columns of :func:`geocode` as positions into the tables of ``idx._arrow_tables``."""
    n_places = _places().size
    return {
        "iso3": lab.iso,
        "sovereign_iso3": lab.iso,
        "country": lab.country,
        "method": lab.method,
        "place": lab.place_row,
        "admin1": np.where(lab.place_iso == lab.iso, lab.place_row, n_places),  # "" in another country
        "region": lab.iso,
        "subregion": lab.iso,
    }


def _frame(idx: CountryIndex, lab: _Labels) -> pd.DataFrame:
    import pandas as pd

    table = _places().table
    cd = idx.coding
    return pd.DataFrame(
        {
            "iso3": cd.codes[lab.iso],
            "sovereign_iso3": cd.sovereign[lab.iso],
            "country": idx.country_names[lab.country],
            "method": METHODS[lab.method],
            "distance_km": lab.dist,
            "place": table["name"].to_numpy(dtype=object)[lab.place_row],
            "admin1": np.where(
                lab.place_iso == lab.iso, table["admin1"].to_numpy(dtype=object)[lab.place_row], ""
            ),
            "place_km": lab.place_km,
        },
        copy=False,  # fresh arrays: no need to copy them into one block (half a second per million)
    )


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

    Point in polygon goes through the index's cell grid (:class:`~geoclip_utils.geo.grid.PolygonGrid`:
    a lookup for points far from any edge, the exact prepared-polygon test near one); distances to
    polygons are measured on their edges cut into short pieces
    (:class:`~geoclip_utils.geo.grid.EdgeIndex`), and only for points some edge comes near. Every
    answer is the one the plain per-point shapely queries give (a test compares them on borders,
    coasts and the antimeridian).

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
    ConfigError
        A distance that is negative or not finite.

    Example
    -------
    >>> reverse_geocode([48.8566], [2.3522])["iso3"].tolist()  # doctest: +SKIP
    ['FRA']
    """
    return _frame(
        *_label(lat, lon, tolerance_km=tolerance_km, border_km=border_km, place_km=place_km, index=index)
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

    Raises
    ------
    InputError, ConfigError
        As :func:`reverse_geocode`.

    Example
    -------
    >>> geocode([48.8566], [2.3522])[["iso3", "region", "climate"]].values.tolist()  # doctest: +SKIP
    [['FRA', 'Europe', 'Cfb']]
    """
    idx, lab = _label(lat, lon, **kwargs)
    rev = _frame(idx, lab)
    # the UN M49 region of each code was computed once (un_regions of the code)
    rev["region"] = idx.coding.region[lab.iso]
    rev["subregion"] = idx.coding.subregion[lab.iso]
    rev["climate"] = climate(lat, lon)
    return rev


def geocode_arrow(lat: Any, lon: Any, **kwargs: Any) -> dict[str, Any]:
    """:func:`geocode`'s columns (the same names, order and values) as pyarrow arrays, for writers of large
    files (``geoclip geocode``): the text columns are dictionary arrays over the index's tables (codes,
    names, places), so no Python string is made per point.

    Parameters
    ----------
    lat, lon, **kwargs : as :func:`geocode`.

    Returns
    -------
    Column name -> ``pyarrow.Array`` (``distance_km`` and ``place_km`` float64 with NaN as in the frame;
    ``climate`` a string array; the others ``DictionaryArray`` of strings).

    Raises
    ------
    InputError, ConfigError
        As :func:`reverse_geocode`.

    Example
    -------
    >>> geocode_arrow([48.8566], [2.3522])["iso3"].to_pylist()  # doctest: +SKIP
    ['FRA']
    """
    import pyarrow as pa

    idx, lab = _label(lat, lon, **kwargs)
    tables = idx._arrow_tables
    text = {
        k: pa.DictionaryArray.from_arrays(pa.array(v, type=pa.int32()), tables[k])
        for k, v in _text_columns(idx, lab).items()
    }
    cols = {
        **{k: text[k] for k in ("iso3", "sovereign_iso3", "country", "method")},
        "distance_km": pa.array(lab.dist),
        **{k: text[k] for k in ("place", "admin1")},
        "place_km": pa.array(lab.place_km),
        **{k: text[k] for k in ("region", "subregion")},
        "climate": pa.array(climate(lat, lon), type=pa.string()),
    }
    return cols
