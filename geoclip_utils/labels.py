"""Label sets given by a user: the one label-file format and the one label check.

Both ``geoclip classify --labels`` and ``geoclip count-captions --labels`` read labels with
:func:`read_labels`: a plain UTF-8 file with one label per line, or a CSV (``.csv``) with a header
row holding a ``label`` column. :func:`validate_labels` checks any list of labels the same way:
non-empty, no blank label, no label twice.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from .csvfiles import read_rows
from .errors import ConfigError, InputError

__all__ = ["read_labels", "validate_labels", "gold_frame", "read_gold_csv"]


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


def read_labels(path: str | os.PathLike) -> list[str]:
    """Read a labels file: one label per line, or a CSV with a ``label`` column.

    A file whose name ends in ``.csv`` must have a header row with a ``label`` column (other columns
    are ignored); any other file holds one label per line. Labels are stripped of surrounding
    whitespace; a UTF-8 byte-order mark is ignored; blank lines at the end of the file are ignored.

    Parameters
    ----------
    path : the labels file (UTF-8).

    Returns
    -------
    list of str, in file order.

    Raises
    ------
    InputError
        The file is missing or not UTF-8, a CSV lacks the ``label`` column, or a label is blank or
        repeated (the message names the lines, as an editor counts them).

    Example
    -------
    >>> read_labels("countries.txt")  # doctest: +SKIP
    ['France', 'Niger', 'Nigeria']
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"labels file not found: {p}")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"labels file {p} is not UTF-8 text ({exc}); save it as UTF-8") from exc
    rows: list[tuple[int, str]] = []  # (line number, label)
    if p.suffix.lower() == ".csv":
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader, None)
        names = [h.strip() for h in header] if header else []
        if "label" not in names:
            raise InputError(
                f"labels CSV {p} has no 'label' column (header: {names}); add a header row with a "
                "'label' column, or give a plain file with one label per line"
            )
        col = names.index("label")
        for row in reader:
            line = reader.line_num
            if not row or all(not c.strip() for c in row):
                rows.append((line, ""))
                continue
            rows.append((line, row[col].strip() if col < len(row) else ""))
    else:
        rows = [(i + 1, line.strip()) for i, line in enumerate(text.splitlines())]
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
    """Read a gold CSV: a header row naming ``image_id`` (or ``id``) and ``label`` (other columns ignored), or
    no header and exactly two columns (image id, label), as the authors' label files.

    Raises
    ------
    InputError
        Missing file; rows with more or fewer fields than the first (named by line); a headerless file
        with other than two columns; blank ids or labels, repeated ids (named by line).
    """
    rows = read_rows(path, what="gold file", delimiters=(",",)).rows
    lowered = [c.lower() for c in rows[0][1]]
    if "label" in lowered and ("image_id" in lowered or "id" in lowered):
        id_col = lowered.index("image_id") if "image_id" in lowered else lowered.index("id")
        label_col, body = lowered.index("label"), rows[1:]
    elif len(lowered) == 2:
        id_col, label_col, body = 0, 1, rows
    else:
        raise InputError(
            f"gold file {path}: line {rows[0][0]} has {len(lowered)} fields; give a header naming image_id "
            "and label, or exactly two columns (image id, label)"
        )
    if not body:
        raise InputError(f"gold file {path} has a header but no rows")
    first: dict[str, int] = {}
    for line, fields in body:
        if not fields[id_col]:
            raise InputError(f"gold file {path}: line {line} has a blank image id")
        if not fields[label_col]:
            raise InputError(f"gold file {path}: line {line} has a blank label")
        if fields[id_col] in first:
            raise InputError(
                f"gold file {path}: image id {fields[id_col]!r} on line {line} repeats line {first[fields[id_col]]}"
            )
        first[fields[id_col]] = line
    df = pd.DataFrame([(f[id_col], f[label_col]) for _, f in body], columns=["image_id", "label"])
    return gold_frame(df)
