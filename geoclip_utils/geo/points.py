"""Reading points to geocode: a CSV with id/lat/lon columns, or Mapillary-style JSON."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError

__all__ = ["ID_NAMES", "LAT_NAMES", "LON_NAMES", "find_column", "read_points"]


def find_column(columns: Sequence[str], wanted: tuple[str, ...]) -> str | None:
    low = {str(c).strip().lower(): c for c in columns}
    for w in wanted:
        if w in low:
            return low[w]
    return None


ID_NAMES = ("id", "image_id", "img_id", "key")


LAT_NAMES = ("lat", "latitude")


LON_NAMES = ("lon", "lng", "long", "longitude")


def _check_points(df: pd.DataFrame, source: str, row_offset: int, row_word: str) -> pd.DataFrame:
    for col in ("lat", "lon"):
        num = pd.to_numeric(df[col], errors="coerce")
        bad = num.isna() | ~np.isfinite(num.to_numpy(dtype=float, na_value=np.nan))
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(
                f"{source}: {row_word} {_row_label(df, i, row_offset)}: {col} {df[col].iloc[i]!r} "
                "is not a number"
            )
        df[col] = num.astype(float)
    for col, lim in (("lat", 90), ("lon", 180)):
        bad = df[col].abs() > lim
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(
                f"{source}: {row_word} {_row_label(df, i, row_offset)}: {col} {df[col].iloc[i]} "
                f"out of range [-{lim}, {lim}]"
            )
    vc = df["id"].value_counts()
    dups = vc[vc > 1]
    if len(dups):
        raise InputError(
            f"{source}: {len(dups)} duplicate ids, e.g. {dups.index[0]!r} appears "
            f"{int(dups.iloc[0])} times; ids must be unique"
        )
    empty = df["id"] == ""
    if empty.any():
        i = int(np.flatnonzero(empty.to_numpy())[0])
        raise InputError(f"{source}: {row_word} {_row_label(df, i, row_offset)}: empty id")
    return df.reset_index(drop=True)


def _row_label(df: pd.DataFrame, i: int, offset: int) -> str:
    return str(i + offset) if offset >= 0 else repr(df["id"].iloc[i])


def read_points(path: str | os.PathLike) -> pd.DataFrame:
    """Read points to geocode from a CSV or a Mapillary-style JSON file.

    * CSV (any other extension): a header with an id column (``id``/``image_id``/``img_id``/``key``),
      a latitude (``lat``/``latitude``) and a longitude (``lon``/``lng``/``long``/``longitude``), names
      matched case-insensitively (the authors' ``IMG_ID,LAT,LON`` works; a ``.jpg`` suffix is kept).
    * JSON (``.json``): ``{id: {"lat": …, "lon": …, …}, …}`` (Mapillary ``train.json``) or a list of
      objects with id/lat/lon keys.

    Returns
    -------
    DataFrame with ``id`` (str), ``lat``, ``lon`` (float), in file order.

    Raises
    ------
    InputError
        Missing or empty file, missing columns/keys, unknown JSON shape, a non-numeric or out-of-range
        coordinate (naming the row — the CSV line number, or the JSON id — and the value), duplicate ids
        (with their count).
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    if p.stat().st_size == 0:
        raise InputError(f"{p}: the file is empty")
    if p.suffix.lower() == ".json":
        try:
            with open(p, encoding="utf-8") as fh:
                obj = json.load(fh)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{p}: not valid JSON ({exc})") from exc
        if isinstance(obj, dict):
            if not obj:
                raise InputError(f"{p}: the JSON object is empty (no points)")
            rows = []
            for k, v in obj.items():
                if not isinstance(v, dict):
                    raise InputError(
                        f"{p}: unknown JSON shape: entry {k!r} is {type(v).__name__}, expected an "
                        'object like {"lat": …, "lon": …}'
                    )
                la, lo = find_column(list(v), LAT_NAMES), find_column(list(v), LON_NAMES)
                if la is None or lo is None:
                    raise InputError(f"{p}: entry {k!r} has no lat/lon keys (has {sorted(v)[:6]})")
                rows.append((str(k), v[la], v[lo]))
            df = pd.DataFrame(rows, columns=["id", "lat", "lon"])
            return _check_points(df, str(p), -1, "entry")
        if isinstance(obj, list):
            if not obj:
                raise InputError(f"{p}: the JSON list is empty (no points)")
            rows = []
            for i, v in enumerate(obj):
                if not isinstance(v, dict):
                    raise InputError(
                        f"{p}: unknown JSON shape: item {i} is {type(v).__name__}, expected an object"
                    )
                keys = list(v)
                ci, la, lo = (find_column(keys, w) for w in (ID_NAMES, LAT_NAMES, LON_NAMES))
                if ci is None or la is None or lo is None:
                    raise InputError(f"{p}: item {i} lacks an id, lat or lon key (has {sorted(keys)[:6]})")
                rows.append((str(v[ci]), v[la], v[lo]))
            return _check_points(pd.DataFrame(rows, columns=["id", "lat", "lon"]), str(p), 0, "item")
        raise InputError(
            f"{p}: unknown JSON shape ({type(obj).__name__}); expected an object "
            '{id: {"lat": …, "lon": …}} or a list of objects with id, lat, lon'
        )
    try:
        raw = pd.read_csv(p, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"{p}: the file is empty") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: not a readable CSV ({exc})") from exc
    cols = [str(c) for c in raw.columns]
    found = {k: find_column(cols, w) for k, w in (("id", ID_NAMES), ("lat", LAT_NAMES), ("lon", LON_NAMES))}
    missing = [k for k, v in found.items() if v is None]
    if missing:
        raise InputError(
            f"{p}: missing column(s) {missing}; the header has {cols}. Expected id, lat, lon "
            "(case-insensitive; also image_id/img_id, latitude, longitude/lng)"
        )
    if raw.empty:
        raise InputError(f"{p}: the file has a header but no rows")
    df = pd.DataFrame({k: raw[v].str.strip() for k, v in found.items()})
    return _check_points(df, str(p), 2, "row")
