"""Streaming caption files in chunks, counting them in worker processes, and the public counting API."""

from __future__ import annotations

import gzip
import json
import multiprocessing as mp
import os
import sys
import unicodedata
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .._io import write_text
from ..errors import ConfigError, DataError, InputError
from ..labels import validate_labels
from .matchers import MODES, _make_matcher

DEFAULT_CHUNK_BYTES = 2 << 20


PARQUET_BATCH_ROWS = 65_536


PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass
class CaptionCountReport:
    """Counts plus what was read.

    Attributes
    ----------
    counts : dict[str, int]
        label -> number of captions that mention it, in the order the labels were given.
    mode : str
        ``"phrase"``, ``"tokens"`` or ``"substring"``.
    n_lines : int
        Lines (text) or cells (Parquet) read, empty ones included.
    n_empty : int
        Of those, empty ones (only ASCII whitespace, or null cells).
    files : list[str]
        The caption files, in order.
    """

    counts: dict[str, int]
    mode: str
    n_lines: int = 0
    n_empty: int = 0
    files: list[str] = field(default_factory=list)

    @property
    def n_captions(self) -> int:
        """Non-empty lines: the captions that were counted."""
        return self.n_lines - self.n_empty


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(".gz"):
        return "gz"
    return "text"


def _check_files(paths: Sequence[str | os.PathLike], caption_column: str) -> list[Path]:
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    out = [Path(p) for p in paths]
    if not out:
        raise InputError("no caption files given")
    for p in out:
        if not p.exists():
            raise InputError(f"caption file not found: {p}")
        if not p.is_file():
            raise InputError(f"caption path is not a file: {p}")
        if _kind(p) == "parquet":
            _parquet_file(p, caption_column)
    return out


def _parquet_file(path: Path, column: str):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{path} is not a readable Parquet file ({exc})") from exc
    names = pf.schema_arrow.names
    if column not in names:
        raise InputError(
            f"Parquet file {path} has no caption column {column!r} (columns: {names}); "
            "pass --caption-column / caption_column="
        )
    typ = pf.schema_arrow.field(column).type
    if not (
        pa.types.is_string(typ)
        or pa.types.is_large_string(typ)
        or pa.types.is_binary(typ)
        or pa.types.is_large_binary(typ)
    ):
        raise InputError(f"Parquet column {column!r} of {path} holds {typ}, not text")
    return pf


def _text_ranges(path: Path, chunk_bytes: int) -> Iterator[tuple]:
    size = path.stat().st_size
    start = 0
    while start < size:
        end = min(size, start + chunk_bytes)
        yield ("text", str(path), start, end, end - start)
        start = end


def _gz_blocks(path: Path, chunk_bytes: int) -> Iterator[tuple]:
    try:
        with open(path, "rb") as raw, gzip.GzipFile(fileobj=raw) as f:
            done = 0
            while True:
                data = f.read(chunk_bytes)
                if not data:
                    break
                if not data.endswith(b"\n"):
                    data += f.readline()
                pos = raw.tell()
                yield ("block", data, True, pos - done)
                done = pos
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise InputError(f"cannot read gzip file {path}: {exc}") from exc


def _parquet_tasks(path: Path, column: str) -> Iterator[tuple]:
    pf = _parquet_file(path, column)
    meta = pf.metadata
    size = path.stat().st_size
    total_rows = max(meta.num_rows, 1)
    for rg in range(meta.num_row_groups):
        weight = size * meta.row_group(rg).num_rows // total_rows
        yield ("parquet", str(path), rg, column, weight)


def _tasks(files: Sequence[Path], caption_column: str, chunk_bytes: int) -> Iterator[tuple]:
    for p in files:
        kind = _kind(p)
        if kind == "text":
            yield from _text_ranges(p, chunk_bytes)
        elif kind == "gz":
            yield from _gz_blocks(p, chunk_bytes)
        else:
            yield from _parquet_tasks(p, caption_column)


def _read_range(path: str, start: int, end: int) -> bytes:
    """The whole lines whose first byte lies in [start, end)."""
    with open(path, "rb") as f:
        if start > 0:
            f.seek(start - 1)
            f.readline()  # the line that began before `start` belongs to the previous range
        pos = f.tell()
        if pos >= end:
            return b""
        data = f.read(end - pos)
        if data and not data.endswith(b"\n"):
            data += f.readline()
        return data


def _parquet_blocks(path: str, rg: int, column: str) -> Iterator[bytes]:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    for batch in pf.iter_batches(batch_size=PARQUET_BATCH_ROWS, row_groups=[rg], columns=[column]):
        col = batch.column(0)
        if pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type):
            cells = [b"" if v is None else v for v in col.to_pylist()]
            cells = [c.replace(b"\r", b" ").replace(b"\n", b" ") for c in cells]
            yield b"\n".join(cells) + b"\n"
            continue
        col = pc.replace_substring_regex(pc.fill_null(col, ""), pattern="[\r\n]", replacement=" ")
        yield ("\n".join(col.to_pylist()) + "\n").encode("utf-8", errors="surrogatepass")


_WORKER: dict[str, Any] = {}


def _init_worker(mode: str, labels: list[str], risky: str | None) -> None:
    _WORKER["matcher"] = _make_matcher(mode, labels, risky)


def _run_task(task: tuple, matcher: Any = None) -> tuple[Counter, int, int, int]:
    m = matcher if matcher is not None else _WORKER["matcher"]
    kind = task[0]
    if kind == "text":
        _, path, start, end, weight = task
        try:
            data = _read_range(path, start, end)
        except OSError as exc:
            raise DataError(f"cannot read caption file {path}: {exc}") from exc
        hits, n, e = m.process_block(data, True)
        return hits, n, e, weight
    if kind == "block":
        _, data, terminated, weight = task
        hits, n, e = m.process_block(data, terminated)
        return hits, n, e, weight
    _, path, rg, column, weight = task
    hits = Counter()
    n = e = 0
    for data in _parquet_blocks(path, rg, column):
        h, n1, e1 = m.process_block(data, False)
        hits.update(h)
        n += n1
        e += e1
    return hits, n, e, weight


def _resolve_workers(workers: int | None) -> int:
    if workers is None:
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not Linux
            return max(1, os.cpu_count() or 1)
    if not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers must be a positive integer, got {workers!r}")
    return workers


def count_captions_report(
    paths: Sequence[str | os.PathLike] | str | os.PathLike,
    labels: Sequence[str],
    mode: str = "phrase",
    workers: int | None = None,
    progress: bool = True,
    caption_column: str = "caption",
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> CaptionCountReport:
    """Like :func:`count_captions`, but also report how many lines and empty lines were read.

    Parameters
    ----------
    paths, labels, mode, workers, progress, caption_column
        See :func:`count_captions`.
    chunk_bytes : int
        Size of the pieces text files are cut into (and gzip files decompressed by); each piece is
        one task for a worker. Memory per worker is a few times this.

    Returns
    -------
    CaptionCountReport
        Counts, mode, ``n_lines``, ``n_empty`` and the files.

    Raises
    ------
    InputError
        A caption file is missing or unreadable, a Parquet file lacks ``caption_column``, or a label is
        blank, repeated or unusable in this mode.
    ConfigError
        Unknown ``mode`` or bad ``workers`` / ``chunk_bytes``.

    Example
    -------
    >>> rep = count_captions_report(["caps.txt"], ["France"], mode="tokens")  # doctest: +SKIP
    >>> rep.counts, rep.n_captions  # doctest: +SKIP
    ({'France': 12}, 1000)
    """
    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    if not isinstance(chunk_bytes, int) or chunk_bytes < 1:
        raise ConfigError(f"chunk_bytes must be a positive integer, got {chunk_bytes!r}")
    labels = validate_labels(labels, "labels", strip=False)
    folded: dict[str, str] = {}
    for lab in labels:
        key = unicodedata.normalize("NFC", lab).lower()
        if key in folded:
            raise InputError(
                f"labels {folded[key]!r} and {lab!r} differ only in case; every counting mode ignores case, so "
                "both would get the same count: keep one"
            )
        folded[key] = lab
    n_workers = _resolve_workers(workers)
    files = _check_files(paths, caption_column)
    total = sum(p.stat().st_size for p in files)
    if workers is None and total <= chunk_bytes:
        n_workers = 1  # not worth starting processes
    matcher = _make_matcher(mode, labels)  # validates labels for the mode before any work
    hits: Counter = Counter()
    n_lines = n_empty = 0
    bar = tqdm(total=total, unit="B", unit_scale=True, desc=f"captions ({mode})", disable=not progress)
    try:
        if n_workers == 1:
            for task in _tasks(files, caption_column, chunk_bytes):
                h, n, e, w = _run_task(task, matcher)
                hits.update(h)
                n_lines += n
                n_empty += e
                bar.update(w)
        else:
            if sys.platform == "linux":  # fork: workers inherit the matcher, no start-up cost
                ctx = mp.get_context("fork")
                _WORKER["matcher"] = matcher
                init: tuple = (None, ())
            else:
                ctx = mp.get_context("spawn")
                init = (_init_worker, (mode, labels, getattr(matcher, "risky_pattern", None)))
            with ctx.Pool(n_workers, initializer=init[0], initargs=init[1]) as pool:
                pending: deque = deque()
                max_inflight = 2 * n_workers

                def collect() -> None:
                    nonlocal n_lines, n_empty
                    h, n, e, w = pending.popleft().get()
                    hits.update(h)
                    n_lines += n
                    n_empty += e
                    bar.update(w)

                for task in _tasks(files, caption_column, chunk_bytes):
                    pending.append(pool.apply_async(_run_task, (task,)))
                    while len(pending) >= max_inflight:
                        collect()
                while pending:
                    collect()
    finally:
        bar.close()
        _WORKER.pop("matcher", None)
    counts = matcher.finish(hits, len(labels))
    return CaptionCountReport(
        counts=dict(zip(labels, counts, strict=True)),
        mode=mode,
        n_lines=n_lines,
        n_empty=n_empty,
        files=[str(p) for p in files],
    )


def count_captions(
    paths: Sequence[str | os.PathLike] | str | os.PathLike,
    labels: Sequence[str],
    mode: str = "phrase",
    workers: int | None = None,
    progress: bool = True,
    caption_column: str = "caption",
) -> dict[str, int]:
    """Count the captions that mention each label (see the module docstring for the exact rules).

    Parameters
    ----------
    paths : path or sequence of paths
        Caption files: plain text (one caption per line), ``.gz`` text, or Parquet
        (``.parquet``/``.pq``) with a text column ``caption_column``. Streamed; any size.
    labels : sequence of str
        Labels to count (non-blank, no duplicates), e.g. country names.
    mode : {"phrase", "tokens", "substring"}
        ``"phrase"``: case-insensitive whole-word phrase match, each caption counted at most once per
        label. ``"tokens"``: the authors' CLIP token-set rule, identical to their counts.
        ``"substring"``: the authors' substring rule (``" " + label.lower()`` in
        ``" " + caption.lower()``), identical to their counts.
    workers : int, optional
        Worker processes (default: all CPUs available; 1 = in this process). Results do not depend
        on it.
    progress : bool
        Show a tqdm bar (bytes read).
    caption_column : str
        The caption column of Parquet inputs.

    Returns
    -------
    dict[str, int]
        label -> number of captions, in the order of ``labels``.

    Raises
    ------
    InputError
        Missing/unreadable caption file, Parquet without ``caption_column``, blank/duplicate label,
        or a label unusable in this mode (no letters/digits for ``phrase``; no or > 75 CLIP tokens for
        ``tokens``).
    ConfigError
        Unknown ``mode`` or invalid ``workers``.

    Example
    -------
    >>> count_captions(["caps.txt"], ["Niger", "Nigeria"])  # doctest: +SKIP
    {'Niger': 3, 'Nigeria': 41}
    """
    return count_captions_report(
        paths, labels, mode=mode, workers=workers, progress=progress, caption_column=caption_column
    ).counts


def write_counts_json(counts: dict[str, int], path: str | os.PathLike) -> Path:
    """Write ``{label: count}`` as UTF-8 JSON atomically (temp file in the same folder + rename).

    Parameters
    ----------
    counts : dict[str, int]
        The counts.
    path : str or os.PathLike
        Target file; its folder is created if needed.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    DataError
        The file cannot be written.

    Example
    -------
    >>> write_counts_json({"France": 3}, "counts.json")  # doctest: +SKIP
    """
    target = Path(path)
    try:
        write_text(target, json.dumps(counts, ensure_ascii=False, indent=2) + "\n")
    except OSError as exc:
        raise DataError(f"cannot write {target}: {exc}") from exc
    return target
