"""Reading points to geocode: a CSV with id/lat/lon columns, or Mapillary-style JSON; whole or in chunks.

A CSV is read with Python's ``csv`` module, record by record, so every row keeps the line an editor
shows it on (blank lines and quoted line breaks counted) and a row whose number of fields is not the
header's is refused, never read with its columns shifted. :func:`iter_points` yields chunks (bounded
memory for files of millions of rows); :func:`read_points` returns the whole table.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError

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


#: Rows per chunk of :func:`iter_points` (a few tens of MB of work at a time).
CHUNK_ROWS = 100_000


def find_column(columns: Sequence[str], wanted: tuple[str, ...]) -> str | None:
    """The first of ``wanted`` (lower case) among ``columns``, matched case-insensitively and ignoring
    surrounding spaces; ``None`` when absent."""
    low = {str(c).strip().lower(): c for c in columns}
    for w in wanted:
        if w in low:
            return low[w]
    return None


ID_NAMES = ("id", "image_id", "img_id", "key")


LAT_NAMES = ("lat", "latitude")


LON_NAMES = ("lon", "lng", "long", "longitude")


#: Separators a CSV written with another convention may use instead of the comma.
_OTHER_DELIMITERS = (";", "\t", "|")


@dataclass
class PointChunk:
    """One chunk of points: ``points`` (``id``, ``lat``, ``lon`` and any extra columns asked for, in file
    order), ``done`` and ``total`` (progress: lines of a CSV, entries of a JSON file)."""

    points: pd.DataFrame
    done: int
    total: int


def _where(source: str, kind: str, label: int | str) -> str:
    return f"{source}: {kind} {label}" if kind == "line" else f"{source}: {kind} {label!r}"


def _float(v: object) -> float:
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def _floats(values: np.ndarray) -> np.ndarray:
    """Python's own float parsing (correctly rounded: a coordinate written back reads the same);
    ``nan`` for what is not a number."""
    try:
        return values.astype(float)
    except (TypeError, ValueError):
        return np.array([_float(v) for v in values], dtype=float)


def _check_chunk(df: pd.DataFrame, labels: Sequence[int | str], source: str, kind: str) -> pd.DataFrame:
    """Coordinates numeric, finite and in range; ids not empty. ``labels[i]`` names row ``i``."""
    for col, lim in (("lat", 90), ("lon", 180)):
        raw = df[col]
        num = _floats(raw.to_numpy(dtype=object))
        bad = ~np.isfinite(num)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            v = raw.iloc[i]
            what = (
                "is empty"
                if str(v).strip() == ""
                else "is not a number"
                if np.isnan(num[i])
                else "is not finite"
            )
            raise InputError(f"{_where(source, kind, labels[i])}: {col} {v!r} {what}; give decimal degrees")
        out = np.abs(num) > lim
        if out.any():
            i = int(np.flatnonzero(out)[0])
            raise InputError(
                f"{_where(source, kind, labels[i])}: {col} {raw.iloc[i]!r} is out of range [-{lim}, {lim}]"
            )
        df[col] = num
    empty = (df["id"] == "").to_numpy()
    if empty.any():
        i = int(np.flatnonzero(empty)[0])
        raise InputError(f"{_where(source, kind, labels[i])}: empty id")
    return df


class _Duplicates:
    """Finds duplicate ids over all chunks with 8 bytes per row (a hash), checked exactly at the end."""

    def __init__(self) -> None:
        self.hashes: list[np.ndarray] = []

    @staticmethod
    def hash(ids: pd.Series) -> np.ndarray:
        return pd.util.hash_array(ids.to_numpy(dtype=object), categorize=False)

    def add(self, ids: pd.Series) -> None:
        self.hashes.append(self.hash(ids))

    def suspects(self) -> set[int]:
        if not self.hashes:
            return set()
        h = np.sort(np.concatenate(self.hashes))
        return set(h[1:][h[1:] == h[:-1]].tolist())


def _duplicate_error(source: str, kind: str, ids: list[str], labels: list[int | str]) -> InputError | None:
    """The error for duplicate ids among ``ids`` (the rows whose hash was seen twice), or ``None``."""
    seen: dict[str, list[int | str]] = {}
    for i, lab in zip(ids, labels, strict=True):
        seen.setdefault(i, []).append(lab)
    dups = {k: v for k, v in seen.items() if len(v) > 1}
    if not dups:
        return None
    first, where = next(iter(dups.items()))
    shown = ", ".join(str(x) for x in where[:5]) + (", …" if len(where) > 5 else "")
    return InputError(
        f"{source}: {len(dups)} duplicate ids, e.g. {first!r} appears {len(where)} times "
        f"({kind}s {shown}); ids must be unique"
    )


def _decode(p: Path, raw: bytes, line: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{p}: line {line} is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def _scan(p: Path) -> tuple[int, bool]:
    """Number of lines, and whether the file is *plain*: no quotes and no bare carriage returns, so a
    record is a line and its fields are the commas plus one."""
    n, last, plain = 0, b"\n", True
    with open(p, "rb") as fh:
        while block := fh.read(1 << 20):
            n += block.count(b"\n")
            plain = plain and b'"' not in block and block.count(b"\r") == block.count(b"\r\n")
            last = block[-1:]
    return n + (last != b"\n"), plain


def _header(p: Path, line: int, cols: list[str], extra: Sequence[str]) -> tuple[int, list[int]]:
    """Width of the header and the positions of id, lat, lon and the extra columns."""
    cols = [c.strip() for c in cols]
    wanted = [("id", ID_NAMES), ("lat", LAT_NAMES), ("lon", LON_NAMES)]
    wanted += [(e, (e.strip().lower(),)) for e in extra]
    found = {k: find_column(cols, w) for k, w in wanted}
    missing = [k for k, v in found.items() if v is None]
    if any(k in extra for k in missing):
        raise InputError(f"{p}: no column {next(k for k in missing if k in extra)!r}; the header has {cols}")
    if missing:
        other = [d for d in _OTHER_DELIMITERS if len(cols) == 1 and d in cols[0]]
        if other:
            raise InputError(
                f"{p}: line {line}: the header {cols[0]!r} is not comma-separated (found {other[0]!r}); "
                "write the file with commas between the columns"
            )
        raise InputError(
            f"{p}: missing column(s) {missing}; the header has {cols}. Expected id, lat, lon "
            "(case-insensitive; also image_id/img_id, latitude, longitude/lng)"
        )
    return len(cols), [cols.index(found[k]) for k, _ in wanted]


def _width_error(p: Path, line: int, fields: list[str], width: int) -> InputError:
    text = ",".join(fields)
    other = [d for d in _OTHER_DELIMITERS if d in text]
    hint = f" (found {other[0]!r}: separate the columns with commas)" if other else ""
    return InputError(
        f"{p}: line {line} has {len(fields)} fields but the header has {width}: {text[:200]!r}{hint}"
    )


Batch = tuple[np.ndarray, pd.DataFrame]


def _columns(names: Sequence[str], cols: Sequence[Sequence[str]], strip: bool) -> pd.DataFrame:
    data = {}
    for n, c in zip(names, cols, strict=True):
        arr = np.asarray(c, dtype=object) if not isinstance(c, np.ndarray) else c
        data[n] = np.array([v.strip() for v in arr], dtype=object) if strip else arr
    return pd.DataFrame(data, copy=False)


def _plain_batches(p: Path, chunk_rows: int, extra: Sequence[str]) -> Iterator[Batch]:
    """Batches of a plain CSV: each line checked for its number of commas, then parsed by pandas."""
    names = ["id", "lat", "lon", *extra]
    with open(p, "rb") as fh:
        line_no = 0
        for raw in fh:
            line_no += 1
            raw = raw[3:] if line_no == 1 and raw.startswith(b"\xef\xbb\xbf") else raw
            if raw.strip():
                break
        else:
            raise InputError(f"{p}: the file is empty")
        width, pos = _header(
            p, line_no, next(csv.reader([_decode(p, raw, line_no)], skipinitialspace=True)), extra
        )
        used = sorted(set(pos))
        while chunk := list(itertools.islice(fh, chunk_rows)):
            first, line_no = line_no + 1, line_no + len(chunk)
            buf = b"".join(chunk)
            arr = np.frombuffer(buf, dtype=np.uint8)
            starts = np.r_[0, np.cumsum([len(raw) for raw in chunk[:-1]], dtype=np.int64)]
            commas = np.add.reduceat(arr == ord(","), starts)
            blank = np.add.reduceat(~np.isin(arr, list(b" \t\r\n")), starts) == 0
            wrong = np.flatnonzero(~blank & (commas != width - 1))
            if len(wrong):
                i = int(wrong[0])
                raise _width_error(
                    p, first + i, _decode(p, chunk[i], first + i).strip("\r\n").split(","), width
                )
            keep = np.flatnonzero(~blank)
            if not len(keep):
                continue
            if len(keep) < len(chunk):
                buf = b"".join(chunk[i] for i in keep)
            try:
                df = pd.read_csv(
                    io.BytesIO(buf),
                    header=None,
                    names=list(range(width)),
                    usecols=used,
                    dtype=str,
                    na_filter=False,
                    skipinitialspace=True,
                    encoding="utf-8",
                    engine="c",
                )
            except UnicodeDecodeError:
                for i in keep:
                    _decode(p, chunk[i], first + int(i))
                raise
            if len(df) != len(keep):  # cannot happen for a plain file; refuse rather than guess
                raise InputError(f"{p}: lines {first}-{line_no} are not readable as CSV")
            strip = any(x in buf for x in (b" ,", b"\t", b" \n", b" \r")) or buf.endswith(b" ")
            yield (
                first + np.asarray(keep),
                _columns(names, [df[j].to_numpy(dtype=object) for j in pos], strip),
            )


def _quoted_batches(p: Path, chunk_rows: int, extra: Sequence[str]) -> Iterator[Batch]:
    """Batches of any CSV (quoted fields, line breaks inside them) through Python's csv module."""
    names = ["id", "lat", "lon", *extra]
    with open(p, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, skipinitialspace=True)
        end, width, pos = 0, 0, []
        rows: list[list[str]] = []
        lines: list[int] = []
        while True:
            start = end + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                raise InputError(f"{p}: line {reader.line_num}: not readable as CSV ({exc})") from exc
            except UnicodeDecodeError as exc:
                raise InputError(f"{p}: not UTF-8 text after line {end} ({exc.reason})") from exc
            end = reader.line_num
            if not (len(row) > 1 or (row and row[0].strip())):
                continue  # a blank line (counted)
            if not width:
                width, pos = _header(p, start, row, extra)
                continue
            if len(row) != width:
                raise _width_error(p, start, row, width)
            rows.append(row)
            lines.append(start)
            if len(rows) >= chunk_rows:
                yield np.asarray(lines), _columns(names, [[r[j] for r in rows] for j in pos], True)
                rows, lines = [], []
        if not width:
            raise InputError(f"{p}: the file is empty")
        if rows:
            yield np.asarray(lines), _columns(names, [[r[j] for r in rows] for j in pos], True)


def _iter_csv(p: Path, chunk_rows: int, extra: Sequence[str]) -> Iterator[PointChunk]:
    total, plain = _scan(p)
    batches = _plain_batches if plain else _quoted_batches
    dups = _Duplicates()
    n = 0
    for lines, df in batches(p, chunk_rows, extra):
        _check_chunk(df, lines, str(p), "line")
        dups.add(df["id"])
        n += len(df)
        yield PointChunk(df, int(lines[-1]), total)
    if not n:
        raise InputError(f"{p}: the file has a header but no rows")
    suspects = dups.suspects()
    if suspects:
        ids: list[str] = []
        where: list[int | str] = []
        for lines, df in batches(p, chunk_rows, extra):
            hit = np.isin(_Duplicates.hash(df["id"]), list(suspects))
            ids += df["id"].to_numpy()[hit].tolist()
            where += lines[hit].tolist()
        err = _duplicate_error(str(p), "line", ids, where)
        if err is not None:
            raise err


def _json_frame(p: Path, extra: Sequence[str]) -> tuple[pd.DataFrame, str, list[int | str]]:
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
            rows.append((str(k), v[la], v[lo], *_json_extra(p, f"entry {k!r}", v, extra)))
        df = pd.DataFrame(rows, columns=["id", "lat", "lon", *extra], dtype=object)
        return df, "entry", df["id"].tolist()
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
            rows.append((str(v[ci]), v[la], v[lo], *_json_extra(p, f"item {i}", v, extra)))
        df = pd.DataFrame(rows, columns=["id", "lat", "lon", *extra], dtype=object)
        return df, "item", list(range(len(rows)))
    raise InputError(
        f"{p}: unknown JSON shape ({type(obj).__name__}); expected an object "
        '{id: {"lat": …, "lon": …}} or a list of objects with id, lat, lon'
    )


def _json_extra(p: Path, where: str, entry: dict, extra: Sequence[str]) -> list[str]:
    missing = [e for e in extra if e not in entry]
    if missing:
        raise InputError(f"{p}: {where} has no key {missing[0]!r} (has {sorted(entry)[:6]})")
    return [str(entry[e]) for e in extra]


def iter_points(
    path: str | os.PathLike, *, chunk_rows: int = CHUNK_ROWS, extra: Sequence[str] = ()
) -> Iterator[PointChunk]:
    """Read points in chunks of ``chunk_rows`` rows (see :func:`read_points` for the formats).

    Parameters
    ----------
    path : a CSV (any extension but ``.json``) or a JSON file.
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
    if not p.is_file():
        raise InputError(f"{p}: no such file" if not p.exists() else f"{p}: not a file")
    if p.stat().st_size == 0:
        raise InputError(f"{p}: the file is empty")
    if p.suffix.lower() != ".json":
        yield from _iter_csv(p, chunk_rows, extra)
        return
    df, kind, labels = _json_frame(p, extra)
    dups = _Duplicates()
    for s in range(0, len(df), chunk_rows):
        part = _check_chunk(
            df.iloc[s : s + chunk_rows].reset_index(drop=True), labels[s : s + chunk_rows], str(p), kind
        )
        dups.add(part["id"])
        yield PointChunk(part, min(s + chunk_rows, len(df)), len(df))
    suspects = dups.suspects()
    if suspects:
        sel = np.flatnonzero(np.isin(_Duplicates.hash(df["id"]), list(suspects)))
        err = _duplicate_error(str(p), kind, df["id"].to_numpy()[sel].tolist(), [labels[i] for i in sel])
        if err is not None:
            raise err


def read_points(path: str | os.PathLike) -> pd.DataFrame:
    """Read points to geocode from a CSV or a Mapillary-style JSON file.

    * CSV (any other extension): a header with an id column (``id``/``image_id``/``img_id``/``key``),
      a latitude (``lat``/``latitude``) and a longitude (``lon``/``lng``/``long``/``longitude``), names
      matched case-insensitively (the authors' ``IMG_ID,LAT,LON`` works; a ``.jpg`` suffix is kept);
      comma-separated, every row with as many fields as the header (blank lines are skipped).
    * JSON (``.json``): ``{id: {"lat": …, "lon": …}, …}`` (Mapillary ``train.json``) or a list of
      objects with id/lat/lon keys.

    Parameters
    ----------
    path : the file.

    Returns
    -------
    DataFrame with ``id`` (str), ``lat``, ``lon`` (float), in file order.

    Raises
    ------
    InputError
        Missing or empty file, another separator than the comma, a row with more or fewer fields than
        the header, missing columns/keys, unknown JSON shape, a coordinate that is not a finite number
        or out of range (naming the line as an editor counts it, or the JSON entry, and the value),
        duplicate ids (with their count and lines).

    Example
    -------
    >>> read_points("points.csv").columns.tolist()  # doctest: +SKIP
    ['id', 'lat', 'lon']
    """
    parts = [c.points for c in iter_points(path)]
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
