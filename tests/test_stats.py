"""geoclip_utils.stats against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geoclip_utils import stats
from geoclip_utils import stats as metrics
from geoclip_utils.errors import ConfigError, DataError
from geoclip_utils.schema import make_predictions


@pytest.fixture
def small():
    # gold:  A A A B B C ; top-1: A A B B C C ; top-2 adds the second label
    gold = ["A", "A", "A", "B", "B", "C"]
    tops = [("A", "B"), ("A", "C"), ("B", "A"), ("B", "A"), ("C", "B"), ("C", "A")]
    return make_predictions([f"i{i}" for i in range(6)], gold, tops, experiment="small", source="local")


def test_topk(small):
    assert metrics.topk_accuracy(small, 1) == pytest.approx(4 / 6)
    assert metrics.topk_accuracy(small, 2) == pytest.approx(6 / 6)
    with pytest.raises(ConfigError, match="top-5"):
        metrics.topk_accuracy(small, 5)


def test_per_class_by_hand(small):
    r = metrics.per_class_report(small)
    # A: tp 2, support 3, predicted 2 -> P 1, R 2/3, F1 0.8
    # B: tp 1, support 2, predicted 2 -> P .5, R .5, F1 .5
    # C: tp 1, support 1, predicted 2 -> P .5, R 1, F1 2/3
    assert r.loc["A", ["tp", "support", "predicted"]].tolist() == [2, 3, 2]
    assert r["f1"].tolist() == pytest.approx([0.8, 0.5, 2 / 3])
    assert r.loc["B", "precision"] == pytest.approx(0.5) and r.loc["C", "recall"] == pytest.approx(1.0)
    assert metrics.macro_f1(small) == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)


def test_class_never_in_gold_counts_in_macro_f1():
    df = make_predictions(["1", "2"], ["A", "A"], [("A",), ("Z",)], experiment="t", source="local")
    r = metrics.per_class_report(df)
    assert set(r.index) == {"A", "Z"} and r.loc["Z", "f1"] == 0
    assert metrics.macro_f1(df) == pytest.approx((2 / 3 + 0) / 2)


def test_confusion_matrix(small):
    cm = metrics.confusion_matrix(small)
    assert cm.loc["A", "A"] == 2 and cm.loc["A", "B"] == 1 and cm.loc["B", "C"] == 1
    assert cm.to_numpy().sum() == 6
    norm = metrics.confusion_matrix(small, normalize=True)
    assert norm.sum(axis=1).tolist() == pytest.approx([1, 1, 1])
    ordered = metrics.confusion_matrix(small, labels=["C", "B", "A"])
    assert ordered.index.tolist() == ["C", "B", "A"] and ordered.loc["C", "C"] == 1


def test_gold_set_correctness():
    df = make_predictions(
        ["1", "2", "3"],
        ["Belgium", "Belgium", "Germany"],
        [("europe", "asia"), ("asia", "europe"), ("europe", "asia")],
        experiment="r",
        source="paper",
    )
    df["gold_set"] = [("europe", "western europe"), ("europe",), ()]
    assert metrics.correct_at_k(df, 1).tolist() == [True, False, False]
    assert metrics.correct_at_k(df, 2).tolist() == [True, True, False]
    s = metrics.summarize(df, n_boot=50)
    assert s["macro_f1"] is None and s["chance"] == pytest.approx((2 + 1 + 0) / 3 / 2)


def test_bootstrap_reproducible_and_covers():
    rng = np.random.default_rng(1)
    correct = rng.random(2000) < 0.3
    a = metrics.accuracy_ci(correct, n_boot=300, seed=7)
    b = metrics.accuracy_ci(correct, n_boot=300, seed=7)
    c = metrics.accuracy_ci(correct, n_boot=300, seed=8)
    assert a == b and a != c
    lo, hi = a
    assert lo < correct.mean() < hi
    # normal approximation of the binomial: half-width about 1.96 * sqrt(p(1-p)/n) = 0.020
    assert (hi - lo) / 2 == pytest.approx(1.96 * np.sqrt(0.3 * 0.7 / 2000), rel=0.25)


def test_bootstrap_rejects_bad_level():
    with pytest.raises(ConfigError):
        metrics.bootstrap_ci(lambda w: 0.0, 10, level=1.5)


def test_macro_f1_ci_contains_point(small):
    big = make_predictions(
        [str(i) for i in range(600)],
        list(small["gold"]) * 100,
        list(small["top_labels"]) * 100,
        experiment="b",
        source="local",
    )
    lo, hi = metrics.macro_f1_ci(big, n_boot=200)
    assert lo <= metrics.macro_f1(big) <= hi and hi - lo < 0.2


def test_mcnemar_textbook():
    # Agresti, Categorical Data Analysis: presidential approval, discordant 150 vs 86.
    a = np.array([1] * 794 + [1] * 150 + [0] * 86 + [0] * 570, bool)
    b = np.array([1] * 794 + [0] * 150 + [1] * 86 + [0] * 570, bool)
    r = metrics.mcnemar_exact(a, b)
    assert (r["b01"], r["b10"]) == (150, 86)
    assert r["p"] == pytest.approx(3.7e-5, rel=0.15)  # exact binomial; chi-square gives 3.1e-5
    # a small case computed by hand: b01=1, b10=5 -> p = 2 * (1 + 6) / 64 = 0.21875
    a = np.array([1, 0, 0, 0, 0, 0], bool)
    b = np.array([0, 1, 1, 1, 1, 1], bool)
    assert metrics.mcnemar_exact(a, b)["p"] == pytest.approx(0.21875)
    assert metrics.mcnemar_exact(a, a)["p"] == 1.0


def test_paired_by_hand():
    # A right on 1,2; B right on 2,3,4 -> only A 1, only B 2, diff = 3/4 - 2/4
    r = metrics.paired([1, 1, 0, 0], [0, 1, 1, 1], n_boot=100)
    assert (r.only_a, r.only_b) == (1, 2)
    assert r.diff == pytest.approx(0.25)
    assert r.accuracy_a == 0.5 and r.accuracy_b == 0.75
    assert r.diff_ci95[0] <= 0.25 <= r.diff_ci95[1]
    assert r.to_dict() == {
        "n": 4,
        "a_top1": 0.5,
        "b_top1": 0.75,
        "diff": 0.25,
        "diff_ci95": list(r.diff_ci95),
        "mcnemar_p": r.mcnemar_p,
        "b01": 1,
        "b10": 2,
    }


def test_paired_shares_the_resamples_of_every_statistic():
    rng = np.random.default_rng(3)
    a, b = rng.random(300) < 0.4, rng.random(300) < 0.6
    r = metrics.paired(a, b, n_boot=200, seed=5)
    assert r.accuracy_a_ci95 == metrics.accuracy_ci(a, n_boot=200, seed=5)
    # the paired interval resamples the pairs with the same weights
    w = np.vstack(list(metrics.bootstrap_weights(300, n_boot=200, seed=5)))
    d = (w @ (b.astype(float) - a)) / w.sum(axis=1)
    assert r.diff_ci95 == pytest.approx(tuple(np.percentile(d, [2.5, 97.5])))
    assert r.mcnemar_p == metrics.mcnemar_exact(a, b)["p"]
    with pytest.raises(ConfigError):
        metrics.paired(a, b[:10])


def test_paired_empty_is_nan_and_large_sample():
    r = metrics.paired([], [], n_boot=10)
    assert r.n == 0 and np.isnan(r.diff) and r.only_a == 0
    a = np.array([1, 1, 0, 0] * 100, bool)
    b = np.array([1, 1, 1, 0] * 100, bool)
    r = metrics.paired(a, b, n_boot=200)
    assert r.diff == pytest.approx(0.25) and r.diff_ci95[0] > 0.15 and r.n == 400
    assert r.p_text.startswith("= ") and metrics.paired(a, a).p_text == "= 1"


def test_ece_constructed():
    # 10 predictions at confidence 0.95, 5 right: |0.5 - 0.95| = 0.45 everywhere
    conf = np.full(10, 0.95)
    correct = np.array([1] * 5 + [0] * 5)
    assert metrics.expected_calibration_error(conf, correct) == pytest.approx(0.45)
    # two bins: 0.25 (all wrong) and 0.75 (all right) -> 0.5*0.25 + 0.5*0.25
    conf = np.array([0.25] * 4 + [0.75] * 4)
    correct = np.array([0] * 4 + [1] * 4)
    assert metrics.expected_calibration_error(conf, correct) == pytest.approx(0.25)
    t = metrics.reliability_table(np.array([1.0, 0.0]), np.array([1, 0]), n_bins=4)
    assert t["n"].tolist() == [1, 0, 0, 1]
    with pytest.raises(ConfigError, match="NaN"):
        metrics.reliability_table(np.array([np.nan]), np.array([1]))


def test_summarize_keys(small):
    s = metrics.summarize(small, n_boot=100)
    assert s["n"] == 6 and s["classes"] == 3 and s["top1"] == pytest.approx(4 / 6)
    assert "top5" not in s  # only 2 predictions stored
    assert s["chance"] == pytest.approx(1 / 3) and s["majority"] == pytest.approx(0.5)


def test_ece_ci_contains_point_and_is_reproducible():
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.5, 1.0, 3000)
    correct = rng.random(3000) < conf - 0.2  # over-confident by about 0.2
    ece = metrics.expected_calibration_error(conf, correct)
    lo, hi = metrics.ece_ci(conf, correct, n_boot=200, seed=3)
    assert lo < ece < hi and 0.15 < ece < 0.25
    assert metrics.ece_ci(conf, correct, n_boot=200, seed=3) == (lo, hi)


def test_bootstrap_weights_blocks_and_seed():
    blocks = list(metrics.bootstrap_weights(1000, n_boot=25, seed=4, max_cells=10_000))
    assert [b.shape for b in blocks] == [(10, 1000), (10, 1000), (5, 1000)]
    assert all((b.sum(axis=1) == 1000).all() for b in blocks)
    again = np.vstack(list(metrics.bootstrap_weights(1000, n_boot=25, seed=4, max_cells=10_000)))
    assert (np.vstack(blocks) == again).all()
    # the resamples do not depend on the block size
    one_block = np.vstack(list(metrics.bootstrap_weights(1000, n_boot=25, seed=4)))
    assert (one_block == again).all()


# --------------------------------------------------------------------------- stats.distance, temperature
def test_distance_metrics_without_country_and_named_methods():
    import pandas as pd

    from geoclip_utils.stats import distance

    d = {"x": [0.5, 20.0, 150.0, 600.0], "y": [5.0, 5.0, 3000.0, 3000.0]}
    f = pd.DataFrame(
        [{"image_id": f"i{i}", "rule": r, "error_km": v} for r, vs in d.items() for i, v in enumerate(vs)]
    )
    f["geoscore"] = 5000 * np.exp(-f["error_km"] / 1492.7)
    out = distance.distance_metrics(f, n_boot=100, seed=2, by="rule", order=("y", "x"), country=False)
    assert list(out) == ["y", "x"] and "country_top1" not in out["x"]
    assert set(out["x"]) == {"n", *distance.DISTANCE_KEYS, *(k + "_ci95" for k in distance.DISTANCE_KEYS)}
    assert out["x"]["acc_25km"] == 0.5 and out["y"]["median_km"] == pytest.approx((5 + 3000) / 2)
    with pytest.raises(ConfigError, match="rule 'y' does not cover the same images as 'x'"):
        distance.distance_metrics(f.iloc[1:], n_boot=0, by="rule", country=False)


def test_paired_scores_by_hand_and_through_the_one_bootstrap():
    from geoclip_utils.stats import distance

    rng = np.random.default_rng(3)
    a, b = rng.normal(3000, 500, 400), rng.normal(2800, 500, 400)
    r = distance.paired_scores(a, b, n_boot=300, seed=7)
    assert r["n"] == 400 and r["diff"] == pytest.approx(float((a - b).mean()))
    assert r["mean_a"] == pytest.approx(a.mean()) and r["mean_b"] == pytest.approx(b.mean())
    assert r["a_higher"] + r["b_higher"] + r["ties"] == pytest.approx(1.0)
    lo, hi = r["diff_ci95"]
    assert lo < r["diff"] < hi
    # the project's one bootstrap: the same resamples as any other statistic of these images
    from geoclip_utils.stats.bootstrap import bootstrap_ci, weighted_means

    want = bootstrap_ci(weighted_means(a - b), 400, n_boot=300, seed=7, vectorized=True)
    assert (lo, hi) == pytest.approx(want)
    assert distance.paired_scores(a, b, n_boot=300, seed=7) == r  # same seed, same answer
    assert "diff_ci95" not in distance.paired_scores(a, b, n_boot=0)
    with pytest.raises(ConfigError, match="one length"):
        distance.paired_scores([1.0, 2.0], [1.0])
    with pytest.raises(ConfigError, match="finite"):
        distance.paired_scores([1.0, np.nan], [1.0, 2.0])


def test_tempered_probs_keep_the_order_and_the_zeros():
    from geoclip_utils.stats.calibration import fit_temperature, tempered_probs, tempered_top1

    p = [[0.9, 0.09, 0.01, 0.0], [0.6, 0.4]]
    q = tempered_probs(p, 3.0)
    np.testing.assert_allclose(q.sum(axis=1), 1.0)
    assert q[0, 3] == 0.0 and q[1, 2] == 0.0  # an underflowed 0 and a padded answer stay 0
    assert (np.diff(q[0, :3]) < 0).all() and q[0, 0] < 0.9  # same order, flatter
    np.testing.assert_allclose(tempered_probs(p, 1.0)[1, :2], [0.6, 0.4])
    np.testing.assert_allclose(tempered_top1(p, 3.0), q[:, 0])
    padded = np.array([[0.9, 0.09, 0.01, 0.0], [0.6, 0.4, 0.0, 0.0]])  # fit_temperature pads once
    np.testing.assert_array_equal(tempered_probs(padded, 3.0), q)
    with pytest.raises(ConfigError):
        tempered_probs(p, 0.0)
    # over-confident answers right half of the time: the flattest temperature of the grid wins
    assert fit_temperature([[0.999, 0.001]] * 4, [1, 0, 1, 0], grid=[1.0, 30.0, 1000.0])[0] == 1000.0


# ----------------------------------------------------------------------------- like for like (common labels)
def _run(name, gold, tops):
    return make_predictions([f"i{i}" for i in range(len(gold))], gold, tops, experiment=name, source="local")


def test_restricted_all_common_equals_raw():
    gold = ["A", "B", "C", "A"]
    a = _run("a", gold, [("A", "B"), ("C", "B"), ("C", "A"), ("B", "A")])
    b = _run("b", gold, [("B", "A"), ("B", "C"), ("C", "B"), ("A", "C")])
    r = metrics.restricted_paired(a, b, {"A", "B", "C"}, {"A", "B", "C"}, n_boot=50)
    raw = metrics.paired_predictions(a, b, n_boot=50)
    assert r.exact and r.labels == 3 and (r.a_outside, r.b_outside, r.gold_outside) == (0, 0, 0)
    assert r.point.accuracy_a == raw.accuracy_a == 0.5 and r.point.accuracy_b == raw.accuracy_b == 0.75
    assert r.diff_bounds == (raw.diff, raw.diff) and r.point.diff_ci95 == raw.diff_ci95
    d = r.to_dict()
    assert d["a_top1"] == d["a_top1_max"] and d["b_top1"] == d["b_top1_max"] and d["exact"] is True


def test_restricted_reranks_the_stored_answers_and_bounds_where_they_run_out():
    # A answers among {A, B, C}; B also among {X, Y}, which A cannot answer
    gold = ["A", "B", "C", "A", "C"]
    a = _run("a", gold, [("A", "B"), ("A", "B"), ("C", "A"), ("B", "A"), ("A", "C")])
    b = _run("b", gold, [("X", "A"), ("X", "Y"), ("Y", "C"), ("X", "Y"), ("B", "X")])
    r = metrics.restricted_paired(a, b, {"A", "B", "C"}, {"A", "B", "C", "X", "Y"}, n_boot=50)
    # B re-ranked: A (right), ran out, C (right), ran out, B (wrong)
    assert (r.labels, r.a_labels, r.b_labels) == (3, 3, 5)
    assert (r.b_outside, r.b_ran_out, r.a_outside, r.a_ran_out) == (4, 2, 0, 0)
    assert r.point.accuracy_a == pytest.approx(2 / 5) and r.point.accuracy_b == pytest.approx(2 / 5)
    assert r.high.accuracy_b == pytest.approx(4 / 5)  # the two run-outs could be right
    assert r.diff_bounds == pytest.approx((0.0, 0.4)) and not r.exact
    lo, hi = r.diff_bounds_ci95
    assert lo <= r.diff_bounds[0] and hi >= r.diff_bounds[1]
    d = r.to_dict()
    assert d["b_top1_max"] == pytest.approx(0.8) and d["diff_bounds"] == pytest.approx([0.0, 0.4])
    assert set(d) >= {"a_top1", "b_top1", "diff", "diff_ci95", "a_outside", "b_outside"}


def test_restricted_run_out_cannot_be_right_when_the_gold_was_no_candidate():
    gold = ["A", "B"]
    a = _run("a", gold, [("A",), ("A",)])
    b = _run("b", gold, [("X",), ("X",)])
    possible = pd.Series([True, False], index=["i0", "i1"])  # image i1's gold was not offered to B
    r = metrics.restricted_paired(a, b, {"A", "B"}, {"A", "B", "X"}, b_possible=possible, n_boot=20)
    assert r.b_ran_out == 2 and r.high.accuracy_b == pytest.approx(0.5)


def test_restricted_gold_outside_the_common_labels_is_wrong_for_both():
    gold = ["A", "Z"]  # Z only A can answer
    a = _run("a", gold, [("A", "Z"), ("Z", "A")])
    b = _run("b", gold, [("A", "Y"), ("Y", "A")])
    r = metrics.restricted_paired(a, b, {"A", "Z"}, {"A", "Y"}, n_boot=20)
    assert r.labels == 1 and r.gold_outside == 1 and r.a_outside == 1 and r.b_outside == 1
    assert r.point.accuracy_a == r.point.accuracy_b == 0.5 and r.exact


def test_restricted_disjoint_labels_refused():
    a = _run("a", ["A"], [("A",)])
    b = _run("b", ["A"], [("X",)])
    with pytest.raises(DataError, match="share no label"):
        metrics.restricted_paired(a, b, {"A"}, {"X"})


def test_restricted_answers_lengths_checked():
    with pytest.raises(ConfigError, match="lengths differ"):
        metrics.restricted_answers([("A",)], ["A", "B"], {"A"})


def test_per_group_paired():
    a = [1, 1, 1, 0, 0, 0]
    b = [1, 0, 0, 1, 1, 0]
    g = ["x", "x", "x", "y", "y", "y"]
    t = stats.per_group_paired(a, b, g, n_boot=100)
    assert list(t.index) == ["x", "y"]  # sorted by diff: x loses, y gains
    assert t.loc["x", "diff"] == pytest.approx(-2 / 3) and t.loc["y", "diff"] == pytest.approx(2 / 3)
    assert t.loc["x", ["n", "b01", "b10"]].tolist() == [3, 2, 0]
    with pytest.raises(ConfigError):
        stats.per_group_paired(a, b, g[:3])


def test_paired_predictions_pairs_by_image_id():
    a = make_predictions(
        list("1234"),
        list("XYXY"),
        [("X", "Y"), ("X", "Y"), ("Y", "X"), ("Y", "X")],
        experiment="a",
        source="local",
    )
    # b lists the same images in another order, plus one image a lacks
    b = make_predictions(
        list("54321"), list("XYXYX"), [("X",), ("Y",), ("X",), ("Y",), ("Y",)], experiment="b", source="local"
    )
    r = stats.paired_predictions(a, b, n_boot=50)
    # shared images 1-4: a right on 1 and 4 (top-1), b right on 2, 3 and 4
    assert (r.n, r.accuracy_a, r.accuracy_b, r.only_a, r.only_b) == (4, 0.5, 0.75, 1, 2)
    r5 = stats.paired_predictions(a, a, k=2, n_boot=50)
    assert r5.accuracy_a == 1.0 and r5.diff == 0.0
    with pytest.raises(ConfigError):
        stats.paired_predictions(a, b, k=2)  # b stores top-1 only
