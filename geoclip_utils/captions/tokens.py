"""The authors' token-set rule: CLIP's tokenizer reproduced word by word, and the token matcher."""

from __future__ import annotations

import functools
import html
import importlib.util
import operator
import re
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from ..errors import ConfigError, InputError
from .ftfy_replay import _fast_ftfy, _risky_pattern, require_tested_ftfy
from .search import (
    _CONTROL_BYTES,
    _NONPLAIN_LUT,
    _SKELETON_LUT,
    _count_empty,
    _Finder,
    _line_bounds,
    _normalise_newlines,
)

CONTEXT_LENGTH = 77  # clip.tokenize's context length: start + at most 75 BPE tokens + end


MAX_CAPTION_TOKENS = CONTEXT_LENGTH - 2  # more BPE tokens than this: clip.tokenize raises


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
        require_tested_ftfy()  # the replay of ftfy (ftfy_replay) is exact only for the tested versions
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
            # 4+ bytes (fewer chance hits), then rarer pieces (BPE ids grow as merges get rarer); with a
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
        self.finder = _Finder(self.keys)
        # Word filter for the hits of keys in plain lines (see _filter_hits): per key, the bits of
        # the label tokens whose text is the key; only keys of ASCII letters are filtered.
        self._key_tok_bits = [
            sum(b for t, b in self.bit.items() if t != 0 and piece_bytes(t) == k) for k in self.keys
        ]
        # bytes.isalpha: ASCII letters only. 1-byte keys are left out (their hits are all kept).
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
