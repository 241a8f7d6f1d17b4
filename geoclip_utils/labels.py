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
    """Read a gold CSV: columns ``image_id`` (or ``id``) and ``label``; or two unnamed columns.

    Raises
    ------
    InputError
        Missing file, missing columns, blank labels, repeated ids.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"gold file {path} does not exist; give a CSV with image_id,label")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    cols = {c.lower().strip(): c for c in df.columns}
    if "label" in cols and ("image_id" in cols or "id" in cols):
        df = df.rename(columns={cols.get("image_id", cols.get("id")): "image_id", cols["label"]: "label"})
    elif len(df.columns) >= 2:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, header=None).iloc[:, :2]
        df.columns = ["image_id", "label"]
    else:
        raise InputError(f"gold file {path} needs two columns (image_id, label)")
    blank = df.index[df["label"].str.strip() == ""]
    if len(blank):
        raise InputError(f"gold file {path}: blank label in data row {int(blank[0]) + 1}")
    return gold_frame(df[["image_id", "label"]])
