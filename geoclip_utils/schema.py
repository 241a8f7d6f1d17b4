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
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

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


def validate_predictions(df: pd.DataFrame) -> pd.DataFrame:
    """Check that ``df`` follows the schema; set ``df.attrs['k']``; return ``df``.

    Raises
    ------
    DataError
        Naming the experiment, the first offending row and what is wrong.
    """
    name = df.attrs.get("experiment", "<unnamed>")
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"predictions {name!r}: missing columns {missing}; expected {COLUMNS}")
    if len(df) == 0:
        raise DataError(f"predictions {name!r}: the table is empty")
    lens = df["top_labels"].map(len)
    k = int(lens.iloc[0])
    bad = np.flatnonzero((lens != k).to_numpy())
    if k < 1 or len(bad):
        row = int(bad[0]) if len(bad) else 0
        raise DataError(
            f"predictions {name!r}: row {row} has {int(lens.iloc[row])} labels, expected {k} like row 0"
        )
    plens = df["top_probs"].map(len)
    bad = np.flatnonzero((plens != lens).to_numpy())
    if len(bad):
        raise DataError(
            f"predictions {name!r}: row {int(bad[0])} has a different number of probabilities and labels"
        )
    ids = df["image_id"]
    dup = ids[(ids != "") & ids.duplicated()]
    if len(dup):
        raise DataError(
            f"predictions {name!r}: {len(dup)} duplicated image ids, e.g. {dup.iloc[0]!r} (row {dup.index[0]})"
        )
    df.attrs["k"] = k
    return df


def top1(df: pd.DataFrame) -> pd.Series:
    """The top-1 predicted label of each row."""
    return df["top_labels"].str[0]


def save_predictions(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a predictions table to Parquet atomically (temp file + rename); attrs kept."""
    validate_predictions(df)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
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
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


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
    df["top_labels"] = df["top_labels"].map(tuple)
    df["top_probs"] = df["top_probs"].map(lambda r: tuple(float(x) for x in r))
    meta = (table.schema.metadata or {}).get(b"geoclip")
    if meta:
        df.attrs.update(json.loads(meta))
    df.attrs.setdefault("experiment", path.stem)
    df.attrs.setdefault("source", "local")
    return validate_predictions(df)
