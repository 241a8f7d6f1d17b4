"""The output policy: the one way this package writes a file, and the checks every command's output gets.

:func:`check_output` runs before a command computes anything and returns an :class:`Output`:

* an output may not be, nor be inside, any input or any cache folder of the run (links resolved, hard
  links too), nor a folder where a file is expected (or the reverse), nor read-only;
* a symbolic link is written through: its target is replaced, the link stays;
* a named pipe, a character device (``/dev/stdout``, ``/dev/null``), a socket, the process's own standard
  streams and ``-`` (standard output) are streamed: opened and written, never renamed over;
* a regular file is written atomically (:func:`atomic_write`): a temporary file beside it, flushed to disk,
  renamed over it. The temporary file is named ``.<name>.<pid>.<random>.geoclip-tmp``; the next run that
  writes in that folder removes the ones whose process is gone (a killed run leaves nothing for long). The
  new file gets the permissions a plain ``open`` would give (``0o666`` minus the umask, or the replaced
  file's);
* a full disk or any other write error names the file (``No space left on device: out.csv``); a reader
  that closes the pipe (``geoclip geocode … --out - | head``) stops the command quietly (the
  ``BrokenPipeError`` goes up unchanged; click ends the command without a message, status 1).
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..errors import ConfigError

__all__ = [
    "TEMP_SUFFIX",
    "CsvChunks",
    "Output",
    "atomic_write",
    "check_output",
    "clean_stale_temps",
    "sha256_of",
    "write_bytes",
    "write_csv",
    "write_json",
    "write_npz",
    "write_text",
]

#: The ending of every temporary file this package writes.
TEMP_SUFFIX = ".geoclip-tmp"
_TEMP = re.compile(r"^\..+\.(\d+)\.[a-z0-9_]+" + re.escape(TEMP_SUFFIX) + "$")
_CLEANED: set[str] = set()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _a(kind: str) -> str:
    """``an input``, ``a cache``."""
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def clean_stale_temps(folder: str | os.PathLike) -> int:
    """Remove the temporary files of runs that are gone from ``folder`` (once per folder and process).

    Returns
    -------
    How many were removed.
    """
    key = os.path.realpath(folder)
    if key in _CLEANED:
        return 0
    _CLEANED.add(key)
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        m = _TEMP.match(entry.name)
        if m and not _alive(int(m.group(1))):
            try:
                os.unlink(entry.path)
                removed += 1
            except OSError:
                pass
    return removed


def _named(exc: OSError, shown: object) -> OSError:
    """``exc`` with the file the user named (the CLI prints ``<reason>: <file>``)."""
    if exc.filename is not None or isinstance(exc, BrokenPipeError):
        return exc
    return OSError(exc.errno, exc.strerror or str(exc), str(shown))


def atomic_write(
    path: str | os.PathLike, write: Callable[[IO[bytes]], Any], *, shown: str | os.PathLike | None = None
) -> Path:
    """Write ``path`` atomically: ``write`` receives a binary file object opened on a temporary file.

    Parameters
    ----------
    path : the file to create or replace; its folder is created when missing.
    write : called once with the open temporary file; whatever it writes becomes the file.
    shown : the name messages give (default ``path``), e.g. the link a user named.

    Returns
    -------
    Path of the written file.

    Raises
    ------
    OSError
        Naming ``shown`` (a folder that cannot be created or written, a full disk); nothing is left behind
        and an existing file is unchanged.

    Example
    -------
    >>> atomic_write("out.bin", lambda fh: fh.write(b"data"))  # doctest: +SKIP
    PosixPath('out.bin')
    """
    path = Path(path)
    shown = shown if shown is not None else path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", str(shown))
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
        clean_stale_temps(path.parent)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=TEMP_SUFFIX)
    except OSError as exc:  # name the file the user asked for, not a temporary one
        raise OSError(exc.errno, f"cannot write {shown}: {exc.strerror or exc}", str(shown)) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        raise _named(exc, shown) from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write bytes atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda fh: fh.write(data))


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 text atomically (see :func:`atomic_write`)."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any, **dumps_kwargs: Any) -> Path:
    """Write an object as UTF-8 JSON atomically (keyword arguments go to :func:`json.dumps`)."""
    return write_text(path, json.dumps(obj, **dumps_kwargs))


def write_csv(df, path: str | os.PathLike, **to_csv_kwargs: Any) -> Path:
    """Write a DataFrame as UTF-8 CSV atomically (no index unless asked for)."""
    to_csv_kwargs.setdefault("index", False)
    return write_text(path, df.to_csv(**to_csv_kwargs))


def write_npz(path: str | os.PathLike, **arrays) -> Path:
    """Write numpy arrays as an uncompressed ``.npz`` atomically (readable with ``allow_pickle=False``)."""
    import numpy as np

    return atomic_write(path, lambda fh: np.savez(fh, **arrays))


def _float_text(arr) -> Any:
    """Floats as Python's ``repr`` writes them (what pandas writes too): shortest round-trip digits,
    ``100.0``, ``1e-05``; NaN as a missing value. pyarrow formats; the values it writes otherwise are
    fixed: integral ones get their ``.0``, very small and very large magnitudes are formatted by Python."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = arr.cast(pa.float64())
    x = arr.to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(x)
        odd = finite & ((np.abs(x) >= 1e9) | ((x != 0) & (np.abs(x) < 1e-3)))
        whole = finite & ~odd & (x == np.trunc(x))
    text = pc.cast(pa.array(x, mask=np.isnan(x)) if np.isnan(x).any() else arr, pa.string())
    if whole.any():  # pyarrow writes 100.0 as "100": add ".0" (a two-word dictionary, no Python strings)
        suffix = pa.DictionaryArray.from_arrays(pa.array(whole.view(np.int8)), pa.array(["", ".0"]))
        text = pc.binary_join_element_wise(text, suffix.cast(pa.string()), "")
    if odd.any():
        text = pc.replace_with_mask(
            text, pa.array(odd), pa.array([repr(float(v)) for v in x[odd]], pa.string())
        )
    return text


def _special(arr) -> list[str]:
    """The characters among comma, quote and line breaks that some value holds (a look at the bytes)."""
    import numpy as np

    data = arr.buffers()[2]
    if data is None:
        return []
    b = np.frombuffer(data, dtype=np.uint8)
    return [c for c in ',"\r\n' if (b == ord(c)).any()]


def _csv_text(values) -> Any:
    """One column as CSV text (pyarrow strings, no nulls): quoted only where needed (a comma, a quote or a
    line break), booleans as ``True``/``False``, NaN and missing values empty, numbers as Python writes
    them."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = values if isinstance(values, pa.Array | pa.ChunkedArray) else None
    if arr is None:
        a = np.asarray(values)
        arr = (
            pa.array(a, type=pa.string(), from_pandas=True)
            if a.dtype == object
            else pa.array(a, from_pandas=True)
        )
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    t = arr.type
    if pa.types.is_dictionary(t):
        arr = arr.cast(t.value_type)
        t = arr.type
    if pa.types.is_large_string(t):  # one chunk of a table: its text fits 32-bit offsets
        arr = arr.cast(pa.string())
        t = arr.type
    if pa.types.is_boolean(t):
        arr = pc.if_else(arr, "True", "False")
    elif pa.types.is_floating(t):
        arr = _float_text(arr)
    elif pa.types.is_string(t):
        special = _special(arr)
        if special:
            needs = pc.match_substring(arr, special[0])
            for c in special[1:]:
                needs = pc.or_(needs, pc.match_substring(arr, c))
            some = pc.filter(arr, needs)
            quoted = pc.binary_join_element_wise('"', pc.replace_substring(some, '"', '""'), '"', "")
            arr = pc.replace_with_mask(arr, needs, quoted)
    else:
        arr = pc.cast(arr, pa.string())
    if arr.null_count:
        arr = pc.fill_null(arr, "")
    return arr


class CsvChunks:
    """Writes a table chunk by chunk as CSV (UTF-8, ``\\n`` line ends, the header once) at columnar speed.

    Example
    -------
    >>> w = CsvChunks(fh)  # doctest: +SKIP
    >>> w.write({"id": ids, "lat": lat})  # doctest: +SKIP
    """

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh, self.names = fh, None
        # dictionary -> its values as CSV text, made once: a column of codes or names taken from one table
        # (``geocode_arrow``'s) is quoted per distinct value, not per row
        self._dictionaries: dict[tuple, tuple[Any, Any]] = {}

    def _text(self, values) -> Any:
        """:func:`_csv_text` of one column; a dictionary array is taken from its dictionary's text."""
        import pyarrow as pa

        if not isinstance(values, pa.DictionaryArray):
            return _csv_text(values)
        d = values.dictionary
        key = (tuple(0 if b is None else b.address for b in d.buffers()), d.offset, len(d), str(d.type))
        if key not in self._dictionaries and len(self._dictionaries) >= 64:
            self._dictionaries.clear()
        seen = self._dictionaries.get(key)
        if seen is None and len(d) > len(values):  # larger than the chunk: quoted from its second chunk on
            self._dictionaries[key] = (d, None)  # ``d`` held: its buffers, hence the key, stay its own
            return _csv_text(values)
        if seen is None or seen[1] is None:
            seen = self._dictionaries[key] = (d, _csv_text(d))
        text = seen[1].take(values.indices)
        return text.fill_null("") if text.null_count else text

    def write(self, columns) -> int:
        """Write the columns (a DataFrame or a mapping name -> array, all of one length); returns rows."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        names = [str(c) for c in columns]
        if self.names is None:
            self.names = names
            head = _csv_text(pa.array(names, type=pa.string())).to_pylist()
            self.fh.write((",".join(head) + "\n").encode("utf-8"))
        elif names != self.names:
            raise ValueError(f"columns {names} differ from the first chunk's {self.names}")
        texts = [self._text(columns[c]).cast(pa.large_string()) for c in columns]  # over 2 GB per chunk: fine
        n = len(texts[0]) if texts else 0
        if not n:
            return 0
        if len(texts) == 1:  # a lone empty field would be a blank line, which readers skip: quote it
            empty = pc.equal(texts[0], pa.scalar("", pa.large_string()))
            texts[0] = pc.if_else(empty, pa.scalar('""', pa.large_string()), texts[0])
        nl = pa.scalar("\n", pa.large_string())
        texts[-1] = pc.binary_join_element_wise(
            texts[-1], nl, pa.scalar("", pa.large_string())
        )  # short: cheap
        rows = pc.binary_join_element_wise(*texts, pa.scalar(",", pa.large_string()))
        offsets = np.frombuffer(rows.buffers()[1], dtype=np.int64)
        start, end = offsets[rows.offset], offsets[rows.offset + len(rows)]
        self.fh.write(memoryview(rows.buffers()[2])[start:end])
        return n


def sha256_of(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _std_fd(st: os.stat_result) -> int | None:
    """0, 1 or 2 when ``st`` is this process's standard input, output or error; else ``None``."""
    for fd in (1, 2, 0):
        try:
            s = os.fstat(fd)
        except OSError:
            continue
        if (s.st_dev, s.st_ino) == (st.st_dev, st.st_ino):
            return fd
    return None


@dataclass(frozen=True)
class Output:
    """Where a command writes, as :func:`check_output` decided: ``path`` as given; ``target`` the regular
    file replaced (links resolved), or ``None`` for a stream; ``stdout``: the stream is standard output
    (say what was done on standard error then)."""

    path: Path
    target: Path | None
    stdout: bool = False

    @property
    def stream(self) -> bool:
        return self.target is None

    def __str__(self) -> str:
        return "standard output" if str(self.path) == "-" else str(self.path)

    def write(self, write: Callable[[IO[bytes]], Any]) -> None:
        """Write the output with ``write(fh)`` (see the module docstring for how).

        Raises
        ------
        OSError
            Naming the output; ``BrokenPipeError`` when a reader closed the pipe.
        """
        if self.target is not None:
            atomic_write(self.target, write, shown=self.path)
            return
        if self.stdout:
            sys.stdout.flush()
            fh = sys.stdout.buffer
            try:
                write(fh)
                fh.flush()
            except OSError as exc:
                raise _named(exc, self) from exc
            return
        try:
            with open(self.path, "wb") as fh:
                write(fh)
        except OSError as exc:
            raise _named(exc, self.path) from exc


def _writable(path: Path) -> bool:
    """Writable by us, and not marked read-only for everyone (root may write anything; we do not)."""
    mode = path.stat().st_mode
    need = os.W_OK | (os.X_OK if stat.S_ISDIR(mode) else 0)
    return bool(mode & 0o222) and os.access(path, need)


def _resolved(item: str | os.PathLike) -> Path:
    return Path(os.path.realpath(item))


def check_output(
    output: str | os.PathLike,
    inputs: Iterable[str | os.PathLike | None] = (),
    *,
    caches: Iterable[str | os.PathLike | None] = (),
    option: str = "--out",
    folder: bool = False,
) -> Output:
    """Check an output path before any work is done (the policy of the module docstring).

    Parameters
    ----------
    output : the path a command will write (a file; with ``folder=True`` a folder it writes into);
        ``"-"``: standard output.
    inputs : files and folders it reads (``None`` entries are ignored).
    caches : cache folders the run reads or writes (an output may not be inside one).
    option : the option's name, for messages.
    folder : the output is a folder.

    Returns
    -------
    :class:`Output`.

    Raises
    ------
    ConfigError
        The output is an input or inside an input folder or a cache, a folder where a file is expected (or
        the reverse), read-only, or in a read-only folder.

    Example
    -------
    >>> out = check_output("labels.csv", ["points.csv"])  # doctest: +SKIP
    >>> out.write(lambda fh: fh.write(b"id\\n"))  # doctest: +SKIP
    """
    raw = os.fspath(output)
    if raw == "-":
        if folder:
            raise ConfigError(f"{option} - (standard output) is for a file; give a folder")
        return Output(Path("-"), None, stdout=True)
    out = Path(output)
    try:
        st = out.stat()
    except (FileNotFoundError, NotADirectoryError):
        st = None
    except OSError as exc:
        raise ConfigError(f"{option} {out}: {exc.strerror or exc}") from exc
    if st is not None and not stat.S_ISDIR(st.st_mode) and not stat.S_ISREG(st.st_mode):
        if folder:
            raise ConfigError(f"{option} {out} is not a folder")
        return Output(out, None, stdout=_std_fd(st) == 1)  # a pipe, a device, a socket: streamed
    if st is not None and stat.S_ISREG(st.st_mode) and _std_fd(st) is not None:
        return Output(out, None, stdout=_std_fd(st) == 1)  # our own redirected stdout: never renamed over
    target = _resolved(out)
    for kind, items in (("input", inputs), ("cache", caches)):
        for item in items:
            if item is None:
                continue
            r = _resolved(item)
            same = r == target
            if not same and st is not None:
                try:
                    same = os.path.samefile(out, item)
                except OSError:
                    same = False
            if same:
                what = "the input" if kind == "input" else "the cache"
                raise ConfigError(
                    f"{option} {out} is {what} {item}: refusing to write over {_a(kind)}; choose another path"
                )
            if r in target.parents and (kind == "cache" or r.is_dir()):
                what = "the input folder" if kind == "input" else "the cache"
                raise ConfigError(
                    f"{option} {out} is inside {what} {item}: refusing to write into {_a(kind)}; choose a "
                    "path outside it"
                )
    if not folder and st is not None and stat.S_ISDIR(st.st_mode):
        raise ConfigError(f"{option} {out} is a folder; give a file name, e.g. {out / 'out.csv'}")
    if folder and st is not None and not stat.S_ISDIR(st.st_mode):
        raise ConfigError(f"{option} {out} is a file; give a folder")
    if st is not None and not folder and not _writable(target):
        raise ConfigError(f"{option} {out} is read-only; choose another file or make it writable")
    parent = target if folder and st is not None else target.parent
    existing = next((p for p in [parent, *parent.parents] if p.exists()), Path("/"))
    if not existing.is_dir():
        raise ConfigError(f"{option} {out}: cannot write there, {existing} is a file, not a folder")
    if not _writable(existing):
        raise ConfigError(f"{option} {out}: the folder {existing} is read-only; choose another place")
    return Output(out, target)
