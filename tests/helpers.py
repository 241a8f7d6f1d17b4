"""Small hand-made inputs that several test files share (imported as ``helpers``: pytest puts tests/ on the
path)."""

from __future__ import annotations

import pandas as pd

from geoclip_utils import geo
from geoclip_utils.evaluate import map_guess
from geoclip_utils.geo import matching
from geoclip_utils.schema import make_predictions

#: three photos in each of three countries (near Paris, Berlin, Madrid), ids in sorted order
PHOTOS = pd.DataFrame(
    {
        "image_id": [f"p{i}" for i in range(9)],
        "label": ["France"] * 3 + ["Germany"] * 3 + ["Spain"] * 3,
        "iso3": ["FRA"] * 3 + ["DEU"] * 3 + ["ESP"] * 3,
        "lat": [48.9, 48.8, 45.7, 52.5, 52.4, 48.1, 40.4, 40.5, 41.4],
        "lon": [2.3, 2.4, 4.8, 13.4, 13.3, 11.6, -3.7, -3.6, 2.2],
    }
)


def toy_results(top, probs):
    return make_predictions(
        PHOTOS["image_id"], PHOTOS["label"], top, probs, experiment="toy", source="local"
    ).sort_values("image_id", ignore_index=True)


def toy_guesses(top=None, probs=None):
    top = top or [(c, "Spain") if c != "Spain" else ("Spain", "France") for c in PHOTOS["label"]]
    probs = probs or [(0.7, 0.3)] * 9
    return map_guess.make_guesses(toy_results(top, probs), PHOTOS, experiment="toy")


def small_geoestimation_table():
    # two partitionings, 6 images; errors chosen by hand
    ids = [f"img{i}" for i in range(6)]
    d_a = [0.5, 20.0, 150.0, 600.0, 2000.0, 9000.0]
    d_b = [5.0, 5.0, 5.0, 5000.0, 5000.0, 5000.0]
    rows = []
    for part, ds, cc in [("coarse", d_a, [1, 1, 1, 0, 0, 0]), ("fine", d_b, [1, 1, 1, 1, 0, 0])]:
        for i, d, c in zip(ids, ds, cc, strict=True):
            rows.append({"image_id": i, "partitioning": part, "error_km": d, "country_correct": bool(c)})
    df = pd.DataFrame(rows)
    df["geoscore"] = geo.geoscore(df["error_km"])
    return df


def places_sample():
    df = pd.DataFrame(
        {
            "lat": [1.0, 3.0, 10.0, 20.0, 30.0, 5.0],
            "lon": [2.0, 4.0, 10.0, 20.0, 30.0, 6.0],
            "name": ["Springfield", "Springfield", "Córdoba", "Córdoba", "Town", "Ville"],
            "admin1": ["Ohio", "Illinois", "X", "Córdoba", "Ohio", "Rhone-Alpes"],
            "admin2": ["", "", "", "", "", ""],
            "cc": ["US", "US", "AR", "AR", "US", "FR"],
        }
    )
    df["key"] = [matching.place_keys(x)[0] for x in df["name"]]
    return df


def alternates(rows):
    """A table of GeoNames alternate names (the columns of :func:`geoclip_utils.geo.matching.alternate_names_table`)."""
    cols = ["key", "geonameid", "name", "admin1", "cc", "lat", "lon", "population"]
    return pd.DataFrame(rows, columns=cols).sort_values("population", ascending=False)


def _zstd(data: bytes) -> bytes:
    import pyarrow as pa

    out = pa.BufferOutputStream()
    with pa.CompressedOutputStream(out, "zstd") as fh:
        fh.write(data)
    return out.getvalue().to_pybytes()


def _gzip(data: bytes) -> bytes:
    import gzip

    return gzip.compress(data, mtime=0)  # the same bytes on every run (and in every pytest-xdist worker)


def _bz2(data: bytes) -> bytes:
    import bz2

    return bz2.compress(data)


def _xz(data: bytes) -> bytes:
    import lzma

    return lzma.compress(data)


#: Every compression the readers decode, as a function of the bytes.
CODECS = {"gzip": _gzip, "bz2": _bz2, "xz": _xz, "zstd": _zstd}
