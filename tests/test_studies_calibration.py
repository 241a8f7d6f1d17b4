"""geoclip_utils.studies.calibration (the Calibration chapter) against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geoclip_utils import experiments
from geoclip_utils.errors import ConfigError, DataError
from geoclip_utils.schema import make_predictions
from geoclip_utils.studies import calibration


def test_top1_confidence_and_tempering():
    df = make_predictions(
        ["1", "2"],
        ["A", "B"],
        [("A", "B"), ("A", "B")],
        [(0.8, 0.2), (1.0, 0.0)],
        experiment="t",
        source="local",
    )
    assert calibration.top1_confidence(df).tolist() == [0.8, 1.0]
    # T = 2: sqrt(.8) / (sqrt(.8) + sqrt(.2)) = 2/3; a zero probability stays zero
    assert calibration.tempered_top1(df["top_probs"].tolist(), 2.0).tolist() == pytest.approx([2 / 3, 1.0])
    assert calibration.tempered_top1([[0.8, 0.2]], 1.0)[0] == pytest.approx(0.8)
    with pytest.raises(ConfigError):
        calibration.tempered_top1([[1.0]], 0)


def test_fit_temperature_finds_the_scale():
    # confidences 0.8 after T=2 would be 2/3; correctness 2 of 3 -> T=2 gives ECE 0
    probs = [[0.8, 0.2]] * 3
    t, ece = calibration.fit_temperature(probs, [1, 1, 0], grid=[1.0, 2.0, 4.0])
    assert t == 2.0 and ece == pytest.approx(0.0, abs=1e-12)


def test_calibration_summary_by_hand():
    gold = ["A", "A", "B", "B"]
    tops = [("A", "B"), ("B", "A"), ("B", "A"), ("A", "B")]
    probs = [(1.0, 0.0), (1.0, 0.0), (0.6, 0.4), (0.6, 0.4)]
    df = make_predictions(list("1234"), gold, tops, probs, experiment="t", source="local")
    s = calibration.calibration_summary(df, n_bins=10, n_boot=100)
    # two bins: {1.0: 1 right of 2} gap .5, {0.6: 1 right of 2} gap .1 -> ECE .3
    assert s["ece"] == pytest.approx(0.3)
    assert s["share_one"] == 0.5 and s["share_99"] == 0.5
    assert s["confidence"] == pytest.approx(0.8) and s["overconfidence"] == pytest.approx(0.3)
    assert s["ece_ci95"][0] <= s["ece_ci95"][1]


def test_top1_confidence_without_probabilities():
    df = make_predictions(["1"], ["A"], [("A",)], experiment="t", source="local")
    df["top_probs"] = [(np.nan,)]
    with pytest.raises(DataError):
        calibration.top1_confidence(df)


# =========================================================================== studies.calibration (chapter numbers)
def _cal_runs():
    gold = ["A", "A", "B", "B"]
    tops = [("A", "B"), ("B", "A"), ("B", "A"), ("A", "B")]
    probs = [(1.0, 0.0), (1.0, 0.0), (0.6, 0.4), (0.6, 0.4)]
    two = make_predictions(list("1234"), gold, tops, probs, experiment="two", source="local")
    one = make_predictions(
        list("1234"), gold, [t[:1] for t in tops], [p[:1] for p in probs], experiment="one", source="local"
    )
    return {"two": two, "one": one}


def test_calibration_tables():
    tables = _cal_runs()
    cal = calibration.calibration_table(tables, n_bins=10, n_boot=50)
    assert list(cal.index) == ["two", "one"] and cal.loc["two", "ece"] == pytest.approx(0.3)
    shown = calibration.overview_table(cal)
    assert list(shown.columns) == [
        "n",
        "accuracy",
        "accuracy_ci",
        "confidence",
        "overconfidence",
        "ece",
        "ece_ci",
        "share_one",
        "share_99",
    ]
    lo, hi = cal.loc["two", "accuracy_ci95"]
    assert shown.loc["two", "accuracy_ci"] == f"{lo:.1%} – {hi:.1%}"
    tempered = calibration.temperature_table(tables, cal["ece"], n_bins=10)
    assert list(tempered.index) == ["two"]  # one stored probability: nothing to rescale
    assert tempered.loc["two", "ece"] == cal.loc["two", "ece"] and tempered.loc["two", "ece_tempered"] <= 0.3
    empty = calibration.temperature_table({"one": tables["one"]}, cal["ece"])
    assert empty.empty and list(empty.columns) == ["ece", "temperature", "ece_tempered"]


def test_calibration_headline_and_numbers():
    tables = _cal_runs()
    cal = calibration.calibration_table(tables, n_bins=10, n_boot=50)
    lines = calibration.headline_text(cal).split("\n")
    assert len(lines) == 3 and lines[0].startswith("two" + " " * 28 + " acc 50.00% (")
    assert "; mean conf 80.00%; ECE 0.300 (" in lines[0] and lines[0].endswith("; p = 1.0: 50.0%")
    n = calibration.calibration_numbers(cal, "two")
    assert n["n_runs"] == 2 and n["main_acc"] == 0.5 and n["max_one"] == 0.5 and n["experiment_name"] == "two"
    tempered = calibration.temperature_table(tables, cal["ece"], n_bins=10)
    t = calibration.tempered_numbers(tempered, cal, "two", np.array([0.9, 1.0, 0.5, 0.5]))
    assert t["main_temp"] == tempered.loc["two", "temperature"] and t["main_one_t"] == 0.25
    t = calibration.tempered_numbers(tempered, cal, "one", np.array([1.0] * 4))
    assert t["main_temp"] == 1.0 and t["main_ece_t"] == cal.loc["one", "ece"]


def test_calibration_conclusions_follow_the_numbers():
    cal = pd.DataFrame(
        {"ece": [0.45], "accuracy": [0.52], "confidence": [0.97], "share_99": [0.84]}, index=["r"]
    )
    rel = pd.DataFrame(
        {
            "lo": [0.0, 0.5, 0.9],
            "hi": [0.5, 0.9, 1.0],
            "n": [5, 5, 90],
            "confidence": [0.3, 0.7, 0.99],
            "accuracy": [0.3, 0.6, 0.52],
        }
    )
    good = pd.DataFrame({"ece_tempered": [0.05]}, index=["r"])
    c = calibration.conclusions(cal, "r", rel, good, source="paper")
    assert c["right_words"] == "about half" and c["sure_words"] == "about four fifths"
    assert c["last_bin_words"].startswith(
        "About nine tenths of the photos fall into the most confident bin (0.9 – 1.0)"
    )
    assert "far below" in c["last_bin_words"] and c["conf_vs_acc"].endswith("right for only")
    assert c["usable_words"] == "The probabilities in the authors' files are not usable as stated"
    assert "missing normalisation" in c["cause_words"] and "recovers" in c["rescale_words"]
    # a well-calibrated local run whose most confident photos sit in a middle bin
    cal2 = cal.assign(ece=0.02, accuracy=0.7, confidence=0.71, share_99=0.0)
    rel2 = rel.assign(n=[50, 50, 0], accuracy=[0.3, 0.7, np.nan])
    c = calibration.conclusions(
        cal2, "r", rel2, pd.DataFrame({"ece_tempered": [0.03]}, index=["r"]), source="local"
    )
    assert c["last_bin_words"].startswith(
        "About half of the photos fall into the most confident bin (0.5 – 0.9)"
    )
    assert "close to the claimed" in c["last_bin_words"] and c["conf_vs_acc"].startswith("and")
    assert c["usable_words"] == "The probabilities in this run are close to usable as stated"
    assert "normalises both embeddings" in c["cause_words"] and "does not improve" in c["rescale_words"]
    assert c["sure_words"] == "almost none" and c["tempered_words"].startswith(
        "Undoing a common scale does not"
    )
    c = calibration.conclusions(
        cal, "r", rel, pd.DataFrame({"ece_tempered": [0.3]}, index=["r"]), source="paper"
    )
    assert (
        c["tempered_words"].startswith("Undoing the scale helps, but")
        and "only in part" in c["rescale_words"]
    )
    c = calibration.conclusions(cal, "r", rel, good.iloc[:0], source="paper")
    assert c["tempered_words"].startswith("This run stored a single probability")


def test_calibration_paper_runs_are_the_published_runs_with_probabilities():

    published = {n for n, e in experiments.experiments().items() if e.published and e.probabilities}
    assert set(calibration.PAPER_RUNS) == published and len(calibration.PAPER_RUNS) == len(published)
