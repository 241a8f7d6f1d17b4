"""Count how many captions mention each label — streaming, parallel, and fast.

Modules: :mod:`~geoclip_utils.captions.runner` (files, chunks, workers, the public API),
:mod:`~geoclip_utils.captions.tokens` (the authors' token-set rule), :mod:`~geoclip_utils.captions.ftfy_replay`
(ftfy's cleaning, replayed exactly where it acts), :mod:`~geoclip_utils.captions.search` (line bounds
and the multi-string search, an Aho-Corasick automaton of ``ahocorasick_rs``), :mod:`~geoclip_utils.captions.matchers` (phrase and substring rules),
:mod:`~geoclip_utils.captions.synthetic` (generated captions). The authors' own loops are in
:mod:`geoclip_utils.reference`.

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
      ones). All keys are searched at once over a whole block of lines with one Aho-Corasick
      automaton (``ahocorasick_rs``, every overlapping occurrence); only the candidate lines are
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
    Files are streamed with bounded memory: plain text (one caption per line), text compressed with
    gzip, bz2, xz or zstd, or Parquet (one caption per cell of ``caption_column``, read a row group at a
    time); what a file is is recognised from its first bytes (:func:`geoclip_utils.io.sources.open_input`),
    and archives, binary files and empty files are refused. Text lines end at ``\\n``, ``\\r\\n`` or ``\\r``
    (Python's universal newlines, as the authors' text-mode reading did). Text must be UTF-8 and a line at
    most :data:`geoclip_utils.io.sources.MAX_LINE_BYTES` (1 MiB) long: either refusal names the file and the
    line (as the authors' strict reading would have stopped too). A line with nothing but ASCII whitespace is
    *empty*: it is reported separately and matches nothing
    in either mode (under the token-set rule it tokenises to start/end/padding only). In Parquet, a
    null cell is empty and line breaks inside a cell are read as spaces (one cell = one caption).
    Files are cut into chunks of ``chunk_bytes`` (text; a chunk holds whole lines) or row groups (Parquet),
    counted in parallel worker processes (forked on Linux, spawned elsewhere); the result does not depend on the number of workers or chunk size.

Example
-------
>>> from geoclip_utils.captions import count_captions
>>> counts = count_captions(["captions.txt.gz"], ["Niger", "Nigeria"], mode="phrase")  # doctest: +SKIP
"""

from ..labels import read_labels
from .matchers import MODES
from .runner import CaptionCountReport, count_captions, count_captions_report, write_counts_json
from .tokens import CONTEXT_LENGTH

__all__ = [
    "MODES",
    "CONTEXT_LENGTH",
    "CaptionCountReport",
    "count_captions",
    "count_captions_report",
    "read_labels",
    "write_counts_json",
]
