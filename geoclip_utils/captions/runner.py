"""Streaming caption files in chunks, counting them in worker processes, and the public counting API."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import re
import sys
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from .._io import write_text
from ..errors import ConfigError, DataError, InputError
from ..io.sources import MAX_LINE_BYTES, Input, open_input
from ..labels import check_distinct_forms, validate_labels
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


class _TextProblem(Exception):
    """A caption text problem found by a worker at a byte offset; the main process names its line."""

    def __init__(self, path: str, offset: int, what: str) -> None:
        super().__init__(path, offset, what)
        self.path, self.offset, self.what = path, offset, what


def _line_ends(data: bytes) -> int:
    """Line ends in ``data``: ``\n``, ``\r\n`` and a lone ``\r`` each end a line."""
    return data.count(b"\n") + len(_LONE_CR.findall(data))


_LONE_CR = re.compile(rb"\r(?!\n)")


def _line_at(path: str, offset: int) -> int:
    """The line (as an editor counts) holding byte ``offset`` of an uncompressed file; read only after a
    problem, to name it."""
    n, done, prev = 1, 0, b""
    with open(path, "rb") as fh:
        while done < offset:
            block = fh.read(min(1 << 20, offset - done))
            if not block:
                break
            n += _line_ends(prev + block) - _line_ends(prev)
            done, prev = done + len(block), block[-1:]
    return n


def _finish_line(f, data: bytes, limit: int = MAX_LINE_BYTES) -> tuple[bytes, int | None]:
    """``data`` read on from the buffered stream ``f`` to the end of its last line (``\n``, ``\r\n`` or a
    lone ``\r``), reading at most ``limit`` bytes more; returns it and, when that line is longer than
    ``limit``, the offset in ``data`` where the line starts (else ``None``)."""
    last = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
    if data and last == len(data):  # ends with a line end; a \r\n may be cut in two
        if data.endswith(b"\r") and f.peek(1)[:1] == b"\n":
            data += f.read(1)
        return data, None
    while True:
        buf = f.peek(1 << 16)[: 1 << 16]
        if not buf:
            break
        hits = [k for k in (buf.find(b"\n"), buf.find(b"\r")) if k >= 0]
        if hits:
            data += f.read(min(hits) + 1)
            if data.endswith(b"\r") and f.peek(1)[:1] == b"\n":
                data += f.read(1)
            break
        data += f.read(len(buf))
        if len(data) - last > limit:
            return data, last
    body = len(data) - last - (2 if data.endswith(b"\r\n") else 1 if data.endswith((b"\n", b"\r")) else 0)
    return data, (last if body > limit else None)


def _check_text(data: bytes, limit: int = MAX_LINE_BYTES) -> tuple[int, str] | None:
    """The first problem of a block of caption text: ``(byte offset, what)``: not UTF-8, or a line longer
    than ``limit``; ``None`` when fine."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start, f"is not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8"
    if len(data) > limit:
        arr = np.frombuffer(data, dtype=np.uint8)
        ends = np.flatnonzero((arr == 10) | (arr == 13))
        starts = np.r_[0, ends + 1]
        lengths = np.r_[ends, len(data)] - starts
        if lengths.max() > limit:
            return int(starts[int(np.argmax(lengths > limit))]), _LONG
    return None


_LONG = f"is longer than {MAX_LINE_BYTES:,} bytes, the longest caption line read; is this the right file?"


def _check_files(paths: Sequence[str | os.PathLike], caption_column: str) -> list[Input]:
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    out = [open_input(p, "caption file", kinds=("text", "parquet")) for p in paths]
    if not out:
        raise InputError("no caption files given")
    for src in out:
        if src.kind == "parquet":
            if src.compression is not None:
                raise InputError(f"{src.where} is a compressed Parquet file; decompress it first")
            pf = _parquet_file(src.path, caption_column)
            if pf.metadata.num_rows == 0:
                raise InputError(f"{src.where} holds no rows")
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


def _stream_blocks(src: Input, chunk_bytes: int) -> Iterator[tuple]:
    """Blocks of whole lines of a compressed file, decoded here (one stream), checked as they come."""
    line = 1
    with src.open() as f:
        while data := f.read(chunk_bytes):
            data, long_at = _finish_line(f, data)
            problem = (long_at, _LONG) if long_at is not None else _check_text(data)
            if problem is not None:
                offset, what = problem
                raise InputError(f"{src.where}: line {line + _line_ends(data[:offset])} {what}")
            line += _line_ends(data)
            yield ("block", data, True, 0)
    yield ("block", b"", True, src.size)  # the progress bar counts compressed bytes: all of them now


def _parquet_tasks(path: Path, column: str) -> Iterator[tuple]:
    pf = _parquet_file(path, column)
    meta = pf.metadata
    size = path.stat().st_size
    total_rows = max(meta.num_rows, 1)
    for rg in range(meta.num_row_groups):
        weight = size * meta.row_group(rg).num_rows // total_rows
        yield ("parquet", str(path), rg, column, weight)


def _tasks(files: Sequence[Input], caption_column: str, chunk_bytes: int) -> Iterator[tuple]:
    for src in files:
        if src.kind == "parquet":
            yield from _parquet_tasks(src.path, caption_column)
        elif src.compression is None:
            yield from _text_ranges(src.path, chunk_bytes)
        else:
            yield from _stream_blocks(src, chunk_bytes)


def _read_range(path: str, start: int, end: int) -> bytes:
    """The whole lines whose first byte lies in [start, end), read with bounded memory (a line ends at
    ``\n``, ``\r\n`` or a lone ``\r``, where the matchers see lines end).

    Raises
    ------
    _TextProblem
        A line of the range that is longer than :data:`MAX_LINE_BYTES` or not UTF-8 (with its offset).
    """
    with open(path, "rb", buffering=1 << 16) as f:
        if start > 0:  # a line going on at `start` belongs to the range it began in
            f.seek(start - 1)
            prev = f.read(1)
            if prev == b"\r" and f.peek(1)[:1] == b"\n":
                f.read(1)
            elif prev not in (b"\n", b"\r"):
                while f.tell() < end:  # skip to the next line end, a bounded piece at a time
                    piece, _ = _finish_line(f, b"x", 1 << 16)
                    if piece.endswith((b"\n", b"\r")):
                        break
        pos = f.tell()
        if pos >= end:
            return b""
        data, long_at = _finish_line(f, f.read(end - pos))
        if long_at is not None:
            raise _TextProblem(path, pos + long_at, _LONG)
        problem = _check_text(data)
        if problem is not None:
            raise _TextProblem(path, pos + problem[0], problem[1])
        return data


def _parquet_blocks(path: str, rg: int, column: str) -> Iterator[bytes]:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    row = sum(pf.metadata.row_group(i).num_rows for i in range(rg))
    for batch in pf.iter_batches(batch_size=PARQUET_BATCH_ROWS, row_groups=[rg], columns=[column]):
        col = batch.column(0)
        if pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type):
            cells = [b"" if v is None else v for v in col.to_pylist()]
            for i, c in enumerate(cells):
                try:
                    c.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise InputError(
                        f"caption file {path}: row {row + i} (0-based) of column {column!r} is not UTF-8 text "
                        f"(byte 0x{c[exc.start]:02x})"
                    ) from None
            cells = [c.replace(b"\r", b" ").replace(b"\n", b" ") for c in cells]
            row += len(cells)
            yield b"\n".join(cells) + b"\n"
            continue
        row += len(col)
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
        Size of the pieces text files are cut into (and compressed files decompressed by); each piece is
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
    check_distinct_forms(
        labels,
        f"the {mode} mode ignores case"
        + (" and Unicode normal form" if mode != "substring" else "")
        + ", so both would get the same count",
        normal_form=mode != "substring",
    )
    n_workers = _resolve_workers(workers)
    files = _check_files(paths, caption_column)
    total = sum(src.size for src in files)
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
    except _TextProblem as p:  # a worker found it at a byte offset: name the line
        raise InputError(f"caption file {p.path}: line {_line_at(p.path, p.offset)} {p.what}") from None
    finally:
        bar.close()
        _WORKER.pop("matcher", None)
    counts = matcher.finish(hits, len(labels))
    return CaptionCountReport(
        counts=dict(zip(labels, counts, strict=True)),
        mode=mode,
        n_lines=n_lines,
        n_empty=n_empty,
        files=[str(src.path) for src in files],
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
        Caption files: plain or compressed text (gzip, bz2, xz, zstd; one caption per line), or Parquet with a
        text column ``caption_column``, recognised from their bytes. Streamed; any size.
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


def counts_json(counts: dict[str, int]) -> str:
    """``{label: count}`` as the JSON text :func:`write_counts_json` writes."""
    return json.dumps(counts, ensure_ascii=False, indent=2) + "\n"


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
        write_text(target, counts_json(counts))
    except OSError as exc:
        raise DataError(f"cannot write {target}: {exc}") from exc
    return target
