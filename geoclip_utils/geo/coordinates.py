"""Zero-shot coordinates: a gazetteer label set of cities, and coordinates from a model's answers over it.

:func:`city_labels` turns the gazetteer (:func:`geoclip_utils.geo.gazetteer.gazetteer`) into a label set
(cities above a population threshold); :func:`predict_coordinates` takes the most probable city, and a
probability-weighted refinement (the spherical mean of the top cities, weighted by their renormalised
probabilities); :func:`hierarchical_coordinates` goes country → city with two rules, ``always`` (always
descend to the best city of the best country) and ``if_better`` (descend only when the best city prompt is
closer to the image than the country prompt, else answer the country's point: the population-weighted
spherical mean of its cities; the OSV-5M zero-shot baseline's rule).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..names import country_converter
from .gazetteer import gazetteer, spherical_mean

__all__ = ["city_labels", "predict_coordinates", "hierarchical_coordinates"]


def city_labels(min_population: int = 1_000_000, max_cities: int | None = None) -> pd.DataFrame:
    """A zero-shot label set of cities: the gazetteer's cities above a population threshold.

    Parameters
    ----------
    min_population : at least 15,000.
    max_cities : keep only the most populous ones (``None``: all).

    Returns
    -------
    DataFrame with ``label`` (the GeoNames id as text: unique), ``text`` (the words of the prompt,
    ``"Paris, France"``), ``name``, ``country`` (short name), ``cc``, ``lat``, ``lon``, ``population``.

    Example
    -------
    >>> city_labels(5_000_000, max_cities=3)["text"].tolist()  # doctest: +SKIP
    ['Shanghai, China', 'Beijing, China', 'Shenzhen, China']
    """
    g = gazetteer(min_population)
    if max_cities is not None:
        if not isinstance(max_cities, (int, np.integer)) or max_cities < 1:
            raise ConfigError(f"max_cities={max_cities!r} must be a positive integer or None")
        g = g.head(max_cities)
    codes = sorted(g["cc"].unique())
    names = country_converter().convert(codes, src="ISO2", to="name_short", not_found=None)
    names = names if isinstance(names, list) else [names]
    country = {c: (n if isinstance(n, str) else c) for c, n in zip(codes, names, strict=True)}
    return pd.DataFrame(
        {
            "label": g["geonameid"].astype(str),
            "text": [f"{n}, {country[c]}" for n, c in zip(g["name"], g["cc"], strict=True)],
            "name": g["name"],
            "country": g["cc"].map(country),
            "cc": g["cc"],
            "lat": g["lat"],
            "lon": g["lon"],
            "population": g["population"],
        }
    ).reset_index(drop=True)


def predict_coordinates(probs: np.ndarray, cities: pd.DataFrame, top_k: int = 5) -> pd.DataFrame:
    """Coordinates from city probabilities: the top city, and the probability-weighted refinement.

    Parameters
    ----------
    probs : (N, C) probabilities over the rows of ``cities`` (e.g. :func:`geoclip_utils.engine.probabilities`).
    cities : :func:`city_labels`.
    top_k : how many of the most probable cities the refinement averages (weights = their probabilities,
        renormalised).

    Returns
    -------
    DataFrame with ``top_city`` (label text), ``top_lat``, ``top_lon``, ``refined_lat``, ``refined_lon``.

    Example
    -------
    >>> c = pd.DataFrame({"text": ["A", "B"], "lat": [0.0, 0.0], "lon": [0.0, 10.0]})
    >>> predict_coordinates(np.array([[0.5, 0.5]]), c, top_k=2)[["top_city", "refined_lon"]].round(6).values.tolist()
    [['A', 5.0]]
    """
    p = np.asarray(probs, float)
    if p.ndim != 2 or p.shape[1] != len(cities):
        raise ConfigError(f"probabilities of shape {p.shape} do not match {len(cities)} cities")
    k = max(1, min(int(top_k), p.shape[1]))
    order = np.argsort(-p, axis=1, kind="stable")[:, :k]
    w = np.take_along_axis(p, order, axis=1)
    w = w / np.maximum(w.sum(axis=1, keepdims=True), 1e-300)
    lat, lon = cities["lat"].to_numpy(float), cities["lon"].to_numpy(float)
    rlat, rlon = spherical_mean(lat[order], lon[order], w)
    top = order[:, 0]
    return pd.DataFrame(
        {
            "top_city": cities["text"].to_numpy()[top],
            "top_lat": lat[top],
            "top_lon": lon[top],
            "refined_lat": rlat,
            "refined_lon": rlon,
        }
    )


def hierarchical_coordinates(
    image_features: np.ndarray,
    country_features: np.ndarray,
    countries: Sequence[str],
    city_features: np.ndarray,
    cities: pd.DataFrame,
) -> pd.DataFrame:
    """Country → city zero-shot coordinates under both rules.

    Parameters
    ----------
    image_features : (N, D) L2-normalised.
    country_features : (K, D), one prompt embedding per country of ``countries`` (ISO-2 codes, the
        ``cc`` of ``cities``).
    city_features : (C, D), one per row of ``cities`` (:func:`city_labels`).

    Returns
    -------
    DataFrame with ``country`` (best country), ``city`` (its best city), ``descended`` (the city prompt
    beat the country prompt), ``always_lat``/``always_lon`` (always descend), ``if_better_lat``/
    ``if_better_lon`` (descend only when the city beats the country, else the country's point: the
    population-weighted spherical mean of its cities).

    Raises
    ------
    ConfigError
        Shapes that do not match, or a country without a city.
    """
    x = np.asarray(image_features, np.float32)
    cf = np.asarray(country_features, np.float32)
    tf = np.asarray(city_features, np.float32)
    countries = list(countries)
    if cf.shape[0] != len(countries) or tf.shape[0] != len(cities):
        raise ConfigError("country/city features do not match the country/city lists")
    cc = cities["cc"].to_numpy()
    members = {c: np.flatnonzero(cc == c) for c in countries}
    empty = [c for c, m in members.items() if not len(m)]
    if empty:
        raise ConfigError(f"countries without a city in the label set: {empty[:5]}")
    lat, lon = cities["lat"].to_numpy(float), cities["lon"].to_numpy(float)
    pop = cities["population"].to_numpy(float)
    centre = {}
    for c, m in members.items():
        a, b = spherical_mean(lat[m][None], lon[m][None], pop[m][None])
        centre[c] = (float(a[0]), float(b[0]))
    s_country = x @ cf.T
    s_city = x @ tf.T
    best_c = s_country.argmax(axis=1)
    rows = []
    for i, j in enumerate(best_c):
        c = countries[j]
        m = members[c]
        k = m[int(np.argmax(s_city[i, m]))]
        descend = bool(s_city[i, k] > s_country[i, j])
        rows.append(
            (
                c,
                cities["text"].iat[k],
                descend,
                lat[k],
                lon[k],
                lat[k] if descend else centre[c][0],
                lon[k] if descend else centre[c][1],
            )
        )
    return pd.DataFrame(
        rows,
        columns=[
            "country",
            "city",
            "descended",
            "always_lat",
            "always_lon",
            "if_better_lat",
            "if_better_lon",
        ],
    )
