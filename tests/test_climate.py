"""geoclip_utils.climate: photos joined to climates, accuracy by group, the independence test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geoclip_utils.errors import ConfigError
from geoclip_utils.studies import climate


def test_accuracy_by_hand():
    correct = np.array([1, 1, 1, 0, 1, 0, 0, 0], bool)
    groups = np.array(["A", "A", "A", "A", "B", "B", "B", "C"])
    t = climate.accuracy_by(correct, groups, n_boot=100)
    assert t.loc["A", "accuracy"] == 0.75 and t.loc["B", "accuracy"] == pytest.approx(1 / 3)
    assert t["images"].to_dict() == {"A": 4, "B": 3, "C": 1}
    assert list(t.index) == ["A", "B", "C"]  # sorted by accuracy
    assert (t["ci_lo"] <= t["accuracy"]).all() and (t["accuracy"] <= t["ci_hi"]).all()
    assert list(climate.accuracy_by(correct, groups, min_images=2, n_boot=10).index) == ["A", "B"]
    with pytest.raises(ConfigError):
        climate.accuracy_by(correct, groups[:3])


def test_independence_test():
    # identical accuracy in both groups -> chi2 = 0, p = 1; a perfect split -> large chi2, V = 1
    same = climate.independence_test(np.array([1, 0] * 50, bool), np.array(["a"] * 50 + ["b"] * 50))
    assert same["chi2"] == pytest.approx(0.0) and same["p"] == pytest.approx(1.0)
    split = climate.independence_test(np.array([1] * 50 + [0] * 50, bool), np.array(["a"] * 50 + ["b"] * 50))
    assert split["p"] < 1e-10 and split["cramers_v"] == pytest.approx(1.0, abs=0.03)
    one = climate.independence_test(np.array([1, 0], bool), np.array(["a", "a"]))
    assert one["p"] == 1.0


def test_typical_climate_and_demo_gold():
    photos = pd.DataFrame({"label": ["X", "X", "X", "Y"], "climate": ["Cfb", "Cfb", "Af", "BWh"]})
    assert climate.typical_climate(photos) == {"X": "Cfb", "Y": "BWh"}
    gold = pd.DataFrame({"image_id": ["1", "2", "3"], "label": ["X", "Y", "Z"]})
    demo = climate.demo_climate_gold(gold, photos)
    assert demo.to_dict("list") == {"image_id": ["1", "2"], "label": ["Cfb", "BWh"]}


def test_image_climates_country100():
    df = climate.image_climates("country100")
    assert len(df) == 11500 and df["climate"].notna().all()
    assert set(df["group"]) <= {"Tropical", "Arid", "Temperate", "Cold", "Polar", "Ocean"}
    assert set(df.loc[df["label"] == "Singapore", "group"]) == {"Tropical"}
