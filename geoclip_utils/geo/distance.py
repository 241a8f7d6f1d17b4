"""Distances on the sphere: great-circle km, GeoScore, unit vectors, coordinate checks.

The one definition used everywhere in the book (the OSV-5M one, as its code computes it): haversine on a
sphere of radius 6371 km (``metrics/utils.py``), a photo within ``t`` km when ``d < t`` (strict:
``metrics/distance_based.py`` counts ``haversine_distance < acc``), GeoScore ``5000 * exp(-d / 1492.7)``.
Papers differ (GeoCLIP's released code uses the WGS-84 ellipsoid, PIGEON's a 6378.137 km sphere and
``d < t``); ``resources/anchors.csv`` names the definition of every published number the book shows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ConfigError, InputError

__all__ = [
    "EARTH_RADIUS_KM",
    "DISTANCE_DEFINITION",
    "haversine_km",
    "geoscore",
    "unit_vectors",
    "chord",
    "as_coords",
    "check_km",
]


#: Earth radius of the book's sphere, km: OSV-5M's, 8.8 m below the IUGG mean radius (6371.0088 km).
EARTH_RADIUS_KM = 6371.0
#: The book's distance definition, in words (printed with every kilometre number; the threshold rule is
#: :func:`geoclip_utils.stats.distance.within`).
DISTANCE_DEFINITION = (
    "haversine great-circle distance, sphere of radius 6371 km, within t km when d < t, "
    "GeoScore 5000*exp(-d/1492.7)"
)


def haversine_km(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> np.ndarray:
    """Great-circle distance in km between points given in degrees (numpy broadcasting).

    Parameters
    ----------
    lat1, lon1, lat2, lon2 : scalars or arrays of degrees; broadcast against each other.

    Returns
    -------
    ndarray of float64 distances in km (a 0-d array for scalar input).

    Example
    -------
    >>> round(float(haversine_km(48.8566, 2.3522, 51.5074, -0.1278)))
    344
    """
    p1, l1, p2, l2 = (np.radians(np.asarray(x, dtype=np.float64)) for x in (lat1, lon1, lat2, lon2))
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin((l2 - l1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def geoscore(d_km: Any) -> np.ndarray:
    """GeoGuessr-style score of a guess ``d_km`` km away: ``5000 * exp(-d / 1492.7)``.

    Example
    -------
    >>> float(geoscore(0.0))
    5000.0
    """
    return 5000.0 * np.exp(-np.asarray(d_km, dtype=np.float64) / 1492.7)


def unit_vectors(lat: Any, lon: Any) -> np.ndarray:
    """3-D unit vectors (n × 3) of points in degrees; chord distance ``2 sin(d / 2R)`` is monotone in d."""
    la = np.radians(np.asarray(lat, dtype=np.float64))
    lo = np.radians(np.asarray(lon, dtype=np.float64))
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def chord(d_km: float) -> float:
    return 2.0 * np.sin(min(d_km / EARTH_RADIUS_KM, np.pi) / 2.0)


def as_coords(lat: Any, lon: Any) -> tuple[np.ndarray, np.ndarray]:
    la = np.atleast_1d(np.asarray(lat, dtype=np.float64))
    lo = np.atleast_1d(np.asarray(lon, dtype=np.float64))
    if la.shape != lo.shape or la.ndim != 1:
        raise InputError(
            f"lat and lon must be 1-D arrays of the same length, got shapes {la.shape} and {lo.shape}"
        )
    bad = ~(np.isfinite(la) & np.isfinite(lo) & (np.abs(la) <= 90) & (np.abs(lo) <= 180))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{int(bad.sum())} coordinates out of range, first at position {i}: "
            f"lat={la[i]}, lon={lo[i]} (lat must be in [-90, 90], lon in [-180, 180])"
        )
    return la, lo


def check_km(name: str, value: Any, *, maximum: float = float("inf"), positive: bool = False) -> float:
    """``value`` as a float if it is a finite distance in km within ``[0, maximum]`` (``> 0`` when
    ``positive``).

    Raises
    ------
    ConfigError
        Naming the parameter, the value and the range allowed.

    Example
    -------
    >>> check_km("radius_km", 1)
    1.0
    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = float("nan")
    low_ok = v > 0 if positive else v >= 0
    if not (np.isfinite(v) and low_ok and v <= maximum):
        allowed = f"{'> 0' if positive else '>= 0'}" + (
            f" and <= {maximum:g}" if np.isfinite(maximum) else ""
        )
        raise ConfigError(f"{name} must be a finite number of km {allowed}, got {value!r}")
    return v
