"""Reading a user's small delimited files strictly: every row checked, every error on its line.

Pandas guesses: a CSV whose rows have one field more than the header is read with the first column as the
index and every other column shifted by one, silently. :func:`read_rows` does not guess: it reads with the
standard :mod:`csv` module, numbers lines as an editor does (blank lines counted), and rejects what it
cannot read unambiguously — a row with more or fewer fields than the header, a file delimited by another
character than the one expected (it says which it found), text that is not UTF-8.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError

__all__ = ["Rows", "read_rows"]

#: Delimiters recognised when a file is not delimited as expected (named in the message).
OTHER_DELIMITERS = (",", "\t", ";", "|")


@dataclass(frozen=True)
class Rows:
    """The rows of a file: ``rows`` holds ``(line, fields)`` of each non-blank row (header included when
    there is one), ``line`` numbered from 1 as an editor counts (blank lines included)."""

    path: Path
    delimiter: str
    rows: list[tuple[int, list[str]]]


def _show(delim: str) -> str:
    return {"\t": "tab", ",": "','", ";": "';'", "|": "'|'"}.get(delim, repr(delim))


def read_rows(
    path: str | os.PathLike, *, what: str, delimiters: tuple[str, ...] = (",",), strip: bool = True
) -> Rows:
    """Read a delimited UTF-8 text file into rows of fields, checking that it is what it claims to be.

    Parameters
    ----------
    path : the file.
    what : what the file is, for messages (``"id list"``, ``"gold file"``).
    delimiters : the delimiters this kind of file may use; the first one found on the first non-blank line
        is used for the whole file.
    strip : strip whitespace around fields.

    Returns
    -------
    :class:`Rows` (non-blank rows only, each with its line number).

    Raises
    ------
    InputError
        Missing, unreadable or non-UTF-8 file; no rows; a first line delimited by another character than
        ``delimiters`` (naming the one found); a row whose number of fields differs from the first row's
        (naming its line, the counts and the first extra value).

    Example
    -------
    >>> read_rows("gold.csv", what="gold file").rows  # doctest: +SKIP
    [(1, ['image_id', 'label']), (2, ['a', 'France'])]
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{what} {p} does not exist")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} {p} is not UTF-8 text ({exc}); save it as UTF-8") from exc
    except OSError as exc:
        raise InputError(f"{what} {p} cannot be read ({exc.strerror or exc})") from exc
    first = next((ln for ln in text.splitlines() if ln.strip()), None)
    if first is None:
        raise InputError(f"{what} {p} is empty")
    delim = next((d for d in delimiters if d in first), delimiters[0])
    if delim not in first:
        found = [d for d in OTHER_DELIMITERS if d in first and d not in delimiters]
        if found:
            allowed = " or ".join(_show(d) for d in delimiters)
            raise InputError(
                f"{what} {p}: line 1 is delimited by {_show(found[0])}, expected {allowed}: {first[:80]!r}"
            )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim, strict=True)
    rows: list[tuple[int, list[str]]] = []
    line = 0
    try:
        for fields in reader:
            start = line + 1
            line = reader.line_num
            if not fields or all(not f.strip() for f in fields):
                continue
            rows.append((start, [f.strip() for f in fields] if strip else fields))
    except csv.Error as exc:
        raise InputError(f"{what} {p}: line {line + 1} is not valid CSV ({exc})") from exc
    width = len(rows[0][1])
    for n, fields in rows[1:]:
        if len(fields) != width:
            detail = f"the extra value is {fields[width]!r}" if len(fields) > width else "a value is missing"
            raise InputError(
                f"{what} {p}: line {n} has {len(fields)} fields but line {rows[0][0]} has {width} ({detail}); "
                "every row needs the same columns"
            )
    return Rows(p, delim, rows)
