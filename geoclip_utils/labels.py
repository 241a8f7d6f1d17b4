"""The user's tables about images: label sets, gold tables, id lists, image coordinates — one reader each,
all through the one strict delimited reader (:mod:`geoclip_utils.io.delimited`).

Both ``geoclip classify --labels`` and ``geoclip count-captions --labels`` read labels with
:func:`read_labels`: a plain UTF-8 file with one label per line, or a CSV (``.csv``) with a header
row holding a ``label`` column. :func:`validate_labels` checks any list of labels the same way:
non-empty, no blank label, no label twice; :func:`check_distinct_forms` refuses labels that only differ
in case or Unicode normal form where every rule ignores both. Gold tables (:func:`read_gold_csv`), id
lists (:func:`read_ids`) and coordinates (:func:`read_coords`) name images the same way everywhere: the
id column is ``id``/``image_id``/``img_id``/``key`` (any case; two of them are refused), and an id naming
an image file drops its extension, so the authors' ``IMG_ID`` files (``img0.jpg``) name the image
``img0`` of their label files.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from .errors import ConfigError, InputError
from .io.delimited import (
    LAT,
    LON,
    BadValue,
    Column,
    Delimited,
    Layout,
    as_text,
    check_values,
    id_column,
    resolve_header,
)
from .io.sources import inner_name, open_input

__all__ = [
    "read_labels",
    "validate_labels",
    "check_distinct_forms",
    "gold_frame",
    "read_gold_csv",
    "read_ids",
    "read_coords",
]

#: The label column of a labels CSV or a gold table.
LABEL = Column("label", ("label",), "text", "label")

#: First header cells that mark an id list's header when no id column is named.
_ID_LIST_HEADER_WORDS = ("filename", "file", "image", "name", "ids", "images", "label")


def validate_labels(labels: Sequence[str], what: str = "labels", *, strip: bool = True) -> list[str]:
    """Check a label set: a sequence of non-blank text labels, none repeated.

    Parameters
    ----------
    labels : the labels.
    what : what they are, for the messages (e.g. the file they come from).
    strip : remove surrounding whitespace first (default); ``False`` keeps labels exactly as given.

    Returns
    -------
    list of str.

    Raises
    ------
    ConfigError
        One string instead of a list of labels.
    InputError
        No labels, a blank or non-text label, or a repeated label (named with their 1-based positions).

    Example
    -------
    >>> validate_labels(["France", " Spain "])
    ['France', 'Spain']
    """
    if isinstance(labels, str | bytes):
        raise ConfigError(f"{what}: expected a list of labels, got one string {labels!r}")
    out = list(labels)
    if not out:
        raise InputError(f"{what}: the label set is empty")
    bad = [(i, lab) for i, lab in enumerate(out) if not isinstance(lab, str) or not lab.strip()]
    if bad:
        shown = ", ".join(f"#{i + 1} {lab!r}" for i, lab in bad[:10])
        raise InputError(f"{what}: blank or non-text labels: {shown}; remove them")
    if strip:
        out = [lab.strip() for lab in out]
    first: dict[str, int] = {}
    dups = []
    for i, lab in enumerate(out):
        if lab in first:
            dups.append(f"{lab!r} (#{first[lab] + 1} and #{i + 1})")
        else:
            first[lab] = i
    if dups:
        raise InputError(f"{what}: duplicated labels: {', '.join(dups[:10])}; keep one of each")
    return out


def check_distinct_forms(labels: Sequence[str], why: str, *, normal_form: bool = True) -> None:
    """Refuse two labels that are one label for a rule ignoring case (and, with ``normal_form``, Unicode
    normal form: NFC).

    Parameters
    ----------
    labels : the labels.
    why : the end of the message: why both would get the same answer.
    normal_form : the rule also ignores Unicode normal form.

    Raises
    ------
    InputError
        Naming the two labels and how they differ: only in case, only in Unicode normal form
        (``"é"`` written as one character or as ``e`` plus an accent), or in both.

    Example
    -------
    >>> check_distinct_forms(["Curaçao", "Curac\\u0327ao"], "they get one count")  # doctest: +SKIP
    InputError: labels 'Curaçao' and 'Curaçao' differ only in Unicode normal form ...
    """
    folded: dict[str, str] = {}
    for lab in labels:
        key = (unicodedata.normalize("NFC", lab) if normal_form else lab).lower()
        if key in folded:
            other = folded[key]
            nfc = unicodedata.normalize("NFC", other) == unicodedata.normalize("NFC", lab)
            if nfc:
                how = f"only in Unicode normal form ({ascii(other)} and {ascii(lab)}: one letter composed two ways)"
            elif other.lower() == lab.lower():
                how = "only in case"
            else:
                how = f"only in case and Unicode normal form ({ascii(other)} and {ascii(lab)})"
            raise InputError(f"labels {other!r} and {lab!r} differ {how}; {why}: keep one")
        folded[key] = lab


def read_labels(path: str | os.PathLike) -> list[str]:
    """Read a labels file: one label per line, or a CSV with a ``label`` column.

    A file whose name ends in ``.csv`` must have a header row with a ``label`` column (other columns
    are ignored; read by the strict delimited reader, blank rows skipped); any other file holds one label
    per line. Labels are stripped of surrounding whitespace; a UTF-8 byte-order mark is ignored; blank
    lines at the end of a plain file are ignored. Either may be compressed (gzip, bz2, xz, zstd).

    Parameters
    ----------
    path : the labels file (UTF-8).

    Returns
    -------
    list of str, in file order.

    Raises
    ------
    InputError
        The file is missing, binary or not UTF-8, a CSV lacks the ``label`` column, or a label is blank
        or repeated (the message names the lines, as an editor counts them).

    Example
    -------
    >>> read_labels("countries.txt")  # doctest: +SKIP
    ['France', 'Niger', 'Nigeria']
    """
    src = open_input(path, "labels file")
    p = src.path
    if inner_name(p).endswith(".csv"):
        col = Column("label", ("label",), "text", "label", unique=True)
        reader = Delimited(src)
        layout = reader.layout(
            [col],
            hints={
                "label": "Add a header row with a 'label' column, or give a plain file with one label per line"
            },
        )
        values, _ = reader.read(layout)
        return values["label"].to_pylist()
    rows = [(n, text.strip()) for n, text in src.lines()]
    while rows and not rows[-1][1]:
        rows.pop()
    blank = [n for n, lab in rows if not lab]
    if blank:
        raise InputError(f"labels file {p}: blank label on line(s) {blank[:20]}; remove those lines")
    first: dict[str, int] = {}
    dups = []
    for n, lab in rows:
        if lab in first:
            dups.append(f"{lab!r} (lines {first[lab]} and {n})")
        else:
            first[lab] = n
    if dups:
        raise InputError(f"labels file {p}: duplicated labels: {', '.join(dups[:20])}; keep one of each")
    if not rows:
        raise InputError(f"labels file {p} holds no labels")
    return [lab for _, lab in rows]


def gold_frame(gold) -> pd.DataFrame:
    """A gold table (DataFrame with ``image_id``, ``label``, or a dict id -> label) as a checked DataFrame."""
    if isinstance(gold, Mapping):
        gold = pd.DataFrame({"image_id": list(gold), "label": list(gold.values())})
    gold = pd.DataFrame(gold)
    if not {"image_id", "label"} <= set(gold.columns):
        raise InputError(f"gold table needs columns image_id and label, has {list(gold.columns)}")
    gold = gold.assign(image_id=gold["image_id"].astype(str), label=gold["label"].astype(str).str.strip())
    dup = gold["image_id"].duplicated()
    if dup.any():
        raise InputError(f"gold table: image id {gold['image_id'][dup].iloc[0]!r} appears more than once")
    return gold


def read_gold_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read a gold CSV: a header row naming an id column (``image_id``/``id``/``img_id``/``key``) and
    ``label`` (other columns ignored), or no header and exactly two columns (image id, label), as the
    authors' label files. An id naming an image file drops its extension (``x.jpg`` is the image ``x``).

    Raises
    ------
    InputError
        Missing or binary file; a header naming two id columns; rows with more or fewer fields than the
        first (named by line); a headerless file with other than two columns; blank ids or labels,
        repeated ids (named by line).
    """
    cols = [id_column("image_id", image=True), LABEL]
    reader = Delimited(open_input(path, "gold file"))
    header = reader.looks_like_header(cols)
    if not header and len(reader.first[2]) != 2:
        if reader.others and len(reader.first[2]) == 1:
            raise reader.delimiter_error(reader.first[0])
        raise InputError(
            f"gold file {path}: line {reader.first[0]} has {len(reader.first[2])} fields; give a header naming "
            "image_id and label, or exactly two columns (image id, label)"
        )
    layout = reader.layout(cols, header=header, positional=("image_id", "label"))
    values, _ = reader.read(layout)
    df = pd.DataFrame({"image_id": values["image_id"].to_pylist(), "label": values["label"].to_pylist()})
    return gold_frame(df)


def read_ids(path: str | os.PathLike) -> list[str]:
    """Read an id list: a CSV with an id column (``id``/``image_id``/``img_id``/``key``, any case), else its
    first column; tab or ``;`` may delimit it too.

    A file whose first row names no id column and does not start with a column name such as ``filename``
    or ``label`` has no header. An id naming an image file drops its extension, so the authors'
    ``IMG_ID,LAT,LON`` files (``img0.jpg``) list the image ``img0`` (its file ``img0.jpg`` is found).

    Parameters
    ----------
    path : the file.

    Returns
    -------
    list of str, in file order.

    Raises
    ------
    InputError
        Missing, binary or unreadable file, empty list, a header naming two id columns, a row with more or
        fewer fields than the first, another delimiter, blank or duplicated ids (each named with its line,
        as an editor counts it).

    Example
    -------
    >>> read_ids("ids.csv")  # doctest: +SKIP
    ['I2bZIA3vJauI6rm_OV3Z7w', ...]
    """
    col = id_column("image_id", image=True, label="id")
    reader = Delimited(open_input(path, "id list"), (",", "\t", ";"))
    if not reader.looks_like_header([col], _ID_LIST_HEADER_WORDS):
        layout = reader.layout([col], header=False, positional=("image_id",))
    elif any(c.strip().lower() in col.names for c in reader.first[2]):
        layout = reader.layout([col])
    else:  # a header without an id column: the first column holds the ids
        layout = Layout((col,), {"image_id": 0}, len(reader.first[2]), reader.first[0])
    try:
        values, _ = reader.read(layout)
    except InputError as exc:
        if "has a header but no rows" in str(exc):
            raise InputError(f"id list {path} has a header but no ids") from None
        raise
    return values["image_id"].to_pylist()


def read_coords(path: str | os.PathLike) -> pd.DataFrame:
    """Read a table of image coordinates: Parquet or CSV (recognised from the bytes), columns id, lat, lon.

    Column names are matched case-insensitively: the id as ``id``/``image_id``/``img_id``/``key``, the
    latitude as ``lat``/``latitude``, the longitude as ``lon``/``lng``/``long``/``longitude``; two columns of
    one meaning are refused; other columns are ignored. An id naming an image file drops its extension.
    Numbers are decimal notation (a Parquet column may hold numbers as numbers).

    Parameters
    ----------
    path : the file.

    Returns
    -------
    DataFrame with ``image_id`` (str), ``lat``, ``lon`` (float), in file order.

    Raises
    ------
    InputError
        Missing or unreadable file, a missing or doubled column, a blank or repeated id, a coordinate that
        is not a finite number or is out of range — named with its CSV line (as an editor counts) or its
        Parquet row (0-based, said so).

    Example
    -------
    >>> read_coords("coords.parquet").columns.tolist()  # doctest: +SKIP
    ['image_id', 'lat', 'lon']
    """
    cols = [id_column("image_id", image=True, label="id"), LAT, LON]
    src = open_input(path, "coordinates file", kinds=("text", "parquet"))
    if src.kind == "text":
        reader = Delimited(src, (",", "\t", ";"))
        values, _ = reader.read(reader.layout(cols))
    else:
        values = _parquet_values(src.path, cols, f"coordinates file {src.path}")
    return pd.DataFrame(
        {"image_id": values["image_id"].to_pylist(), "lat": values["lat"], "lon": values["lon"]}
    )


def _parquet_values(path: Path, cols: Sequence[Column], where: str) -> dict:
    """The checked values of ``cols`` in a Parquet file (rows named 0-based)."""
    import pyarrow as pa

    try:
        raw = pd.read_parquet(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InputError(f"{where} is not a readable Parquet file ({exc})") from exc
    pos = resolve_header([str(c) for c in raw.columns], cols, f"{where}: the columns")
    table = {c.key: [as_text(v) for v in raw.iloc[:, pos[c.key]].tolist()] for c in cols}
    if not len(raw):
        raise InputError(f"{where} has no rows")
    try:
        values = check_values(table, cols)
    except BadValue as bad:
        sep = " " if bad.blank else ": "
        raise InputError(f"{where}: row {bad.row} (0-based){sep}{bad.message}") from None
    ids = values["image_id"].to_pylist()
    if len(set(ids)) < len(ids):
        from .io.delimited import duplicate_error

        seen: dict[str, list[int]] = {}
        for i, v in enumerate(ids):
            seen.setdefault(v, []).append(i)
        err = duplicate_error(where, "id", seen, "row")
        if err is not None:
            raise InputError(f"{err} (rows are 0-based)")
    return values
