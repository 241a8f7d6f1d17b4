"""geoclip_utils.laion: label matching, Spearman correlation and its bootstrap CI, rank residuals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from geoclip_utils.errors import ConfigError
from geoclip_utils.schema import make_predictions
from geoclip_utils.studies import label_frequency as laion


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
