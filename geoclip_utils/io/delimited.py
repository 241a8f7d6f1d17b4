"""The one strict reader of delimited text: points, coordinates, gold tables, id lists, label CSVs.

A reader asks for :class:`Column` s; :class:`Delimited` matches them to the file and returns their values,
whole or in chunks, checked the same way for every caller:

* **Header.** Names are matched case-insensitively, surrounding spaces ignored. Two header cells that mean
  the same column (``lat`` and ``LAT``, ``latitude`` and ``lat``, ``id`` and ``image_id``) are refused,
  naming both; so is a missing column. A file whose first line is delimited by another character than the
  ones expected is refused, naming the one found.
* **Rows.** Every non-blank row has the header's number of fields (a row of only blanks and delimiters is
  blank). Quoted fields (with line breaks or delimiters inside) follow the CSV rules of Python's
  :mod:`csv` module in strict mode.
* **Values.** Surrounding whitespace is removed in every row alike (Python's :meth:`str.strip`). Numbers are
  decimal notation only (``-12.5``, ``.5``, ``1e-3``): no ``_``, hex, booleans, NaN, infinities or trailing
  bytes. Ids are not blank and not repeated; ids that key images drop an image extension (``img0.jpg`` is
  the image ``img0``), so the authors' ``IMG_ID`` files name the same images as their label files.
* **Messages** name the file, the line as an editor counts it (blank lines and lines inside quoted fields
  included) and the value.

Speed: a file without NUL bytes, over-long lines, quoted line breaks or quotes out of place is parsed by
pyarrow's CSV reader in blocks (quoted fields included), with the values checked column by column (bounded memory: one chunk at a time). When pyarrow or a check
finds a problem, the file is reread by the exact reader (Python's :mod:`csv`, line by line) from the start:
it names the line of the problem, or, when pyarrow only disliked something legal (a quoted field), goes on
from the row where the fast reader stopped. The two readers read every file to the same rows (a property
test checks it).
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError
from .sources import MAX_LINE_BYTES, Input, open_input

__all__ = [
    "ID_NAMES",
    "LAT_NAMES",
    "LON_NAMES",
    "NUMBER_PATTERN",
    "Column",
    "Chunk",
    "Delimited",
    "Layout",
    "BadValue",
    "as_text",
    "check_values",
    "hash_strings",
    "values_frame",
    "resolve_header",
    "id_column",
    "LAT",
    "LON",
    "parse_number",
]

#: Header names of an id column (any case).
ID_NAMES = ("id", "image_id", "img_id", "key")
#: Header names of a latitude column.
LAT_NAMES = ("lat", "latitude")
#: Header names of a longitude column.
LON_NAMES = ("lon", "lng", "long", "longitude")

#: A number in decimal notation (the whole field, surrounding whitespace removed).
NUMBER_PATTERN = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_NUMBER = re.compile(NUMBER_PATTERN)
#: The extension an id naming an image file drops.
_IMAGE_SUFFIX = r"(?i)\.(?:jpe?g|png)$"

#: Delimiters named when a file is delimited by another one than expected.
OTHER_DELIMITERS = (",", "\t", ";", "|")

#: Rows per chunk unless a caller asks otherwise.
CHUNK_ROWS = 100_000

csv.field_size_limit(max(csv.field_size_limit(), 16 * MAX_LINE_BYTES))


def _show(delim: str) -> str:
    return {"\t": "tab", ",": "','", ";": "';'", "|": "'|'"}.get(delim, repr(delim))


@dataclass(frozen=True)
class Column:
    """A column a reader asks for.

    ``key`` names it in the result; ``names`` are the header names that mean it (lower case); ``kind`` is
    ``"text"``, ``"id"`` (not blank, unique), ``"image_id"`` (an id keying an image: drops ``.jpg``/``.jpeg``/
    ``.png``) or ``"number"`` (decimal notation, finite, within ``bound`` in absolute value when given);
    ``label`` names a value in messages and ``meaning`` the column (``lat``, ``latitude``); ``hint`` ends a
    message about a bad number; ``blank_ok`` lets a text value be empty; ``unique``: no value twice in
    the file."""

    key: str
    names: tuple[str, ...]
    kind: str = "text"
    label: str = ""
    bound: float | None = None
    hint: str = ""
    blank_ok: bool = False
    meaning: str = ""
    unique: bool = False

    @property
    def what(self) -> str:
        """How a message names one value (``lat``, ``image id``)."""
        return self.label or self.key

    @property
    def means(self) -> str:
        """How a message names the column's meaning (``latitude``)."""
        return self.meaning or self.what


def id_column(key: str = "id", *, image: bool = False, label: str = "") -> Column:
    """The id column (``id``/``image_id``/``img_id``/``key``); ``image=True`` for ids that key images."""
    kind = "image_id" if image else "id"
    return Column(key, ID_NAMES, kind, label or ("image id" if image else "id"), meaning="id", unique=True)


LAT = Column("lat", LAT_NAMES, "number", "lat", 90, "give decimal degrees", meaning="latitude")
LON = Column("lon", LON_NAMES, "number", "lon", 180, "give decimal degrees", meaning="longitude")


def parse_number(text: str) -> float | None:
    """A number in decimal notation (see the module docstring), or ``None``; whitespace around is ignored.

    Example
    -------
    >>> parse_number(" 48.85 "), parse_number("4_8.85"), parse_number("true"), parse_number("1e3")
    (48.85, None, None, 1000.0)
    """
    t = text.strip()
    return float(t) if _NUMBER.fullmatch(t) else None


def as_text(v: Any) -> str:
    """A value of a typed source (JSON, Parquet) as the text the checks read: text as it is, numbers as
    Python writes them, anything else (booleans, null, lists) as JSON, so ``true`` is not a number."""
    import json

    if isinstance(v, str):
        return v
    if isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool | np.bool_):
        return repr(float(v)) if isinstance(v, float | np.floating) else str(int(v))
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "null"
    try:
        return json.dumps(v)
    except TypeError:
        return str(v)


def resolve_header(
    cells: Sequence[str],
    columns: Sequence[Column],
    where: str,
    *,
    optional: Sequence[str] = (),
    hints: dict[str, str] | None = None,
) -> dict[str, int]:
    """Where each column is among the header ``cells`` (matched case-insensitively, spaces ignored).

    Raises
    ------
    InputError
        Two cells naming one column (naming both), or a missing column not in ``optional``.
    """
    shown_cells = [c.strip() for c in cells]
    low = [c.lower() for c in shown_cells]
    pos: dict[str, int] = {}
    for col in columns:
        hits = [i for i, c in enumerate(low) if c in col.names]
        if len(hits) > 1:
            shown = " and ".join(repr(shown_cells[i]) for i in hits)
            raise InputError(
                f"{where}: the columns {shown} both name the {col.means}; keep one (rename or remove the other)"
            )
        if hits:
            pos[col.key] = hits[0]
        elif col.key not in optional:
            names = " / ".join(repr(n) for n in col.names)
            means = "" if col.means.lower() in col.names else f" ({col.means})"
            raise InputError(
                f"{where}: missing column {names}{means}; the header has {shown_cells}"
                + (f". {hints[col.key]}" if hints and col.key in hints else "")
            )
    return pos


def _number_problem(value: str, parsed: float | None, col: Column) -> str:
    low = value.lower().lstrip("+-")
    if value == "":
        what = "is empty"
    elif parsed is not None and not np.isfinite(parsed) or low in ("inf", "infinity"):
        what = "is not finite"
    else:
        what = "is not a number"
        if low == "nan":
            pass
        elif "_" in value:
            what += " (no '_' inside a number)"
        elif low in ("true", "false"):
            what += " (a boolean)"
    return f"{col.what} {value!r} {what}" + (f"; {col.hint}" if col.hint else "")


class BadValue(Exception):
    """The first bad row of a chunk (``row``: its index in the chunk) and what is wrong with it."""

    def __init__(self, row: int, message: str, blank: bool = False) -> None:
        super().__init__(message)
        self.row, self.message, self.blank = row, message, blank


def check_values(table, columns: Sequence[Column]) -> dict[str, Any]:
    """Clean and check the text columns of ``table`` (a pyarrow table or a dict of string arrays keyed by
    :attr:`Column.key`).

    Returns
    -------
    dict key -> values: a pyarrow string array (stripped; image ids without extension) or a float64
    numpy array for numbers.

    Raises
    ------
    BadValue
        For the first row (over all columns) with a problem; the caller names its place.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    out: dict[str, Any] = {}
    first: tuple[int, int, str, bool] | None = None  # (row, column order, message, blank)

    def note(i: int, order: int, msg: str, blank: bool = False) -> None:
        nonlocal first
        if first is None or (i, order) < first[:2]:
            first = (i, order, msg, blank)

    for order, col in enumerate(columns):
        raw = table[col.key]
        if isinstance(raw, pa.ChunkedArray):
            raw = raw.combine_chunks()
        if not isinstance(raw, pa.Array):
            raw = pa.array(raw, type=pa.string())
        if col.kind == "number":
            num = _plain_numbers(raw)
            if num is not None and (col.bound is None or bool((np.abs(num) <= col.bound).all())):
                out[col.key] = num
                continue
        vals = _trim(raw)
        if col.kind == "number":
            ok = pc.match_substring_regex(vals, NUMBER_PATTERN).to_numpy(zero_copy_only=False)
            if ok.all():
                num = pc.cast(vals, pa.float64()).to_numpy()
            else:
                num = pc.cast(pc.if_else(pa.array(ok), vals, pa.scalar("0")), pa.float64()).to_numpy().copy()
                num[~ok] = np.nan
            bad = ~ok | ~np.isfinite(num)
            if col.bound is not None:
                with np.errstate(invalid="ignore"):
                    bad |= np.abs(num) > col.bound
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                v = vals[i].as_py()
                if ok[i] and np.isfinite(num[i]):
                    msg = f"{col.what} {v!r} is out of range [-{col.bound:g}, {col.bound:g}]"
                else:
                    msg = _number_problem(v, float(num[i]) if ok[i] else None, col)
                note(i, order, msg)
            out[col.key] = num
            continue
        if col.kind == "image_id":
            vals = pc.replace_substring_regex(vals, _IMAGE_SUFFIX, "")
        if not col.blank_ok:
            blank = pc.equal(pc.utf8_length(vals), 0).to_numpy(zero_copy_only=False)
            if blank.any():
                note(int(np.flatnonzero(blank)[0]), order, f"has a blank {col.what}", True)
        out[col.key] = vals
    if first is not None:
        raise BadValue(first[0], first[2], first[3])
    return out


def text_bytes(arr) -> np.ndarray:
    """The UTF-8 bytes of a pyarrow string array's values, end to end (a view, no copy)."""
    offsets = _offsets(arr)
    data = arr.buffers()[2]
    if data is None or offsets[-1] == offsets[0]:
        return np.zeros(0, np.uint8)
    return np.frombuffer(data, np.uint8)[offsets[0] : offsets[-1]]


def _offsets(arr) -> np.ndarray:
    """The ``len(arr) + 1`` value offsets of a pyarrow string or large string array (a view)."""
    import pyarrow as pa

    kind = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    return np.frombuffer(arr.buffers()[1], kind)[arr.offset : arr.offset + len(arr) + 1]


def _trim(raw):
    """``str.strip`` of every value. Text of printable ASCII (and tab, line breaks) is trimmed by the ASCII
    kernel, ten times faster than the Unicode one and the same there (they differ on U+001C-U+001F and on
    non-ASCII spaces only)."""
    import pyarrow.compute as pc

    b = text_bytes(raw)
    if raw.null_count == 0 and not ((b >= 0x80) | ((b >= 0x1C) & (b <= 0x1F))).any():
        return pc.ascii_trim_whitespace(raw)
    return pc.utf8_trim_whitespace(raw)


def _plain_numbers(raw) -> np.ndarray | None:
    """The values as float64 when every one is a finite number pyarrow's parser takes whole (no spaces
    around, no sign of trouble); ``None`` otherwise, and the full check runs. What pyarrow takes with
    those conditions is what :data:`NUMBER_PATTERN` takes, with the same value (its ``inf``/``nan``/
    ``Infinity`` are not finite; a property test compares the two)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if raw.null_count:
        return None
    try:
        num = pc.cast(raw, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return num if np.isfinite(num).all() else None


def values_frame(values: dict[str, Any]):
    """Checked values (key -> pyarrow text or numpy numbers, as :func:`check_values` returns them) as a
    pandas DataFrame, text as Python strings (``None`` where missing)."""
    import pandas as pd
    import pyarrow as pa

    return pd.DataFrame(
        {
            k: np.asarray(v.to_numpy(zero_copy_only=False), dtype=object) if isinstance(v, pa.Array) else v
            for k, v in values.items()
        },
        copy=False,
    )


@dataclass(frozen=True)
class Layout:
    """Where the columns are: ``positions`` maps each :class:`Column`'s key to its field; ``width`` is the
    number of fields of every row; ``header_line`` the header's line (``None``: no header)."""

    columns: tuple[Column, ...]
    positions: dict[str, int]
    width: int
    header_line: int | None
    header: tuple[str, ...] = ()


@dataclass
class Chunk:
    """Rows ``start`` … ``start + len - 1`` (0-based data rows) of a file: ``values`` (key -> cleaned values,
    see :func:`check_values`), ``lines`` (the line of each row as an editor counts it; ``None`` when read by
    the fast reader), ``done``/``total`` (bytes read and the file's size; ``total`` is ``None`` for a
    compressed file)."""

    values: dict[str, Any]
    start: int
    n: int
    lines: np.ndarray | None
    done: int
    total: int | None


class _Fallback(Exception):
    """The fast reader met something it does not read like the exact one: reread exactly."""


class _Guard:
    """The byte stream handed to pyarrow: refuses (with :class:`_Fallback`) what the fast reader would read
    differently from the exact one — NUL bytes, text that is not UTF-8, quotes anywhere but at the edges of
    a field (a literal quote inside an unquoted field, a space before an opening quote, text after a closing
    one), a line break inside quotes — and counts bytes.

    Quotes are checked by their parity: the k-th quote of the data (0-based) opens a field when k is even,
    so it must follow a delimiter, a line break or another quote (``""`` inside a field); when k is odd it
    closes one, so a delimiter, a line break, the end or another quote must follow. Such files read the same
    in pyarrow and in Python's :mod:`csv` (strict, ``skipinitialspace``)."""

    def __init__(self, fh, done: int, delimiter: str) -> None:
        self.fh, self.done, self.closed = fh, done, False
        self.utf8 = codecs.getincrementaldecoder("utf-8")()
        self.quotes, self.last = 0, ord("\n")  # quotes so far; the byte before the next block
        self.edges = np.array([ord(delimiter), 10, 13, 34], dtype=np.uint8)

    def read(self, n: int = -1) -> bytes:
        data = self.fh.read(n)
        if b"\x00" in data:
            raise _Fallback("NUL")
        try:
            self.utf8.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            raise _Fallback("not UTF-8") from exc
        if b'"' in data:
            self._check_quotes(data)
        if data:
            self.last = data[-1]
        self.done += len(data)
        return data

    def _check_quotes(self, data: bytes) -> None:
        arr = np.frombuffer(data, dtype=np.uint8)
        at = np.flatnonzero(arr == 34)
        odd = (self.quotes + np.arange(len(at))) % 2 == 1
        nxt = self.fh.peek(1)[:1] if hasattr(self.fh, "peek") else b""
        before = np.where(at > 0, arr[np.maximum(at - 1, 0)], self.last)
        after = np.where(at < len(arr) - 1, arr[np.minimum(at + 1, len(arr) - 1)], nxt[0] if nxt else 10)
        if not (np.isin(before[~odd], self.edges).all() and np.isin(after[odd], self.edges).all()):
            raise _Fallback("a quote inside a field")
        breaks = np.flatnonzero((arr == 10) | (arr == 13))
        if len(breaks) and ((self.quotes + np.searchsorted(at, breaks)) % 2 == 1).any():
            raise _Fallback("a line break inside quotes")
        self.quotes += len(at)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True


class _Lines:
    """Text lines for :mod:`csv`, remembering the number of the last one handed out."""

    def __init__(self, lines: Iterator[tuple[int, str]]) -> None:
        self.lines, self.n, self.chars = lines, 0, 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        self.n, text = next(self.lines)
        self.chars += len(text)
        return text


def _blank(fields: Sequence[str]) -> bool:
    return all(not f.strip() for f in fields)


class Delimited:
    """A delimited text file, opened strictly: ``first`` is its first non-blank record ``(line, fields)``
    and ``delimiter`` the one used (the first of ``delimiters`` found on the first non-blank line).

    Raises
    ------
    InputError
        As :func:`~geoclip_utils.io.sources.open_input`; a file with nothing but blank lines.

    Example
    -------
    >>> d = Delimited(open_input("points.csv"))  # doctest: +SKIP
    >>> layout = d.layout([id_column(), LAT, LON])  # doctest: +SKIP
    >>> for chunk in d.chunks(layout):  # doctest: +SKIP
    ...     chunk.values["lat"]
    """

    def __init__(self, source: Input | str, delimiters: tuple[str, ...] = (",",), what: str = "") -> None:
        self.source = source if isinstance(source, Input) else open_input(source, what)
        self.where = self.source.where
        first_text = next((t for _, t in self.source.lines() if t.strip()), None)
        if first_text is None:
            raise InputError(f"{self.where} holds only blank lines")
        self.delimiter = next((d for d in delimiters if d in first_text), delimiters[0])
        self.allowed = delimiters
        self.others = [d for d in OTHER_DELIMITERS if d not in delimiters and d in first_text]
        self.first_text = first_text.rstrip("\r\n")
        first = next(self._records(), None)
        if first is None:
            raise InputError(f"{self.where} holds only blank lines")
        self.first = first

    # ---------------------------------------------------------------- the exact reader
    def _records(self, lines: _Lines | None = None) -> Iterator[tuple[int, int, list[str]]]:
        """``(first line, last line, fields)`` of every non-blank record, read exactly."""
        lines = lines or _Lines(self.source.lines())
        reader = csv.reader(lines, delimiter=self.delimiter, strict=True, skipinitialspace=True)
        while True:
            start = lines.n + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise InputError(f"{self.where}: line {lines.n}: not readable as CSV ({exc})") from exc
            if fields and not _blank(fields):
                yield start, lines.n, fields

    # ---------------------------------------------------------------- the header
    def delimiter_error(self, line: int) -> InputError:
        """The message for a first line delimited by another character than expected."""
        allowed = " or ".join(_show(d) for d in self.allowed)
        return InputError(
            f"{self.where}: line {line} is delimited by {_show(self.others[0])}, expected {allowed}: "
            f"{self.first_text[:80]!r}; write the file with {_show(self.allowed[0])} between the columns"
        )

    def looks_like_header(self, columns: Sequence[Column], words: Sequence[str] = ()) -> bool:
        """Whether the first record names one of ``columns`` (or starts with one of ``words``)."""
        cells = [c.strip().lower() for c in self.first[2]]
        names = {n for col in columns for n in col.names}
        return bool(names & set(cells)) or (bool(cells) and cells[0] in words)

    def layout(
        self,
        columns: Sequence[Column],
        *,
        header: bool = True,
        positional: Sequence[str] = (),
        optional: Sequence[str] = (),
        hints: dict[str, str] | None = None,
    ) -> Layout:
        """Match ``columns`` to the header (or, with ``header=False``, to the first fields: ``positional``
        keys in order).

        Parameters
        ----------
        columns : the columns wanted.
        header : whether the first record is a header.
        positional : without a header, the keys of the first fields, in order.
        optional : keys of columns that may be absent from the header (then absent from the values).
        hints : key -> what to append to the message about that column missing.

        Raises
        ------
        InputError
            A missing column, two header cells naming the same column, another delimiter than expected.
        """
        line, _, fields = self.first
        width = len(fields)
        if not header:
            if width < len(positional) and self.others:
                raise self.delimiter_error(line)
            pos = {k: i for i, k in enumerate(positional)}
            cols = tuple(c for c in columns if c.key in pos)
            return Layout(cols, pos, width, None)
        cells = [c.strip() for c in fields]
        if self.others and width == 1 and any(c.key not in optional for c in columns):
            low = cells[0].lower()
            if not all(low in c.names for c in columns if c.key not in optional):
                raise self.delimiter_error(line)
        pos = resolve_header(cells, columns, f"{self.where}: line {line}", optional=optional, hints=hints)
        cols = [c for c in columns if c.key in pos]
        return Layout(tuple(cols), pos, width, line, tuple(cells))

    # ---------------------------------------------------------------- rows
    def _ragged(self, layout: Layout, line: int, fields: list[str]) -> InputError:
        text = self.delimiter.join(fields)
        first = "the header" if layout.header_line is not None else "the first row"
        detail = (
            f"the extra value is {fields[layout.width]!r}"
            if len(fields) > layout.width
            else "a value is missing"
        )
        other = [d for d in OTHER_DELIMITERS if d != self.delimiter and d in text]
        hint = (
            f"; found {_show(other[0])}: separate the columns with {_show(self.delimiter)}" if other else ""
        )
        return InputError(
            f"{self.where}: line {line} has {len(fields)} fields but {first} (line {self.first[0]}) has "
            f"{layout.width}: {text[:200]!r} ({detail}){hint}; every row needs the same columns"
        )

    def _exact(self, layout: Layout, chunk_rows: int, skip: int) -> Iterator[Chunk]:
        """Chunks read by the exact reader, the first ``skip`` data rows passed over (already read)."""
        import pyarrow as pa

        keys = list(layout.positions)
        lines = _Lines(self.source.lines())
        records = self._records(lines)
        if layout.header_line is not None:
            next(records)
        rows: list[list[str]] = []
        at: list[int] = []
        start = 0
        total = self.source.size if self.source.compression is None else None

        def flush() -> Chunk:
            table = {k: pa.array([r[layout.positions[k]] for r in rows], type=pa.string()) for k in keys}
            line_arr = np.asarray(at, dtype=np.int64)
            try:
                values = check_values(table, layout.columns)
            except BadValue as bad:
                raise self._row_error(line_arr[bad.row], bad) from None
            return Chunk(values, start, len(rows), line_arr, lines.chars, total)

        for n, _, fields in records:
            if len(fields) != layout.width:
                raise self._ragged(layout, n, fields)
            if skip:
                skip -= 1
                start += 1
                continue
            rows.append(fields)
            at.append(n)
            if len(rows) >= chunk_rows:
                yield flush()
                start += len(rows)
                rows, at = [], []
        if rows:
            yield flush()

    def _row_error(self, line: int, bad: BadValue) -> InputError:
        sep = " " if bad.blank else ": "
        return InputError(f"{self.where}: line {line}{sep}{bad.message}")

    # ---------------------------------------------------------------- the fast reader
    def _fast(self, layout: Layout, chunk_rows: int) -> Iterator[Chunk]:
        """Chunks read by pyarrow; raises :class:`_Fallback` where it cannot read like the exact reader."""
        import pyarrow as pa
        import pyarrow.csv as pcsv

        skip_lines = self.first[1] if layout.header_line is not None else self.first[0] - 1
        used = sorted(set(layout.positions.values()))
        names = [f"f{i}" for i in range(layout.width)]
        total = self.source.size if self.source.compression is None else None
        delim = self.delimiter

        def invalid(row) -> str:  # a line of blanks and delimiters is blank, as in the exact reader
            return "skip" if not row.text.replace(delim, "").strip() else "error"

        with self.source.open() as fh:
            done = 0
            for _ in range(skip_lines):
                raw = fh.readline(MAX_LINE_BYTES + 1)
                done += len(raw)
                if b"\r" in raw.rstrip(b"\r\n") or not raw.endswith(b"\n"):
                    raise _Fallback("lone carriage return")  # lines counted otherwise than by readline
            if skip_lines and fh.peek(3)[:3] == b"\xef\xbb\xbf":
                raise _Fallback("a byte-order mark after the first line")  # pyarrow would drop it
            guard = _Guard(fh, done, delim)
            try:
                reader = pcsv.open_csv(
                    guard,
                    read_options=pcsv.ReadOptions(column_names=names, block_size=MAX_LINE_BYTES),
                    parse_options=pcsv.ParseOptions(
                        delimiter=delim,
                        quote_char='"',
                        double_quote=True,
                        escape_char=False,
                        newlines_in_values=False,
                        ignore_empty_lines=True,
                        invalid_row_handler=invalid,
                    ),
                    convert_options=pcsv.ConvertOptions(
                        column_types={names[i]: pa.string() for i in used},
                        include_columns=[names[i] for i in used],
                        strings_can_be_null=False,
                        quoted_strings_can_be_null=False,
                    ),
                )
            except _Fallback:
                raise
            except (pa.ArrowException, ValueError, OSError) as exc:
                if "Empty CSV file" in str(exc):
                    return
                raise _Fallback(str(exc)) from exc
            start, buffer, have, exhausted = 0, [], 0, False
            while not exhausted:
                try:
                    buffer.append(reader.read_next_batch())
                    have += buffer[-1].num_rows
                except StopIteration:
                    exhausted = True
                except _Fallback:
                    raise
                except (pa.ArrowException, ValueError, OSError) as exc:
                    raise _Fallback(str(exc)) from exc
                while have >= chunk_rows or (exhausted and have):
                    table = pa.Table.from_batches(buffer)
                    part, rest = table.slice(0, chunk_rows), table.slice(chunk_rows)
                    buffer, have = rest.to_batches(), rest.num_rows
                    part = self._drop_blank(part, layout, names, used)
                    if not part.num_rows:
                        continue
                    cols = {k: part.column(names[i]) for k, i in layout.positions.items()}
                    try:
                        values = check_values(cols, layout.columns)
                    except BadValue as exc:
                        raise _Fallback("a bad value") from exc
                    yield Chunk(values, start, part.num_rows, None, guard.done, total)
                    start += part.num_rows

    @staticmethod
    def _drop_blank(part, layout: Layout, names: list[str], used: list[int]):
        import pyarrow.compute as pc

        blank = None
        for i in used:
            b = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(part.column(names[i]))), 0)
            blank = b if blank is None else pc.and_(blank, b)
        if blank is None or not pc.any(blank).as_py():
            return part
        if len(used) < layout.width:
            raise _Fallback("a row blank in the columns read")  # the others may hold something
        return part.filter(pc.invert(blank))

    # ---------------------------------------------------------------- both
    def chunks(self, layout: Layout, chunk_rows: int = CHUNK_ROWS) -> Iterator[Chunk]:
        """The rows after the header, in chunks of ``chunk_rows``, checked (see the module docstring);
        duplicate ids are looked for over the whole file and reported after the last chunk.

        Raises
        ------
        InputError
            The first problem, naming its line: a ragged row, a bad value, a repeated id (with the lines
            of its first repeats), a line that is not UTF-8 or too long, a CSV quoting error; a file with
            a header and no rows.
        """
        dups = _Duplicates([c for c in layout.columns if c.unique])
        done = 0
        try:
            for chunk in self._fast(layout, chunk_rows):
                dups.add(chunk)
                done += chunk.n
                yield chunk
        except _Fallback:
            for chunk in self._exact(layout, chunk_rows, done):
                dups.add(chunk)
                done += chunk.n
                yield chunk
        if not done:
            raise InputError(
                f"{self.where} has a header but no rows"
                if layout.header_line is not None
                else f"{self.where} holds no rows"
            )
        dups.check(self, layout)

    def read(self, layout: Layout):
        """Every row at once: ``(values, lines)`` (see :meth:`chunks`; ``lines`` is ``None`` when read by
        the fast reader)."""
        import pyarrow as pa

        parts = list(self.chunks(layout, chunk_rows=1 << 62))
        if len(parts) == 1:
            return parts[0].values, parts[0].lines
        values = {}
        for k in parts[0].values:
            vs = [p.values[k] for p in parts]
            values[k] = pa.concat_arrays(vs) if isinstance(vs[0], pa.Array) else np.concatenate(vs)
        lines = None if any(p.lines is None for p in parts) else np.concatenate([p.lines for p in parts])
        return values, lines


@dataclass
class _Duplicates:
    """Repeated values of unique columns over every chunk, with 16 bytes per row (a hash and the row),
    confirmed and named by the exact reader only when two hashes meet."""

    columns: list[Column]
    hashes: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def add(self, chunk: Chunk) -> None:
        for col in self.columns:
            self.hashes.setdefault(col.key, []).append(hash_strings(chunk.values[col.key]))

    def check(self, reader: Delimited, layout: Layout) -> None:
        for col in self.columns:
            parts = self.hashes.get(col.key, [])
            order = np.concatenate([np.zeros(0, np.uint64), *parts])
            order.sort()  # in place: 8 bytes per row beside the chunks' own (a 10M-row file: 80 MB less)
            twice = np.unique(order[1:][order[1:] == order[:-1]])
            del order
            if not len(twice):
                continue
            starts = np.cumsum([0, *map(len, parts)])
            suspects = np.concatenate(
                [np.flatnonzero(np.isin(h, twice)) + s for h, s in zip(parts, starts[:-1], strict=True)]
            )
            raise_duplicates(reader, layout, col, set(suspects.tolist()))


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every bit of ``x`` (uint64) reaches every bit of the result."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def hash_strings(arr) -> np.ndarray:
    """A 64-bit hash of every value of a pyarrow string array, computed on its bytes in numpy (no Python
    string per value): the sum of each byte times a pseudo-random weight of its position, mixed with the
    length. Equal strings hash equal; two different ones meet with odds of about 2**-60, and a meeting
    is only a suspicion that the exact reader confirms (:func:`raise_duplicates`)."""
    n = len(arr)
    offsets = _offsets(arr).astype(np.int64)
    lengths = np.diff(offsets)
    starts = offsets[:-1] - offsets[0]
    data = text_bytes(arr).astype(np.uint64)
    h = np.zeros(n, np.uint64)
    if len(data):
        weights = _mix(np.arange(1, int(lengths.max()) + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15))
        pos = np.arange(len(data), dtype=np.int64) - np.repeat(starts, lengths)
        some = lengths > 0
        h[some] = np.add.reduceat(data * weights[pos], starts[some])
    return _mix(h ^ _mix(lengths.astype(np.uint64) + np.uint64(1)))


def raise_duplicates(reader: Delimited, layout: Layout, col: Column, rows: set[int]) -> None:
    """Reread the file exactly and raise the error for repeated values of ``col`` among data ``rows``."""
    seen: dict[str, list[int]] = {}
    for chunk in reader._exact(layout, CHUNK_ROWS, 0):
        vals = chunk.values[col.key]
        for i in range(chunk.n):
            if chunk.start + i in rows:
                seen.setdefault(vals[i].as_py(), []).append(int(chunk.lines[i]))
    err = duplicate_error(reader.where, col.what, seen, "line")
    if err is not None:
        raise err


def duplicate_error(where: str, what: str, seen: dict[str, list[Any]], kind: str) -> InputError | None:
    """The error for the values of ``seen`` (value -> places) that occur more than once, or ``None``."""
    dups = {k: v for k, v in seen.items() if len(v) > 1}
    if not dups:
        return None
    first, places = next(iter(dups.items()))
    shown = ", ".join(str(x) for x in places[:5]) + (", …" if len(places) > 5 else "")
    return InputError(
        f"{where}: {len(dups)} duplicate {what}s, e.g. {first!r} appears {len(places)} times "
        f"({kind}s {shown}); {what}s must be unique"
    )


def read_columns(
    source: Input | str,
    columns: Sequence[Column],
    *,
    what: str = "",
    delimiters: tuple[str, ...] = (",",),
    header: bool | Callable[[Delimited], bool] = True,
    positional: Sequence[str] = (),
    optional: Sequence[str] = (),
    hints: dict[str, str] | None = None,
):
    """Read ``columns`` of a whole file: ``(values, lines, layout, reader)`` (see :class:`Delimited`)."""
    d = Delimited(source, delimiters, what)
    has_header = header(d) if callable(header) else header
    layout = d.layout(columns, header=has_header, positional=positional, optional=optional, hints=hints)
    values, lines = d.read(layout)
    return values, lines, layout, d
