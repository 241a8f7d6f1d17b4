"""geoclip_utils.studies.climate (the Climate chapter): photos joined to climates, accuracy by group, the independence test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geoclip_utils.errors import ConfigError
from geoclip_utils.schema import make_predictions, save_predictions
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


def test_typical_climate():
    photos = pd.DataFrame({"label": ["X", "X", "X", "Y", "Y"], "climate": ["Cfb", "Cfb", "Af", "BWh", "Af"]})
    assert climate.typical_climate(photos) == {"X": "Cfb", "Y": "Af"}  # a tie goes to the first code


def test_image_climates_country100():
    df = climate.image_climates("country100")
    assert len(df) == 11500 and df["climate"].notna().all()
    assert set(df["group"]) <= {"Tropical", "Arid", "Temperate", "Cold", "Polar", "Ocean"}
    assert set(df.loc[df["label"] == "Singapore", "group"]) == {"Tropical"}


# --------------------------------------------------------------------------- the chapter's wording
def _predictions(gold, first, ids=None):
    ids = ids or [f"i{n}" for n in range(len(gold))]
    return make_predictions(ids, gold, [(f, "other") for f in first], experiment="t", source="local")


def test_join_climates_drops_sea_and_refuses_no_overlap():
    photos = pd.DataFrame(
        {
            "image_id": ["i0", "i1", "i2"],
            "climate": ["Cfb", "Ocean", "Af"],
            "group": ["Temperate", "Ocean", "Tropical"],
        }
    )
    joined = climate.join_climates(_predictions(["FR", "FR", "BR"], ["FR", "FR", "XX"]), photos)
    assert joined["image_id"].tolist() == ["i0", "i2"] and joined["climate"].tolist() == ["Cfb", "Af"]
    with pytest.raises(ConfigError, match="none of the 2 images"):
        climate.join_climates(_predictions(["FR", "FR"], ["FR", "FR"], ids=["demo_a", "demo_b"]), photos)


def _joined():
    # group T: 3 of 4 right; group A: 1 of 4 right; classes Cfb (T), Af (A)
    gold = ["FR", "FR", "DE", "GB", "BR", "BR", "CO", "PE"]
    first = ["FR", "FR", "DE", "XX", "BR", "XX", "XX", "XX"]
    df = _predictions(gold, first)
    return df.assign(climate=["Cfb"] * 4 + ["Af"] * 4, group=["Temperate"] * 4 + ["Tropical"] * 4)


def test_climate_accuracy_text_and_glue():
    acc = climate.climate_accuracy(_joined(), min_images=2, n_boot=50)
    assert acc.by_group["accuracy"].to_dict() == {"Temperate": 0.75, "Tropical": 0.25}
    assert list(acc.by_class.index) == ["Cfb", "Af"]
    lines = climate.accuracy_text(acc, "country100", "local").splitlines()
    assert lines[0] == "country100 (local), 8 photos on land; top-1 accuracy by climate group:"
    lo, hi = acc.by_group.loc["Temperate", ["ci_lo", "ci_hi"]]
    assert lines[1] == f"   Temperate: 75.00%  (95% CI {lo:.2%} – {hi:.2%}), 4 photos"
    t = acc.test
    assert (
        lines[3] == f"chi-square {t['chi2']:.1f} on 1 df, p = {t['p']:.2g}, Cramér's V {t['cramers_v']:.3f}"
    )
    g = climate.accuracy_glue(acc, 2)
    assert (g["best_group"], g["worst_group"], g["best_class"], g["worst_class"]) == (
        "Temperate",
        "Tropical",
        "Cfb",
        "Af",
    )
    assert g["countries_per_class"] == 3.0  # Cfb: FR, DE, GB; Af: BR, CO, PE
    assert g["top3_share"] == 1.0
    assert g["test_verdict"] == "does not reject"  # 8 photos: p is large
    with pytest.raises(ConfigError, match="min_images=5 leaves no climate group"):
        climate.climate_accuracy(_joined(), min_images=5, n_boot=10)


def test_class_countries_counts_the_largest_three():
    joined = pd.DataFrame({"climate": ["Af"] * 5 + ["Cfb"] * 2, "gold": ["A", "A", "B", "C", "D", "E", "E"]})
    out = climate.class_countries(joined, ["Af", "Cfb"])
    assert out == {"countries_per_class": 2.5, "top3_share": pytest.approx((0.8 + 1.0) / 2)}


def test_association_words_bands_and_alpha():
    w = climate.association_words({"p": 8e-7, "cramers_v": 0.054})
    assert (w["test_verdict"], w["strength"]) == ("rejects", "weak")
    assert w["climate_verdict"].startswith(
        "CLIP's country accuracy differs between climates, though only weakly;"
    )
    w = climate.association_words({"p": 0.001, "cramers_v": 0.1})
    assert w["strength"] == "modest" and "differs clearly" in w["climate_verdict"]
    assert climate.association_words({"p": 0.001, "cramers_v": 0.3})["strength"] == "moderate"
    assert climate.association_words({"p": 0.001, "cramers_v": 0.5})["strength"] == "strong"
    w = climate.association_words({"p": 0.05, "cramers_v": 0.4})  # alpha is exclusive
    assert w["test_verdict"] == "does not reject" and "does not differ detectably" in w["climate_verdict"]


def test_class_table_adds_descriptions():
    by_class = pd.DataFrame(
        {"images": [3], "accuracy": [0.5], "ci_lo": [0.1], "ci_hi": [0.9]},
        index=pd.Index(["Af"], name="group"),
    )
    t = climate.class_table(by_class)
    assert t.columns.tolist() == ["climate", "images", "accuracy", "ci_lo", "ci_hi", "description"]
    assert t["description"].iloc[0].lower().startswith("tropical")


def test_climate_run_reads_a_local_file_first(tmp_path):
    df = make_predictions(
        ["a", "b"],
        ["Af", "Cfb"],
        [("Af",), ("Af",)],
        [(1.0,), (1.0,)],
        experiment="climates30k",
        source="local",
    )
    save_predictions(df, tmp_path / "climates30k.parquet")
    run, what = climate.climate_run(tmp_path, "tiny", pd.DataFrame())
    assert what == "your run" and run["image_id"].tolist() == ["a", "b"]


def test_climate_run_demo_and_run_text(tmp_path):
    photos = pd.DataFrame({"label": ["France", "Spain", "Brazil"], "climate": ["Cfb", "Csa", "Af"]})
    run, what = climate.climate_run(None, "tiny", photos, demo_dir=str(tmp_path / "demo"))
    assert what == "pipeline demonstration (tiny model, random weights)"
    assert len(run) == 24 and set(run["gold"]) == {"Cfb", "Csa", "Af"}  # Latvia and Japan have no photo here
    summary = {"n": 24, "top1": 0.125, "top5": 0.5}
    assert climate.run_text(what, summary) == f"{what}: 24 images, top-1 12.5%, top-5 50.0%"
    assert climate.run_text("x", {"n": 2, "top1": 1.0}) == "x: 2 images, top-1 100.0%, top-5 nan%"


def test_prompt_table_and_authors_counts():
    numbers, table = climate.prompt_table()
    assert table.columns.tolist() == ["code", "group", "description", "prompt", "authors_prompt", "note"]
    assert numbers["n_codes"] == len(table) - int((table["code"] == "Ocean").sum())
    assert numbers["n_changed"] == int((table["note"] != "").sum()) > 0
    # the authors' swap is fixed: EF is the ice cap
    assert "ice" in table.set_index("code").loc["EF", "prompt"]
    a = climate.authors_label_counts()
    assert a["n_authors"] == 29999 and a["authors_top"] == "Cfb"
    assert 0 < a["authors_top_share"] < 1 and a["authors_classes"] > 20


def test_group_counts_counts_land_classes_only():
    photos = pd.DataFrame(
        {"climate": ["Cfb", "Cfb", "Af", "Ocean"], "group": ["Temperate", "Temperate", "Tropical", "Ocean"]}
    )
    n = climate.group_counts(photos)
    # a sea pixel has no climate class: 2 classes, as the Data chapter counts them, and 1 photo on the sea
    assert (n["n_photos"], n["n_classes"], n["n_ocean"], n["top_group"]) == (4, 2, 1, "Temperate")
    assert climate.group_counts(photos.iloc[:3])["n_classes"] == 2
