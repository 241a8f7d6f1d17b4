"""ftfy, replayed cheaply and exactly: the checks and fixers ``clip.tokenize`` runs, only where they can act.

Each shortcut reads ftfy's own tables or patterns at run time and falls back to plain ftfy when their
shape is not the expected one; the tests compare every shortcut with ftfy itself. The replay of ftfy's
loop follows ftfy's own code, so it is only trusted with the ftfy versions the tests ran with
(:data:`FTFY_TESTED`): :func:`require_tested_ftfy` refuses any other before a caption is counted.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..errors import ConfigError

#: The ftfy versions the replay is tested with (``tests/test_captions.py`` passed with 6.0.3, 6.1.3, 6.2.3,
#: 6.3.0 and 6.3.1): from the first, below the second. Keep in step with ``ftfy`` in ``pyproject.toml``.
FTFY_TESTED = ((6, 0, 3), (6, 4))


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version.split("+")[0])[:3])


@functools.cache
def require_tested_ftfy(version: str | None = None) -> str:
    """The installed ftfy version, when the replay is tested with it.

    Parameters
    ----------
    version : a version string to check instead of the installed one (for tests).

    Raises
    ------
    ConfigError
        For any other version: the counts of the ``tokens`` rule could silently differ from the authors'.

    Example
    -------
    >>> require_tested_ftfy("6.3.1")
    '6.3.1'
    >>> require_tested_ftfy("7.0")
    Traceback (most recent call last):
    ...
    geoclip_utils.errors.ConfigError: ftfy 7.0 is installed, but the caption counter replays ftfy's cleaning as ftfy 6.0.3 up to (not including) 6.4 does it and is tested only with those: install a tested version with pip install 'ftfy>=6.0.3,<6.4'
    """
    if version is None:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as installed

        try:
            version = installed("ftfy")
        except PackageNotFoundError as exc:
            raise ConfigError("ftfy is not installed: pip install 'ftfy>=6.0.3,<6.4'") from exc
    low, high = FTFY_TESTED
    if not low <= _version_tuple(version) < high:
        lo, hi = ".".join(map(str, low)), ".".join(map(str, high))
        raise ConfigError(
            f"ftfy {version} is installed, but the caption counter replays ftfy's cleaning as ftfy {lo} up to "
            f"(not including) {hi} does it and is tested only with those: install a tested version with "
            f"pip install 'ftfy>={lo},<{hi}'"
        )
    return version


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
