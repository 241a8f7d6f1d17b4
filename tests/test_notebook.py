"""geoclip_utils.notebook: tables, formatted intervals and points, words chosen by the numbers."""

from __future__ import annotations

import pandas as pd
import pytest

from geoclip_utils import notebook, stats
from geoclip_utils.errors import ConfigError


def test_sortable_html():
    import pandas as pd

    df = pd.DataFrame({"x": [0.123, 0.5]}, index=pd.Index(["a", "b"], name="label"))
    html = notebook.sortable_html(df, "t-1", {"x": "{:.1f}"})
    assert 'id="t-1"' in html and "<script>" in html and ">0.1<" in html and 'getElementById("t-1")' in html
    with pytest.raises(ConfigError):
        notebook.sortable_html(df, "bad id")


def test_sortable_html_takes_bare_format_specs_and_leaves_missing_cells_empty():
    """A bare spec (".1%") formats the value; it once rendered the spec itself in every cell."""
    import pandas as pd

    df = pd.DataFrame({"share": [0.1234, float("nan")], "km": [1234.6, None]}, index=["a", "b"])
    html = notebook.sortable_html(df, "t-2", {"share": ".1%", "km": ",.0f"})
    assert ">12.3%<" in html and ">1,235<" in html
    table = html.split("<script>")[0]
    assert ".1%" not in table and ",.0f" not in table and "nan" not in table.lower()
    with pytest.raises(ConfigError, match="no column 'shares'"):
        notebook.sortable_html(df, "t-3", {"shares": ".1%"})


# =========================================================================== chapter helpers (notebook.py)
def test_format_interval_and_share_in_words():
    assert notebook.format_interval(0.5083, 0.527) == "50.8% – 52.7%"
    assert notebook.format_interval(0.0712, 0.0931, ".3f") == "0.071 – 0.093"
    words = {
        x: notebook.share_in_words(x)
        for x in (0.0, 0.04, 0.1, 0.25, 0.33, 0.505, 0.517, 0.65, 0.84, 0.9, 0.97)
    }
    assert words[0.0] == words[0.04] == "almost none"
    assert (
        words[0.1] == "about a tenth" and words[0.25] == "about a quarter" and words[0.33] == "about a third"
    )
    assert words[0.505] == words[0.517] == "about half"
    assert words[0.65] == "about two thirds" and words[0.84] == "about four fifths"
    assert words[0.9] == "about nine tenths" and words[0.97] == "almost all"
    for bad in (-0.1, 1.2, "half", float("nan")):
        with pytest.raises(ConfigError):
            notebook.share_in_words(bad)


def test_word_for_interval():
    w = ("hurts", "unclear", "helps")
    assert notebook.word_for_interval(-0.3, -0.1, *w) == "hurts"
    assert notebook.word_for_interval(0.1, 0.3, *w) == "helps"
    assert notebook.word_for_interval(-0.1, 0.3, *w) == "unclear"
    assert notebook.word_for_interval(0.0, 0.3, *w) == "unclear"  # an interval touching zero is not clear
    assert notebook.word_for_interval(float("nan"), float("nan"), *w) == "unclear"


# =========================================================================== notebook wording helpers
def test_format_points_and_points():
    assert notebook.format_points(-0.0659) == "-6.6 points"
    assert notebook.format_points(0.0) == "0.0 points" and notebook.format_points(-0.0004) == "0.0 points"
    assert notebook.format_points(0.1, 0.05, 0.15, digits=0) == "+10 points (95% CI +5 – +15)"
    assert notebook.format_points(-0.02, unit="") == "-2.0"
    assert notebook.points(a=0.5, b=-0.001) == {"a_pts": 50.0, "b_pts": -0.1}
    assert notebook.points() == {}


def test_count_join_and_tied_at():
    assert notebook.count_words(0, "photo") == "no photos" and notebook.count_words(1, "photo") == "1 photo"
    assert notebook.count_words(1234, "country", "countries") == "1,234 countries"
    assert notebook.join_words([]) == "none" and notebook.join_words(["a"]) == "a"
    assert notebook.join_words(["a", "b", "c"]) == "a, b and c"
    f1 = pd.Series({"Kuwait": 0.0, "Georgia": 0.0, "UK": 0.9, "Chad": 0.3})
    assert notebook.tied_at(f1, "min") == "Georgia and Kuwait" and notebook.tied_at(f1, "max") == "UK"
    assert notebook.tied_at(pd.Series({"x": 0.5}), "min") == "x"  # a single item
    many = pd.Series(0.0, index=list("edcba"))
    assert notebook.tied_at(many, "max") == "a, b, c and 2 others"
    with pytest.raises(ConfigError):
        notebook.tied_at(pd.Series(dtype=float))
    with pytest.raises(ConfigError):
        notebook.tied_at(f1, "middle")


def test_like_for_like_sentences_edges():
    p = stats.paired([1, 0, 1, 0], [1, 1, 0, 0], n_boot=20)
    same = stats.RestrictedComparison(4, 3, 3, 3, 0, 0, 0, 0, 0, p, p, p)
    assert notebook.like_for_like_sentence(same, "A", "B").endswith("so they are compared like for like.")
    one_each = stats.RestrictedComparison(4, 3, 4, 4, 1, 1, 1, 0, 0, p, p, p, ("X",))
    text = notebook.like_for_like_sentence(one_each, "A", "B", "countries")
    assert "1 first answer of B (25.0% of the photos) names countries that A could not give." in text
    assert (
        "1 photo (of X) has a true label only one of the runs could answer; restricted to the common " in text
    )
    assert "it is wrong for both" in text
    none_out = stats.RestrictedComparison(4, 3, 4, 3, 0, 0, 0, 0, 0, p, p, p)
    assert "Neither run gave a first answer outside the common labels." in notebook.like_for_like_sentence(
        none_out, "A", "B"
    )
    # exact: one value per run and the CI; a range: both ends and the verdict of the limits
    exact = notebook.restricted_sentence(same, "A", "B")
    assert "A is right for 50.0% of the photos and B for 50.0%. The difference is 0.0 points (95% CI" in exact
    assert exact.endswith("the stored answers cannot tell which run is better.")
    lo = stats.paired([1, 1, 1, 1] * 25, [0, 0, 0, 0] * 25, n_boot=50)
    hi = stats.paired([1, 1, 1, 1] * 25, [0, 0, 1, 1] * 25, n_boot=50)
    ranged = stats.RestrictedComparison(100, 3, 3, 4, 0, 0, 50, 0, 50, lo, lo, hi)
    text = notebook.restricted_sentence(ranged, "A", "B", "countries", top="first answer")
    assert (
        "B for between 0.0% and 50.0% (for 50 photos of B, none of the stored answers, the first answer"
        in text
    )
    assert "The difference lies between -100.0 and -50.0 points" in text
    assert text.endswith("B is worse like for like.")


def test_paired_glue_names_every_field_and_gives_points():
    """One comparison unpacked under the chapter's names: each field the PairedComparison holds, the
    differences also in percentage points; a missing comparison gives NaN, an unknown field is refused."""
    import math

    import numpy as np

    a = np.array([1, 0, 1, 1, 0, 0, 1, 0], bool)
    b = np.array([1, 1, 1, 1, 0, 1, 0, 0], bool)
    p = stats.paired(a, b, n_boot=200, seed=1)
    got = notebook.paired_glue(
        p,
        n="n",
        a="a",
        a_lo="alo",
        b_hi="bhi",
        diff="d",
        diff_abs="dabs",
        diff_lo="dlo",
        p="p",
        p_text="pt",
        only_a="oa",
        only_b="ob",
        diff_pts="d",
        diff_hi_pts="dhi",
    )
    assert got == {
        "n": 8,
        "a": 0.5,
        "alo": p.accuracy_a_ci95[0],
        "bhi": p.accuracy_b_ci95[1],
        "d": 0.125,
        "dabs": 0.125,
        "dlo": p.diff_ci95[0],
        "p": p.mcnemar_p,
        "pt": p.p_text,
        "oa": 1,
        "ob": 2,
        "d_pts": 12.5,
        "dhi_pts": round(100 * p.diff_ci95[1], 10),
    }
    missing = notebook.paired_glue(None, diff="d5", diff_pts="d5", p="p5")
    assert set(missing) == {"d5", "d5_pts", "p5"} and all(math.isnan(v) for v in missing.values())
    with pytest.raises(TypeError, match="unknown field 'accuracy'"):
        notebook.paired_glue(p, accuracy="x")
    with pytest.raises(TypeError, match="only a difference has points"):
        notebook.paired_glue(p, a_pts="x")


def test_candidates_words_say_how_many_candidates_have_no_photo():
    assert notebook.candidates_words(115, 0) == "the 115 countries of the test set only"
    assert notebook.candidates_words(1167, 1) == "1,167 countries, 1 of them without photos in the test set"
