"""Finding label keys in blocks of caption lines: line bounds (numpy), the multi-string search (Aho-Corasick)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

import ahocorasick_rs
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


class _Finder:
    """Every occurrence of many byte strings in a text: an Aho-Corasick automaton (``ahocorasick_rs``).

    Overlapping occurrences are all reported (``overlapping=True``), a needle given twice is reported
    twice, and positions are byte offsets of the start of each occurrence.
    """

    def __init__(self, needles: Sequence[bytes]) -> None:
        self.needles = list(needles)
        if not all(self.needles):
            raise ValueError("empty needle")
        self._automaton = ahocorasick_rs.BytesAhoCorasick(self.needles) if self.needles else None

    def hits(self, hay: bytes) -> tuple[np.ndarray, np.ndarray]:
        """Positions and needle indices (int64 arrays) of the occurrences of the needles in ``hay``."""
        found = self._automaton.find_matches_as_indexes(hay, overlapping=True) if self._automaton else []
        if not found:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        table = np.fromiter(itertools.chain.from_iterable(found), dtype=np.int64, count=3 * len(found))
        return table[1::3], table[0::3]
