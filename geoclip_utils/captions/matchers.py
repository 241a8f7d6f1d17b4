"""The phrase rule (our definition) and the authors' substring rule; choosing a matcher by mode."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

import numpy as np

from ..errors import ConfigError, InputError
from .search import _count_empty, _Finder, _line_bounds, _normalise_newlines
from .tokens import _TokenMatcher

MODES = ("phrase", "tokens", "substring")


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
        self.finder = _Finder(anchors)

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
        self.finder = _Finder(self.needles)

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
