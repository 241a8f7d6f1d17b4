"""geoclip_utils.studies.training_data (the Training data chapter): label matching, Spearman correlation and its bootstrap CI, rank residuals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from geoclip_utils.captions import MODES
from geoclip_utils.errors import ConfigError
from geoclip_utils.schema import make_predictions
from geoclip_utils.studies import training_data as laion


def test_normalize_label():
    assert laion.normalize_label("Provence-Alpes-Côte d'Azur") == "provence alpes cote d azur"
    assert laion.normalize_label("  Ile-de-France ") == "ile de france"
    assert laion.normalize_label("'s-Hertogenbosch") == "s hertogenbosch"


def test_match_counts_order_of_rules():
    counts = pd.DataFrame(
        {
            "label": ["France", "germany", "cote d'ivoire", "São Paulo"],
            "count": [10, 20, 3, 7],
        }
    )
    m = laion.match_counts(["France", "Germany", "Côte d'Ivoire", "sao paulo", "Atlantis", "France"], counts)
    assert m["label"].tolist() == ["France", "Germany", "Côte d'Ivoire", "sao paulo", "Atlantis"]
    assert m["match"].tolist() == ["exact", "case", "normalized", "normalized", "unmatched"]
    assert m["key"].tolist()[:4] == ["France", "germany", "cote d'ivoire", "São Paulo"]
    assert m["count"].tolist()[:4] == [10, 20, 3, 7]
    assert np.isnan(m["count"].iloc[4]) and m["key"].iloc[4] is None


def test_match_counts_needs_columns():
    with pytest.raises(ConfigError):
        laion.match_counts(["a"], pd.DataFrame({"name": ["a"], "n": [1]}))


def test_spearman_hand_computed():
    # ranks x: 1 2 3 4 5, y: 2 1 4 3 5 -> d^2 = 1+1+1+1+0 = 4, rho = 1 - 6*4/(5*24) = 0.8
    assert laion.spearman([1, 2, 3, 4, 5], [20, 10, 40, 30, 50]) == pytest.approx(0.8)
    assert laion.spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert np.isnan(laion.spearman([1, 1, 1], [1, 2, 3]))


def test_spearman_matches_scipy_with_ties():
    rng = np.random.default_rng(7)
    x = rng.integers(0, 10, 40).astype(float)  # many ties
    y = x + rng.normal(0, 3, 40)
    assert laion.spearman(x, y) == pytest.approx(spearmanr(x, y).statistic)


def test_spearman_ci_reproducible_and_covers():
    rng = np.random.default_rng(0)
    x = rng.lognormal(8, 2, 60)
    y = np.log(x) / 20 + rng.normal(0, 0.2, 60)
    a = laion.spearman_ci(x, y, n_boot=300, seed=5)
    b = laion.spearman_ci(x, y, n_boot=300, seed=5)
    c = laion.spearman_ci(x, y, n_boot=300, seed=6)
    assert a == b
    assert a["ci95"] != c["ci95"]
    assert a["n"] == 60
    assert a["rho"] == pytest.approx(spearmanr(x, y).statistic)
    assert a["ci95"][0] < a["rho"] < a["ci95"][1]
    # NaN pairs are dropped, not counted
    xn = np.append(x, np.nan)
    yn = np.append(y, 0.5)
    assert laion.spearman_ci(xn, yn, n_boot=300, seed=5) == a
    with pytest.raises(ConfigError):
        laion.spearman_ci([1, 2], [1, 2])


def test_rank_residuals_flags():
    t = pd.DataFrame(
        {"count": [1, 10, 100, 1000, 10000, 100000], "f1": [0.1, 0.9, 0.3, 0.4, 0.5, 0.05]},
        index=list("abcdef"),
    )
    r = laion.rank_residuals(t, n=1)
    assert r.loc["f", "flag"] == "frequent, poorly recognised"
    assert r.loc["b", "flag"] == "rare, well recognised"
    assert (r["flag"] != "").sum() == 2
    assert r["residual"].is_monotonic_increasing
    np.testing.assert_allclose(r["residual"].sum(), 0, atol=1e-12)  # least squares with intercept


def test_count_vs_f1_on_constructed_predictions(monkeypatch):
    df = make_predictions(
        ["1", "2", "3", "4"],
        ["France", "France", "Spain", "Peru"],
        [("France",), ("Spain",), ("Spain",), ("France",)],
        None,
        experiment="toy",
        source="paper",
    )
    counts = pd.DataFrame({"label": ["france", "spain"], "count": [100, 50]})
    monkeypatch.setattr(laion.experiments, "label_counts", lambda name, kind: counts)
    t = laion.count_vs_f1("toy", "substring", df=df)
    assert t.index.tolist() == ["France", "Peru", "Spain"]
    # France: tp 1, support 2, predicted 2 -> F1 0.5; Spain: tp 1, support 1, predicted 2 -> 2/3; Peru 0
    assert t.loc["France", "f1"] == pytest.approx(0.5)
    assert t.loc["Spain", "f1"] == pytest.approx(2 / 3)
    assert t.loc["Peru", "f1"] == 0 and t.loc["Peru", "match"] == "unmatched"
    assert t.loc["France", "count"] == 100


def test_real_country_counts_all_matched():
    t = laion.count_vs_f1("country100", "tokens")
    assert len(t) == 115
    assert (t["match"] != "unmatched").all()
    r = laion.spearman_ci(t["count"], t["f1"], n_boot=200, seed=0)
    assert -1 <= r["ci95"][0] <= r["rho"] <= r["ci95"][1] <= 1


# --------------------------------------------------------------------------- the chapter's tables and wording
@pytest.mark.slow
def test_count_tables_fall_back_to_substring_and_match_glue():
    with pytest.raises(ConfigError, match="^kind='words' is not allowed"):
        laion.count_tables("words")
    tables = laion.count_tables("tokens")
    assert tables["country100"]["kind"].iloc[0] == "tokens"
    assert tables["UScity100"]["kind"].iloc[0] == "substring"  # no token counts for US cities
    allt = laion.long_table(tables)
    assert allt["label"].iloc[0] == tables[next(iter(tables))].index[0]
    corr = pd.DataFrame({"classes": [3, 2], "matched": [2, 2]})
    g = laion.match_glue(corr, allt)
    assert g["n_sets"] == len(tables) and g["n_classes_total"] == len(allt) and g["n_unmatched"] == 1
    assert g["n_exact"] + g["n_case"] + g["n_normalized"] == int((allt["match"] != "unmatched").sum())
    assert g["n_france"] == len(tables["France_states_max100"]) == 18


def _corr(rows):
    cols = ["label_set", "place", "kind", "rho", "lo", "hi"]
    t = pd.DataFrame(rows, columns=cols)
    return t.assign(classes=10, matched=10, unmatched="")


def test_correlation_glue_and_text():
    corr = _corr(
        [
            ("country100", "country", "substring", 0.44, 0.28, 0.57),
            ("UScity100", "US city", "tokens", -0.05, -0.3, 0.2),
        ]
    )
    g = laion.correlation_glue(corr)
    assert list(g) == [
        "country100_substring",
        "country100_substring_lo",
        "country100_substring_hi",
        "country100_substring_width",
        "uscity100_tokens",
        "uscity100_tokens_lo",
        "uscity100_tokens_hi",
        "uscity100_tokens_width",
    ]
    assert g["uscity100_tokens_width"] == pytest.approx(0.5)
    assert laion.correlation_text(corr).splitlines() == [
        "Spearman rho, caption count vs per-class F1 (95% bootstrap CI over classes)",
        "           country100 substring: n= 10  rho +0.44  [+0.28, +0.57]",
        "            UScity100    tokens: n= 10  rho -0.05  [-0.30, +0.20]",
    ]


def test_rho_words_bands():
    assert laion.rho_words(0.09, 0.01, 0.2) == "negligible"
    assert laion.rho_words(0.1, 0.01, 0.2) == "weak"
    assert laion.rho_words(0.3, 0.0, 0.5) == "moderate, uncertain"  # a bound at zero counts as including it
    assert laion.rho_words(0.5, 0.4, 0.6) == "strong"
    assert laion.rho_words(-0.35, -0.5, -0.2) == "moderate negative"


def _kinds(count_rho, rho_s, rho_t):
    return pd.DataFrame(
        {"label_set": ["a"], "count_rho": [count_rho], "rho_substring": [rho_s], "rho_tokens": [rho_t]}
    )


def test_correlation_words_on_the_book_numbers():
    corr = _corr(
        [
            ("country100", "country", "substring", 0.44, 0.28, 0.57),
            ("country100", "country", "tokens", 0.43, 0.27, 0.56),
            ("US_states_max100", "US state", "substring", 0.19, -0.13, 0.45),
            ("France_states_max100", "French region", "substring", 0.38, -0.14, 0.76),
            ("UScity100", "US city", "substring", 0.21, -0.01, 0.43),
            ("city100", "city", "substring", 0.40, 0.34, 0.47),
            ("city300", "city", "substring", 0.42, 0.31, 0.53),
        ]
    )
    w = laion.correlation_words(corr, _kinds(0.96, 0.38, 0.30))
    assert w["country_finding"] == (
        "countries named more often in captions are recognised better, but the counts leave most of the ranking "
        "unexplained"
    )
    assert w["within_lead"] == "Within one country the evidence is weaker (every interval includes zero)"
    assert (
        w["count_kinds"]
        == "The two ways of counting give nearly the same ranks, so the choice of count does not change the picture."
    )
    assert w["trend"] == "tend to be recognised better"
    assert w["bands"] == (
        "a moderate rank correlation for countries and cities; a weak, uncertain one for US states and US cities; "
        "and a moderate, uncertain one for French regions"
    )


def test_correlation_words_follow_other_numbers():
    corr = _corr(
        [
            ("country100", "country", "substring", -0.2, -0.5, 0.1),
            ("US_states_max100", "US state", "substring", 0.6, 0.4, 0.8),
            ("city100", "city", "substring", 0.40, 0.34, 0.47),
            ("city300", "city", "substring", 0.2, 0.1, 0.3),
        ]
    )
    w = laion.correlation_words(corr, _kinds(0.8, 0.5, 0.3))
    assert w["country_finding"].startswith("the data do not show whether")
    assert w["within_lead"] == "Within one country the evidence is as clear (no interval includes zero)"
    assert w["count_kinds"] == (
        "The two ways of counting give similar ranks, and the correlations with F1 differ by up to 0.20, so the "
        "choice of count matters."
    )
    assert w["trend"] == "are not consistently recognised better or worse"
    # city100 and city300 disagree, so each is named
    assert "cities (city100)" in w["bands"] and "cities (city300)" in w["bands"]
    assert w["bands"].startswith("a weak negative, uncertain rank correlation for countries")
    high = _corr([("country100", "country", "substring", 0.8, 0.7, 0.9)])
    assert laion.correlation_words(high, _kinds(0.5, 0.8, 0.8))["country_finding"].endswith(
        "and the counts explain much of the ranking"
    )
    assert "different ranks" in laion.correlation_words(high, _kinds(0.5, 0.8, 0.8))["count_kinds"]
    low = _corr([("country100", "country", "substring", -0.4, -0.6, -0.2)])
    assert laion.correlation_words(low, _kinds(0.95, 0.1, 0.1))["country_finding"].endswith(
        "recognised worse"
    )


def test_count_kinds_agree_on_the_real_counts():
    k = laion.count_kind_agreement(["country100", "UScity100"])
    assert k["label_set"].tolist() == ["country100"]  # UScity100 has substring counts only
    assert k["count_rho"].iloc[0] > 0.9
    assert k["rho_substring"].iloc[0] == pytest.approx(0.4397, abs=1e-3)


def test_flag_table_examples_and_view():
    t = pd.DataFrame(
        {"count": [1, 10, 100, 1000, 10000, 100000], "f1": [0.1, 0.9, 0.3, 0.4, 0.5, 0.05]},
        index=pd.Index(list("abcdef"), name="label"),
    )
    flags = laion.flag_table({"country100": t, "other": t.assign(f1=t["f1"][::-1].to_numpy())}, n=1)
    assert len(flags) == 4 and set(flags["label_set"]) == {"country100", "other"}
    ex = laion.flag_examples(flags)
    assert (ex["worst_country"], ex["worst_count"], ex["best_country"], ex["best_f1"]) == (
        "f",
        100000,
        "b",
        0.9,
    )
    view = laion.flag_view(flags)
    assert view.columns.tolist() == [
        "label_set",
        "flag",
        "label",
        "count",
        "f1",
        "count_rank",
        "f1_rank",
        "residual",
    ]
    assert view["label_set"].tolist()[:2] == ["country100", "country100"]
    with pytest.raises(ConfigError, match="no flagged class"):
        laion.flag_examples(flags, "city300")


def test_synthetic_counts_with_a_check_column():
    seen = {}

    def check(path, labels):
        seen["labels"] = list(labels)
        return dict.fromkeys(labels, 7)

    counts = laion.synthetic_counts(
        300, seed=1, labels=["Niger", "Nigeria", "Dominica", "China"], check=check
    )
    assert seen["labels"] == ["Niger", "Nigeria", "Dominica", "China"]
    assert counts.columns.tolist() == [*MODES, "authors' loop"]
    assert (counts["substring"] >= counts["phrase"]).loc["Niger"]  # every "nigeria" also contains " niger"
    counts.loc["China", "tokens"] = 7  # make one label agree with the check
    g = laion.synthetic_glue(counts, 300)
    assert g["demo_n"] == 300 and g["n_labels"] == 4 and g["n_equal"] == int((counts["tokens"] == 7).sum())
    assert g["niger_substring"] == counts.loc["Niger", "substring"]
    text = laion.synthetic_text(counts, 300).splitlines()
    assert text[0] == f"tokens mode equals the authors' loop for {g['n_equal']} of 4 labels on 300 captions"
    assert text[1].split() == ["tokens", "authors'", "loop", "substring", "phrase"]
    # the same seed gives the same counts
    again = laion.synthetic_counts(300, seed=1, labels=["Niger", "Nigeria", "Dominica", "China"])
    assert again["phrase"].tolist() == counts["phrase"].tolist()


# --------------------------------------------------------------------------- the fitted law
def test_frequency_fit_on_an_exact_line_and_its_left_out_classes():
    counts = np.array([10, 100, 1000, 10_000, 0, np.nan])
    f1 = np.array([0.1, 0.3, 0.5, 0.7, 0.9, 0.4])
    r = laion.frequency_fit(counts, f1, n_boot=200, seed=1, name="x")
    assert r["slope"] == pytest.approx(0.2) and r["intercept"] == pytest.approx(-0.1)
    assert r["n"] == 4 and r["n_zero"] == 1 and (r["x_min"], r["x_max"]) == (10, 10_000)
    assert r["ci95"] == pytest.approx([0.2, 0.2])  # every resample of an exact line has its slope
    with pytest.raises(ConfigError, match="at least 3 classes"):
        laion.frequency_fit([10, 100, 0], [0.1, 0.2, 0.3])
    with pytest.raises(ConfigError, match="different positive counts"):
        laion.frequency_fit([10, 10, 10], [0.1, 0.2, 0.3])


def test_frequency_fit_slope_matches_numpy_and_its_interval_covers_it():
    rng = np.random.default_rng(2)
    counts = 10 ** rng.uniform(1, 6, 80)
    f1 = np.clip(0.1 * np.log10(counts) + rng.normal(0, 0.15, 80), 0, 1)
    r = laion.frequency_fit(counts, f1, n_boot=500, seed=0, name="a")
    slope, intercept = np.polyfit(np.log10(counts), f1, 1)
    assert (r["slope"], r["intercept"]) == pytest.approx((slope, intercept))
    assert r["ci95"][0] < r["slope"] < r["ci95"][1]
    # the set's own stream: same seed and name, same interval; another name, other resamples
    assert laion.frequency_fit(counts, f1, n_boot=500, seed=0, name="a")["ci95"] == r["ci95"]
    assert laion.frequency_fit(counts, f1, n_boot=500, seed=0, name="b")["ci95"] != r["ci95"]


def _tables(slopes, n=60, noise=0.05, seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for name, b in slopes.items():
        c = 10 ** rng.uniform(1, 6, n)
        out[name] = pd.DataFrame(
            {
                "count": c,
                "f1": b * np.log10(c) + rng.normal(0, noise, n),
                "place": "country",
                "kind": "substring",
            },
            index=[f"{name}{i}" for i in range(n)],
        )
    return out


def test_slope_differences_find_the_pair_that_differs():
    tables = _tables({"flat": 0.0, "steep": 0.15, "steep2": 0.15})
    fits = laion.fit_table(tables, n_boot=300, seed=0)
    assert list(fits.index) == ["flat", "steep", "steep2"]
    assert fits.loc["steep", "slope"] == pytest.approx(0.15, abs=0.02)
    # a set's interval does not depend on the other sets fitted beside it
    alone = laion.fit_table({"steep": tables["steep"]}, n_boot=300, seed=0)
    assert alone.loc["steep", ["lo", "hi"]].tolist() == fits.loc["steep", ["lo", "hi"]].tolist()
    d = laion.slope_differences(fits).set_index(["a", "b"])
    assert d.loc[("flat", "steep"), "differ"] and d.loc[("flat", "steep2"), "differ"]
    assert not d.loc[("steep", "steep2"), "differ"]
    assert d.loc[("flat", "steep"), "diff"] == pytest.approx(
        fits.loc["flat", "slope"] - fits.loc["steep", "slope"]
    )
    lo, hi = d.loc[("flat", "steep"), ["lo", "hi"]]
    assert lo < d.loc[("flat", "steep"), "diff"] < hi < 0
    glue = laion.fit_glue(fits, laion.slope_differences(fits), country="flat")
    assert (
        glue["n_pairs"] == 3 and glue["n_pairs_differ"] == 2 and glue["fit_steepest"] in ("steep", "steep2")
    )
    assert glue["differ_sentence"].startswith("2 of the 3 pairs of label sets have slopes that differ")
    assert glue["chance_sentence"].endswith("and 2 do: more than chance alone would give")
    text = laion.fit_text(fits, laion.slope_differences(fits))
    assert "pairs whose slopes differ (CI of the difference excludes 0): 2 of 3" in text


def test_fit_glue_words_when_no_pair_differs():
    fits = laion.fit_table(_tables({"a": 0.1, "b": 0.1}, noise=0.3), n_boot=200, seed=0)
    glue = laion.fit_glue(fits, laion.slope_differences(fits), country="a")
    assert glue["n_pairs_differ"] == 0
    assert glue["differ_sentence"].startswith("no two label sets' slopes can be told apart")
    assert (
        glue["chance_sentence"]
        == "with 1 pair, about 0.1 intervals would exclude zero by chance alone, and none does"
    )
    # one pair of twenty apart: about what chance gives
    pairs = pd.DataFrame(
        {
            "a": ["a"] * 20,
            "b": ["b"] * 20,
            "diff": 0.1,
            "lo": [0.05] + [-0.1] * 19,
            "hi": 0.2,
            "differ": [True] + [False] * 19,
        }
    )
    words = laion.fit_glue(fits, pairs, country="a")
    assert words["chance_sentence"].endswith(
        "so 1 pair apart is weak evidence that the law differs between kinds of place"
    )
    assert words["differ_sentence"] == "the slopes of a and b differ (a − b +0.10, 95 % CI +0.05 – +0.20)"


def test_fit_lines_land_on_their_own_panel():
    import plotly.express as px

    tables = _tables({"a": 0.0, "b": 0.2}, n=20)
    fits = laion.fit_table(tables, n_boot=50, seed=0)
    allt = laion.long_table({k: v.assign(label_set=k) for k, v in tables.items()})
    fig = px.scatter(allt, x="count", y="f1", facet_col="label_set", log_x=True, hover_name="label")
    n = len(fig.data)
    laion.add_fit_lines(fig, fits, allt)
    lines = fig.data[n:]
    assert len(lines) == 2
    for trace, line in zip(fig.data[:n], lines, strict=True):
        name = "a" if set(trace.hovertext) <= set(tables["a"].index) else "b"
        assert (line.xaxis, line.yaxis) == (trace.xaxis, trace.yaxis)
        r = fits.loc[name]
        assert line.y[1] - line.y[0] == pytest.approx(r["slope"] * np.log10(r["x_max"] / r["x_min"]))
