"""WebDataset / img2dataset tar shards: patterns, format check, streamed reading, coordinates.

A dataset of millions of photos comes as tar shards (``data/{00000..00099}.tar``), not as a folder of
JPEGs. Here a shard is read as a stream (``tarfile`` mode ``r|*``: plain, gzip, bz2 or xz), member after
member, and never unpacked to disk. The WebDataset conventions apply: a member's *key* is its path up to
the first dot of its file name and its extension the rest (``000123.jpg`` and ``000123.json`` are one
sample, key ``000123``); the members of a sample are consecutive.

* A pattern is expanded by the ``braceexpand`` package (bash rules: ``{00000..00099}``, ``{a,b}``, nested
  braces), after its expansions are counted: a pattern of more than :data:`MAX_SHARDS` files is refused
  before anything is expanded.
* Each shard is recognised from its first bytes (:func:`shard_format`): a file that is not a tar (or a
  gzip/bz2/xz-compressed tar) is refused before any work, naming what it is.
* The image of a sample is its ``.jpg``/``.jpeg``/``.png``/``.webp`` member; its id is the sample's key,
  or a field of its ``.json`` member (``id_field``; img2dataset writes the key there as ``"key"``).
* A sample without an image, with an image that cannot be decoded, or without the id field is *skipped
  with a reason* naming its shard and key, as folder input is. A shard that cannot be read to its end
  (truncated, corrupt) keeps what was read before the damage; the damage is reported with the shard and
  the member, and a rerun tries the shard again.
* :func:`shard_pieces` reads a shard in pieces of ``part_size`` samples (one cache chunk each); the units
  of work built from them are in :mod:`~geoclip_utils.engine.units` and :mod:`~geoclip_utils.engine.readers`.
* Coordinates: :func:`read_coords` reads a Parquet or CSV table of ``id, lat, lon``; :func:`join_coords`
  writes those of the embedded images next to the cache (``coords.parquet``).

This module reads files only; it imports nothing of the engine.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import re
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from braceexpand import UnbalancedBracesError, braceexpand

from .._io import atomic_write
from ..errors import ConfigError, InputError

__all__ = [
    "IMAGE_EXTENSIONS",
    "MAX_SHARDS",
    "count_shards",
    "expand_shards",
    "shard_format",
    "iter_samples",
    "shard_pieces",
    "read_coords",
    "join_coords",
]

#: Extensions of the member that holds a sample's image, in order of preference.
IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp")

#: The most shard files one pattern may name (counted before the pattern is expanded).
MAX_SHARDS = 100_000

_KEY = re.compile(r"^((?:.*/|)[^./][^./]*)\.([^/]*)$")
_INT_RANGE = re.compile(r"^(-?\d+)\.\.(-?\d+)(?:\.\.-?(\d+))?$")  # braceexpand's own forms
_CHAR_RANGE = re.compile(r"^([A-Za-z])\.\.([A-Za-z])(?:\.\.-?(\d+))?$")
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _groups(text: str, sep: str) -> list[str] | None:
    """Split ``text`` at top-level ``sep`` (``"{"`` splits into literal and brace parts); ``None`` when the
    braces do not balance. Backslash escapes a character, as in braceexpand."""
    parts, depth, start, pos = [], 0, 0, 0
    while pos < len(text):
        ch = text[pos]
        if ch == "\\":
            pos += 2
            continue
        if ch == "{":
            if sep == "{" and depth == 0:
                parts.append(text[start:pos])
                start = pos
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                return None
            if sep == "{" and depth == 0:
                parts.append(text[start : pos + 1])
                start = pos + 1
        elif ch == sep and depth == 0:
            parts.append(text[start:pos])
            start = pos + 1
        pos += 1
    if depth:
        return None
    parts.append(text[start:])
    return parts


def _range_size(lo: int, hi: int, step: str | None) -> int:
    step_n = int(step) if step else 1
    return abs(hi - lo) // (step_n or 1) + 1


def count_shards(pattern: str) -> int:
    """How many names ``braceexpand(pattern)`` yields, counted without expanding it.

    Example
    -------
    >>> count_shards("x{0..999}{0..999}{0..999}.tar")
    1000000000
    >>> count_shards("{a,b{1..3}}/s-{00..09}.tar")
    40

    Raises
    ------
    ConfigError
        Unbalanced braces.
    """
    parts = _groups(pattern, "{")
    if parts is None:
        raise ConfigError(f"shard pattern {pattern!r} has an unmatched brace")
    total = 1
    for part in parts:
        if not part.startswith("{"):
            continue
        body = part[1:-1]
        if m := _INT_RANGE.match(body):
            total *= _range_size(int(m.group(1)), int(m.group(2)), m.group(3))
        elif m := _CHAR_RANGE.match(body):
            lo, hi = _ALPHABET.index(m.group(1)), _ALPHABET.index(m.group(2))
            total *= _range_size(lo, hi, m.group(3))
        else:
            options = _groups(body, ",")
            total *= (
                sum(count_shards(o) for o in options) if options and len(options) > 1 else count_shards(body)
            )
    return total


def expand_shards(pattern: str) -> list[Path]:
    """The shard files of a brace pattern (``data/{00000..00099}.tar``, ``{a,b}/shard-{0..9}.tar``).

    The expansion is the ``braceexpand`` package's (bash's rules: a range keeps the zero padding of its
    numbers, runs either way and may have a step, ``{00..10..2}``; several braces multiply; braces nest).
    The names are counted first: more than :data:`MAX_SHARDS` is refused before anything is expanded. Every
    file must exist.

    Parameters
    ----------
    pattern : a path with brace ranges ``{lo..hi}`` or lists ``{a,b,c}``; a plain path is one shard.

    Returns
    -------
    list of Path, in pattern order, without repeats.

    Raises
    ------
    ConfigError
        A malformed pattern (unmatched brace, a brace that is neither a range nor a list), or one naming
        more than :data:`MAX_SHARDS` files.
    InputError
        A shard that does not exist or is not a file (the first one is named, with the count).

    Example
    -------
    >>> [p.name for p in expand_shards("data/{00000..00001}.tar")]  # doctest: +SKIP
    ['00000.tar', '00001.tar']
    """
    pattern = str(pattern)
    n = count_shards(pattern)
    if n > MAX_SHARDS:
        raise ConfigError(
            f"shard pattern {pattern!r} names {n:,} files, more than the {MAX_SHARDS:,} one run takes; "
            "check the pattern, or split the shards over several runs into the same --out cache"
        )
    try:
        names = list(dict.fromkeys(braceexpand(pattern)))
    except UnbalancedBracesError:
        raise ConfigError(f"shard pattern {pattern!r} has an unmatched brace") from None
    odd = next((name for name in names if "{" in name or "}" in name), None)
    if odd is not None:
        raise ConfigError(
            f"shard pattern {pattern!r}: a brace in {odd!r} is neither a range like {{00000..00099}} nor a "
            "list like {a,b}"
        )
    paths = [Path(p) for p in names]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise InputError(
            f"{len(missing)} of the {len(paths)} shards of {pattern!r} do not exist, e.g. {missing[0]}; "
            "check the pattern (a range like {00000..00099} keeps its zero padding)"
        )
    return paths


#: Compressions a shard may have (``tarfile`` mode ``r|*`` reads them), by their first bytes.
_COMPRESSIONS = {
    b"\x1f\x8b": ("gzip", gzip.open),
    b"BZh": ("bz2", bz2.open),
    b"\xfd7zXZ\x00": ("xz", lzma.open),
}
#: Other formats a file given as a shard may be, by their first bytes (to say what it is instead).
_OTHER_FORMATS = {
    b"PK\x03\x04": "a ZIP archive",
    b"\x28\xb5\x2f\xfd": "a zstd-compressed file",
    b"PAR1": "a Parquet file",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"%PDF": "a PDF document",
    b"\x93NUMPY": "a NumPy array",
}


def _header_kind(block: bytes) -> str:
    """ "tar" for a valid tar header (or the zero block of an empty tar), else what the bytes look like."""
    if len(block) == 512 and not block.strip(b"\0"):
        return "tar"  # an empty archive
    try:
        tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        return "tar"
    except tarfile.HeaderError:
        pass
    found = next((what for magic, what in _OTHER_FORMATS.items() if block.startswith(magic)), None)
    if found:
        return found
    if not block:
        return "empty (0 bytes)"
    try:
        block.decode("utf-8")
        return "text"
    except UnicodeDecodeError:
        return "not a format recognised by its first bytes"


def shard_format(path: str | os.PathLike) -> str:
    """The format of a shard, recognised from its first bytes: ``"tar"``, ``"tar.gz"``, ``"tar.bz2"`` or
    ``"tar.xz"``.

    Raises
    ------
    InputError
        The file cannot be read, or it is not a tar (naming what it is: empty, text, a ZIP archive, a gzip
        file that holds no tar, ...).

    Example
    -------
    >>> shard_format("data/00000.tar")  # doctest: +SKIP
    'tar'
    """
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            head = fh.read(512)
        compression = next(((n, o) for m, (n, o) in _COMPRESSIONS.items() if head.startswith(m)), None)
        suffix = ""
        if compression is not None:
            suffix = "." + {"gzip": "gz"}.get(compression[0], compression[0])
            try:
                with compression[1](p, "rb") as fh:
                    head = fh.read(512)
            except (OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
                raise InputError(
                    f"shard {p} is not a tar file: it is {compression[0]}-compressed but cannot be decompressed "
                    f"({type(exc).__name__}: {exc}); give tar shards (.tar, .tar.gz, .tar.bz2, .tar.xz)"
                ) from exc
    except OSError as exc:
        raise InputError(f"shard {p} cannot be read ({exc.strerror or exc})") from exc
    kind = _header_kind(head)
    if kind != "tar":
        inside = f"{compression[0]}-compressed, and inside it is " if compression is not None else ""
        raise InputError(
            f"shard {p} is not a tar file: it is {inside}{kind}; give tar shards (.tar, .tar.gz, .tar.bz2, "
            ".tar.xz)"
        )
    return "tar" + suffix


def iter_samples(shard: str | os.PathLike) -> Iterator[tuple[str, dict[str, bytes]]]:
    """The samples of a tar shard, streamed: ``(key, {extension: bytes})`` in shard order.

    Members that are not files, and names without an extension or starting with a dot (``._x.jpg``
    AppleDouble files) are passed over, as WebDataset does.

    Raises
    ------
    tarfile.TarError, OSError, EOFError
        When the shard cannot be read further (the samples before the damage have been yielded).
    """
    key, files = None, {}
    with tarfile.open(shard, mode="r|*") as tar:
        for member in tar:
            if not member.isfile():
                continue
            m = _KEY.match(member.name)
            if m is None:
                continue
            k, ext = m.group(1), m.group(2).lower()
            fh = tar.extractfile(member)
            data = fh.read() if fh is not None else b""
            if k != key:
                if key is not None:
                    yield key, files
                key, files = k, {}
            files[ext] = data
    if key is not None:
        yield key, files


def _sample(
    shard: str, key: str, files: dict[str, bytes], id_field: str | None
) -> tuple[str, bytes | None, str]:
    """(id, image bytes or None, reason) of one sample."""
    image_id = key
    if id_field is not None:
        meta = None
        if "json" in files:
            try:
                meta = json.loads(files["json"])
            except (ValueError, UnicodeDecodeError):
                meta = None
        if not isinstance(meta, dict) or meta.get(id_field) in (None, ""):
            has = (
                "its .json is not a JSON object"
                if "json" in files and not isinstance(meta, dict)
                else (f"no {id_field!r} in its .json" if "json" in files else "no .json member")
            )
            return key, None, f"no id: {has} (sample {key!r} of shard {shard})"
        image_id = str(meta[id_field])
    ext = next((e for e in IMAGE_EXTENSIONS if e in files), None)
    if ext is None:
        exts = ", ".join("." + e for e in sorted(files)) or "none"
        return image_id, None, f"no image member (has {exts}) (sample {key!r} of shard {shard})"
    if not files[ext]:
        return image_id, None, f"empty image member {key}.{ext} (sample {key!r} of shard {shard})"
    return image_id, files[ext], ""


def shard_pieces(
    shard: str | os.PathLike, part_size: int, *, id_field: str | None = None, skip: set[int] | None = None
) -> Iterator[tuple[int, list[tuple[str, bytes | None, str]], bool, str]]:
    """Read a shard in pieces of ``part_size`` samples: ``(part, samples, last, error)`` each.

    A sample is ``(id, image bytes or None, reason)``. ``last`` marks the shard's last piece (read one
    sample ahead); ``error`` says why reading stopped early (the piece then holds the samples read before
    the damage and is the last). Pieces in ``skip`` are read past without being returned, unless reading
    stops in them (then without their samples).

    Example
    -------
    >>> [(part, len(s), last) for part, s, last, _ in shard_pieces("00000.tar", 2)]  # doctest: +SKIP
    [(0, 2, False), (1, 1, True)]
    """
    shard = str(shard)
    skip = skip or set()
    part, piece, error = 0, [], ""
    samples = iter_samples(shard)
    try:
        ahead = next(samples, None)
        while ahead is not None:
            piece.append(None if part in skip else _sample(shard, *ahead, id_field))
            ahead = next(samples, None)
            if len(piece) == part_size and ahead is not None:
                if part not in skip:
                    yield part, piece, False, ""
                part, piece = part + 1, []
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        read = part * part_size + len(piece)
        error = f"shard {shard} cannot be read past its sample {read} ({type(exc).__name__}: {exc})"
    if part in skip:
        if not error:
            return
        piece = []  # the samples of a piece already written are not sent again
    yield part, piece, True, error


def read_coords(path: str | os.PathLike) -> pd.DataFrame:
    """Read a table of image coordinates, Parquet or CSV (see :func:`geoclip_utils.labels.read_coords`, the
    one reader of coordinates: columns id, lat, lon in any case, every problem named by its line or row)."""
    from ..labels import read_coords as read_image_coords

    return read_image_coords(path)


def join_coords(folder: str | os.PathLike, embedded: list[str], coords: pd.DataFrame) -> dict[str, int]:
    """Write the coordinates of the embedded images to ``coords.parquet`` in a model's cache folder.

    Parameters
    ----------
    folder : the model's cache folder.
    embedded : the ids embedded in it.
    coords : a table of :func:`read_coords`.

    Returns
    -------
    dict: ``with_coords`` (embedded images with coordinates), ``without_coords`` (embedded images the
    table does not list), ``unused`` (rows of the table naming no embedded image).
    """
    table = coords.set_index("image_id")
    have = table.index.intersection(pd.Index(embedded), sort=False)
    joined = table.loc[have].rename_axis("image_id").reset_index()
    atomic_write(Path(folder) / "coords.parquet", lambda fh: joined.to_parquet(fh, index=False))
    return {
        "with_coords": len(joined),
        "without_coords": len(embedded) - len(joined),
        "unused": len(table) - len(joined),
    }
