"""Count how many captions mention each label — streaming, parallel, and fast.

The paper relates CLIP's accuracy on a label (a country, a state, a city) to how often the label
occurs in LAION-400M captions. The authors counted with two scripts (``notebooks/label_counts.py``
and ``notebooks/label_counts_tokens.py`` in Ispanicus/geoguessr-ai), which ran the CLIP tokenizer in
Python on every one of 400M captions. :func:`count_captions` gives the same kind of counts at a
small fraction of the cost, in three modes.

``mode="tokens"`` — the authors' token-set rule, with **identical counts**
    A caption counts for a label when every token of ``clip.tokenize(label)`` is among the tokens of
    ``clip.tokenize(caption)`` (``set(...)``, order and multiplicity ignored). The rule inherits three
    quirks of ``clip.tokenize`` that we reproduce exactly:

    * Both token rows are padded with ``0`` to the context length 77, so a label's set contains token
      ``0`` and the caption's set contains ``0`` only when the caption has at most 74 BPE tokens
      (or when its BPE contains token ``0``, the piece ``"!"``). A caption of exactly 75 tokens
      therefore matches no label.
    * A caption of more than 75 BPE tokens makes ``clip.tokenize`` raise; the authors' bare
      ``except: continue`` skips it (it matches nothing). Any other exception is skipped the same way.
    * The start/end tokens are in both sets, so they never decide anything. The tokenizer lowercases,
      fixes text with ftfy and unescapes HTML twice, so case never matters.

    How it is fast (all exact; each shortcut is checked against ftfy / ``clip.tokenize`` in the
    tests):

    * the tokenizer works word by word after cleaning, so the BPE of each distinct word is computed
      once (cached, bounded) and reduced to a token count and a bitmask over the labels' tokens;
    * a caption can only match a label if its text contains the bytes of one chosen BPE piece of
      that label (the *key*: ASCII, long and rare if possible; two pieces for labels with only short
      ones). All keys are searched at once over a whole block of lines with a vectorised numpy
      multi-string search (hashed 4-byte windows, verified with numpy); only the candidate lines are
      split into words, and their word masks are combined at C speed (``map`` over dicts);
    * plain lines (printable ASCII, no ``&``) need no cleaning: ftfy and ``html.unescape`` leave
      them unchanged. A plain line with more than 75 words (a lower bound counted with numpy, see
      :func:`_min_words`) makes ``clip.tokenize`` raise and is skipped unsearched. A hit of an
      all-letters key in a plain line counts only when the run of letters around it (its word,
      barring contractions) tokenises to the key's token, so "oman" in "woman" makes no
      candidate (:meth:`_TokenMatcher._filter_hits`). Other lines are pre-filtered on their ASCII
      skeleton unless a character in them could turn into a key character under ftfy (see
      :func:`_risky_pattern`); the remaining candidates are cleaned exactly, with ftfy's loop
      replayed cheaply (:func:`_fast_ftfy`: its mojibake test run only around the characters it
      needs, :func:`_is_bad`, mojibake repair only where that test fires, and each per-character
      fixer only where it acts);
    * the label test is a bitmask subset test, done once per distinct caption bitmask.

``mode="phrase"`` — a whole-word, case-insensitive phrase match (our definition)
    Text and labels are NFC-normalised and lowercased (``str.lower``). A label is split into words
    (maximal runs of Unicode letters and digits); it matches a caption where those words occur in
    order, each a whole word (not preceded or followed by a letter or digit), separated by one or
    more characters that are neither letters nor digits (spaces, punctuation, ``_``, ``-``, …; never a
    line break). So ``"Trinidad and Tobago"`` matches ``"TRINIDAD-AND-TOBAGO"`` and
    ``"trinidad  and tobago"``, ``"Côte d'Ivoire"`` matches ``"côte d’ivoire"``, but ``"Niger"`` does
    not match ``"Nigeria"`` and ``"and"`` is not ``"&"``. Accents matter (``côte`` ≠ ``cote``).
    Overlapping labels: mentions are found leftmost-longest without overlap, so the words of a longer
    label are not also a mention of a shorter label inside it: ``"Papua New Guinea"`` counts for
    *Papua New Guinea* only, not for *Guinea*; a caption that also says "Guinea" elsewhere counts
    for both. A caption counts at most once per label.

    This differs on purpose from the authors' *substring* counts (below).

``mode="substring"`` — the authors' substring rule, with identical counts
    ``notebooks/Utils.py: LAION_label_count`` (output ``country100_labelcount.json``, keys like
    ``" haiti"``) counted a caption when ``" " + label.lower()`` is a substring of
    ``" " + caption.lower()`` — a left boundary at a space only, no right boundary: ``" niger"``
    counts every "Nigeria", ``" guinea"`` every "Papua New Guinea", and ``"(haiti"`` is missed. Our
    output keys are the labels themselves (without the leading space).

Input
    Files are streamed with bounded memory: plain text (one caption per line), gzip text (``.gz``),
    or Parquet (``.parquet``/``.pq``, one caption per cell of ``caption_column``, read a row group at a
    time). Text lines end at ``\\n``, ``\\r\\n`` or ``\\r`` (Python's universal newlines, as the authors'
    text-mode reading did). Bytes that are not valid UTF-8 are decoded with ``errors="replace"``
    (U+FFFD) instead of failing (the authors' strict reading would have stopped with an error). A
    line with nothing but ASCII whitespace is *empty*: it is reported separately and matches nothing
    in either mode (under the token-set rule it tokenises to start/end/padding only). In Parquet, a
    null cell is empty and line breaks inside a cell are read as spaces (one cell = one caption).
    Files are cut into chunks of ``chunk_bytes`` (text; a chunk holds whole lines, so one line is read
    whole however long) or row groups (Parquet), counted in parallel worker processes (forked on
    Linux, spawned elsewhere); the result does not depend on the number of workers or chunk size.

Example
-------
>>> from geoclip_utils.captions import count_captions
>>> counts = count_captions(["captions.txt.gz"], ["Niger", "Nigeria"], mode="phrase")  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import functools
import gzip
import html
import importlib.util
import io
import json
import multiprocessing as mp
import operator
import os
import re
import sys
import tempfile
import unicodedata
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from tqdm import tqdm

from .errors import ConfigError, DataError, InputError

__all__ = [
    "MODES",
    "CONTEXT_LENGTH",
    "CaptionCountReport",
    "count_captions",
    "count_captions_report",
    "read_labels",
    "write_counts_json",
]

MODES = ("phrase", "tokens", "substring")
CONTEXT_LENGTH = 77  # clip.tokenize's context length: start + at most 75 BPE tokens + end
MAX_CAPTION_TOKENS = CONTEXT_LENGTH - 2  # more BPE tokens than this: clip.tokenize raises
DEFAULT_CHUNK_BYTES = 2 << 20
PARQUET_BATCH_ROWS = 65_536
PARQUET_SUFFIXES = (".parquet", ".pq")

# A byte that makes a line "not plain": anything outside printable ASCII + tab, and "&" (HTML).
_NONPLAIN_LUT = np.ones(256, dtype=bool)
_NONPLAIN_LUT[0x20:0x7F] = False
_NONPLAIN_LUT[0x09] = False
_NONPLAIN_LUT[0x0A] = False
_NONPLAIN_LUT[ord("&")] = True


# --------------------------------------------------------------------------------------------- results
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


# ---------------------------------------------------------------------------------------------- labels
def _validate_labels(labels: Sequence[str], where: str = "labels") -> list[str]:
    if isinstance(labels, str | bytes):
        raise ConfigError(f"{where}: expected a list of labels, got one string {labels!r}")
    labels = list(labels)
    if not labels:
        raise InputError(f"{where}: no labels given")
    bad = [(i, lab) for i, lab in enumerate(labels) if not isinstance(lab, str) or not lab.strip()]
    if bad:
        shown = ", ".join(f"#{i + 1} {lab!r}" for i, lab in bad[:10])
        raise InputError(f"{where}: blank or non-text labels: {shown}; remove them")
    seen: dict[str, int] = {}
    dups = []
    for i, lab in enumerate(labels):
        if lab in seen:
            dups.append(f"{lab!r} (#{seen[lab] + 1} and #{i + 1})")
        else:
            seen[lab] = i
    if dups:
        raise InputError(f"{where}: duplicate labels: {', '.join(dups[:10])}; keep one of each")
    return labels


def read_labels(path: str | os.PathLike) -> list[str]:
    """Read a labels file: one label per line, or a CSV with a ``label`` column.

    A file whose name ends in ``.csv`` must have a header row with a ``label`` column (other columns
    are ignored); any other file holds one label per line. Labels are stripped of surrounding
    whitespace; a UTF-8 byte-order mark is ignored; trailing blank lines at the end of the file are
    ignored.

    Parameters
    ----------
    path : str or os.PathLike
        The labels file (UTF-8).

    Returns
    -------
    list[str]
        The labels, in file order.

    Raises
    ------
    InputError
        The file is missing or not UTF-8, a CSV lacks the ``label`` column, or a label is blank or
        repeated (the message names the lines).

    Example
    -------
    >>> read_labels("countries.txt")  # doctest: +SKIP
    ['France', 'Niger', 'Nigeria']
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"labels file not found: {p}")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"labels file {p} is not UTF-8 text ({exc}); save it as UTF-8") from exc
    rows: list[tuple[int, str]] = []  # (line number, label)
    if p.suffix.lower() == ".csv":
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader, None)
        names = [h.strip() for h in header] if header else []
        if "label" not in names:
            raise InputError(
                f"labels CSV {p} has no 'label' column (header: {names}); add a header row with a "
                "'label' column, or give a plain file with one label per line"
            )
        col = names.index("label")
        for row in reader:
            line = reader.line_num
            if not row or all(not c.strip() for c in row):
                rows.append((line, ""))
                continue
            rows.append((line, row[col].strip() if col < len(row) else ""))
    else:
        rows = [(i + 1, line.strip()) for i, line in enumerate(text.splitlines())]
    while rows and not rows[-1][1]:
        rows.pop()
    blank = [n for n, lab in rows if not lab]
    if blank:
        raise InputError(f"labels file {p}: blank label on line(s) {blank[:20]}; remove those lines")
    first: dict[str, int] = {}
    dups = []
    for n, lab in rows:
        if lab in first:
            dups.append(f"{lab!r} (lines {first[lab]} and {n})")
        else:
            first[lab] = n
    if dups:
        raise InputError(f"labels file {p}: duplicate labels: {', '.join(dups[:20])}; keep one of each")
    if not rows:
        raise InputError(f"labels file {p} holds no labels")
    return [lab for _, lab in rows]


# ------------------------------------------------------------------------------------ CLIP tokenizer
_ST_MODULE: ModuleType | None = None


def _simple_tokenizer_module() -> ModuleType:
    """The openai ``clip`` package's ``simple_tokenizer`` module, loaded without importing torch.

    ``import clip.simple_tokenizer`` would run ``clip/__init__.py``, which imports torch (seconds, and
    memory in every worker). We load the very same source file directly instead.
    """
    global _ST_MODULE
    if _ST_MODULE is not None:
        return _ST_MODULE
    if "clip.simple_tokenizer" in sys.modules:
        _ST_MODULE = sys.modules["clip.simple_tokenizer"]
        return _ST_MODULE
    spec = importlib.util.find_spec("clip")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the openai `clip` package is not installed (pip install openai-clip)")
    src = Path(next(iter(spec.submodule_search_locations))) / "simple_tokenizer.py"
    mspec = importlib.util.spec_from_file_location("geoclip_utils._clip_simple_tokenizer", src)
    if mspec is None or mspec.loader is None:
        raise ConfigError(f"cannot load the CLIP tokenizer from {src}")
    module = importlib.util.module_from_spec(mspec)
    mspec.loader.exec_module(module)
    _ST_MODULE = module
    return module


# On plain ASCII (printable + tab, lowercased) this is the CLIP tokenizer's word pattern: \p{L} is
# [a-z], \p{N} is [0-9], \s is space/tab. Checked against the original in the tests.
_ASCII_WORD_RE = re.compile(
    r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[a-z]+|[0-9]|[^\sa-z0-9]+", re.ASCII
)
_ASCII_WORD_RE_BYTES = re.compile(_ASCII_WORD_RE.pattern.encode("ascii"))
# ASCII characters other than printable ones and the whitespace the CLIP word pattern shares with
# the ASCII one (\x1c-\x1f are whitespace to str.strip but not to the `regex` module's \s).
_NOT_PLAIN_ASCII = re.compile(r"[^\t\n\x0b\x0c\r\x20-\x7e]").search
# Empty lines inside a block (between two newlines); the first/last line are checked apart.
_INNER_EMPTY_RE = re.compile(rb"\n[ \t\x0b\x0c]*(?=\n)")
_BLANK_BYTES = b" \t\x0b\x0c"
# A contraction of the CLIP word pattern followed by a letter: the letters after it are a word that
# is not a maximal run of letters (e.g. "'sam" is "'s" + "am").
_CONTRACTION_LETTER_RE = re.compile(rb"'(?:s|t|re|ve|m|ll|d)[a-z]")
# Byte classes for a lower bound on the number of words of a plain line: 0 space, 1 letter, 2 digit,
# 3 other printable (punctuation), 4 "'" (punctuation that may start a contraction).
_CLASS_LUT = np.zeros(256, dtype=np.int8)
_CLASS_LUT[0x21:0x7F] = 3
_CLASS_LUT[ord("a") : ord("z") + 1] = 1
_CLASS_LUT[ord("A") : ord("Z") + 1] = 1
_CLASS_LUT[ord("0") : ord("9") + 1] = 2
_CLASS_LUT[ord("'")] = 4


def _min_words(body: bytes, starts: np.ndarray) -> np.ndarray:
    """Per line, a lower bound on the number of words of the CLIP word pattern (plain lines only).

    Every non-space character of a plain line is in exactly one word: a run of letters, one digit, a
    run of other characters, a contraction (``'s``, ``'t``, ...) or a special token (``<|...|>``). The
    starts of runs of letters and of other characters, plus the digits, count the words, except that
    a contraction joins a ``'`` to the letters after it (at most one word less per ``'`` followed by
    a letter) and a special token joins three runs (two words less per ``<|``).
    """
    cls = _CLASS_LUT[np.frombuffer(body, dtype=np.uint8)]
    if not cls.size:
        return np.zeros(len(starts), dtype=np.int64)
    punct = cls >= 3
    kind = np.where(punct, 3, cls)
    new = np.empty(cls.size, dtype=bool)
    new[0] = kind[0] != 0
    new[1:] = (kind[1:] != kind[:-1]) & (kind[1:] != 0)
    new |= kind == 2
    score = new.astype(np.int32)
    score[:-1] -= (cls[:-1] == 4) & (cls[1:] == 1)
    if b"<|" in body:
        arr = np.frombuffer(body, dtype=np.uint8)
        score[:-1] -= 2 * ((arr[:-1] == ord("<")) & (arr[1:] == ord("|")))
    score = np.append(score, 0)  # an empty last line starts at len(body)
    return np.add.reduceat(score, starts)


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


# Code points whose NFC form and lowercase may differ from themselves: everything but the CJK
# ideographs of planes 2-3, the unassigned planes 4-13, plane 14 above its tags and variation
# selectors, and the private-use planes 15-16. (A test checks the skipped ranges.)
_CASE_OR_NFC_RANGES = ((0x80, 0x20000), (0x2F800, 0x2FA20), (0xE0000, 0xE1000))


def _direct_chars(key_chars: frozenset[str], special: set[int]) -> set[str]:
    """Non-ASCII characters whose NFC form or lowercase (alone) contains one of ``key_chars``.

    Computed for all code points at once: the characters are joined with ``"\\x00"`` (a starter
    that composes with nothing and has no case, so each piece is normalised and lowercased as if
    alone) and the pieces holding a key character are found with numpy. ``special`` code points
    (ftfy's per-character fixes) are left out: the caller runs ftfy on those one by one.
    """
    cps = np.concatenate([np.arange(a, b, dtype=np.uint32) for a, b in _CASE_OR_NFC_RANGES])
    cps = cps[((cps < 0xD800) | (cps >= 0xE000)) & ~np.isin(cps, list(special))]
    joined = np.zeros(2 * len(cps) - 1, dtype="<u4")
    joined[0::2] = cps
    big = joined.tobytes().decode("utf-32-le")
    keys = np.array(sorted(ord(k) for k in key_chars), dtype=np.uint32)
    found: set[int] = set()
    for text in (unicodedata.normalize("NFC", big).lower(), big.lower()):
        arr = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
        seps = np.flatnonzero(arr == 0)
        if len(seps) != len(cps) - 1:  # a piece vanished or split: cannot happen, but be exact
            raise RuntimeError("per-character normalisation went out of step")
        found.update(np.unique(np.searchsorted(seps, np.flatnonzero(np.isin(arr, keys)))).tolist())
    return {chr(int(cps[i])) for i in found}


@functools.lru_cache(maxsize=8)
def _risky_pattern(key_chars: frozenset[str]) -> str:
    """Regexes (str: a quick one, newline, the full one) of the lines whose ASCII skeleton may miss
    a key after ftfy and lowercasing.

    The fast path for non-plain lines deletes every non-ASCII and control character and searches the
    keys in what is left (the *skeleton*). That is a safe pre-filter unless ftfy / ``html.unescape``
    / ``str.lower`` can *create* one of the ASCII characters used by the keys, or delete printable
    ASCII. This pattern flags every line where that could happen:

    * ``&`` (HTML entities) and ESC (terminal escapes, whose removal deletes printable ASCII);
    * a character that by itself becomes a key character under ftfy's character fixes (ligatures,
      full-width forms, quotes, C1 controls), NFC or ``lower()`` — e.g. ``ﬁ``, ``Ｆ``, ``K``, ``İ``;
    * a possible mojibake of a *flagged* character (ftfy re-decodes it first): the rendering, in any
      encoding ftfy tries, of the first byte of its UTF-8 form, followed by the rendering (in any of
      those encodings) of its second byte, or by a space where that byte is 0xA0 (ftfy restores
      lost 0xA0 bytes). Flagged are the characters above and, repeatedly, the renderings of the
      first bytes of flagged characters (mojibake of mojibake). So ``Ã©`` (the mojibake of ``é``) is
      not flagged, while ``ï¼`` (the start of the mojibake of ``Ｆ``) is.
    """
    import ftfy
    import ftfy.bad_codecs  # noqa: F401 - registers the sloppy-* codecs
    from ftfy.chardata import CHARMAP_ENCODINGS, LIGATURES, WIDTH_MAP

    special = set(range(0x80, 0xA0)) | set(LIGATURES) | set(WIDTH_MAP) | {0x2BC} | set(range(0x2018, 0x2020))
    direct = _direct_chars(key_chars, special)
    for cp in special:
        c = chr(cp)
        s = ftfy.fix_text(c)
        if any(ch in key_chars for ch in s.lower() + c.lower()):
            direct.add(c)

    def render(b: int) -> set[str]:
        return {bytes([b]).decode(enc) for enc in CHARMAP_ENCODINGS}

    flagged = set(direct)
    todo = list(direct)
    while todo:
        c = todo.pop()
        for ch in render(c.encode("utf-8", errors="surrogatepass")[0]):
            if ord(ch) >= 0x80 and ch not in flagged:
                flagged.add(ch)
                todo.append(ch)
    follows: dict[str, set[str]] = {}  # rendering of a first byte -> what may follow it
    for c in flagged:
        b = c.encode("utf-8", errors="surrogatepass")
        nxt = render(b[1])
        for enc in CHARMAP_ENCODINGS:
            lead = bytes(b[:1]).decode(enc)
            follows.setdefault(lead, set()).update(nxt)
            if b[1] == 0xA0 and enc != "macroman":  # ftfy restores a lost 0xA0, except in macroman
                follows[lead].add(" ")

    def cls(chars: Iterable[str]) -> str:
        return "".join(re.escape(c) for c in sorted(set(chars)))

    by_follow: dict[frozenset[str], set[str]] = {}
    for lead, nxt in follows.items():
        by_follow.setdefault(frozenset(nxt), set()).add(lead)
    parts = ["[&\x1b" + cls(direct) + "]"]
    parts += [
        f"[{cls(leads)}][{cls(nxt)}]"
        for nxt, leads in sorted(by_follow.items(), key=lambda kv: sorted(kv[1]))
    ]
    # First a cheap test (any character that can start a flagged sequence), then the full pattern.
    return "[&\x1b" + cls(direct | set(follows)) + "]\n" + "|".join(parts)


@functools.lru_cache(maxsize=2)
def _ftfy_change_search(html_too: bool = True):
    """``search`` of a regex matching every character that one of ftfy's per-character fixes changes
    (and ``&``, which HTML unescaping acts on, with ``html_too``)."""
    from ftfy.chardata import CONTROL_CHARS, LIGATURES, WIDTH_MAP

    cps = set(range(0x80, 0xA0))  # C1 controls (fix_c1_controls)
    cps |= set(LIGATURES) | set(WIDTH_MAP) | set(CONTROL_CHARS)
    cps |= {0x2BC, *range(0x2018, 0x2020)}  # uncurl_quotes
    cps |= {0x0D, 0x2028, 0x2029, 0x85, 0x1B}  # line breaks, terminal escapes
    if html_too:
        cps.add(ord("&"))
    cps |= set(range(0xD800, 0xE000))  # surrogates
    ranges = []
    for cp in sorted(cps):
        if ranges and cp == ranges[-1][1] + 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    cls = "".join(f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges)
    return re.compile(f"[{cls}]").search


def _charset(op: Any, av: Any) -> set[int] | None:
    """Code points one item of a parsed regex (``re._parser``) may match, or None if unknown."""
    from re import _constants as sre

    if op is sre.LITERAL:
        return {av}
    if op is not sre.IN:
        return None
    chars: set[int] = set()
    for o, a in av:
        if o is sre.LITERAL:
            chars.add(a)
        elif o is sre.RANGE:
            chars.update(range(a[0], a[1] + 1))
        else:  # NEGATE, CATEGORY (\s, \w, ...): not a finite, known set here
            return None
    return chars


def _rarity_cost(chars: set[int]) -> int:
    """How often text is expected to hold one of ``chars`` (rough): letters of Latin-1, Latin
    Extended-A/B, Greek and Cyrillic are common (lowercase most), anything else is rare."""
    cost = 0
    for c in chars:
        common = 0xC0 <= c < 0x250 or 0x370 <= c < 0x530
        cost += (20 if chr(c).islower() else 5) if common else 1
    return cost


@functools.lru_cache(maxsize=1)
def _is_bad():
    """``ftfy.badness.is_bad`` (``BADNESS_RE.search``), exact but searching only where it can match.

    Every alternative of ftfy's badness regex contains, as a required item, a character class of
    non-ASCII characters only (its *anchor*, chosen to be rarely met in ordinary text: currency
    signs and box drawing rather than accented letters; checked here on the parsed pattern), and no match is
    longer than ``width`` characters. So a text without any anchor character is not bad, and any
    match lies within ``width - 1`` characters of the first and last anchor characters: the regex is
    run on that window only (``search(text, pos, endpos)``: ``^`` still matches only at the real
    start, and the pattern has no look-ahead or end assertions that ``endpos`` could fool). Where the
    pattern does not have this shape (another ftfy version), this returns plain ``is_bad``.
    """
    from re import _constants as sre
    from re import _parser as sre_parse

    from ftfy.badness import BADNESS_RE

    search = BADNESS_RE.search

    def plain(text: str) -> bool:
        return search(text) is not None

    try:
        tree = sre_parse.parse(BADNESS_RE.pattern, BADNESS_RE.flags)
    except Exception:  # noqa: BLE001 - an unknown pattern: no shortcut
        return plain
    width = tree.getwidth()[1]
    if BADNESS_RE.flags & re.IGNORECASE or width >= sre.MAXREPEAT:
        return plain
    data = list(tree.data)
    branches = data[0][1][1] if len(data) == 1 and data[0][0] is sre.BRANCH else [tree]
    simple = {sre.LITERAL, sre.IN, sre.ANY}
    anchors: set[int] = set()
    for branch in branches:
        best: set[int] | None = None
        for op, av in branch.data:
            if op is sre.AT:
                if av is not sre.AT_BEGINNING:
                    return plain
                continue
            if op is sre.MAX_REPEAT:
                if any(o not in simple for o, _ in av[2].data):
                    return plain
                continue  # optional or repeated: never an anchor
            if op not in simple:
                return plain
            chars = _charset(op, av)
            if chars and min(chars) >= 0x80 and (best is None or _rarity_cost(chars) < _rarity_cost(best)):
                best = chars
        if best is None:
            return plain
        anchors |= best
    cls = "".join(re.escape(chr(c)) for c in sorted(anchors))
    first = re.compile(f"[{cls}]").search

    def is_bad(text: str) -> bool:
        m = first(text)
        if m is None:
            return False
        n = len(text)
        if n <= 4 * width:
            return search(text) is not None
        lo = m.start()
        hi = n - first(text[::-1]).start()  # one past the last anchor character
        return search(text, max(0, lo - width + 1), min(n, hi + width - 1)) is not None

    is_bad.windowed = True  # type: ignore[attr-defined] - tells the tests the shortcut is in use
    return is_bad


def _fast_ftfy(text: str) -> str | None:
    """``ftfy.fix_text(text)`` (default configuration) computed without ftfy's overhead, or None.

    ftfy loops until nothing changes over: ``unescape_html`` (acts only on ``&``; unless the text has
    ``<``), mojibake repair (``fix_encoding``: a no-op unless ``ftfy.badness.is_bad`` — or the text is
    ASCII), eight per-character fixers and NFC. We replay that loop with ftfy's own functions, calling
    each only where it can act, and give up (None: run ftfy) on very long texts or a loop that does
    not settle. Checked against ftfy in the tests.
    """
    if _ftfy_is_identity(text):
        return text
    if len(text) > 100_000:  # ftfy cuts long texts into pieces: do not replay
        return None
    import ftfy
    from ftfy import fixes

    is_bad = _is_bad()
    unescape = "&" in text and "<" not in text
    for _ in range(8):
        orig = text
        if unescape and "&" in text:  # ftfy's unescape_html only acts on "&..."
            text = fixes.unescape_html(text)
        if not text.isascii() and is_bad(text):  # mojibake repair: ftfy's own step, as it calls it
            text = ftfy.fix_encoding(text)
        if _ftfy_change_search(False)(text) is not None:
            for fixer, trigger in _ftfy_char_fixers():
                if trigger is None or trigger(text):
                    text = fixer(text)
        text = unicodedata.normalize("NFC", text)
        if text == orig:
            return text
    return None


# The per-character fixers of ftfy.fix_and_explain, in its order, and the ftfy data (module globals
# of ftfy.fixes) that says which characters each one can change.
_FTFY_CHAR_FIXERS = (
    ("fix_c1_controls", "C1_CONTROL_RE"),
    ("fix_latin_ligatures", "LIGATURES"),
    ("fix_character_width", "WIDTH_MAP"),
    ("uncurl_quotes", "SINGLE_QUOTE_RE DOUBLE_QUOTE_RE"),
    ("fix_line_breaks", ""),
    ("fix_surrogates", "SURROGATE_RE"),
    ("remove_terminal_escapes", "ANSI_RE"),
    ("remove_control_chars", "CONTROL_CHARS"),
)


@functools.lru_cache(maxsize=1)
def _ftfy_char_fixers() -> list[tuple[Any, Any]]:
    """ftfy's per-character fixers, each with a ``search`` that finds what it would change (or None).

    A fixer is a no-op on text its trigger does not find: the regex-based fixers substitute matches
    of their own regex (the trigger is that regex), the table-based ones translate the keys of their
    table, and ``fix_line_breaks`` replaces ``\\r``, U+2028, U+2029 and U+0085. Skipping no-op calls
    saves most of the cost of replaying ftfy (the tables are large ``str.translate`` maps).
    """
    from ftfy import fixes

    def chars(cps: Iterable[int]) -> Any:
        return re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(cps)) + "]").search

    out = []
    for name, data in _FTFY_CHAR_FIXERS:
        trigger = None
        if name == "fix_line_breaks":
            trigger = chars([0x0D, 0x2028, 0x2029, 0x85])
        else:
            found = [getattr(fixes, d, None) for d in data.split()]
            if all(isinstance(f, dict) for f in found):
                trigger = chars(k for f in found for k in f)
            elif all(isinstance(f, re.Pattern) for f in found):
                searches = [f.search for f in found]
                trigger = searches[0] if len(searches) == 1 else lambda t, s=searches: any(x(t) for x in s)
        out.append((getattr(fixes, name), trigger))
    return out


def _ftfy_is_identity(text: str) -> bool:
    """True when ``ftfy.fix_text(text) == text`` is certain (and ``text`` has no ``&``).

    ftfy (default config) loops over: HTML unescaping (needs ``&``); mojibake repair, which does
    nothing unless ``ftfy.badness.is_bad(text)``; per-character fixes (C1 controls, ligatures,
    character width, curly quotes, line breaks, surrogates, terminal escapes, control characters);
    and NFC. A text with none of those characters, not "bad", and already NFC is a fixed point.
    """
    return (
        _ftfy_change_search()(text) is None and unicodedata.is_normalized("NFC", text) and not _is_bad()(text)
    )


class _WordTable(dict):
    """A dict that computes a missing word with ``fill(word)`` (which stores it) — so that
    ``map(table.__getitem__, words)`` runs at C speed on cache hits."""

    def __init__(self, fill: Any) -> None:
        super().__init__()
        self.fill = fill

    def __missing__(self, word: str | bytes) -> int:
        self.fill(word)
        return self[word]


class _TokenMatcher:
    """The authors' token-set rule, evaluated with per-word caching and bitmasks."""

    def __init__(self, labels: Sequence[str], cache_max: int = 500_000, risky: str | None = None) -> None:
        st = _simple_tokenizer_module()
        self._basic_clean = st.basic_clean
        # st.whitespace_clean with its pattern compiled once (the same `regex` module and pattern).
        ws_sub = st.re.compile(r"\s+").sub
        self._whitespace_clean = lambda text: ws_sub(" ", text).strip()
        tok = st.SimpleTokenizer()
        self.tok = tok
        self._special_cache = dict(tok.cache)
        self.encoder = tok.encoder
        self.byte_encoder = tok.byte_encoder
        self.pat = tok.pat
        self.cache_max = cache_max
        # Per word (str, or ASCII bytes on the plain-line path): BPE token count and label-token mask.
        self.n_of = _WordTable(self._fill_word)
        self.mask_of = _WordTable(self._fill_word)
        sot, eot = tok.encoder["<|startoftext|>"], tok.encoder["<|endoftext|>"]
        byte_decoder = tok.byte_decoder

        def piece_bytes(tid: int) -> bytes:
            s = tok.decoder[tid]
            s = s[: -len("</w>")] if s.endswith("</w>") else s
            return bytes(byte_decoder[c] for c in s)

        required: list[set[int]] = []
        groups: list[tuple[bytes, ...]] = []
        for label in labels:
            try:
                ids = tok.encode(label)
            except Exception as exc:  # noqa: BLE001 - report any tokenizer failure as bad input
                raise InputError(f"label {label!r} cannot be tokenised by CLIP: {exc}") from exc
            if len(ids) > MAX_CAPTION_TOKENS:
                raise InputError(
                    f"label {label!r} has {len(ids)} CLIP tokens; clip.tokenize accepts at most "
                    f"{MAX_CAPTION_TOKENS} — shorten it"
                )
            req = set(ids) - {sot, eot}
            real = [t for t in req if t != 0]
            if not real:
                raise InputError(f"label {label!r} has no CLIP tokens (it would match every caption)")
            if len(ids) < MAX_CAPTION_TOKENS:  # padded with zeros in clip.tokenize's row
                req.add(0)
            required.append(req)
            # Key: a piece every matching caption must contain (as bytes of its text). Prefer ASCII, then
            # 4+ bytes (hashed search), then rarer pieces (BPE ids grow as merges get rarer); with a
            # short key, also require a second piece of 3+ bytes.
            ranked = sorted(
                {piece_bytes(t): t for t in sorted(real)}.items(),
                key=lambda kv: (kv[0].isascii(), len(kv[0]) >= 4, kv[1]),
                reverse=True,
            )
            group = [ranked[0][0]]
            if len(group[0]) < 4 and len(ranked) > 1 and len(ranked[1][0]) >= 3:
                group.append(ranked[1][0])  # two short keys: both must occur
            groups.append(tuple(group))
        universe = sorted(set().union(*required))
        self.bit = {t: 1 << i for i, t in enumerate(universe)}
        self.pad_bit = self.bit.get(0, 0)
        self.label_masks = [sum(self.bit[t] for t in req) for req in required]
        self.label_bits = 0
        for m in self.label_masks:
            self.label_bits |= m
        self.keys = sorted({k for g in groups for k in g})
        index = {k: j for j, k in enumerate(self.keys)}
        self.key_groups = sorted({tuple(sorted(index[k] for k in g)) for g in groups})
        self.finder = _MultiFind(self.keys)
        # Word filter for the hits of keys in plain lines (see _filter_hits): per key, the bits of
        # the label tokens whose text is the key; only keys of ASCII letters are filtered.
        self._key_tok_bits = [
            sum(b for t, b in self.bit.items() if t != 0 and piece_bytes(t) == k) for k in self.keys
        ]
        # bytes.isalpha: ASCII letters only. 1-byte keys are left out: the finder reports only their
        # first hit in a line.
        self._key_alpha = np.array([len(k) >= 2 and k.isalpha() for k in self.keys], dtype=bool)
        self._key_len = np.array([len(k) for k in self.keys], dtype=np.int64)
        # Does the key, as a word of its own, tokenise to a token of the key?
        self._key_alone_ok = np.array(
            [
                not k.isalpha() or bool(self.mask_of[k] & b)
                for k, b in zip(self.keys, self._key_tok_bits, strict=True)
            ],
            dtype=bool,
        )
        # A contraction ('s, 't, ...) is a word of its own; if its BPE could give a key's token, a hit
        # could lie in a word that is not a run of letters: no word filter then.
        contraction_pieces = {
            piece_bytes(self.encoder[q])
            for c in ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d")
            for q in tok.bpe("".join(self.byte_encoder[b] for b in c.encode())).split(" ")
        }
        self._word_filter = bool(self._key_alpha.any()) and not (contraction_pieces & set(self.keys))
        self.ascii_keys = all(k.isascii() for k in self.keys)
        if risky is None and self.ascii_keys:
            risky = _risky_pattern(frozenset("".join(k.decode("ascii") for k in self.keys)))
        self.risky_pattern = risky
        self._risky = None
        if risky:
            first, full = risky.split("\n", 1)
            self._risky_first = re.compile(first)
            self._risky_full = re.compile(full).search
            first_search, full_search = self._risky_first.search, self._risky_full
            self._risky = lambda text: first_search(text) is not None and full_search(text) is not None

    # -- words
    def _fill_word(self, word: str | bytes) -> None:
        """BPE one word (as ``SimpleTokenizer.encode`` does) into ``n_of`` and ``mask_of``."""
        text = word.decode("ascii") if isinstance(word, bytes) else word
        token = "".join(self.byte_encoder[b] for b in text.encode("utf-8"))
        ids = [self.encoder[p] for p in self.tok.bpe(token).split(" ")]
        mask = 0
        bit = self.bit
        for t in ids:
            b = bit.get(t)
            if b:
                mask |= b
        self.n_of[word] = len(ids)
        self.mask_of[word] = mask

    def _bound_cache(self) -> None:
        """Forget the cached words once there are ``cache_max`` of them (checked before each exact
        line and after each block: memory stays bounded by ``cache_max`` plus one block's words)."""
        if len(self.n_of) >= self.cache_max:
            self.n_of.clear()
            self.mask_of.clear()
            self.tok.cache = dict(self._special_cache)

    def _mask(self, words: list[str]) -> int | None:
        """Bitmask of the caption's relevant tokens, or None when clip.tokenize would raise."""
        self._bound_cache()
        n = sum(map(self.n_of.__getitem__, words))
        if n > MAX_CAPTION_TOKENS:
            return None
        mask = functools.reduce(operator.or_, map(self.mask_of.__getitem__, words), 0)
        if n < MAX_CAPTION_TOKENS:  # the row has zero padding: token 0 is in the set
            mask |= self.pad_bit
        return mask

    def clean(self, text: str) -> str:
        """Exactly the text ``SimpleTokenizer.encode`` splits into words.

        ftfy is skipped where its result is certain without running it (see :func:`_fast_ftfy`).
        """
        fixed = _fast_ftfy(text)
        if fixed is None:
            return self._whitespace_clean(self._basic_clean(text)).lower()
        if "&" in fixed:
            fixed = html.unescape(html.unescape(fixed))
        return self._whitespace_clean(fixed.strip()).lower()

    def words(self, caption: str) -> list[str]:
        """The words ``SimpleTokenizer.encode`` splits the caption into (before BPE), exactly.

        The same as ``pat.findall(clean(caption))``, cheaper: collapsing whitespace does not change
        the words (the word pattern never matches whitespace, and what ``strip`` leaves at the ends is
        not whitespace), and text that is printable ASCII after cleaning is split with the ASCII
        pattern.
        """
        fixed = _fast_ftfy(caption)
        if fixed is None:
            return self.pat.findall(self._whitespace_clean(self._basic_clean(caption)).lower())
        if "&" in fixed:
            fixed = html.unescape(html.unescape(fixed))
        fixed = fixed.strip().lower()
        if fixed.isascii() and _NOT_PLAIN_ASCII(fixed) is None:
            return _ASCII_WORD_RE.findall(fixed)
        return self.pat.findall(fixed)

    def caption_mask(self, caption: str) -> int | None:
        """Exact path for one caption string (as the authors read it, newline included)."""
        try:
            return self._mask(self.words(caption))
        except Exception:  # noqa: BLE001 - the authors skipped every caption clip.tokenize failed on
            return None

    def matches(self, caption: str) -> list[int]:
        """Indices of the labels one caption counts for (exact path; for tests and debugging)."""
        mask = self.caption_mask(caption)
        if mask is None:
            return []
        return [j for j, lm in enumerate(self.label_masks) if lm & mask == lm]

    def may_match(self, line: str) -> bool:
        """The pre-filter for one non-plain line: False only when the line surely matches nothing."""
        if self._risky is None or self._risky(line):
            return True
        skeleton = line.encode("ascii", errors="ignore").translate(None, _CONTROL_BYTES).lower()
        return bool(len(self._candidates(skeleton)))

    def _filter_hits(
        self,
        hay: bytes,
        nl: np.ndarray,
        pos: np.ndarray,
        ids: np.ndarray,
        lines: np.ndarray,
        skip: np.ndarray,
    ) -> np.ndarray:
        """Which hits (of keys in plain lowercased lines) can come from a token of the key: bool array.

        A token of a label whose text is an all-letters key can only come from a word of the CLIP
        word pattern that contains the key's bytes: a run of ``[a-z]`` — the maximal run of letters
        around the hit, except after a contraction (``'s``, ``'t``, ... followed by letters: such
        lines keep all their hits), or a contraction (excluded in ``__init__``). So a hit whose run of
        letters does not tokenise to a token of the key cannot help any label of that key. Hits in
        lines flagged by ``skip`` (not plain: handled elsewhere) are dropped.
        """
        keep = ~skip[lines]
        sel = np.flatnonzero(keep & self._key_alpha[ids])
        if not sel.size:
            return keep
        if b"'" in hay:
            split = [m.start() for m in _CONTRACTION_LETTER_RE.finditer(hay)]
            if split:
                bad_lines = np.unique(np.searchsorted(nl, np.asarray(split, dtype=np.int64)))
                sel = sel[~np.isin(lines[sel], bad_lines)]
                if not sel.size:
                    return keep
        arr = np.frombuffer(hay, dtype=np.uint8)
        bounds = np.concatenate(([-1], np.flatnonzero((arr < 97) | (arr > 122)), [len(hay)]))
        p = pos[sel]
        k = np.searchsorted(bounds, p)
        start, end, key = bounds[k - 1] + 1, bounds[k], ids[sel]
        # A run as long as the key is the key itself: decided once per key.
        whole = end - start == self._key_len[key]
        keep[sel[whole & ~self._key_alone_ok[key]]] = False
        # Other runs: decide once per distinct (run, key). Runs of up to 16 letters are compared as
        # their zero-padded bytes (letters are never zero, so this is exact); longer ones one by one.
        mask_of = self.mask_of
        kb = self._key_tok_bits
        width = 16
        short = ~whole & (end - start <= width)
        if short.any():
            s0, length, key_s = start[short], (end - start)[short], key[short]
            cols = np.arange(width)
            padded = np.frombuffer(hay + bytes(width), dtype=np.uint8)
            rows = np.where(cols < length[:, None], padded[s0[:, None] + cols], 0).astype(np.uint8)
            runs, inv = np.unique(np.ascontiguousarray(rows).view(f"V{width}").ravel(), return_inverse=True)
            pairs, pair_inv = np.unique(inv.ravel() * len(self.keys) + key_s, return_inverse=True)
            run_ids, key_ids = np.divmod(pairs, len(self.keys))
            ok = np.array(
                [
                    bool(mask_of[runs[r].tobytes().rstrip(b"\0")] & kb[j])
                    for r, j in zip(run_ids.tolist(), key_ids.tolist(), strict=True)
                ],
                dtype=bool,
            )
            keep[sel[short][~ok[pair_inv.ravel()]]] = False
        drop = []
        long_runs = ~whole & ~short
        for h, a, b, j in zip(
            sel[long_runs].tolist(),
            start[long_runs].tolist(),
            end[long_runs].tolist(),
            key[long_runs].tolist(),
            strict=True,
        ):
            if not mask_of[hay[a:b]] & kb[j]:
                drop.append(h)
        keep[drop] = False
        return keep

    def _candidates(
        self, hay: bytes, nl: np.ndarray | None = None, plain: np.ndarray | None = None
    ) -> np.ndarray:
        """Lines of ``hay`` (split at ``\\n``) that contain both keys of at least one label.

        ``plain``: ``hay`` is a lowercased block and ``plain`` flags its plain lines; only those
        lines are returned, and hits that cannot be a key's token are ignored (:meth:`_filter_hits`).
        """
        pos, ids = self.finder.hits(hay)
        if not pos.size:
            return np.zeros(0, dtype=np.int64)
        if nl is None:
            nl = np.flatnonzero(np.frombuffer(hay, dtype=np.uint8) == 10)
        n_keys = len(self.keys)
        hit_lines = np.searchsorted(nl, pos)
        if plain is not None:
            if self._word_filter:
                keep = self._filter_hits(hay, nl, pos, ids, hit_lines, ~plain)
            else:
                keep = plain[hit_lines]
            hit_lines, ids = hit_lines[keep], ids[keep]
            if not hit_lines.size:
                return np.zeros(0, dtype=np.int64)
        pairs = np.unique(hit_lines * n_keys + ids)
        lines, keys = np.divmod(pairs, n_keys)
        order = np.argsort(keys, kind="stable")
        lines, keys = lines[order], keys[order]
        bounds = np.searchsorted(keys, np.arange(n_keys + 1))
        parts = []
        for group in self.key_groups:
            sel = lines[bounds[group[0]] : bounds[group[0] + 1]]
            for k in group[1:]:
                if sel.size:
                    sel = np.intersect1d(sel, lines[bounds[k] : bounds[k + 1]], assume_unique=True)
            if sel.size:
                parts.append(sel)
        return np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)

    # -- blocks
    def process_block(self, block: bytes, terminated: bool) -> tuple[Counter, int, int]:
        """Count one block of whole lines; returns (mask counter, n_lines, n_empty).

        ``terminated``: lines were read with a line terminator (text files), so the string the
        authors tokenised ends with ``"\\n"`` — except the file's final unterminated line.
        """
        hits: Counter = Counter()
        block = _normalise_newlines(block)
        if not block:
            return hits, 0, 0
        ends_nl = block.endswith(b"\n")
        body = block[:-1] if ends_nl else block
        nl, starts, ends = _line_bounds(body)
        n_lines = len(starts)
        n_empty = _count_empty(body, starts, ends)
        nonplain = np.zeros(n_lines, dtype=bool)
        nonplain[np.searchsorted(nl, np.flatnonzero(_NONPLAIN_LUT[np.frombuffer(body, dtype=np.uint8)]))] = (
            True
        )
        low = body.lower()
        # Plain lines with more than 75 words surely have more than 75 BPE tokens: clip.tokenize raises.
        # Only lines of more than 75 bytes can have more than 75 words: count those apart.
        plain = ~nonplain
        longish = np.flatnonzero(plain & (ends - starts > MAX_CAPTION_TOKENS))
        if longish.size:
            lo, hi = starts[longish], ends[longish]
            sub = b"\n".join([body[a:b] for a, b in zip(lo.tolist(), hi.tolist(), strict=True)])
            sub_starts = np.concatenate(([0], np.cumsum(hi - lo + 1)[:-1]))
            plain[longish[_min_words(sub, sub_starts) > MAX_CAPTION_TOKENS]] = False
        # Only those lines count here (key hits in the other lines are dropped).
        cand = self._candidates(low, nl, plain)
        real_bits = self.label_bits & ~self.pad_bit
        pad_bit = self.pad_bit
        n_of, mask_of = self.n_of.__getitem__, self.mask_of.__getitem__
        findall = _ASCII_WORD_RE_BYTES.findall
        or_, reduce = operator.or_, functools.reduce
        self._bound_cache()
        found = []  # one mask per counted line (counted at C speed below)
        add = found.append
        for a, b in zip(starts[cand].tolist(), ends[cand].tolist(), strict=True):
            words = findall(low, a, b)
            mask = reduce(or_, map(mask_of, words), 0)
            if not mask & real_bits:  # no label token at all: counts for no label
                continue
            if b - a >= MAX_CAPTION_TOKENS:  # more tokens than bytes is impossible: shorter lines are padded
                n = sum(map(n_of, words))
                if n > MAX_CAPTION_TOKENS:
                    continue
                if n == MAX_CAPTION_TOKENS:
                    add(mask)
                    continue
            add(mask | pad_bit)
        hits.update(found)
        # Non-plain lines: exact path, for the lines whose ASCII skeleton (all other characters and
        # the control bytes deleted, so lines stay aligned) holds the keys, and for the lines where
        # the skeleton is not a safe pre-filter (see _risky_pattern).
        if not nonplain.any():
            self._bound_cache()
            return hits, n_lines, n_empty
        rows = np.flatnonzero(nonplain)
        joined = b"\n".join(
            [body[a:b] for a, b in zip(starts[rows].tolist(), ends[rows].tolist(), strict=True)]
        )
        # Decoding the joined lines at once equals decoding each line ("\n" never ends a bad sequence).
        decoded = joined.decode("utf-8", errors="replace")
        texts = decoded.split("\n")
        if self._risky is None:  # the skeleton is no safe pre-filter for these keys
            slow = range(len(rows))
        else:
            arr = np.frombuffer(joined, dtype=np.uint8)
            slow = set(self._candidates(arr[_SKELETON_LUT[arr]].tobytes().lower()).tolist())
            quick = [m.start() for m in self._risky_first.finditer(decoded)]
            if quick:
                lens = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
                line_starts = np.concatenate(([0], np.cumsum(lens + 1)[:-1]))
                full = self._risky_full
                for r in np.unique(np.searchsorted(line_starts, quick, side="right") - 1).tolist():
                    if r not in slow and full(texts[r]) is not None:
                        slow.add(r)
        last = n_lines - 1
        for r in slow:
            text = texts[r]
            if terminated and (rows[r] < last or ends_nl):
                text += "\n"
            mask = self.caption_mask(text)
            if mask is not None and mask & real_bits:
                hits[mask] += 1
        self._bound_cache()
        return hits, n_lines, n_empty

    def finish(self, hits: Counter, n_labels: int) -> list[int]:
        counts = [0] * n_labels
        for mask, n in hits.items():
            for j, lm in enumerate(self.label_masks):
                if lm & mask == lm:
                    counts[j] += n
        return counts


# ---------------------------------------------------------------------------------------- phrase mode
_LABEL_WORD_RE = re.compile(r"[^\W_]+")


def _phrase_key(label: str) -> str:
    return " ".join(_LABEL_WORD_RE.findall(unicodedata.normalize("NFC", label).lower()))


class _PhraseMatcher:
    """Whole-word, case-insensitive, leftmost-longest phrase matching.

    A line's words are its maximal runs of letters/digits; consecutive words are always separated
    by one or more other characters, so a label matches exactly where its word tuple equals a run of
    consecutive words of the line. Candidate lines are found first: those containing the longest word
    (the *anchor*) of some label, searched as bytes over the whole block.
    """

    def __init__(self, labels: Sequence[str]) -> None:
        self.key_to_labels: dict[tuple[str, ...], list[int]] = {}
        for i, label in enumerate(labels):
            key = tuple(_phrase_key(label).split())
            if not key:
                raise InputError(
                    f"label {label!r} has no letters or digits; it cannot be matched as a phrase"
                )
            self.key_to_labels.setdefault(key, []).append(i)
        # first word -> [(word tuple, labels)], longest first
        self.by_first: dict[str, list[tuple[tuple[str, ...], list[int]]]] = {}
        for key, labs in self.key_to_labels.items():
            self.by_first.setdefault(key[0], []).append((key, labs))
        for opts in self.by_first.values():
            opts.sort(key=lambda kv: -len(kv[0]))
        anchors = sorted({max(key, key=len).encode("utf-8") for key in self.key_to_labels})
        self.finder = _MultiFind(anchors)

    def line_labels(self, line: str) -> set[int]:
        """Labels mentioned in one NFC-normalised, lowercased line."""
        words = _LABEL_WORD_RE.findall(line)
        found: set[int] = set()
        by_first = self.by_first
        i = 0
        n = len(words)
        while i < n:
            opts = by_first.get(words[i])
            step = 1
            if opts is not None:
                for key, labs in opts:
                    size = len(key)
                    if size == 1 or tuple(words[i : i + size]) == key:
                        found.update(labs)
                        step = size
                        break
            i += step
        return found

    def process_block(self, block: bytes, terminated: bool) -> tuple[Counter, int, int]:
        hits: Counter = Counter()
        block = _normalise_newlines(block)
        if not block:
            return hits, 0, 0
        body = block[:-1] if block.endswith(b"\n") else block
        text = unicodedata.normalize("NFC", body.decode("utf-8", errors="replace")).lower()
        hay = text.encode("utf-8", errors="surrogatepass")
        nl, starts, ends = _line_bounds(hay)
        n_lines = len(starts)
        n_empty = _count_empty(hay, starts, ends)
        pos, _ = self.finder.hits(hay)
        if pos.size:
            for i in np.unique(np.searchsorted(nl, pos)).tolist():
                for j in self.line_labels(hay[starts[i] : ends[i]].decode("utf-8", errors="surrogatepass")):
                    hits[j] += 1
        return hits, n_lines, n_empty

    def finish(self, hits: Counter, n_labels: int) -> list[int]:
        return [hits.get(j, 0) for j in range(n_labels)]

    def matches(self, caption: str) -> list[int]:
        """Indices of the labels one caption mentions (for tests and debugging)."""
        return sorted(self.line_labels(unicodedata.normalize("NFC", caption).lower()))


class _SubstringMatcher:
    """The authors' substring rule (``notebooks/Utils.py: LAION_label_count``).

    A caption counts for a label when ``" " + label.lower()`` is a substring of
    ``" " + caption.lower()`` (the caption as read, newline included).
    """

    def __init__(self, labels: Sequence[str]) -> None:
        self.needles = [(" " + label.lower()).encode("utf-8", errors="surrogatepass") for label in labels]
        bad = [label for label in labels if "\n" in label or "\r" in label]
        if bad:
            raise InputError(f"labels with line breaks cannot be counted: {bad[:5]}")
        self.finder = _MultiFind(self.needles)

    def process_block(self, block: bytes, terminated: bool) -> tuple[Counter, int, int]:
        hits: Counter = Counter()
        block = _normalise_newlines(block)
        if not block:
            return hits, 0, 0
        body = block[:-1] if block.endswith(b"\n") else block
        text = body.decode("utf-8", errors="replace").lower()
        hay = text.encode("utf-8", errors="surrogatepass")
        nl, starts, ends = _line_bounds(hay)
        n_lines = len(starts)
        n_empty = _count_empty(hay, starts, ends)
        hay = b" " + hay.replace(b"\n", b"\n ")  # every line starts with " ", as the authors did
        pos, ids = self.finder.hits(hay)
        if pos.size:
            lines = np.searchsorted(np.flatnonzero(np.frombuffer(hay, dtype=np.uint8) == 10), pos)
            k = len(self.needles)
            pairs = np.unique(lines * k + ids)
            for j, n in zip(*np.unique(pairs % k, return_counts=True), strict=True):
                hits[int(j)] += int(n)
        return hits, n_lines, n_empty

    def finish(self, hits: Counter, n_labels: int) -> list[int]:
        return [hits.get(j, 0) for j in range(n_labels)]

    def matches(self, caption: str) -> list[int]:
        """Indices of the labels one caption counts for (for tests and debugging)."""
        cap = " " + caption.lower()
        return [j for j, k in enumerate(self.needles) if k.decode("utf-8", errors="surrogatepass") in cap]


def _normalise_newlines(block: bytes) -> bytes:
    if b"\r" in block:
        block = block.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return block


def _make_matcher(
    mode: str, labels: Sequence[str], risky: str | None = None
) -> _TokenMatcher | _PhraseMatcher:
    if mode == "tokens":
        return _TokenMatcher(labels, risky=risky)
    if mode == "phrase":
        return _PhraseMatcher(labels)
    if mode == "substring":
        return _SubstringMatcher(labels)
    raise ConfigError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")


# --------------------------------------------------------------------------------------------- tasks
# A task is a tuple: ("text", path, start, end, weight) | ("block", data, terminated, weight)
#                    | ("parquet", path, row_group, column, weight)


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


# ------------------------------------------------------------------------------------------ counting
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
    labels = _validate_labels(labels)
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
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(counts, fh, ensure_ascii=False, indent=2)
                fh.write("\n")
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    except OSError as exc:
        raise DataError(f"cannot write {target}: {exc}") from exc
    return target
