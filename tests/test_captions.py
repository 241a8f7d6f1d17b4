"""Tests of geoclip_utils.captions (the caption counter), its CLI and its benchmark helpers."""

from __future__ import annotations

import gzip
import json
import random
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from geoclip_utils import captions as C
from geoclip_utils.captions import ftfy_replay, matchers, search, tokens
from geoclip_utils.captions.synthetic import COUNTRIES, generate_captions
from geoclip_utils.cli import app
from geoclip_utils.errors import ConfigError, InputError
from geoclip_utils.reference import authors_substring_counts, authors_token_counts

ROOT = Path(__file__).resolve().parents[1]

LABELS = ["Guinea", "Papua New Guinea", "Equatorial Guinea", "Niger", "Nigeria", "Trinidad and Tobago",
          "Côte d'Ivoire", "United States", "France", "Comoros"]  # fmt: skip


@pytest.fixture(scope="module")
def clip_mod():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import clip
    return clip


def write(tmp_path, name, data: bytes):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def phrase(lines, labels=LABELS, **kw):
    return C.count_captions_report(lines, labels, mode="phrase", progress=False, workers=1, **kw)


# ------------------------------------------------------------------------------------------- labels
def test_read_labels_plain_and_csv(tmp_path):
    p = write(tmp_path, "l.txt", "\ufeffFrance\n  Niger \r\nCôte d'Ivoire\n\n".encode())
    assert C.read_labels(p) == ["France", "Niger", "Côte d'Ivoire"]
    q = write(tmp_path, "l.csv", b'id,label\n1,France\n2,"Bosnia, and Herzegovina"\n')
    assert C.read_labels(q) == ["France", "Bosnia, and Herzegovina"]


@pytest.mark.parametrize(
    ("name", "data", "needle"),
    [
        ("blank.txt", b"France\n\nNiger\n", "line(s) [2]"),
        ("dup.txt", b"France\nNiger\nFrance\n", "'France' (lines 1 and 3)"),
        ("nocol.csv", b"id,name\n1,France\n", "line 1: missing column 'label'"),
        ("blank.csv", b"id,label\n1,France\n2,  \n3,Niger\n", "line 3 has a blank label"),
        ("dup.csv", b"label\nFrance\n\nFrance\n", "'France' appears 2 times (lines 2, 4)"),
        ("empty.txt", b"\n\n", "no labels"),
        ("latin1.txt", "Curaçao\n".encode("latin-1"), "not UTF-8"),
    ],
)
def test_read_labels_errors(tmp_path, name, data, needle):
    with pytest.raises(InputError, match=r".*") as exc:
        C.read_labels(write(tmp_path, name, data))
    assert needle in str(exc.value)


def test_read_labels_missing(tmp_path):
    with pytest.raises(InputError, match="nope.txt does not exist"):
        C.read_labels(tmp_path / "nope.txt")


def test_label_validation(tmp_path):
    p = write(tmp_path, "c.txt", b"France\n")
    with pytest.raises(InputError, match="duplicate"):
        C.count_captions([p], ["France", "France"], progress=False)
    with pytest.raises(InputError, match="blank"):
        C.count_captions([p], ["France", " "], progress=False)
    with pytest.raises(ConfigError, match="unknown mode"):
        C.count_captions([p], ["France"], mode="regex", progress=False)
    with pytest.raises(InputError, match="no letters"):
        C.count_captions([p], ["!!"], mode="phrase", progress=False)
    with pytest.raises(InputError, match="CLIP tokens"):
        C.count_captions([p], ["a " * 80], mode="tokens", progress=False)


# ------------------------------------------------------------------------------------------- phrase
def test_phrase_rules(tmp_path):
    lines = [
        "Visit FRANCE today",  # case
        "france,france;France!",  # once per caption
        "(France)",  # punctuation boundaries
        "Francesca and frances",  # not whole words
        "TRINIDAD-AND-TOBAGO carnival",  # separators
        "trinidad  and\ttobago",  # whitespace runs
        "Trinidad & Tobago",  # '&' is not 'and'
        "Papua New Guinea coast",  # longest match only
        "Equatorial Guinea and Guinea",  # both, plus Guinea elsewhere
        "guinea-bissau",  # Guinea (Bissau is not a label)
        "Niger river in Nigeria",
        "nigerian food",
        "Côte d’Ivoire",  # curly apostrophe is a separator
        "COTE D'IVOIRE",  # accents matter
        "united_states",  # underscore separates
        "",
        "   ",
    ]
    p = write(tmp_path, "c.txt", ("\n".join(lines) + "\n").encode())
    rep = phrase([p])
    assert rep.n_lines == len(lines) and rep.n_empty == 2 and rep.n_captions == len(lines) - 2
    assert rep.counts == {
        "Guinea": 2,
        "Papua New Guinea": 1,
        "Equatorial Guinea": 1,
        "Niger": 1,
        "Nigeria": 1,
        "Trinidad and Tobago": 2,
        "Côte d'Ivoire": 1,
        "United States": 1,
        "France": 3,
        "Comoros": 0,
    }


def test_phrase_matches_decomposed_accents():
    m = matchers._PhraseMatcher(["Côte d'Ivoire", "Curaçao"])
    assert m.matches("Co\u0302te d'Ivoire and CURAC\u0327AO") == [0, 1]


def test_newlines_empty_lines_and_bad_utf8(tmp_path):
    bad = write(
        tmp_path, "bad.txt", b"France\r\nNiger\rNigeria\n\n  \t\nFrance \xff\xfe bytes\nlast line France"
    )
    with pytest.raises(InputError, match=r"bad.txt: line 6 is not UTF-8 text \(byte 0xff\)"):
        phrase([bad], labels=["France"])  # lines: CRLF, lone CR and LF each end one
    data = b"France\r\nNiger\rNigeria\n\n  \t\nFrance bytes\nlast line France"
    p = write(tmp_path, "c.txt", data)
    rep = phrase([p], labels=["France", "Niger", "Nigeria"])
    # lines: France | Niger | Nigeria | '' | blank | France <bad> | last line (no final newline)
    assert (rep.n_lines, rep.n_empty) == (7, 2)
    assert rep.counts == {"France": 3, "Niger": 1, "Nigeria": 1}
    tok = C.count_captions_report(
        [p], ["France", "Niger", "Nigeria"], mode="tokens", workers=1, progress=False
    )
    assert tok.counts == rep.counts and (tok.n_lines, tok.n_empty) == (7, 2)


def test_gz_and_parquet_inputs(tmp_path):
    lines = ["Papua New Guinea", "Niger, Nigeria", "", "France\nin a cell", None, "United States"]
    txt = write(tmp_path, "c.txt", "\n".join(x or "" for x in lines).replace("\nin", " in").encode())
    gz = tmp_path / "c.txt.gz"
    gz.write_bytes(gzip.compress(txt.read_bytes()))
    pqf = tmp_path / "c.parquet"
    pq.write_table(pa.table({"id": list(range(6)), "text": lines}), pqf, row_group_size=2)
    a = phrase([txt]).counts
    assert phrase([gz]).counts == a
    rep = phrase([pqf], caption_column="text")
    assert rep.counts == a and rep.n_lines == 6 and rep.n_empty == 2
    t = C.count_captions_report(
        [pqf], LABELS, mode="tokens", workers=1, progress=False, caption_column="text"
    )
    assert t.counts == C.count_captions([txt], LABELS, mode="tokens", workers=1, progress=False)


def test_input_errors(tmp_path):
    pqf = tmp_path / "c.parquet"
    pq.write_table(pa.table({"text": ["France"]}), pqf)
    with pytest.raises(InputError, match="no caption column 'caption'"):
        C.count_captions([pqf], ["France"], progress=False)
    with pytest.raises(InputError, match="missing.txt does not exist"):
        C.count_captions([tmp_path / "missing.txt"], ["France"], progress=False)
    bad = write(tmp_path, "bad.parquet", b"not parquet at all")
    with pytest.raises(InputError, match="not a readable Parquet"):
        C.count_captions([bad], ["France"], progress=False)
    badgz = write(tmp_path, "bad.gz", b"not gzip")
    with pytest.raises(InputError, match="gzip"):
        C.count_captions([badgz], ["France"], progress=False)
    with pytest.raises(ConfigError):
        C.count_captions([pqf], ["France"], workers=0, progress=False, caption_column="text")


@pytest.mark.slow
def test_parallel_equals_serial(tmp_path):
    p = generate_captions(tmp_path / "g.txt", 20_000, COUNTRIES, seed=3)
    gz = tmp_path / "g.txt.gz"
    gz.write_bytes(gzip.compress(p.read_bytes()))
    for mode in C.MODES:
        serial = C.count_captions_report([p], COUNTRIES, mode=mode, workers=1, progress=False)
        par = C.count_captions_report(
            [p, gz], COUNTRIES, mode=mode, workers=2, progress=False, chunk_bytes=50_000
        )
        assert {k: 2 * v for k, v in serial.counts.items()} == par.counts
        assert (2 * serial.n_lines, 2 * serial.n_empty) == (par.n_lines, par.n_empty)
        assert sum(serial.counts.values()) > 1000


# ------------------------------------------------------------------------------------------- tokens
def edge_captions(tok):
    base = "france"
    a74 = base + " a" * 73  # 74 BPE tokens
    a75 = base + " a" * 74  # 75: clip.tokenize accepts it but there is no zero padding
    a76 = base + " a" * 75  # 76: clip.tokenize raises
    assert [len(tok.encode(x)) for x in (a74, a75, a76)] == [74, 75, 76]
    assert tok.encode("!~") == [0, 349]  # token 0 is also the BPE piece "!"
    return [
        a74, a75, a76, base + " a" * 72 + " !~", a75.replace(" a", " !", 1),
        "FRANCE", "Visit France!", "francesca", "France\u00a0map", "Ｆｒａｎｃｅ", "ﬁne France", "Fr&#97;nce",
        "fr&amp;amp;#97;nce", "Ã‰tats-Unis France", "FranÃ§e", "Kelvin \u212a United \u212aStates",
        "İstanbul", "niger NIGERIA", "papua new guinea", "new papua guinea", "Côte d'Ivoire", "cote d ivoire",
        "côte d’ivoire", "the united states of america", "states united", "com or os", "Comoros islands",
        "\ufeffFrance", "France\x00x", "Fra\x1b[0mnce", "中国 France", "Россия France", "", " ", "\t",
        "<|endoftext|> France", "FRANCE " * 40, "trinidad and tobago", "trinidad tobago and",
    ]  # fmt: skip


def test_tokens_equal_authors_on_edge_cases(tmp_path, clip_mod):
    tm = tokens._TokenMatcher(LABELS)
    lines = edge_captions(tm.tok)
    p = write(tmp_path, "c.txt", ("\n".join(lines) + "\n").encode())
    expected = authors_token_counts(p, LABELS)
    got = C.count_captions([p], LABELS, mode="tokens", workers=1, progress=False)
    assert got == expected
    # the 75-token caption matches nothing, the 74-token one matches France, 76 is skipped
    assert tm.matches(lines[0] + "\n") == [LABELS.index("France")]
    assert tm.matches(lines[1] + "\n") == [] and tm.matches(lines[2] + "\n") == []
    assert tm.matches(lines[3] + "\n") == [LABELS.index("France")]  # 75 tokens, but "!~" has token 0


def test_tokens_equal_authors_on_generated_file(tmp_path, clip_mod):
    p = generate_captions(tmp_path / "g.txt", 3000, COUNTRIES, seed=1)
    expected = authors_token_counts(p, COUNTRIES)
    got = C.count_captions_report([p], COUNTRIES, mode="tokens", workers=1, progress=False)
    assert got.counts == expected
    assert sum(expected.values()) > 300
    # also with CRLF line ends and no final newline
    crlf = write(tmp_path, "crlf.txt", p.read_bytes().replace(b"\n", b"\r\n").rstrip(b"\r\n"))
    assert C.count_captions([crlf], COUNTRIES, mode="tokens", workers=1, progress=False) == expected


def test_ascii_word_pattern_equals_clip_pattern():
    tm = tokens._TokenMatcher(["France"])
    rng = random.Random(0)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 \t'!?.,-_<|>()[]{}#@$%^*+=~`\"/\\:;"
    specials = ["<|endoftext|>", "<|startoftext|>", "'s", "'ll", "'re", "'d"]
    for _ in range(3000):
        parts = [rng.choice(alphabet) for _ in range(rng.randint(0, 40))]
        for _ in range(rng.randint(0, 2)):
            parts.insert(rng.randint(0, len(parts)), rng.choice(specials))
        s = "".join(parts)
        assert tokens._ASCII_WORD_RE.findall(s) == tm.pat.findall(tm.clean(s)), s


def test_prefilter_is_sound_fuzz():
    """A line the fast paths skip must match nothing under the exact rule."""
    labels = ["France", "United States", "Comoros", "Côte d'Ivoire", "Suriname", "Iran"]
    tm = tokens._TokenMatcher(labels)
    rng = random.Random(7)
    frags = [
        "fra", "nce", "france", "FRANCE", "united", "states", "com", "or", "os", "sur", "ame", "ire", "vo",
        "ivoire", "iran", " ", " ", "é", "ç", "Ã", "©", "Â", "â", "€", "™", "ï", "¼", "¦", "»", "¿", "Ä", "°",
        "ﬁ", "Ｆ", "ｒ", "\u212a", "İ", "\u0301", "\u0327", "’", "“", "\x00", "\x1b[0m", "&", "&amp;", "&#97;",
        "\ufeff", "\u200b", "\x85", "\u2028", "Р", "в", "п", "ο", "中", "😀", "?", "\ufffd", "\xa0", "–",
    ]  # fmt: skip
    lines = []
    for _ in range(4000):
        s = "".join(rng.choice(frags) for _ in range(rng.randint(1, 12)))
        lines.append(s)
        if not tm.may_match(s):
            assert tm.matches(s + "\n") == [], repr(s)
    # and the block path agrees with the exact per-line path
    data = "\n".join(lines).replace("\r", " ") + "\n"
    hits, n, _ = tm.process_block(data.encode("utf-8"), True)
    exact = [0] * len(labels)
    for line in data.split("\n")[:-1]:
        for j in tm.matches(line + "\n"):
            exact[j] += 1
    assert tm.finish(hits, len(labels)) == exact and n == len(lines)


def test_finder_reports_every_occurrence():
    """Every occurrence of every needle, overlapping ones and 1-byte needles included, a needle given
    twice reported twice (the counts of the three rules rest on this)."""
    rng = random.Random(2)
    needles = [b"ab", b"abc", b"abcd", b"bcda", b"zzzzzz", b"x", b"cab", b"ab", b"aaaa", b"xbcd\0\0"]
    finder = search._Finder(needles)
    hays = [bytes(rng.choice(b"abcdxz\n\0") for _ in range(rng.randint(0, 60))) for _ in range(500)]
    for hay in [*hays, b"", b"xbcd", b"xbcd\0", b"xbcd\0\0", b"aaaaaa"]:
        pos, ids = finder.hits(hay)
        assert pos.dtype == ids.dtype == np.int64
        got = sorted(zip(pos.tolist(), ids.tolist(), strict=True))
        want = sorted((i, j) for j, k in enumerate(needles) for i in range(len(hay)) if hay.startswith(k, i))
        assert got == want, hay
    assert search._Finder([]).hits(b"abc")[0].size == 0
    with pytest.raises(ValueError, match="empty needle"):
        search._Finder([b"a", b""])


# ---------------------------------------------------------------------------------------------- CLI
def test_cli_round_trip(tmp_path):
    caps = write(tmp_path, "a.txt", b"Visit France\nniger delta\n")
    caps2 = tmp_path / "b.txt.gz"
    caps2.write_bytes(gzip.compress(b"Nigeria\nFRANCE\n"))
    labels = write(tmp_path, "labels.csv", b"label,iso\nFrance,FRA\nNiger,NER\nNigeria,NGA\n")
    out = tmp_path / "out" / "counts.json"
    runner = CliRunner()
    args = ["count-captions", "--captions", str(caps), str(caps2), "--labels", str(labels), "--out", str(out)]
    res = runner.invoke(app, [*args, "--mode", "tokens", "-q", "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text(encoding="utf-8")) == {"France": 2, "Niger": 1, "Nigeria": 1}
    res = runner.invoke(app, [*args, "-q"])
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text(encoding="utf-8")) == {"France": 2, "Niger": 1, "Nigeria": 1}
    assert [p.name for p in out.parent.iterdir()] == ["counts.json"]  # no temp files left


def test_cli_errors(tmp_path):
    labels = write(tmp_path, "l.txt", b"France\n")
    pqf = tmp_path / "c.parquet"
    pq.write_table(pa.table({"text": ["France"]}), pqf)
    runner = CliRunner()
    out = str(tmp_path / "o.json")
    cases = [
        (["--captions", str(tmp_path / "nope.txt"), "--labels", str(labels), "--out", out], "does not exist"),
        (["--captions", str(pqf), "--labels", str(labels), "--out", out], "no caption column"),
        (
            ["--captions", str(pqf), "--labels", str(tmp_path / "x.txt"), "--out", out],
            "x.txt does not exist",
        ),
        (["--captions", str(pqf), "--labels", str(labels), "--out", out, "--mode", "bogus"], "unknown mode"),
        (["--labels", str(labels), "--out", out], "no caption files"),
        (
            ["--captions", str(pqf), "--labels", str(labels), "--out", str(pqf)],
            "refusing to write over an input",
        ),
        (
            ["--captions", str(pqf), "--labels", str(labels), "--out", str(labels)],
            "refusing to write over an input",
        ),
        (["--captions", str(pqf), "--labels", str(labels), "--out", str(tmp_path)], "is a folder"),
        (
            ["--captions", str(labels), "--labels", str(labels), "--out", out, "--caption-column", "x"],
            "Parquet inputs only",
        ),
        (["--captions", str(pqf), "--labels", str(labels), "--out", out, "--workers", "0"], "--workers"),
    ]
    for args, needle in cases:
        res = runner.invoke(app, ["count-captions", *args, "-q"])
        assert res.exit_code == 2, (args, res.output)
        assert needle in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    link = tmp_path / "link.parquet"
    link.symlink_to(pqf)
    res = runner.invoke(
        app, ["count-captions", "--captions", str(pqf), "--labels", str(labels), "--out", str(link)]
    )
    assert (
        res.exit_code == 2 and "refusing to write over an input" in res.stderr
    )  # a symlink to an input, too
    assert pq.read_table(pqf).num_rows == 1


def test_cli_run_that_counts_no_caption_exits_2(tmp_path):
    """Files that hold no caption at all (only empty lines, an empty Parquet column) are an error, not a JSON
    of zeros."""
    labels = write(tmp_path, "l.txt", b"France\n")
    blank = write(tmp_path, "blank.txt", b"\n  \n\t\n")
    empty_pq = tmp_path / "none.parquet"
    pq.write_table(pa.table({"caption": pa.array([], pa.string())}), empty_pq)
    out = tmp_path / "o.json"
    for files, lines in (([blank], 3), ([blank, empty_pq], 3)):
        args = [
            "count-captions",
            "--captions",
            *map(str, files),
            "--labels",
            str(labels),
            "--out",
            str(out),
            "-q",
        ]
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 2, res.output
        want = (
            f"error: no caption to count in {', '.join(map(str, files))}: {lines} lines read, {lines} of them "
            "empty; give files with one caption per line (no output written)"
            if files == [blank]
            else f"error: caption file {empty_pq} holds no rows"  # an empty file is refused when it is read
        )
        assert res.stderr.strip() == want
        assert not out.exists()


def test_labels_differing_only_in_case_are_refused(tmp_path):
    caps = write(tmp_path, "c.txt", b"France\n")
    with pytest.raises(InputError, match="'France' and 'FRANCE' differ only in case"):
        C.count_captions([caps], ["France", "FRANCE"], mode="substring", workers=1, progress=False)


def test_untested_ftfy_is_refused_before_counting(tmp_path, monkeypatch):
    """The replay of ftfy is exact only for the ftfy versions the tests ran with: any other is refused with
    one sentence at use, and pyproject's bound is the same range."""
    import importlib.metadata
    import tomllib

    for ok in ("6.0.3", "6.1.3", "6.2.3", "6.3.1", "6.3.1.post1"):
        assert ftfy_replay.require_tested_ftfy(ok) == ok
    for bad in ("5.9", "6.0.1", "6.4.0", "7.0"):
        with pytest.raises(ConfigError, match=rf"ftfy {bad} is installed, .* 'ftfy>=6\.0\.3,<6\.4'"):
            ftfy_replay.require_tested_ftfy(bad)
    caps = write(tmp_path, "c.txt", b"France\n")
    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "6.4.0" if name == "ftfy" else real(name))
    ftfy_replay.require_tested_ftfy.cache_clear()
    try:
        with pytest.raises(ConfigError, match="ftfy 6.4.0 is installed"):
            C.count_captions([caps], ["France"], mode="tokens", workers=1, progress=False)
        assert C.count_captions([caps], ["France"], mode="phrase", workers=1, progress=False) == {"France": 1}
    finally:
        ftfy_replay.require_tested_ftfy.cache_clear()
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    assert "ftfy>=6.0.3,<6.4" in deps
    assert ftfy_replay.FTFY_TESTED == ((6, 0, 3), (6, 4))


@pytest.mark.slow
def test_fast_ftfy_equals_ftfy_fuzz():
    import ftfy

    tm = tokens._TokenMatcher(["France"])
    rng = random.Random(11)
    frags = [
        "a", "France", " ", "  ", "\t", "é", "e\u0301", "ç", "Ã©", "Ã", "©", "Â£", "â€™", "’", "‘", "“", "”", "ʼ",
        "ﬁ", "ﬂ", "Ｆ", "　", "\x85", "\x91", "\x92", "\x96", "\u2028", "\x00", "\x07", "\x1b[31m", "\x1b",
        "&", "&amp;", "&amp;amp;", "&#97;", "&#x41;", "&lt;", "<", ">", "&eacute;", "&nbsp;", "&AMP;", "&#10;",
        "&#8217;", "&Atilde;&copy;", "İ", "\u212a", "中", "😀", "Р", "\ufeff", "\u200b", "\ufffd", "¿", "–", "™",
        "Ã¯Â¼Â¦", "Ã¢â‚¬â„¢", "Ð¿Ñ€Ð¸Ð²ÐµÑ‚", "í•œêµ­ì–´", "voilÃ ", "Ã\xa0", "â€œ", "ï¬", "Ã©tÃ©",
    ]  # fmt: skip
    n_bad = 0
    for _ in range(3000):
        s = "".join(rng.choice(frags) for _ in range(rng.randint(1, 10)))
        for text in (s, s + "\n"):
            fast = ftfy_replay._fast_ftfy(text)
            assert fast is not None, repr(text)  # short texts are always replayed
            assert fast == ftfy.fix_text(text), repr(text)
            n_bad += ftfy_replay._is_bad()(text)
            assert tm.clean(text) == tm._whitespace_clean(tm._basic_clean(text)).lower(), repr(text)
    assert n_bad > 500  # many texts went through ftfy's mojibake repair


def test_substring_mode_equals_authors(tmp_path):
    labels = [*LABELS, "Haiti", "Chad", "Oman", "Iran"]
    extra = ["(Haiti) beach", "haiti", "Nigerian", "papua new guinea", "Chadwick", "woman", "Teheran",
             "Iran\tIRAN iran", "ΣΊΣΥΦΟΣ Oman", "İstanbul chad"]  # fmt: skip
    p = generate_captions(tmp_path / "g.txt", 3000, COUNTRIES, seed=5)
    p.write_bytes(p.read_bytes() + ("\n".join(extra) + "\r\nlast Chad").encode())
    got = C.count_captions([p], labels, mode="substring", workers=1, progress=False)
    assert got == authors_substring_counts(p, labels)
    assert got["Niger"] >= got["Nigeria"] and got["Guinea"] >= got["Papua New Guinea"]
    par = C.count_captions_report(
        [p], labels, mode="substring", workers=2, progress=False, chunk_bytes=20_000
    )
    assert par.counts == got


def test_word_cache_eviction_keeps_counts(tmp_path):
    p = generate_captions(tmp_path / "g.txt", 2000, COUNTRIES, seed=9)
    block = p.read_bytes()
    big = tokens._TokenMatcher(COUNTRIES)
    small = tokens._TokenMatcher(COUNTRIES, cache_max=5, risky=big.risky_pattern)
    a, b = big.process_block(block, True), small.process_block(block, True)
    assert big.finish(a[0], len(COUNTRIES)) == small.finish(b[0], len(COUNTRIES)) and a[1:] == b[1:]
    assert len(small.n_of) < 5 and len(small.mask_of) < 5


# ------------------------------------------------------------------------- plain-line fast paths
PLAIN_LABELS = ["Oman", "United States", "Niger", "Bosnia and Herzegovina", "A", "Kosovo", "France"]


def plain_edge_captions(tok):
    fr74 = "france " + "ab" * 33 + "c"  # 74 bytes
    w75 = "oman" + " a" * 74  # 75 words = 75 BPE tokens: no zero padding
    w76 = "oman" + " a" * 75  # 76 tokens: clip.tokenize raises
    assert len(fr74) == 74 and [len(tok.encode(x)) for x in (w75, w76)] == [75, 76]
    return [
        fr74, fr74.upper(), w75, w76, w75[:-2] + " !", "oman, " * 37 + "x", "oman, " * 38,
        "woman", "a woman in oman", "roman woman", "omani oman's", "women'soman", "it'soman", "x'doman",
        "!'soman", "'s'oman", "states united", "united states", "the united kingdom and the states",
        "unitedstates", "nigeria", "niger-nigeria", "bosnian herzegovina and", "bosnia and herzegovina",
        "kosovos", "kosovo2", "3kosovo", "kos ovo", "<|startoftext|>oman", "oman<|endoftext|>", "a",
        "france's", "francea", "francé", "\tfrance\t", "FRANCE " * 40, "fr ance", "Oman " * 76,
    ]  # fmt: skip


def test_plain_fast_path_equals_authors(tmp_path, clip_mod):
    tm = tokens._TokenMatcher(PLAIN_LABELS)
    lines = plain_edge_captions(tm.tok)
    p = write(tmp_path, "c.txt", ("\n".join(lines) + "\n").encode())
    expected = authors_token_counts(p, PLAIN_LABELS)
    got = C.count_captions([p], PLAIN_LABELS, mode="tokens", workers=1, progress=False)
    assert got == expected
    assert expected["Oman"] > 3 and expected["United States"] > 1


@pytest.mark.slow
@pytest.mark.parametrize("labels", [PLAIN_LABELS, PLAIN_LABELS + ["'s"], COUNTRIES])
def test_plain_fast_path_fuzz(labels):
    """The block path (word filter on key hits, long-line skip) equals the exact per-line path."""
    tm = tokens._TokenMatcher(labels)
    if "'s" in labels:
        assert not tm._word_filter  # a key that is a contraction's piece: no word filter
    rng = random.Random(11)
    frags = [
        "oman", "woman", "roman", "united", "states", "niger", "nigeria", "bosnia", "and", "herzegovina",
        "kosovo", "os", "a", "france", "fr", "ance", "'s", "'d", "'ll", "'re", "'", "!", "!!", "<|endoftext|>",
        "<|startoftext|>", "-", ",", ".", "1", "42", " ", " ", " ", "\t", "x", "brazil", "chile", "china",
    ]  # fmt: skip
    lines = []
    for _ in range(3000):
        n = rng.choice([rng.randint(1, 12), rng.randint(30, 90)])
        s = "".join(rng.choice(frags) for _ in range(n))
        lines.append(s.upper() if rng.random() < 0.1 else s)
    data = "\n".join(lines) + "\n"
    hits, n, _ = tm.process_block(data.encode(), True)
    exact = [0] * len(labels)
    for line in lines:
        for j in tm.matches(line + "\n"):
            exact[j] += 1
    assert n == len(lines) and tm.finish(hits, len(labels)) == exact
    assert sum(exact) > 100


def test_min_words_is_a_lower_bound():
    tm = tokens._TokenMatcher(["France"])
    rng = random.Random(5)
    alphabet = "abcXYZ0189 \t'!?.,-<|>()#"
    specials = ["<|endoftext|>", "<|startoftext|>", "'s", "'ll", "'re", "'d", "'t", "'m", "'ve"]
    lines = []
    for _ in range(3000):
        parts = [rng.choice(alphabet) for _ in range(rng.randint(0, 60))]
        for _ in range(rng.randint(0, 4)):
            parts.insert(rng.randint(0, len(parts)), rng.choice(specials))
        lines.append("".join(parts))
    body = "\n".join(lines).encode()
    _, starts, _ = search._line_bounds(body)
    bounds = tokens._min_words(body, starts).tolist()
    assert len(bounds) == len(lines)
    for line, bound in zip(lines, bounds, strict=True):
        assert bound <= len(tm.pat.findall(tm.clean(line))), line
    assert tokens._min_words(b"a b\n\n", search._line_bounds(b"a b\n\n")[1]).tolist() == [2, 0, 0]


# ----------------------------------------------------------------- exact path: ftfy replay shortcuts
def test_windowed_is_bad_equals_ftfy():
    from ftfy.badness import BADNESS_RE, is_bad

    fast = ftfy_replay._is_bad()
    assert getattr(fast, "windowed", False)  # the pattern analysis worked on this ftfy
    rng = random.Random(4)
    specials = sorted(set(BADNESS_RE.pattern) - set("\\[]|(){}^?.+*"))
    ascii_ = "abc XYZ.,?!\t"
    n_bad = 0
    for _ in range(20000):
        parts = []
        for _ in range(rng.randint(1, 6)):
            parts.append("".join(rng.choice(ascii_) for _ in range(rng.randint(0, 25))))
            parts.append("".join(rng.choice(specials) for _ in range(rng.randint(0, 3))))
        text = "".join(parts)
        assert fast(text) == is_bad(text), repr(text)
        n_bad += is_bad(text)
    assert 2000 < n_bad < 18000  # both outcomes well represented
    for text in ["Ã", "Ã ", "x Ã ", "é", "ГўВЂВ a", "voilÃ le", "Â£ 5", "œ1", "‚Äô", "—" * 40 + "Ã©"]:
        assert fast(text) == is_bad(text), text


def test_direct_chars_equal_brute_force():
    """The vectorised scan (and the code-point ranges it skips) finds every character that NFC or
    lowercasing turns into a key character."""
    import unicodedata

    keys = frozenset("abcdefghijklmnopqrstuvwxyz0123456789'-")
    special = {0x2018, 0x2019, 0xFB01}
    brute = set()
    for cp in range(0x80, 0x110000):
        if 0xD800 <= cp < 0xE000 or cp in special:
            continue
        c = chr(cp)
        if any(ch in keys for ch in unicodedata.normalize("NFC", c).lower() + c.lower()):
            brute.add(c)
    assert ftfy_replay._direct_chars(keys, special) == brute
    assert {"\u212a", "İ"} <= brute


def test_risky_pattern_catches_mojibake_of_key_characters():
    """Lines whose key appears only after ftfy re-decodes mojibake (once or twice) must not be
    skipped by the skeleton pre-filter."""
    import ftfy
    from ftfy.chardata import CHARMAP_ENCODINGS

    labels = ["France", "Finland", "Kenya", "Iran"]
    tm = tokens._TokenMatcher(labels)
    n_checked = 0
    for word, special in [("France", "Ｆ"), ("Finland", "ﬁ"), ("Kenya", "\u212a"), ("Iran", "İ")]:
        rest = word[1:] if special != "ﬁ" else word[2:]
        for enc in CHARMAP_ENCODINGS:
            try:
                once = special.encode("utf-8").decode(enc)
                twice = once.encode("utf-8").decode(enc)
            except UnicodeError:
                continue
            for moj in (once, twice):
                line = f"Map of {moj}{rest} with flag"
                exact = tm.matches(line + "\n")
                if exact:
                    n_checked += 1
                    assert tm.may_match(line), (enc, line)
    assert n_checked >= 8
    # the plain mojibake of an accented letter or a currency sign is not flagged (no key letter)
    assert not tm._risky("Ã©tÃ© Â£ 5") and tm._risky("ï¼¦rance") and ftfy.fix_text("ï¼¦rance") == "France"


def test_words_equal_clean_then_findall():
    tm = tokens._TokenMatcher(COUNTRIES)
    rng = random.Random(3)
    frags = [
        "a", "France", " ", "  ", "\t", "é", "e\u0301", "Ã©", "Â£", "â€™", "’", "ﬁ", "Ｆ", "　", "\x85", "\x91",
        "\u2028", "\x00", "\x1b[31m", "&amp;", "&#97;", "&lt;", "<", "&eacute;", "&nbsp;", "&#10;", "&#28;",
        "\x1c", "\x1f", "\x0b", "\x0c", "\r", "\xa0", "\u3000", "\u180e", "\u200b", "İ", "\u212a", "中", "😀",
        "Σ", "ΟΔΟΣ", "'s", "'S", "<|startoftext|>", "<|endoftext|>", "1", "²", "Ⅻ", "_",
    ]  # fmt: skip
    for _ in range(6000):
        s = "".join(rng.choice(frags) for _ in range(rng.randint(1, 10)))
        for text in (s, s + "\n"):
            assert tm.words(text) == tm.pat.findall(tm._whitespace_clean(tm._basic_clean(text)).lower()), (
                repr(text)
            )


@pytest.mark.slow
def test_ftfy_fixer_triggers_cover_every_change():
    """A fixer is only skipped where it would change nothing."""
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000 or c % 97 == 0]
    texts = chars + ["\x1b[31mred\x1b[0m", "a\r\nb", "\ud83d\ude00", "\ud800x"]
    fixers = ftfy_replay._ftfy_char_fixers()
    assert all(trigger is not None for _, trigger in fixers)
    for fixer, trigger in fixers:
        for text in texts:
            if fixer(text) != text:
                assert trigger(text), (fixer.__name__, repr(text))


# ------------------------------------------------------------------------------- formats recognised, not guessed
@pytest.mark.parametrize("codec", ["xz", "bz2", "gz"])
def test_compressed_caption_files_are_decoded(tmp_path, codec):
    """``.xz`` and ``.bz2`` caption files were read as text: zero counts or noise, exit 0."""
    import bz2
    import lzma

    text = b"France and Niger\nNigeria\n\nPapua New Guinea\r\n"
    plain = write(tmp_path, "c.txt", text)
    packed = write(tmp_path, f"c.txt.{codec}", {"xz": lzma, "bz2": bz2, "gz": gzip}[codec].compress(text))
    got, want = phrase([packed]), phrase([plain])
    assert got.counts == want.counts and (got.n_lines, got.n_empty) == (want.n_lines, want.n_empty) == (4, 1)


def _count_cli(tmp_path, caps):
    """``geoclip count-captions`` of ``caps`` for the label France, into ``o.json``."""
    labels = write(tmp_path, "l.txt", b"France\n")
    args = ["--captions", str(caps), "--labels", str(labels), "--out", str(tmp_path / "o.json")]
    return CliRunner().invoke(app, ["count-captions", *args])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (random.Random(0).randbytes(5000), "is binary data"),
        (b"\x89PNG\r\n\x1a\n" + bytes(100), "is a PNG image"),
        (b"PK\x03\x04" + bytes(100), "is a ZIP archive"),
        (b"", "is empty"),
        (gzip.compress(b"", mtime=0), "is empty once decompressed"),
    ],
)
def test_binary_containers_and_empty_caption_files_exit_2(tmp_path, data, message):
    """A binary file gave "156 captions" of noise; an empty one all-zero counts, exit 0."""
    res = _count_cli(tmp_path, write(tmp_path, "caps.txt", data))
    assert res.exit_code == 2 and message in res.stderr and len(res.stderr.strip().splitlines()) == 1, (
        res.stderr
    )
    assert not (tmp_path / "o.json").exists()


def test_a_tar_of_captions_is_refused(tmp_path):
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("c.txt")
        info.size = 7
        tf.addfile(info, io.BytesIO(b"France\n"))
    caps = write(tmp_path, "c.tar.gz", buf.getvalue())
    with pytest.raises(InputError, match="is gzip-compressed data holding a tar archive.*unpack it"):
        phrase([caps])


def test_only_empty_lines_exit_2(tmp_path):
    res = _count_cli(tmp_path, write(tmp_path, "caps.txt", b"\n\n  \n"))
    assert (
        res.exit_code == 2
        and "no caption to count in" in res.stderr
        and "3 lines read, 3 of them empty" in res.stderr
    )


@pytest.mark.parametrize("name", ["c.txt", "c.txt.gz"])
@pytest.mark.parametrize("workers", [1, 2])
def test_a_line_over_the_limit_is_refused_naming_it(tmp_path, name, workers):
    """A 200 MB caption line inside a 204 kB ``.gz`` took 1.5 GB: a line is read up to 1 MiB, then refused."""
    from geoclip_utils.io.sources import MAX_LINE_BYTES

    body = b"France\n" * 3 + b"x" * (3 * MAX_LINE_BYTES) + b"\nNiger\n"
    data = gzip.compress(body) if name.endswith(".gz") else body
    caps = write(tmp_path, name, data)
    with pytest.raises(InputError, match=rf"{name}: line 4 is longer than 1,048,576 bytes"):
        C.count_captions_report([caps], ["France"], workers=workers, progress=False, chunk_bytes=1 << 16)
    ok = write(tmp_path, "ok.txt", b"France\n" * 3 + b"x" * MAX_LINE_BYTES + b"\nNiger\n")
    assert C.count_captions_report(
        [ok], ["France"], workers=workers, progress=False, chunk_bytes=1 << 16
    ).counts == {"France": 3}


def test_bad_utf8_deep_in_a_file_names_its_line_from_any_worker(tmp_path):
    caps = write(tmp_path, "c.txt", b"France\n" * 50_000 + b"Fran\xe7e\n" + b"Niger\n" * 10)
    for workers in (1, 2):
        with pytest.raises(InputError, match=r"c.txt: line 50001 is not UTF-8 text \(byte 0xe7\)"):
            C.count_captions_report([caps], ["France"], workers=workers, progress=False, chunk_bytes=1 << 15)


def test_ranges_split_where_lines_end_whatever_the_line_ends(tmp_path):
    """Cutting a file into ranges at every size gives the counts of one pass (CRLF and lone CR too)."""
    rng = random.Random(4)
    lines = [rng.choice(["France", "Niger", "Nigeria", "", "x" * rng.randint(1, 30)]) for _ in range(400)]
    data = b"".join(s.encode() + rng.choice([b"\n", b"\r\n", b"\r"]) for s in lines)
    caps = write(tmp_path, "c.txt", data)
    one = C.count_captions_report([caps], LABELS, workers=1, progress=False, chunk_bytes=1 << 20)
    for size in (1, 2, 3, 7, 64, 333):
        rep = C.count_captions_report([caps], LABELS, workers=1, progress=False, chunk_bytes=size)
        assert (rep.counts, rep.n_lines, rep.n_empty) == (one.counts, one.n_lines, one.n_empty), size


def test_labels_differing_in_unicode_normal_form_say_so():
    """Labels differing in Unicode normal form were reported as "differ only in case"."""
    caps = ["x"]
    with pytest.raises(
        InputError, match=r"differ only in Unicode normal form \('Cura\\xe7ao' and 'Curac\\u0327ao'"
    ):
        C.count_captions_report(caps, ["Curaçao", "Curac\u0327ao"], mode="phrase", workers=1, progress=False)
    with pytest.raises(InputError, match="differ only in case and Unicode normal form"):
        C.count_captions_report(caps, ["Curaçao", "CURAC\u0327AO"], mode="tokens", workers=1, progress=False)
    # the authors' substring rule does not normalise: the two forms count differently, both are kept
    with pytest.raises(InputError, match="does not exist"):
        C.count_captions_report(
            caps, ["Curaçao", "Curac\u0327ao"], mode="substring", workers=1, progress=False
        )
