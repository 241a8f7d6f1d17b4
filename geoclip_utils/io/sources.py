"""Opening a user's file: what it is is read from its first bytes, never guessed from its name.

:func:`open_input` looks at the first bytes of a file. gzip, bz2, xz and zstd data are decoded (and what
they hold is looked at again); Parquet is returned as such to the readers that take it; every other
container or binary format (tar, zip, 7-Zip, lz4, images, PDF, UTF-16 text, bytes with NULs) is refused,
naming what was found. A name that says one thing while the bytes say another (``x.gz`` holding plain
text, ``x.parquet`` holding CSV) is refused too. An empty file is refused.

Text is read line by line by :meth:`Input.lines`: every line must be UTF-8, hold no NUL byte and be at
most :data:`MAX_LINE_BYTES` long; the message names the line as an editor counts it (``\\n``, ``\\r\\n`` and
a lone ``\\r`` each end a line, blank lines count), so a 200 MB "line" inside a small ``.gz`` is refused
after reading one megabyte of it.
"""

from __future__ import annotations

import bz2
import gzip
import io
import itertools
import lzma
import os
import re
import stat
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..errors import InputError

__all__ = ["MAX_LINE_BYTES", "Input", "open_input", "sniff", "describe", "inner_name"]

#: The longest line (bytes, line break excluded) any text reader accepts.
MAX_LINE_BYTES = 1 << 20

#: Bytes looked at to recognise a format.
_HEAD = 4096

#: Compressions decoded on the fly.
CODECS = ("gzip", "bz2", "xz", "zstd")

#: (offset, magic bytes, kind): what a file is, from its first bytes.
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x1f\x8b", "gzip"),
    (0, b"\xfd7zXZ\x00", "xz"),
    (0, b"\x28\xb5\x2f\xfd", "zstd"),
    (0, b"PAR1", "parquet"),
    (257, b"ustar", "tar"),
    (0, b"PK\x03\x04", "zip"),
    (0, b"PK\x05\x06", "zip"),
    (0, b"7z\xbc\xaf\x27\x1c", "7z"),
    (0, b"\x04\x22\x4d\x18", "lz4"),
    (0, b"\x89PNG\r\n\x1a\n", "png"),
    (0, b"\xff\xd8\xff", "jpeg"),
    (0, b"GIF8", "gif"),
    (0, b"%PDF-", "pdf"),
    (0, b"SQLite format 3\x00", "sqlite"),
    (0, b"\x7fELF", "elf"),
    (0, b"\x93NUMPY", "npy"),
    (0, b"ARROW1", "arrow"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole"),
)

_DESCRIPTIONS = {
    "text": "text",
    "gzip": "gzip-compressed data",
    "bz2": "bzip2-compressed data",
    "xz": "xz-compressed data",
    "zstd": "zstd-compressed data",
    "parquet": "a Parquet file",
    "tar": "a tar archive",
    "zip": "a ZIP archive (.zip, or an .xlsx/.docx document)",
    "7z": "a 7-Zip archive",
    "lz4": "lz4-compressed data",
    "png": "a PNG image",
    "jpeg": "a JPEG image",
    "gif": "a GIF image",
    "pdf": "a PDF document",
    "sqlite": "an SQLite database",
    "elf": "a program (ELF binary)",
    "npy": "a NumPy array file",
    "arrow": "an Arrow IPC file",
    "ole": "an old Office document (.xls/.doc)",
    "utf16": "UTF-16 text",
    "binary": "binary data",
}

#: What a file name's last suffix claims the bytes are.
_CLAIMS = {
    ".gz": "gzip",
    ".gzip": "gzip",
    ".tgz": "gzip",
    ".bz2": "bz2",
    ".xz": "xz",
    ".zst": "zstd",
    ".zstd": "zstd",
    ".parquet": "parquet",
    ".pq": "parquet",
}

_CODEC_SUFFIXES = tuple(s for s, kind in _CLAIMS.items() if kind in CODECS and s != ".tgz")


def inner_name(path: str | os.PathLike) -> str:
    """The file's name, lower case, without a compression suffix: what the name says the content is
    (``"points.json.gzip"`` → ``"points.json"``). The content itself is recognised from its bytes
    (:func:`open_input`); this only tells which of the formats a reader takes the name announces.

    Example
    -------
    >>> inner_name("P.JSON.zstd"), inner_name("labels.csv.bz2"), inner_name("ids.txt")
    ('p.json', 'labels.csv', 'ids.txt')
    """
    name = Path(path).name.lower()
    for s in _CODEC_SUFFIXES:
        if name.endswith(s):
            return name[: -len(s)]
    return name


#: Bytes that do not occur in text but for a stray one (NUL and the C0 controls but tab, line breaks, escape).
_CONTROL = bytes(c for c in range(32) if c not in (9, 10, 11, 12, 13, 27))


def sniff(head: bytes) -> str:
    """What the bytes ``head`` (the start of a file) are: one of the kinds of :func:`describe`.

    Example
    -------
    >>> sniff(b"\\x1f\\x8b\\x08..."), sniff(b"id,lat,lon\\n")
    ('gzip', 'text')
    """
    if (
        head.startswith(b"BZh")
        and head[3:4].isdigit()
        and head[4:10]
        in (
            b"\x31\x41\x59\x26\x53\x59",
            b"\x17\x72\x45\x38\x50\x90",
        )
    ):
        return "bz2"
    for offset, magic, kind in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return kind
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf16"
    if head.count(0) > 0.9 * len(head[1::2]) and (
        head[1::2].count(0) > 0.9 * len(head[1::2]) or head[0::2].count(0) > 0.9 * len(head[0::2])
    ):
        return "utf16"
    control = sum(head.count(c) for c in _CONTROL)
    if control >= 4 and control > 0.1 * len(
        head
    ):  # text has a few control characters at most; binary data has many
        return "binary"
    return "text"


def describe(kind: str) -> str:
    """Words for a kind of :func:`sniff` (``"a tar archive"``)."""
    return _DESCRIPTIONS.get(kind, kind)


def _expected(kinds: tuple[str, ...]) -> str:
    return " or ".join("UTF-8 text" if k == "text" else describe(k) for k in kinds)


def _advice(kind: str) -> str:
    if kind in ("tar", "zip", "7z"):
        return "unpack it and give the files it holds"
    if kind == "lz4":
        return "decompress it first (gzip, bz2, xz and zstd are read as they are)"
    if kind == "utf16":
        return "save it as UTF-8"
    return "is it the right file?"


class _Decoded(io.RawIOBase):
    """A raw stream over a decompressor that turns damaged data into one :class:`InputError`."""

    def __init__(self, inner, where: str, codec: str) -> None:
        self.inner, self.where, self.codec, self.done = inner, where, codec, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self.inner.read(len(buffer))
        except (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError) as exc:
            raise InputError(
                f"{self.where}: the {self.codec} data is damaged after {self.done:,} decoded bytes "
                f"({' '.join(str(exc).split()) or type(exc).__name__}); is the file complete?"
            ) from exc
        n = len(data)
        buffer[:n] = data
        self.done += n
        return n

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            super().close()


def _open_codec(path: Path, codec: str):
    if codec == "gzip":
        return gzip.open(path, "rb")
    if codec == "bz2":
        return bz2.open(path, "rb")
    if codec == "xz":
        return lzma.open(path, "rb")
    import pyarrow as pa

    return pa.input_stream(str(path), compression="zstd")


@dataclass(frozen=True)
class Input:
    """A user's file, recognised: ``kind`` is ``"text"`` or ``"parquet"`` (what the bytes hold once
    decoded), ``compression`` one of :data:`CODECS` or ``None``; ``what`` names it in messages
    (``"gold file"``; empty: the path alone)."""

    path: Path
    what: str
    kind: str
    compression: str | None
    size: int

    @property
    def where(self) -> str:
        """How messages name the file: ``"gold file g.csv"``, or the path alone."""
        return f"{self.what} {self.path}" if self.what else str(self.path)

    def open(self, buffering: int = 1 << 20) -> IO[bytes]:
        """The file's bytes, decoded when compressed (a buffered binary stream; close it)."""
        try:
            if self.compression is None:
                return open(self.path, "rb", buffering=buffering)
            return io.BufferedReader(
                _Decoded(_open_codec(self.path, self.compression), self.where, self.compression), buffering
            )
        except OSError as exc:
            raise InputError(f"{self.where} cannot be read ({exc.strerror or exc})") from exc

    def lines(self, limit: int = MAX_LINE_BYTES) -> Iterator[tuple[int, str]]:
        """``(line number, text)`` of every line, its line break kept, checked as the module says.

        Raises
        ------
        InputError
            A line that is not UTF-8, holds a NUL byte or is longer than ``limit`` bytes (naming it).
        """
        with self.open() as fh:
            yield from check_lines(iter(lambda: fh.readline(limit + 1), b""), self.where, limit)


_BARE_CR = re.compile(rb"(?<=\r)(?!\n)")


def check_lines(
    raw_lines: Iterator[bytes], where: str, limit: int = MAX_LINE_BYTES, first: int = 1
) -> Iterator[tuple[int, str]]:
    """Number and decode lines read with ``readline(limit + 1)`` (see :meth:`Input.lines`)."""
    n = first - 1
    carry = b""
    for raw in itertools.chain(raw_lines, [b""]):  # the empty one flushes a carried piece
        partial = len(raw) > limit and not raw.endswith(b"\n")  # readline stopped at the limit
        data = carry + raw
        pieces = _BARE_CR.split(data) if b"\r" in data else [data]
        carry = b""
        if partial:  # the last piece goes on in the next read (a lone \r may be half of \r\n)
            carry = pieces.pop()
            if not carry and pieces and pieces[-1].endswith(b"\r"):
                carry = pieces.pop()
        for piece in pieces:
            if not piece:
                continue
            n += 1
            body = len(piece) - (2 if piece.endswith(b"\r\n") else 1 if piece.endswith((b"\n", b"\r")) else 0)
            if body > limit:
                raise _too_long(where, n, limit)
            try:
                text = piece.decode("utf-8")
            except UnicodeDecodeError as exc:
                col = len(piece[: exc.start].decode("utf-8", errors="replace")) + 1
                raise InputError(
                    f"{where}: line {n} is not UTF-8 text (byte 0x{piece[exc.start]:02x} at column {col}); "
                    "save the file as UTF-8"
                ) from exc
            if n == 1 and text.startswith("\ufeff"):
                text = text[1:]
            if "\x00" in text:
                raise InputError(
                    f"{where}: line {n} holds a NUL byte (column {text.index(chr(0)) + 1}): binary data, not text"
                )
            yield n, text
        if len(carry) - carry.endswith(b"\r") > limit:
            raise _too_long(where, n + 1, limit)


def _too_long(where: str, line: int, limit: int) -> InputError:
    return InputError(
        f"{where}: line {line} is longer than {limit:,} bytes, the longest line read; "
        "is this the right file (one record per line)?"
    )


def open_input(path: str | os.PathLike, what: str = "", *, kinds: tuple[str, ...] = ("text",)) -> Input:
    """Open a user's file and recognise it from its first bytes (see the module docstring).

    Parameters
    ----------
    path : the file.
    what : what it is, for messages (``"gold file"``); empty: messages start with the path.
    kinds : what the caller reads: ``"text"`` and/or ``"parquet"`` (after decompression).

    Returns
    -------
    :class:`Input`.

    Raises
    ------
    InputError
        Missing, a folder, not a regular file, unreadable, empty (also once decompressed), damaged
        compressed data, a kind the caller does not read (naming what was found), or a name whose suffix
        claims another format than the bytes hold.

    Example
    -------
    >>> src = open_input("points.csv.gz", "points file")  # doctest: +SKIP
    >>> src.compression, [t for _, t in src.lines()][:1]  # doctest: +SKIP
    ('gzip', ['id,lat,lon\\n'])
    """
    p = Path(path)
    where = f"{what} {p}" if what else str(p)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise InputError(f"{where} does not exist") from None
    except OSError as exc:
        raise InputError(f"{where} cannot be read ({exc.strerror or exc})") from exc
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{where} is a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{where} is not a regular file (a pipe or a device); save it to a file first")
    try:
        with open(p, "rb") as fh:
            head = fh.read(_HEAD)
    except OSError as exc:
        raise InputError(f"{where} cannot be read ({exc.strerror or exc})") from exc
    if not head:
        raise InputError(f"{where} is empty")
    kind, compression = sniff(head), None
    if kind in CODECS:
        compression = kind
        probe = Input(p, what, "text", compression, st.st_size)
        with probe.open(buffering=_HEAD) as fh:
            head = fh.read(_HEAD)
        if not head:
            raise InputError(f"{where} is empty once decompressed ({describe(compression)})")
        kind = sniff(head)
        if kind in CODECS:
            raise InputError(
                f"{where} is {describe(compression)} holding {describe(kind)}; decompress it once"
            )
    claim = _CLAIMS.get(p.suffix.lower())
    found = compression or kind
    if claim is not None and claim != found and not (claim == "parquet" and kind == "parquet"):
        holds = describe(found) + (f" holding {describe(kind)}" if compression and kind != "text" else "")
        if claim == "parquet":
            raise InputError(
                f"{where} is not a readable Parquet file: it is named {p.suffix} but holds {holds}"
            )
        raise InputError(
            f"{where} is named {p.suffix} ({describe(claim)}) but holds {holds}; rename it or give the right file"
        )
    if kind not in kinds:
        found_words = (describe(compression) + " holding " if compression else "") + describe(kind)
        if kind == "binary":
            found_words += " (control bytes such as NUL, not characters)"
        raise InputError(f"{where} is {found_words}, not {_expected(kinds)}; {_advice(kind)}")
    return Input(p, what, kind, compression, st.st_size)
