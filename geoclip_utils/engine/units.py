"""Units of work of an embedding pass, the decode and encode steps, and the assembly of pieces into chunks.

A *unit* is a piece of the input that becomes cache chunks: a tar shard (in pieces of ``part_size``
samples, one chunk each) or a slice of a folder's id list (one piece, one chunk). The readers
(:mod:`~geoclip_utils.engine.readers`) make the units; a distributor (this process, or Ray) decodes them
in *tasks* (:meth:`Unit.tasks`: a shard is one task, a slice of ids is split into tasks of one batch each,
so every decoder has work however few slices there are). Decoding a task (:func:`decode_unit`) yields
batches of rows, one row per image, as dicts of numpy arrays:

==========  ====================================================================================
``id``      the image id
``ok``      decoded (else ``reason`` says why not)
``unit``    the unit's number; ``part`` the piece of the unit; ``pos`` the row's place in its piece
``part_n``  the number of images in the piece; ``last``: the unit's last piece
``error``   why reading a shard stopped early in this piece (a truncated or corrupt tar), else ""
``pixels``  the preprocessed image (zeros where not ``ok``)
==========  ====================================================================================

A piece without any image (an empty shard, or a shard unreadable from the start of a piece) is one
*marker* row with ``pos`` -1. The encoder (:func:`encode_rows`) replaces ``pixels`` by ``features``.
:class:`PieceAssembler` collects the rows by piece — in whatever order and however often they arrive (a
task retried after a worker died sends its rows again) — and writes each piece as one chunk through the
cache's :class:`~geoclip_utils.engine.cache.ChunkWriter` once all its rows are in, rows in piece order.
So every distributor makes the same chunks, and a piece is in the cache completely or not at all.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
from PIL import Image

from ..errors import DataError
from .cache import ChunkWriter, str_array
from .images import DEFAULT_MAX_PIXELS, ImageSet, decode_image
from .models import encode_image_batch
from .shards import shard_pieces

__all__ = ["Unit", "blank_pixels", "decode_unit", "feature_dim", "encode_rows", "PieceAssembler"]


@dataclass(frozen=True)
class Unit:
    """One unit of work: a tar shard (``kind="shard"``, ``source`` its path) or a slice of an id list
    (``kind="ids"``, ``source`` the image folder, ``ids`` the slice).

    ``skip_parts``: pieces of a shard that the cache already holds (a resumed run reads past them without
    decoding); ``part_size``: images per piece; ``id_field``: take a shard sample's id from this field of
    its ``.json`` member instead of the sample's key. A task of a slice (:meth:`tasks`) holds part of the
    slice's ids: ``start`` is the place of its first id in the slice and ``piece_n`` the slice's length.
    """

    index: int
    kind: str
    source: str
    ids: tuple[str, ...] = ()
    skip_parts: tuple[int, ...] = ()
    part_size: int = 1024
    id_field: str | None = None
    start: int = 0
    piece_n: int | None = None

    def tasks(self, rows: int) -> list[Unit]:
        """The decoding tasks of this unit: a shard is one task (it is read as a stream); a slice of ids is
        split into tasks of ``rows`` ids (one batch each), which any decoder can take.

        Example
        -------
        >>> [(t.start, t.ids) for t in Unit(0, "ids", "images", ("a", "b", "c")).tasks(2)]
        [(0, ('a', 'b')), (2, ('c',))]
        """
        if self.kind != "ids":
            return [self]
        n = len(self.ids)
        return [
            replace(self, ids=self.ids[s : s + rows], start=s, piece_n=n) for s in range(0, n, max(1, rows))
        ]

    def to_json(self) -> str:
        """The unit as a JSON string (what travels to a Ray task)."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Unit:
        """The unit of :meth:`to_json`."""
        d = json.loads(text)
        return cls(**{**d, "ids": tuple(d["ids"]), "skip_parts": tuple(d["skip_parts"])})


def blank_pixels(preprocess: Callable) -> np.ndarray:
    """Zeros of the shape of the model's preprocessed image (the ``pixels`` of rows that are not ``ok``)."""
    return np.zeros_like(np.asarray(preprocess(Image.new("RGB", (32, 32)))), dtype=np.float32)


def _decoded_pieces(
    unit: Unit, preprocess: Callable, max_pixels: int, draft_size: int | None
) -> Iterator[tuple[int, int, bool, str, Iterator[tuple[str, torch.Tensor | None, str]]]]:
    """(part, n images, last, error, lazily decoded (id, tensor or None, reason)) of each piece of a unit."""
    if unit.kind == "ids":
        images = ImageSet(unit.source, unit.ids, preprocess, max_pixels=max_pixels, draft_size=draft_size)
        n = len(images) if unit.piece_n is None else unit.piece_n
        yield 0, n, True, "", ((unit.ids[i], *images[i][1:]) for i in range(len(images)))
        return

    def decoded(
        samples: list[tuple[str, bytes | None, str]],
    ) -> Iterator[tuple[str, torch.Tensor | None, str]]:
        for image_id, data, reason in samples:
            x = None
            if data is not None:
                x, reason = decode_image(
                    io.BytesIO(data), preprocess, max_pixels=max_pixels, draft_size=draft_size
                )
            yield image_id, x, f"{reason} (sample {image_id!r} of shard {unit.source})" if reason else ""

    for part, samples, last, error in shard_pieces(
        unit.source, unit.part_size, id_field=unit.id_field, skip=set(unit.skip_parts)
    ):
        yield part, len(samples), last, error, decoded(samples)


def decode_unit(
    unit: Unit,
    preprocess: Callable,
    *,
    batch_size: int = 64,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    draft_size: int | None = None,
    blank: np.ndarray | None = None,
) -> Iterator[dict[str, np.ndarray]]:
    """Decode and preprocess a unit's images; yield batches of at most ``batch_size`` rows (see the
    module docstring). Bad images become rows with ``ok`` False and the reason; nothing raises for them.

    Parameters
    ----------
    unit : the unit.
    preprocess : the model's transform.
    batch_size : rows per yielded batch.
    max_pixels, draft_size : see :func:`geoclip_utils.engine.images.open_rgb`.
    blank : :func:`blank_pixels` of ``preprocess`` (computed when not given).

    Yields
    ------
    dict of numpy arrays, one entry per row field.

    Example
    -------
    >>> next(decode_unit(Unit(0, "ids", "images", ("a",)), preprocess))["ok"]  # doctest: +SKIP
    array([ True])
    """
    blank = blank_pixels(preprocess) if blank is None else blank
    rows: list[tuple] = []

    def batch() -> dict[str, np.ndarray]:
        cols = list(zip(*rows, strict=True))
        rows.clear()
        return {
            "id": str_array(cols[0]),
            "ok": np.array(cols[1], dtype=bool),
            "reason": str_array(cols[2]),
            "unit": np.array(cols[3], dtype=np.int64),
            "part": np.array(cols[4], dtype=np.int64),
            "pos": np.array(cols[5], dtype=np.int64),
            "part_n": np.array(cols[6], dtype=np.int64),
            "last": np.array(cols[7], dtype=bool),
            "error": str_array(cols[8]),
            "pixels": np.stack(cols[9]).astype(np.float32, copy=False),
        }

    for part, n, last, error, items in _decoded_pieces(unit, preprocess, max_pixels, draft_size):
        if not n:
            rows.append(("", False, "", unit.index, part, -1, 0, last, error, blank))
        for pos, (image_id, x, reason) in enumerate(items, start=unit.start):
            pixels = blank if x is None else np.asarray(x, dtype=np.float32)
            rows.append((image_id, x is not None, reason, unit.index, part, pos, n, last, error, pixels))
            if len(rows) >= batch_size:
                yield batch()
    if rows:
        yield batch()


def feature_dim(model: torch.nn.Module, blank: np.ndarray) -> int:
    """The length of the model's image features (one forward pass on :func:`blank_pixels`)."""
    return int(encode_image_batch(model, torch.from_numpy(blank[None])).shape[1])


def encode_rows(
    model: torch.nn.Module, rows: dict[str, np.ndarray], dim: int | None = None
) -> dict[str, np.ndarray]:
    """Encode the ``ok`` rows of a decoded batch: the batch without ``pixels``, with ``features``
    (float32, ``(n, dim)``, L2-normalised; zeros for rows that are not ``ok``).

    ``dim`` fixes the width of a batch without any ``ok`` row (Ray Data needs every batch alike); without
    it such a batch gets ``(n, 0)`` features, which :class:`PieceAssembler` never reads.

    Example
    -------
    >>> out = encode_rows(model, next(decode_unit(unit, preprocess)), dim=512)  # doctest: +SKIP
    """
    out = {k: v for k, v in rows.items() if k != "pixels"}
    ok = np.asarray(rows["ok"], dtype=bool)
    encoded = None
    if ok.any():
        pixels = np.asarray(rows["pixels"])
        x = torch.from_numpy(np.ascontiguousarray(pixels if ok.all() else pixels[ok]))
        encoded = encode_image_batch(model, x).cpu().numpy()
    width = dim if dim is not None else (0 if encoded is None else encoded.shape[1])
    feats = np.zeros((len(ok), width), np.float32)
    if encoded is not None:
        feats[ok] = encoded
    out["features"] = feats
    return out


class PieceAssembler:
    """Collect encoded rows by piece and write each complete piece as one chunk.

    Rows may come in any order, split over batches, and more than once (a retried task): a row is keyed by
    (unit, part, pos), and a piece already written ignores late copies. Nothing is stored twice.

    Parameters
    ----------
    writer : the open :class:`~geoclip_utils.engine.cache.ChunkWriter`.
    units : the units of the run.
    """

    def __init__(self, writer: ChunkWriter, units: Sequence[Unit]) -> None:
        self.writer = writer
        self.units = {u.index: u for u in units}
        self.pending: dict[tuple[int, int], dict] = {}
        self.written: set[tuple[int, int]] = set()

    def add(self, batch: dict[str, np.ndarray]) -> int:
        """Take a batch of encoded rows; write the pieces it completes. Returns the new images taken."""
        new = 0
        cols = [np.asarray(batch[k]) for k in ("unit", "part", "pos", "part_n", "last", "error")]
        ids, ok, reasons, feats = (np.asarray(batch[k]) for k in ("id", "ok", "reason", "features"))
        touched = set()
        for n, (u, part, pos, part_n, last, error) in enumerate(zip(*cols, strict=True)):
            key = (int(u), int(part))
            if key in self.written:
                continue
            piece = self.pending.setdefault(
                key, {"n": int(part_n), "last": bool(last), "error": str(error), "rows": {}}
            )
            if pos >= 0 and int(pos) not in piece["rows"]:
                piece["rows"][int(pos)] = (str(ids[n]), bool(ok[n]), str(reasons[n]), feats[n])
                new += 1
            touched.add(key)
        for key in sorted(touched):
            if len(self.pending[key]["rows"]) >= self.pending[key]["n"]:
                self._write(key)
        return new

    def _write(self, key: tuple[int, int]) -> None:
        piece = self.pending.pop(key)
        rows = [piece["rows"][p] for p in sorted(piece["rows"])]
        good = [r for r in rows if r[1]]
        feats = np.stack([r[3] for r in good]) if good else None
        unit = self.units[key[0]]
        shard = {
            "source": unit.source,
            "part": key[1],
            "part_size": unit.part_size,
            "last": piece["last"],
            "error": piece["error"],
        }
        self.writer.write(
            [r[0] for r in good],
            feats,
            [r[0] for r in rows if not r[1]],
            [r[2] for r in rows if not r[1]],
            **(shard if unit.kind == "shard" else {}),
        )
        self.written.add(key)

    def check_complete(self) -> None:
        """Raise if a piece is still incomplete once every row should be in (rows lost on the way).

        Raises
        ------
        DataError
            Naming the first incomplete piece; the pieces written are kept and a rerun does the rest.
        """
        if self.pending:
            (u, part), piece = next(iter(self.pending.items()))
            raise DataError(
                f"{len(self.pending)} pieces did not arrive complete, e.g. part {part} of "
                f"{self.units[u].source} ({len(piece['rows'])} of {piece['n']} images); "
                "the complete pieces are in the cache: rerun the same command to finish"
            )
