"""The one predictions schema shared by the authors' files and our own inference runs.

A *predictions table* is a :class:`pandas.DataFrame` with one row per image:

=============  ===========================================================================
column         meaning
=============  ===========================================================================
``image_id``   Mapillary image id (str); unique within a table. May be ``""`` only for the
               authors' older city files, which carry no ids (then ``row`` identifies it).
``gold``       the true label (str), in the label set of the experiment
``top_labels`` tuple of the k best labels, best first (k = 1 or 5 in the paper's files)
``top_probs``  tuple of their probabilities (same length), or NaNs where none were saved
=============  ===========================================================================

``df.attrs`` carries ``experiment`` (name), ``source`` (``"paper"`` or ``"local"``) and ``k``.
Tables are written to Parquet (no pickle) with :func:`save_predictions` and read back with
:func:`read_predictions`; both keep the attrs.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ._io import atomic_write
from .errors import DataError

COLUMNS = ["image_id", "gold", "top_labels", "top_probs"]


def make_predictions(
    image_id: Sequence[str],
    gold: Sequence[str],
    top_labels: Sequence[Sequence[str]],
    top_probs: Sequence[Sequence[float]] | None = None,
    *,
    experiment: str,
    source: str,
) -> pd.DataFrame:
    """Build a validated predictions table.

    Parameters
    ----------
    image_id, gold : sequences of str, one per image.
    top_labels : per image, its k best labels, best first.
    top_probs : per image, the k probabilities; ``None`` when unknown (stored as NaN).
    experiment, source : stored in ``df.attrs``.

    Raises
    ------
    DataError
        If lengths differ, k varies between rows, or ids repeat.

    Example
    -------
    >>> df = make_predictions(["a"], ["France"], [("France", "Belgium")], [(0.9, 0.1)],
    ...                       experiment="demo", source="local")
    >>> df.attrs["k"]
    2
    """
    n = len(image_id)
    top_labels = [tuple(str(x) for x in row) for row in top_labels]
    if top_probs is None:
        top_probs = [tuple(math.nan for _ in row) for row in top_labels]
    else:
        top_probs = [tuple(float(x) for x in row) for row in top_probs]
    if not (len(gold) == len(top_labels) == len(top_probs) == n):
        raise DataError(
            f"predictions for {experiment!r}: lengths differ (ids {n}, gold {len(gold)}, "
            f"labels {len(top_labels)}, probs {len(top_probs)})"
        )
    df = pd.DataFrame(
        {
            "image_id": pd.Series(image_id, dtype=object).astype(str).to_numpy(),
            "gold": pd.Series(gold, dtype=object).astype(str).to_numpy(),
            "top_labels": top_labels,
            "top_probs": top_probs,
        }
    )
    df.attrs.update(experiment=experiment, source=source)
    return validate_predictions(df)


#: Probabilities of a row may exceed a sum of 1 by float rounding (the authors' files: 1.8e-7).
SUM_TOLERANCE = 1e-5


def validate_predictions(df: pd.DataFrame, *, strict: bool = False, where: str | None = None) -> pd.DataFrame:
    """Check that ``df`` follows the schema; set ``df.attrs['k']``; return ``df``.

    Parameters
    ----------
    df : the table.
    strict : also check the values, as for any predictions file a user brings (``source="local"``): every
        image id and label non-empty, no label twice in a row's top-k, probabilities finite, in [0, 1] and
        summing to at most 1 per row (NaN only when a table stores no probabilities at all). The authors'
        files are read without it: their mixed-prompt top-5 names a country twice by construction.
    where : what the table is, for messages (default ``predictions 'experiment'``).

    Raises
    ------
    DataError
        Naming the table, the first offending row (0-based, in table order) and what is wrong.
    """
    name = df.attrs.get("experiment", "<unnamed>")
    what = where or f"predictions {name!r}"
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"{what}: missing columns {missing}; expected {COLUMNS}")
    if len(df) == 0:
        raise DataError(f"{what}: the table is empty")
    lens = df["top_labels"].map(len)
    k = int(lens.iloc[0])
    bad = np.flatnonzero((lens != k).to_numpy())
    if k < 1 or len(bad):
        row = int(bad[0]) if len(bad) else 0
        raise DataError(
            f"{what}: row {row} has {int(lens.iloc[row])} labels; every row needs the same number k >= 1 "
            f"(row 0 has {int(lens.iloc[0])})"
        )
    plens = df["top_probs"].map(len)
    bad = np.flatnonzero((plens != lens).to_numpy())
    if len(bad):
        raise DataError(
            f"{what}: row {int(bad[0])} has {int(plens.iloc[int(bad[0])])} probabilities for {k} labels"
        )
    ids = df["image_id"]
    dup = ids[(ids != "") & ids.duplicated()]
    if len(dup):
        raise DataError(f"{what}: {len(dup)} duplicated image ids, e.g. {dup.iloc[0]!r} (row {dup.index[0]})")
    if strict:
        _check_values(df, what, k)
    df.attrs["k"] = k
    return df


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _check_values(df: pd.DataFrame, what: str, k: int) -> None:
    for col in ("image_id", "gold"):
        empty = (df[col].astype(str).str.strip() == "").to_numpy()
        if empty.any():
            raise DataError(f"{what}: row {_first(empty)} (0-based) has an empty {col}")
    labels = df["top_labels"]
    blank = labels.map(lambda t: any(not str(x).strip() for x in t)).to_numpy()
    if blank.any():
        raise DataError(
            f"{what}: row {_first(blank)} (0-based) has an empty label in top_labels {labels.iloc[_first(blank)]}"
        )
    repeated = labels.map(lambda t: len(set(t)) < len(t)).to_numpy()
    if repeated.any():
        i = _first(repeated)
        raise DataError(f"{what}: row {i} (0-based) names a label twice in its top-{k}: {labels.iloc[i]}")
    probs = np.array(df["top_probs"].tolist(), dtype=float).reshape(len(df), k)
    nan = np.isnan(probs)
    if nan.all():
        return  # a table that stores no probabilities
    if nan.any():
        i = _first(nan.any(axis=1))
        raise DataError(
            f"{what}: row {i} (0-based) has a missing (NaN) probability {df['top_probs'].iloc[i]}"
        )
    bad = ~np.isfinite(probs) | (probs < 0) | (probs > 1)
    if bad.any():
        i = _first(bad.any(axis=1))
        raise DataError(
            f"{what}: row {i} (0-based) has a probability outside [0, 1]: {df['top_probs'].iloc[i]}"
        )
    over = probs.sum(axis=1) > 1 + SUM_TOLERANCE
    if over.any():
        i = _first(over)
        raise DataError(
            f"{what}: row {i} (0-based) has top-{k} probabilities summing to {probs[i].sum():.6g} > 1: {df['top_probs'].iloc[i]}"
        )


def top1(df: pd.DataFrame) -> pd.Series:
    """The top-1 predicted label of each row."""
    return df["top_labels"].str[0]


def save_predictions(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a predictions table to Parquet atomically (temp file + rename); attrs kept."""
    validate_predictions(df, strict=True)
    path = Path(path)
    out = df.copy()
    out["top_labels"] = out["top_labels"].map(list)
    out["top_probs"] = out["top_probs"].map(list)
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(out, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[b"geoclip"] = json.dumps(
        {k: v for k, v in df.attrs.items() if isinstance(v, (str, int, float))}
    ).encode()
    table = table.replace_schema_metadata(meta)
    return atomic_write(path, lambda fh: pq.write_table(table, fh))


def read_predictions(path: str | os.PathLike) -> pd.DataFrame:
    """Read a table written by :func:`save_predictions` (validated, attrs restored)."""
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise DataError(f"predictions file {path} does not exist; run `geoclip classify` to make it")
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise DataError(
            f"predictions file {path} is not readable Parquet ({exc}); delete it and rerun"
        ) from exc
    df = table.to_pandas()
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"predictions file {path}: missing columns {missing}; expected {COLUMNS}")
    for col in ("top_labels", "top_probs"):
        not_list = ~df[col].map(lambda v: isinstance(v, list | tuple | np.ndarray)).to_numpy()
        if not_list.any():
            i = _first(not_list)
            raise DataError(
                f"predictions file {path}: row {i} (0-based): {col} is {df[col].iloc[i]!r}, not a list"
            )
    try:
        df["top_labels"] = df["top_labels"].map(lambda r: tuple(str(x) for x in r))
        df["top_probs"] = df["top_probs"].map(lambda r: tuple(math.nan if x is None else float(x) for x in r))
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"predictions file {path}: top_probs holds a value that is not a number ({exc})"
        ) from exc
    meta = (table.schema.metadata or {}).get(b"geoclip")
    if meta:
        try:
            df.attrs.update(json.loads(meta))
        except (json.JSONDecodeError, TypeError) as exc:
            raise DataError(f"predictions file {path}: its geoclip metadata is not JSON ({exc})") from exc
    df.attrs.setdefault("experiment", path.stem)
    df.attrs.setdefault("source", "local")
    return validate_predictions(df, strict=True, where=f"predictions file {path}")
