"""Atomic file writes: the one way this package writes a file.

A file is written to a temporary file in the same folder, flushed to disk and renamed over the
target, so a reader sees the old file or the new one, never half of one — also after ``kill -9`` or
a full disk. The new file gets the permissions a plain ``open(path, "w")`` would give it (``0o666``
minus the umask), or keeps those of the file it replaces; never the ``0o600`` of a bare temp file.

Does not own: what is written (each module formats its own data), nor checks that an output is not
one of the inputs (the CLI does that before it computes anything).
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

__all__ = [
    "atomic_write",
    "write_bytes",
    "write_text",
    "write_json",
    "write_csv",
    "write_npz",
    "sha256_of",
    "check_output",
]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> Path:
    """Write ``path`` atomically: ``write`` receives a binary file object opened on a temporary file.

    Parameters
    ----------
    path : the file to create or replace; its folder is created when missing.
    write : called once with the open temporary file; whatever it writes becomes the file.

    Returns
    -------
    Path of the written file.

    Raises
    ------
    OSError
        When the folder cannot be created or written (the caller turns it into a one-line error);
        nothing is left behind and an existing file is unchanged.

    Example
    -------
    >>> atomic_write("out.bin", lambda fh: fh.write(b"data"))  # doctest: +SKIP
    PosixPath('out.bin')
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", str(path))
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:  # name the file the user asked for, not a temporary one
        raise OSError(exc.errno, f"cannot write {path}: {exc.strerror or exc}", str(path)) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
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


def sha256_of(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def check_output(
    output: str | os.PathLike,
    inputs: Iterable[str | os.PathLike | None],
    *,
    option: str = "--out",
    folder: bool = False,
) -> Path:
    """Refuse an output path that would destroy an input, before any work is done.

    Parameters
    ----------
    output : the path a command will write (a file, or with ``folder=True`` a folder it writes into).
    inputs : the paths it reads (``None`` entries are ignored); symlinks are followed on both sides.
    option : the option's name, for the message.
    folder : the output is a folder (it may hold the inputs) rather than a file.

    Returns
    -------
    The output path.

    Raises
    ------
    ConfigError
        The output is one of the inputs, or a folder where a file is expected (or the reverse).
    """
    from .errors import ConfigError

    out = Path(output)
    target = out.resolve()
    for item in inputs:
        if item is None:
            continue
        if Path(item).resolve() == target:
            raise ConfigError(
                f"{option} {out} is the input {item}: refusing to write over an input; choose another path"
            )
    if folder and out.exists() and not out.is_dir():
        raise ConfigError(f"{option} {out} is a file; give a folder")
    if not folder and out.is_dir():
        raise ConfigError(f"{option} {out} is a folder; give a file name")
    return out
