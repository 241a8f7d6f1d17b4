"""Pins from country answers: where a player who answers with a country drops the pin on the map.

A classifier of countries (CLIP) names a country; GeoGuessr wants a point. The rules here turn an answer
into coordinates:

* **capital** (:func:`table_pins` of :func:`geoclip_utils.geo.gazetteer.capitals`): the capital GeoNames
  names for the country;
* **population centre** (:func:`table_pins` of :func:`geoclip_utils.geo.gazetteer.population_centres`):
  the population-weighted spherical mean of the country's GeoNames places of at least 15,000 people;
* **photo prior** (:func:`photo_prior` then :func:`photo_prior_pins`): the spherical geometric median
  (:func:`geometric_median`) of the *other* photos of the data set labelled with that country,
  leave-one-out, so a photo never informs its own pin. It uses the data set's own distribution: a player
  who knows where street photos of each country tend to be taken;
* **hedged** (:func:`hedged_pins`): among the pins of the classifier's top-k countries (under one of the
  rules above), the one with the highest expected GeoScore under the classifier's probabilities
  (:func:`expected_geoscores`), the photo's location taken to be the pin of the country it is in.

Distances are :func:`geoclip_utils.geo.haversine_km`, scores :func:`geoclip_utils.geo.geoscore`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import ConfigError
from .distance import EARTH_RADIUS_KM, geoscore, haversine_km, unit_vectors

__all__ = [
    "PIN_RULES",
    "geometric_median",
    "PhotoPrior",
    "photo_prior",
    "photo_prior_pins",
    "table_pins",
    "expected_geoscores",
    "hedged_pins",
]

#: The single-country pin rules, in the order the book shows them.
PIN_RULES: tuple[str, ...] = ("capital", "population_centre", "photo_prior")


def _to_latlon(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lat = np.degrees(np.arcsin(np.clip(v[..., 2], -1.0, 1.0)))
    lon = np.degrees(np.arctan2(v[..., 1], v[..., 0]))
    return lat, lon


def geometric_median(
    lat, lon, weights=None, *, tol_km: float = 1e-5, max_iter: int = 2000
) -> tuple[np.ndarray, np.ndarray]:
    """Spherical geometric median: the point on the sphere with the least weighted sum of great-circle
    distances to the given points, for one or several weightings of the same points at once.

    Weiszfeld's iteration on the sphere (each step a weighted mean of the unit directions towards the points,
    taken in the tangent plane at the current point and mapped back along a great circle), started from the
    spherical mean; each weighting stops when its step moves less than ``tol_km`` (so its answer does not
    depend on the other weightings of the call). A point at
    distance zero from the current estimate is held at a floor distance of 1 mm, so an estimate that lands on
    a point with more than half the weight stays there, which is that case's median.

    Parameters
    ----------
    lat, lon : (m,) degrees.
    weights : (m,) or (b, m) non-negative weights, each row with a positive sum (default: all ones).
    tol_km : convergence tolerance, km.
    max_iter : most iterations.

    Returns
    -------
    lat, lon : arrays of degrees, shape ``()`` for 1-D weights, ``(b,)`` for 2-D.

    Raises
    ------
    ConfigError
        No points, shapes that do not match, negative weights or a row of zero weight.

    Example
    -------
    >>> la, lo = geometric_median([10.0, 10.0, 10.0, 40.0], [0.0, 0.0, 0.0, 50.0])
    >>> round(float(la), 6), round(float(lo), 6)
    (10.0, 0.0)
    """
    la = np.atleast_1d(np.asarray(lat, float))
    lo = np.atleast_1d(np.asarray(lon, float))
    if la.ndim != 1 or la.shape != lo.shape or la.size == 0:
        raise ConfigError(f"geometric median needs 1-D lat and lon of one length, got {la.shape}, {lo.shape}")
    w = np.ones(la.size) if weights is None else np.asarray(weights, float)
    single = w.ndim == 1
    w = np.atleast_2d(w)
    if w.shape[1] != la.size:
        raise ConfigError(f"weights of shape {w.shape} do not match {la.size} points")
    if (w < 0).any() or not (w.sum(axis=1) > 0).all():
        raise ConfigError("weights must be non-negative with a positive sum in every row")
    v = unit_vectors(la, lo)  # (m, 3)
    x = w @ v
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    # points spread evenly round the globe have no mean: start at the heaviest point instead
    heavy = v[np.argmax(w, axis=1)]
    x = np.where(norm > 1e-9, x / np.maximum(norm, 1e-300), heavy)
    floor = 1e-6 / EARTH_RADIUS_KM  # 1 mm, in radians
    tol = tol_km / EARTH_RADIUS_KM
    active = np.arange(x.shape[0])
    for _ in range(max_iter):
        xa, wa = x[active], w[active]
        cos = np.clip(xa @ v.T, -1.0, 1.0)  # (b, m)
        theta = np.maximum(np.arccos(cos), floor)
        # unit tangent directions from x towards each point: (v - cos x) / sin(theta)
        tangent = v[None, :, :] - cos[..., None] * xa[:, None, :]
        sin = np.maximum(np.sqrt(np.maximum(1.0 - cos**2, 0.0)), floor)
        direction = tangent / sin[..., None]
        # Weiszfeld: sum_i (w_i / theta_i) Log_x(v_i) / sum_i (w_i / theta_i), with Log_x(v_i) = theta_i dir_i
        step = (wa[..., None] * direction).sum(axis=1) / (wa / theta).sum(axis=1, keepdims=True)  # (b, 3)
        size = np.linalg.norm(step, axis=1)
        safe = np.maximum(size, 1e-300)[:, None]
        xa = np.cos(size)[:, None] * xa + np.sin(size)[:, None] * step / safe
        x[active] = xa / np.linalg.norm(xa, axis=1, keepdims=True)
        # a row stops when its own step is small, so a row's answer does not depend on the other rows
        active = active[size >= tol]
        if active.size == 0:
            break
    out_lat, out_lon = _to_latlon(x)
    return (out_lat[0], out_lon[0]) if single else (out_lat, out_lon)


@dataclass(frozen=True)
class PhotoPrior:
    """The photo prior of a data set: where each country's photos are, leave-one-out.

    Attributes
    ----------
    centres : indexed by country code: ``lat``, ``lon`` (the geometric median of all the country's photos),
        ``n`` (its photos).
    loo_lat, loo_lon : per photo, the geometric median of the *other* photos of its own country (NaN for a
        photo alone in its country).
    groups : per photo, its country code.
    """

    centres: pd.DataFrame
    loo_lat: np.ndarray
    loo_lon: np.ndarray
    groups: np.ndarray


def photo_prior(lat, lon, groups: Sequence[str], **kw) -> PhotoPrior:
    """The geometric median of each country's photos, and of each country's photos but one, for every photo.

    Parameters
    ----------
    lat, lon : (n,) degrees of the photos.
    groups : (n,) the country (label) of each photo.
    **kw : passed to :func:`geometric_median`.

    Returns
    -------
    PhotoPrior

    Raises
    ------
    ConfigError
        Inputs of different lengths, or none.

    Example
    -------
    >>> p = photo_prior([0.0, 0.0, 0.0], [0.0, 2.0, 4.0], ["A", "A", "A"])
    >>> round(float(p.centres.loc["A", "lon"]), 6), [round(float(x), 6) for x in p.loo_lon]
    (2.0, [3.0, 2.0, 1.0])
    """
    la = np.asarray(lat, float)
    lo = np.asarray(lon, float)
    g = np.asarray(groups, dtype=object).astype(str)
    if not (la.shape == lo.shape == g.shape) or la.ndim != 1 or la.size == 0:
        raise ConfigError(
            f"photo prior needs lat, lon and groups of one length, got {la.shape}, {lo.shape}, {g.shape}"
        )
    loo_lat = np.full(la.size, np.nan)
    loo_lon = np.full(la.size, np.nan)
    rows = []
    for name in sorted(set(g)):
        idx = np.flatnonzero(g == name)
        m = idx.size
        # row 0: every photo; row 1 + j: every photo but the j-th
        w = np.ones((m + 1, m))
        w[np.arange(1, m + 1), np.arange(m)] = 0.0
        if m == 1:
            w = w[:1]
        mlat, mlon = geometric_median(la[idx], lo[idx], w, **kw)
        rows.append({"group": name, "lat": float(mlat[0]), "lon": float(mlon[0]), "n": int(m)})
        if m > 1:
            loo_lat[idx], loo_lon[idx] = mlat[1:], mlon[1:]
    centres = pd.DataFrame(rows).set_index("group")
    return PhotoPrior(centres, loo_lat, loo_lon, g)


def _answers(answers) -> np.ndarray:
    a = np.asarray(answers, dtype=object)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ConfigError(f"answers must be one row of country codes per photo, got shape {a.shape}")
    return a


def photo_prior_pins(prior: PhotoPrior, answers) -> tuple[np.ndarray, np.ndarray]:
    """Pins of the photo prior for each photo's answers: the geometric median of the answered country's
    photos, leaving out the photo itself when it is one of them.

    Parameters
    ----------
    prior : :func:`photo_prior` of the same photos, in the same order.
    answers : (n,) or (n, k) country codes (``""`` or ``None`` for no answer).

    Returns
    -------
    lat, lon : (n, k) degrees; NaN where the country has no other photo (or no answer).

    Example
    -------
    >>> p = photo_prior([0.0, 0.0, 10.0], [0.0, 2.0, 0.0], ["A", "A", "B"])
    >>> [round(float(x), 6) for x in photo_prior_pins(p, ["A", "A", "A"])[1][:, 0]]
    [2.0, 0.0, 1.0]
    """
    a = _answers(answers)
    if a.shape[0] != prior.groups.size:
        raise ConfigError(f"{a.shape[0]} rows of answers for a prior of {prior.groups.size} photos")
    keys = np.array([str(x) if x is not None else "" for x in a.ravel()], dtype=object).reshape(a.shape)
    c = prior.centres
    lat = c["lat"].reindex(keys.ravel()).to_numpy(float).reshape(a.shape)
    lon = c["lon"].reindex(keys.ravel()).to_numpy(float).reshape(a.shape)
    own = keys == prior.groups[:, None]
    rows, cols = np.nonzero(own)
    lat[rows, cols] = prior.loo_lat[rows]
    lon[rows, cols] = prior.loo_lon[rows]
    return lat, lon


def table_pins(table: pd.DataFrame | Mapping, answers) -> tuple[np.ndarray, np.ndarray]:
    """Pins from a table of one point per country (capitals, population centres).

    Parameters
    ----------
    table : indexed by country code with ``lat`` and ``lon``.
    answers : (n,) or (n, k) country codes.

    Returns
    -------
    lat, lon : (n, k) degrees; NaN for a country the table lacks.

    Example
    -------
    >>> t = pd.DataFrame({"lat": [1.0], "lon": [2.0]}, index=["A"])
    >>> table_pins(t, ["A", "B"])[0].tolist()
    [[1.0], [nan]]
    """
    t = pd.DataFrame(table)
    a = _answers(answers)
    keys = [str(x) if x is not None else "" for x in a.ravel()]
    lat = t["lat"].reindex(keys).to_numpy(float).reshape(a.shape)
    lon = t["lon"].reindex(keys).to_numpy(float).reshape(a.shape)
    return lat, lon


def expected_geoscores(lat, lon, probs) -> np.ndarray:
    """Expected GeoScore of each candidate pin when the photo is at candidate ``j``'s pin with probability
    ``probs[j]`` (probabilities renormalised over the candidates).

    Parameters
    ----------
    lat, lon : (n, k) candidate pins, degrees (finite).
    probs : (n, k) non-negative probabilities of the candidates (a repeated country simply adds up).

    Returns
    -------
    (n, k) expected GeoScores: ``E[j] = sum_c p_c * geoscore(d(pin_j, pin_c)) / sum_c p_c``.

    Raises
    ------
    ConfigError
        Shapes that differ, pins that are not finite, negative probabilities, a row summing to zero.

    Example
    -------
    >>> expected_geoscores([[0.0, 0.0]], [[0.0, 0.0]], [[0.3, 0.7]]).tolist()
    [[5000.0, 5000.0]]
    """
    la = np.atleast_2d(np.asarray(lat, float))
    lo = np.atleast_2d(np.asarray(lon, float))
    p = np.atleast_2d(np.asarray(probs, float))
    if not (la.shape == lo.shape == p.shape):
        raise ConfigError(f"pins {la.shape}/{lo.shape} and probabilities {p.shape} differ in shape")
    if not (np.isfinite(la).all() and np.isfinite(lo).all()):
        raise ConfigError("every candidate pin must be a finite point")
    total = p.sum(axis=1, keepdims=True)
    if (p < 0).any() or not np.isfinite(p).all() or (total <= 0).any():
        raise ConfigError("probabilities must be finite, non-negative and sum to more than 0 in every row")
    d = haversine_km(la[:, :, None], lo[:, :, None], la[:, None, :], lo[:, None, :])  # (n, j, c)
    return (geoscore(d) * (p / total)[:, None, :]).sum(axis=2)


def hedged_pins(lat, lon, probs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The candidate pin with the highest :func:`expected_geoscores` (the first of equals).

    Parameters
    ----------
    lat, lon, probs : (n, k), as :func:`expected_geoscores`.

    Returns
    -------
    lat, lon : (n,) the chosen pins; choice : (n,) the index of the chosen candidate.

    Example
    -------
    >>> la, lo, j = hedged_pins([[0.0, 0.0, 0.0]], [[0.0, 60.0, 61.0]], [[0.4, 0.3, 0.3]])
    >>> j.tolist()
    [1]
    """
    e = expected_geoscores(lat, lon, probs)
    j = np.argmax(e, axis=1)
    rows = np.arange(e.shape[0])
    la = np.atleast_2d(np.asarray(lat, float))
    lo = np.atleast_2d(np.asarray(lon, float))
    return la[rows, j], lo[rows, j], j
