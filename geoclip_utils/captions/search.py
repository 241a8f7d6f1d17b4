"""Finding label keys in blocks of caption lines at numpy speed: line bounds, the multi-string search."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

# A byte that makes a line "not plain": anything outside printable ASCII + tab, and "&" (HTML).
_NONPLAIN_LUT = np.ones(256, dtype=bool)
_NONPLAIN_LUT[0x20:0x7F] = False
_NONPLAIN_LUT[0x09] = False
_NONPLAIN_LUT[0x0A] = False
_NONPLAIN_LUT[ord("&")] = True


# Empty lines inside a block (between two newlines); the first/last line are checked apart.
_INNER_EMPTY_RE = re.compile(rb"\n[ \t\x0b\x0c]*(?=\n)")


_BLANK_BYTES = b" \t\x0b\x0c"


# ASCII control bytes ftfy deletes or that are whitespace: dropped from the "skeleton" of a line.
_CONTROL_BYTES = bytes(b for b in range(0x20) if b not in (0x09, 0x0A)) + b"\x7f"


# Bytes kept in the skeleton of a line: ASCII other than those control bytes.
_SKELETON_LUT = np.zeros(256, dtype=bool)
_SKELETON_LUT[:0x80] = True
_SKELETON_LUT[list(_CONTROL_BYTES)] = False


_HASH_MULT = np.uint32(2654435761)


def _line_bounds(body: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Newline offsets, line starts and line ends of a block without its final newline."""
    nl = np.flatnonzero(np.frombuffer(body, dtype=np.uint8) == 10)
    starts = np.concatenate(([0], nl + 1))
    ends = np.concatenate((nl, [len(body)]))
    return nl, starts, ends


def _count_empty(body: bytes, starts: np.ndarray, ends: np.ndarray) -> int:
    n = len(_INNER_EMPTY_RE.findall(body))
    if not body[: int(ends[0])].strip(_BLANK_BYTES):
        n += 1
    if len(starts) > 1 and not body[int(starts[-1]) :].strip(_BLANK_BYTES):
        n += 1
    return n


def _normalise_newlines(block: bytes) -> bytes:
    if b"\r" in block:
        block = block.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return block


class _MultiFind:
    """Find many byte strings at once, vectorised with numpy.

    Needles of 4+ bytes: their first 4 bytes are hashed into a table; every 4-byte window of the text
    is hashed (four strided uint32 views, no copy), and the windows that hit the table are verified
    with numpy (first 4 bytes as one uint32, the rest gathered from the text), or with ``startswith``
    where several needles share a table slot. Needles of 2-3 bytes are compared exactly against the
    windows' low bytes. (1-byte needles: ``bytes.find``; only the first hit in a line is reported.)
    """

    def __init__(self, needles: Sequence[bytes], table_bits: int | None = None) -> None:
        self.needles = list(needles)
        if table_bits is None:  # ~1/256 of the slots used: few false hits, a table that stays in cache
            table_bits = min(24, max(12, (256 * max(1, len(self.needles))).bit_length()))
        self.shift = np.uint32(32 - table_bits)
        # slot -> needle index; -1: no needle, -2: several needles (verified one by one)
        dtype = np.int16 if len(self.needles) < 2**15 else np.int32
        self.table = np.full(1 << table_bits, -1, dtype=dtype)
        self.buckets: dict[int, list[int]] = {}
        short: dict[int, list[tuple[int, int]]] = {}
        self.tiny: list[int] = []
        long_ids = [j for j, k in enumerate(self.needles) if len(k) >= 4]
        for j, k in enumerate(self.needles):
            if not k:
                raise ValueError("empty needle")
            if len(k) >= 4:
                h = ((int.from_bytes(k[:4], "little") * int(_HASH_MULT)) & 0xFFFFFFFF) >> int(self.shift)
                self.buckets.setdefault(h, []).append(j)
                self.table[h] = j if len(self.buckets[h]) == 1 else -2
            elif len(k) >= 2:
                short.setdefault(len(k), []).append((int.from_bytes(k, "little"), j))
            else:
                self.tiny.append(j)
        # Long needles: first 4 bytes (uint32), the rest padded into a matrix, and the rest's length.
        self.rest_width = max([len(self.needles[j]) - 4 for j in long_ids], default=0)
        n = len(self.needles)
        self.head = np.zeros(n, dtype=np.uint32)
        self.rest = np.zeros((n, max(self.rest_width, 1)), dtype=np.uint8)
        self.rest_len = np.zeros(n, dtype=np.int64)
        for j in long_ids:
            k = self.needles[j]
            self.head[j] = int.from_bytes(k[:4], "little")
            self.rest[j, : len(k) - 4] = np.frombuffer(k[4:], dtype=np.uint8)
            self.rest_len[j] = len(k) - 4
        # per length: (mask, sorted codes, needle index per sorted code)
        self.short = []
        for length, items in sorted(short.items()):
            items.sort()
            self.short.append(
                (
                    np.uint32((1 << (8 * length)) - 1),
                    np.array([c for c, _ in items], dtype=np.uint32),
                    np.array([j for _, j in items], dtype=np.int64),
                    length,
                )
            )

    def _verify(self, hay: bytes, padded: np.ndarray, g: np.ndarray, o: int) -> tuple[np.ndarray, np.ndarray]:
        """Hits of the long needles among the 4-byte windows ``g`` (at offsets ``o``, ``o + 4``, ...)."""
        slot = self.table[(g * _HASH_MULT) >> self.shift]
        idx = np.flatnonzero(slot != -1)
        js = slot[idx]
        multi = js == -2
        single = ~multi
        idx1, js1 = idx[single], js[single]
        ok = g[idx1] == self.head[js1]
        idx1, js1 = idx1[ok], js1[ok]
        pos1 = idx1 * 4 + o
        if self.rest_width and pos1.size:
            cols = np.arange(self.rest_width)
            got = padded[pos1[:, None] + 4 + cols]
            ok = ((got == self.rest[js1]) | (cols >= self.rest_len[js1][:, None])).all(axis=1)
            ok &= pos1 + 4 + self.rest_len[js1] <= len(hay)  # not completed by the zero padding
            pos1, js1 = pos1[ok], js1[ok]
        if not multi.any():
            return pos1, js1.astype(np.int64)
        pos2: list[int] = []
        ids2: list[int] = []
        h = ((g[idx[multi]] * _HASH_MULT) >> self.shift).tolist()
        for i, hh in zip((idx[multi] * 4 + o).tolist(), h, strict=True):
            for j in self.buckets[hh]:
                if hay.startswith(self.needles[j], i):
                    pos2.append(i)
                    ids2.append(j)
        return np.concatenate((pos1, pos2)).astype(np.int64), np.concatenate((js1, ids2)).astype(np.int64)

    def hits(self, hay: bytes) -> tuple[np.ndarray, np.ndarray]:
        """Positions and needle indices (int64 arrays) of the occurrences of the needles in ``hay``."""
        pos: list[Any] = []
        ids: list[Any] = []
        n = len(hay)
        needles = self.needles
        if n >= 4 and (self.buckets or self.short):
            padded = np.frombuffer(hay + bytes(self.rest_width + 4), dtype=np.uint8) if self.buckets else None
            for o in range(4):
                cnt = (n - o) // 4
                if cnt <= 0:
                    continue
                g = np.frombuffer(hay, dtype="<u4", offset=o, count=cnt)
                if self.buckets:
                    p, j = self._verify(hay, padded, g, o)
                    pos.append(p)
                    ids.append(j)
                for mask, codes, js, _ in self.short:
                    v = g & mask
                    if len(codes) <= 8:
                        for code, j in zip(codes.tolist(), js.tolist(), strict=True):
                            idx = np.flatnonzero(v == code)
                            pos.append(idx * 4 + o)
                            ids.append(np.full(idx.size, j, dtype=np.int64))
                    else:
                        idx = np.flatnonzero(np.isin(v, codes))
                        pos.append(idx * 4 + o)
                        ids.append(js[np.searchsorted(codes, v[idx])])
        extra_pos: list[int] = []
        extra_ids: list[int] = []
        # Windows that do not fit a whole uint32 at the end of the text (and tiny texts).
        tail_from = max(0, n - 6)
        for _, _, js, _ in self.short:
            for j in js.tolist():
                k = needles[j]
                p = hay.find(k, tail_from)
                while p != -1:
                    if p + 4 > n or n < 4:  # not covered by a full window above
                        extra_pos.append(p)
                        extra_ids.append(j)
                    p = hay.find(k, p + 1)
        for j in self.tiny:
            k = needles[j]
            p = hay.find(k)
            while p != -1:
                extra_pos.append(p)
                extra_ids.append(j)
                e = hay.find(b"\n", p)
                if e == -1:
                    break
                p = hay.find(k, e + 1)
        pos.append(np.asarray(extra_pos, dtype=np.int64))
        ids.append(np.asarray(extra_ids, dtype=np.int64))
        return np.concatenate(pos).astype(np.int64), np.concatenate(ids).astype(np.int64)
