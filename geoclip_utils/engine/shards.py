"""WebDataset / img2dataset tar shards: patterns, streamed reading, coordinates, the local shard runner.

A dataset of millions of photos comes as tar shards (``data/{00000..00099}.tar``), not as a folder of
JPEGs. Here a shard is read as a stream (``tarfile`` mode ``r|*``: plain, gzip, bz2 or xz), member after
member, and never unpacked to disk. The WebDataset conventions apply: a member's *key* is its path up to
the first dot of its file name and its extension the rest (``000123.jpg`` and ``000123.json`` are one
sample, key ``000123``); the members of a sample are consecutive.

* The image of a sample is its ``.jpg``/``.jpeg``/``.png``/``.webp`` member; its id is the sample's key,
  or a field of its ``.json`` member (``id_field``; img2dataset writes the key there as ``"key"``).
* A sample without an image, with an image that cannot be decoded, or without the id field is *skipped
  with a reason* naming its shard and key, as folder input is. A shard that cannot be read to its end
  (truncated, corrupt) keeps what was read before the damage; the damage is reported with the shard and
  the member, and a rerun tries the shard again.
* A shard is embedded in pieces of ``part_size`` samples, one cache chunk each; a rerun skips the shards
  the cache holds completely and, in a partly done shard, the pieces already written.
* Coordinates: :func:`read_coords` reads a Parquet or CSV table of ``id, lat, lon``; :func:`join_coords`
  writes those of the embedded images next to the cache (``coords.parquet``).
"""

from __future__ import annotations

import functools
import json
import os
import re
import tarfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import torch
from tqdm import tqdm

from .._io import atomic_write
from ..errors import ConfigError, InputError
from .cache import ChunkWriter
from .images import DEFAULT_MAX_PIXELS
from .models import model_info
from .units import Unit

__all__ = [
    "IMAGE_EXTENSIONS",
    "expand_shards",
    "iter_samples",
    "shard_pieces",
    "shard_units",
    "read_coords",
    "join_coords",
    "embed_shards",
    "run_summary",
]

#: Extensions of the member that holds a sample's image, in order of preference.
IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp")

_BRACE = re.compile(r"\{([^{}]*)\}")
_KEY = re.compile(r"^((?:.*/|)[^./][^./]*)\.([^/]*)$")


def _expand(pattern: str) -> list[str]:
    m = _BRACE.search(pattern)
    if m is None:
        if "{" in pattern or "}" in pattern:
            raise ConfigError(f"shard pattern {pattern!r} has an unmatched brace")
        return [pattern]
    body = m.group(1)
    if ".." in body:
        lo, _, hi = body.partition("..")
        if not (lo.isdigit() and hi.isdigit()):
            raise ConfigError(
                f"shard pattern {pattern!r}: {{{body}}} is not a range of numbers like {{00000..00099}}"
            )
        width = len(lo) if lo.startswith("0") or len(lo) == len(hi) else 0
        if int(hi) < int(lo):
            raise ConfigError(f"shard pattern {pattern!r}: the range {{{body}}} runs backwards")
        options = [str(n).zfill(width) for n in range(int(lo), int(hi) + 1)]
    else:
        options = body.split(",")
        if len(options) < 2 or not all(options):
            raise ConfigError(f"shard pattern {pattern!r}: {{{body}}} is neither a range a..b nor a list a,b")
    head, tail = pattern[: m.start()], pattern[m.end() :]
    return [p for o in options for p in _expand(head + o + tail)]


def expand_shards(pattern: str) -> list[Path]:
    """The shard files of a brace pattern (``data/{00000..00099}.tar``, ``{a,b}/shard-{0..9}.tar``).

    A numeric range keeps the zero padding of its first number; several braces multiply. Every file must
    exist.

    Parameters
    ----------
    pattern : a path with brace ranges ``{lo..hi}`` or lists ``{a,b,c}``; a plain path is one shard.

    Returns
    -------
    list of Path, in pattern order, without repeats.

    Raises
    ------
    ConfigError
        A malformed pattern (unmatched brace, backward range).
    InputError
        A shard that does not exist or is not a file (the first one is named, with the count).

    Example
    -------
    >>> [p.name for p in expand_shards("data/{00000..00001}.tar")]  # doctest: +SKIP
    ['00000.tar', '00001.tar']
    """
    paths = list(dict.fromkeys(Path(p) for p in _expand(str(pattern))))
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise InputError(
            f"{len(missing)} of the {len(paths)} shards of {pattern!r} do not exist, e.g. {missing[0]}; "
            "check the pattern (a range like {00000..00099} keeps its zero padding)"
        )
    return paths


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


def shard_units(
    shards: list[Path], writer: ChunkWriter, part_size: int, id_field: str | None = None
) -> tuple[list[Unit], int]:
    """The units still to do: every shard the cache does not hold completely, with the pieces it holds.

    Returns
    -------
    (units, number of shards already complete)
    """
    units, complete = [], 0
    for path in shards:
        prog = writer.sources.get(str(path))
        if prog is not None and prog.complete:
            complete += 1
            continue
        done = tuple(sorted(prog.parts)) if prog is not None else ()
        size = prog.part_size if prog is not None and prog.part_size else part_size  # keep a started shard's
        units.append(
            Unit(
                index=len(units),
                kind="shard",
                source=str(path),
                skip_parts=done,
                part_size=size,
                id_field=id_field,
            )
        )
    return units, complete


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


def _identity(batch: dict) -> dict:
    return batch


class _UnitBatches(torch.utils.data.IterableDataset):
    """Decoded row batches of units; each DataLoader worker decodes every n-th unit."""

    def __init__(self, units: list[Unit], decode: Callable[[Unit], Iterator[dict]]) -> None:
        self.units, self.decode = units, decode

    def __iter__(self) -> Iterator[dict]:
        info = torch.utils.data.get_worker_info()
        mine = self.units if info is None else self.units[info.id :: info.num_workers]
        for unit in mine:
            yield from self.decode(unit)


def embed_shards(
    model: torch.nn.Module,
    preprocess: Callable,
    shards: str | list[Path],
    cache_dir: str | os.PathLike,
    *,
    batch_size: int = 64,
    workers: int | None = None,
    part_size: int = 1024,
    id_field: str | None = None,
    coords: pd.DataFrame | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    fast_decode: bool = True,
    progress: bool = True,
    max_chunks: int | None = None,
) -> dict:
    """Embed the images of tar shards into the cache (the local backend), resuming where a run stopped.

    Parameters
    ----------
    model, preprocess : from :func:`geoclip_utils.engine.models.load_model`.
    shards : a brace pattern (:func:`expand_shards`) or the list of shard files.
    cache_dir : cache folder (the same format as :func:`geoclip_utils.engine.embed_images` writes).
    batch_size : images per forward pass.
    workers : DataLoader processes decoding shards (each reads whole shards); default
        :func:`geoclip_utils.engine.runner.default_workers`; 0 decodes in a thread of this process.
    part_size : samples per piece of a shard (one chunk each: the resume granularity).
    id_field : take ids from this field of each sample's ``.json`` member (default: the sample key).
    coords : a table of :func:`read_coords` to join (written as ``coords.parquet``).
    max_pixels, fast_decode, progress, max_chunks : as in :func:`geoclip_utils.engine.embed_images`.

    Returns
    -------
    dict: ``cache`` (the model's folder), ``model_id``, ``shards``, ``shards_done_before`` (complete at
    the start), ``embedded``, ``skipped`` (in the whole cache), ``new`` (images written by this run),
    ``duplicates`` (samples dropped because an earlier one had their id: ``[(id, where), ...]``),
    ``shard_errors`` (shard -> why it could not be read to its end), ``coords`` (see
    :func:`join_coords`, or None), ``skipped_examples`` (``[(id, reason), ...]``, at most 10).

    Raises
    ------
    ConfigError, InputError
        Bad pattern or missing shards, bad sizes, a cache made with other settings or in use.

    Example
    -------
    >>> embed_shards(model, preprocess, "data/{00000..00009}.tar", "cache/")["embedded"]  # doctest: +SKIP
    100000
    """
    from .runner import _prefetched, default_workers
    from .units import PieceAssembler, blank_pixels, decode_unit, encode_rows, feature_dim

    paths = expand_shards(shards) if isinstance(shards, str) else [Path(p) for p in shards]
    if batch_size < 1 or part_size < 1:
        raise ConfigError(f"batch size and part size must be >= 1, got {batch_size} and {part_size}")
    workers = default_workers() if workers is None else workers
    if workers < 0:
        raise ConfigError(f"workers must be >= 0, got {workers}")
    info = model_info(model)
    blank = blank_pixels(preprocess)
    dim = feature_dim(model, blank)
    decode = functools.partial(
        decode_unit,
        preprocess=preprocess,
        batch_size=batch_size,
        max_pixels=max_pixels,
        draft_size=2 * info.input_resolution if fast_decode else None,
        blank=blank,
    )
    with ChunkWriter(cache_dir, info, fast_decode=fast_decode, max_pixels=max_pixels) as writer:
        units, complete = shard_units(paths, writer, part_size, id_field)
        assembler = PieceAssembler(writer, units)
        if units:
            loader = torch.utils.data.DataLoader(
                _UnitBatches(units, decode),
                batch_size=None,
                num_workers=min(workers, len(units)),
                collate_fn=_identity,
            )
            batches = _prefetched(loader) if workers == 0 else iter(loader)
            bar = tqdm(unit="img", disable=not progress, desc="embed shards")
            try:
                for batch in batches:
                    bar.update(assembler.add(encode_rows(model, batch, dim)))
                    if max_chunks is not None and writer.written >= max_chunks:
                        break
                else:
                    assembler.check_complete()
            finally:
                if hasattr(batches, "close"):
                    batches.close()
                bar.close()
        return run_summary(writer, len(paths), complete, coords)


def run_summary(writer: ChunkWriter, n_inputs: int, done_before: int, coords: pd.DataFrame | None) -> dict:
    """What an embedding run of shards (or a Ray run) reports; joins ``coords`` when given.

    Returns
    -------
    dict (see :func:`embed_shards`); ``units``: shards (or id slices) of the run, ``units_done_before``:
    those complete before it started.
    """
    skipped = [(i, r) for i, (s, r) in writer.done.items() if s == "skipped"]
    embedded = [i for i, (s, _) in writer.done.items() if s == "ok"]
    return {
        "cache": str(writer.folder),
        "model_id": writer.info.model_id,
        "units": n_inputs,
        "units_done_before": done_before,
        "embedded": len(embedded),
        "skipped": len(skipped),
        "new": writer.n_new,
        "duplicates": writer.duplicates,
        "shard_errors": {s: p.error for s, p in writer.sources.items() if p.error},
        "coords": join_coords(writer.folder, embedded, coords) if coords is not None else None,
        "skipped_examples": skipped[:10],
    }
