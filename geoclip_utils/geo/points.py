"""Reading points to geocode: a CSV with id/lat/lon columns, or Mapillary-style JSON; whole or in chunks.

A CSV (plain or gzip/bz2/xz/zstd-compressed) is read by the one strict delimited reader
(:class:`geoclip_utils.io.delimited.Delimited`): columnar speed, one chunk at a time, every row checked
and every problem named by the line an editor shows it on. A JSON file is read whole and checked by the
same value rules (numbers in decimal notation, not booleans; no key twice). :func:`iter_points` yields
chunks (bounded memory for files of millions of rows); :func:`read_points` returns the whole table.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputError
from ..io.delimited import (
    CHUNK_ROWS,
    ID_NAMES,
    LAT,
    LAT_NAMES,
    LON,
    LON_NAMES,
    BadValue,
    Column,
    Delimited,
    as_text,
    check_values,
    duplicate_error,
    id_column,
    values_frame,
)
from ..io.sources import inner_name, open_input

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CHUNK_ROWS",
    "ID_NAMES",
    "LAT_NAMES",
    "LON_NAMES",
    "PointChunk",
    "find_column",
    "iter_points",
    "read_points",
]

_HEADER_HINT = "Expected id, lat, lon (any case; also image_id/img_id/key, latitude, longitude/lng/long)"


def find_column(
    columns: Sequence[str], wanted: tuple[str, ...], where: str = "", meaning: str = "value"
) -> str | None:
    """The one of ``columns`` named like ``wanted`` (lower case), matched case-insensitively and ignoring
    surrounding spaces; ``None`` when absent.

    Raises
    ------
    InputError
        Two of ``columns`` match (``lat`` and ``LAT``, ``lat`` and ``latitude``), naming both.
    """
    hits = [c for c in columns if str(c).strip().lower() in wanted]
    if len(hits) > 1:
        shown = " and ".join(repr(h) for h in hits)
        raise InputError(f"{where}: the keys {shown} both name the {meaning}; keep one")
    return hits[0] if hits else None


@dataclass
class PointChunk:
    """One chunk of points: ``columns`` (``id`` and any extra columns asked for as pyarrow string arrays,
    ``lat``/``lon`` as float64 numpy arrays, in file order), ``done`` and ``total`` (progress: bytes of a
    CSV read and its size, ``None`` when compressed; entries of a JSON file). Fast writers take the
    arrays (``ids``, ``lat``, ``lon``); :attr:`points` is the same chunk as a pandas DataFrame, made when
    first asked for (pandas is not even imported until then)."""

    columns: dict[str, Any]
    done: int
    total: int | None

    @property
    def ids(self) -> Any:
        """The ids (a pyarrow string array)."""
        return self.columns["id"]

    @property
    def lat(self) -> np.ndarray:
        return self.columns["lat"]

    @property
    def lon(self) -> np.ndarray:
        return self.columns["lon"]

    def __len__(self) -> int:
        return len(self.columns["lat"])

    @functools.cached_property
    def points(self) -> pd.DataFrame:
        """``id``, ``lat``, ``lon`` and the extra columns; text as Python strings."""
        return values_frame(self.columns)


def _columns(extra: Sequence[str]) -> list[Column]:
    return [
        id_column(),
        LAT,
        LON,
        *(Column(e, (e.strip().lower(),), "text", label=e, blank_ok=True) for e in extra),
    ]


def _iter_csv(p: Path, chunk_rows: int, extra: Sequence[str]) -> Iterator[PointChunk]:
    reader = Delimited(open_input(p))
    layout = reader.layout(_columns(extra), hints=dict.fromkeys(("id", "lat", "lon"), _HEADER_HINT))
    names = ["id", "lat", "lon", *extra]
    for chunk in reader.chunks(layout, chunk_rows):
        yield PointChunk({k: chunk.values[k] for k in names}, chunk.done, chunk.total)


def _json_pairs(p: Path):
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in pairs:
            if k in out:
                raise InputError(
                    f"{p}: the key {k!r} appears twice in one JSON object (the second would replace the "
                    "first); keep one"
                )
            out[k] = v
        return out

    return hook


def _json_frame(p: Path, extra: Sequence[str]) -> tuple[dict[str, list[str]], str, list[Any]]:
    src = open_input(p)
    try:
        with src.open() as fh:
            obj = json.load(fh, object_pairs_hook=_json_pairs(p))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: not valid JSON ({exc})") from exc
    cols: dict[str, list[str]] = {k: [] for k in ["id", "lat", "lon", *extra]}

    def add(where: str, ident: Any, entry: dict) -> None:
        keys = list(entry)
        la = find_column(keys, LAT_NAMES, f"{p}: {where}", "latitude")
        lo = find_column(keys, LON_NAMES, f"{p}: {where}", "longitude")
        if la is None or lo is None:
            raise InputError(f"{p}: {where} has no lat/lon keys (has {sorted(keys)[:6]})")
        missing = [e for e in extra if e not in entry]
        if missing:
            raise InputError(f"{p}: {where} has no key {missing[0]!r} (has {sorted(keys)[:6]})")
        for k, v in (("id", ident), ("lat", entry[la]), ("lon", entry[lo]), *((e, entry[e]) for e in extra)):
            cols[k].append(as_text(v))

    if isinstance(obj, dict):
        if not obj:
            raise InputError(f"{p}: the JSON object is empty (no points)")
        for k, v in obj.items():
            if not isinstance(v, dict):
                raise InputError(
                    f"{p}: unknown JSON shape: entry {k!r} is {type(v).__name__}, expected an "
                    'object like {"lat": …, "lon": …}'
                )
            add(f"entry {k!r}", k, v)
        return cols, "entry", list(obj)
    if isinstance(obj, list):
        if not obj:
            raise InputError(f"{p}: the JSON list is empty (no points)")
        for i, v in enumerate(obj):
            if not isinstance(v, dict):
                raise InputError(
                    f"{p}: unknown JSON shape: item {i} is {type(v).__name__}, expected an object"
                )
            ci = find_column(list(v), ID_NAMES, f"{p}: item {i}", "id")
            if ci is None:
                raise InputError(f"{p}: item {i} lacks an id, lat or lon key (has {sorted(v)[:6]})")
            add(f"item {i}", v[ci], v)
        return cols, "item", list(range(len(obj)))
    raise InputError(
        f"{p}: unknown JSON shape ({type(obj).__name__}); expected an object "
        '{id: {"lat": …, "lon": …}} or a list of objects with id, lat, lon'
    )


def _iter_json(p: Path, chunk_rows: int, extra: Sequence[str]) -> Iterator[PointChunk]:
    cols, kind, labels = _json_frame(p, extra)
    try:
        values = check_values(cols, _columns(extra))
    except BadValue as bad:
        label = labels[bad.row]
        where = f"{kind} {label!r}" if kind == "entry" else f"{kind} {label}"
        sep = " " if bad.blank else ": "
        raise InputError(f"{p}: {where}{sep}{bad.message}") from None
    ids = values["id"].to_pylist()
    if len(set(ids)) < len(ids):
        seen: dict[str, list[Any]] = {}
        for i, lab in zip(ids, labels, strict=True):
            seen.setdefault(i, []).append(lab)
        err = duplicate_error(str(p), "id", seen, kind)
        if err is not None:
            raise err
    cols = {k: values[k] for k in ("id", "lat", "lon", *extra)}
    n = len(ids)
    for s in range(0, n, chunk_rows):
        yield PointChunk({k: v[s : s + chunk_rows] for k, v in cols.items()}, min(s + chunk_rows, n), n)


def _is_json(p: Path) -> bool:
    return inner_name(p).endswith(".json")


def iter_points(
    path: str | os.PathLike, *, chunk_rows: int = CHUNK_ROWS, extra: Sequence[str] = ()
) -> Iterator[PointChunk]:
    """Read points in chunks of ``chunk_rows`` rows (see :func:`read_points` for the formats).

    Parameters
    ----------
    path : a CSV (any name but ``*.json``), or a JSON file; either may be gzip/bz2/xz/zstd-compressed.
    chunk_rows : rows per chunk.
    extra : more columns (CSV, case-insensitive) or keys (JSON) to return as text, e.g. a group column.

    Returns
    -------
    An iterator of :class:`PointChunk`; duplicate ids are reported after the last chunk (writers keep
    their output in a temporary file until the iterator is exhausted).

    Raises
    ------
    InputError
        As :func:`read_points`, naming the file, the line (CSV, as an editor counts it) or entry (JSON)
        and the value.

    Example
    -------
    >>> for chunk in iter_points("points.csv", chunk_rows=50_000):  # doctest: +SKIP
    ...     print(len(chunk.points), chunk.done, chunk.total)
    """
    p = Path(path)
    yield from (_iter_json if _is_json(p) else _iter_csv)(p, chunk_rows, extra)


def read_points(path: str | os.PathLike) -> pd.DataFrame:
    """Read points to geocode from a CSV or a Mapillary-style JSON file.

    * CSV (any name but ``*.json``): a header with an id column (``id``/``image_id``/``img_id``/``key``),
      a latitude (``lat``/``latitude``) and a longitude (``lon``/``lng``/``long``/``longitude``), names
      matched case-insensitively (the authors' ``IMG_ID,LAT,LON`` works; a ``.jpg`` suffix is kept); two
      columns of the same meaning are refused; comma-separated, every row with as many fields as the
      header (blank lines are skipped); numbers in decimal notation.
    * JSON (``*.json``): ``{id: {"lat": …, "lon": …}, …}`` (Mapillary ``train.json``) or a list of
      objects with id/lat/lon keys; numbers as JSON numbers or decimal text, not booleans.

    Either may be compressed (gzip, bz2, xz, zstd: recognised from the bytes).

    Parameters
    ----------
    path : the file.

    Returns
    -------
    DataFrame with ``id`` (str), ``lat``, ``lon`` (float), in file order.

    Raises
    ------
    InputError
        Missing, empty or binary file, another separator than the comma, a row with more or fewer fields
        than the header, missing or ambiguous columns/keys, a key twice in a JSON object, unknown JSON
        shape, a coordinate that is not a finite number in decimal notation or is out of range (naming the
        line as an editor counts it, or the JSON entry, and the value), duplicate ids (with their count and
        lines).

    Example
    -------
    >>> read_points("points.csv").columns.tolist()  # doctest: +SKIP
    ['id', 'lat', 'lon']
    """
    import pandas as pd

    parts = [c.points for c in iter_points(path)]
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
