"""geoclip_utils.analysis against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geoclip_utils import experiments, notebook, stats
from geoclip_utils.errors import ConfigError, DataError
from geoclip_utils.schema import make_predictions
from geoclip_utils.studies import calibration, countries, places, prompts, regions

MAP = {"west": ["A", "B", "C"], "east": ["C", "D"], "all": ["A", "B", "C", "D"]}
SUB = {"A": "X", "B": "X", "C": "Y", "D": "Y"}


def test_region_profile_majority_and_ties():
    p = regions.region_profile(MAP, SUB)
    assert p.loc["west", "majority"] == "X" and p.loc["west", "majority_share"] == pytest.approx(2 / 3)
    assert p.loc["east", "subregions"] == ("Y",)
    # tie 2-2 -> alphabetical
    assert p.loc["all", "subregions"] == ("X", "Y") and p.loc["all", "majority"] == "X"
    assert regions.region_profile({"r": ["Q"]}, {}).loc["r", "majority"] == "unknown"


def test_un_region_correct_rules():
    p = regions.region_profile(MAP, SUB)
    pred = ["west", "west", "all", "east", "nowhere"]
    gold = ["X", "Y", "Y", "Y", "X"]
    assert regions.un_region_correct(pred, gold, p, "majority").tolist() == [True, False, False, True, False]
    assert regions.un_region_correct(pred, gold, p, "any").tolist() == [True, True, True, True, False]
    assert not regions.un_region_correct(["west"], [""], p, "any")[0]
    with pytest.raises(ConfigError):
        regions.un_region_correct(pred, gold, p, "strict")
    with pytest.raises(ConfigError):
        regions.un_region_correct(pred, gold[:2], p)


def test_un_gold_sets_and_constant_answers():
    p = regions.region_profile(MAP, SUB)
    sets = regions.un_gold_sets(["X", "Y"], p, "majority")
    assert sets == [{"west", "all"}, {"east"}]
    base = regions.constant_answer_accuracy(["west", "east", "all"], sets)
    assert base.tolist() == [0.5, 0.5, 0.5]
    base = regions.constant_answer_accuracy(["a", "b", "c"], [{"a"}, {"a", "b"}, {"a"}, set()])
    assert base.tolist() == [0.75, 0.25, 0.0]
    assert base.mean() == pytest.approx(1 / 3)
    with pytest.raises(ConfigError):
        regions.constant_answer_accuracy(["a"], [])


@pytest.fixture
def two_stage():
    ids = ["i1", "i2", "i3", "i4"]
    region = make_predictions(
        ids,
        ["A", "A", "D", "B"],
        [("west", "east"), ("east", "west"), ("east", "all"), ("west", "all")],
        experiment="country100_region",
        source="local",
    )
    region["gold_set"] = [("west", "all"), ("west", "all"), ("east", "all"), ("west", "all")]
    stage2 = make_predictions(
        ["i4", "i3", "i2", "i1"],
        ["B", "D", "A", "A"],
        [("C",), ("D",), ("D",), ("A",)],
        experiment="s2",
        source="local",
    )
    stage2["stage1_region"] = ["west", "east", "east", "west"]
    return region, stage2


def _direct_run():
    """The direct country run on the images of the ``two_stage`` fixture: right on i1 and i4 only."""
    return make_predictions(
        ["i1", "i2", "i3", "i4"],
        ["A", "A", "D", "B"],
        [("A",), ("B",), ("A",), ("B",)],
        experiment="d",
        source="local",
    )


def test_two_stage_breakdown(two_stage):
    region, stage2 = two_stage
    b = regions.two_stage_breakdown(region, stage2).set_index("image_id")
    assert b.loc["i1", "outcome"] == "both right"
    assert b.loc["i2", "outcome"] == "region wrong"
    assert b.loc["i3", "outcome"] == "both right"
    assert b.loc["i4", "outcome"] == "region right, country wrong"
    t = regions.outcome_table(b.reset_index())
    assert t["images"].to_dict() == {"both right": 2, "region right, country wrong": 1, "region wrong": 1}
    assert t["share"].sum() == pytest.approx(1.0)
    other = stage2.assign(image_id=["x1", "x2", "x3", "x4"])
    with pytest.raises(DataError):
        regions.two_stage_breakdown(region, other)


def test_region_absorption(two_stage):
    region, _ = two_stage
    a = regions.region_absorption(region)
    # top-1: west, east, east, west; right_for: west 3, all 4, east 1; hits: west 2, east 1
    assert a.loc["west", ["predicted", "right_for"]].tolist() == [2, 3]
    assert a.loc["east", "ratio"] == pytest.approx(2.0)
    assert a.loc["east", "precision"] == pytest.approx(0.5)
    assert a.loc["west", "precision"] == pytest.approx(1.0)
    assert a.loc["all", "predicted"] == 0 and np.isnan(a.loc["all", "precision"])


def test_un_subregions_of_unknown_name_is_empty():
    out = regions.un_subregions_of(["France", "other"])
    assert out == {"France": "Western Europe", "other": ""}


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


def test_class_change_table():
    gold = ["A", "A", "B", "B"]
    a = make_predictions(list("1234"), gold, [("A",), ("B",), ("B",), ("B",)], experiment="a", source="local")
    b = make_predictions(list("1234"), gold, [("A",), ("A",), ("B",), ("A",)], experiment="b", source="local")
    t = prompts.class_change_table(a, b)
    # A: recall 1/2 -> 1, F1 2/3 -> 0.8 ; B: recall 1 -> 1/2, F1 0.8 -> 2/3
    assert t.loc["A", "d_recall"] == pytest.approx(0.5)
    assert t.loc["A", "d_f1"] == pytest.approx(0.8 - 2 / 3)
    assert t.loc["B", "d_f1"] == pytest.approx(2 / 3 - 0.8)
    assert list(t.index) == ["A", "B"] and t["support"].tolist() == [2, 2]


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


def test_place_keys_and_normalize():
    assert places.place_keys("  Medellín ") == ["medellin"]
    assert places.place_keys("arrondissement de Menara المنارة") == ["arrondissement de menara", "menara"]
    assert places.place_keys("Kou-Kamma Local Municipality")[-1] == "kou-kamma"
    assert places.place_keys("Paris") == ["paris"]


@pytest.fixture
def gazetteer():
    df = pd.DataFrame(
        {
            "lat": [1.0, 3.0, 10.0, 20.0, 30.0, 5.0],
            "lon": [2.0, 4.0, 10.0, 20.0, 30.0, 6.0],
            "name": ["Springfield", "Springfield", "Córdoba", "Córdoba", "Town", "Ville"],
            "admin1": ["Ohio", "Illinois", "X", "Córdoba", "Ohio", "Rhone-Alpes"],
            "admin2": ["", "", "", "", "", ""],
            "cc": ["US", "US", "AR", "AR", "US", "FR"],
        }
    )
    df["key"] = [places.place_keys(x)[0] for x in df["name"]]
    return df


def test_match_places(gazetteer):
    m = places.match_places(["Springfield", "Cordoba City", "Nowhere", "Town"], gazetteer).set_index("label")
    assert m.loc["Springfield", "status"] == "ambiguous" and m.loc["Springfield", "lat"] == 1.0
    # the seat of its province wins among namesakes
    assert m.loc["Cordoba City", "lat"] == 20.0 and m.loc["Cordoba City", "candidates"] == 2
    assert m.loc["Nowhere", "status"] == "not found" and np.isnan(m.loc["Nowhere", "lat"])
    assert m.loc["Town", "status"] == "matched"
    assert places.match_places(["Cordoba"], gazetteer, cc="US")["status"].iloc[0] == "not found"


def test_match_admin_areas(gazetteer):
    areas = {"Big": [("US", "Ohio"), ("FR", None)]}
    m = places.match_admin_areas(["Big", "Illinois", "Mars"], gazetteer, areas).set_index("label")
    # Big = Ohio's two places + France's one: mean lat (1 + 30 + 5) / 3
    assert m.loc["Big", "places"] == 3 and m.loc["Big", "lat"] == pytest.approx(12.0)
    assert m.loc["Illinois", "lat"] == 3.0 and m.loc["Mars", "status"] == "not found"


def _alternates(rows):
    cols = ["key", "geonameid", "name", "admin1", "cc", "lat", "lon", "population"]
    return pd.DataFrame(rows, columns=cols).sort_values("population", ascending=False)


def test_match_alternate_names_takes_the_label_as_written_and_the_most_populous():
    alt = _alternates(
        [
            ("basra", 1, "Basrah", "", "IQ", 30.5, 47.8, 1_326_564),
            ("frankfurt", 2, "Frankfurt am Main", "", "DE", 50.1, 8.7, 650_000),
            ("frankfurt", 3, "Frankfurt (Oder)", "", "DE", 52.3, 14.5, 57_000),
            ("bitou", 4, "Bittou", "", "BF", 11.3, -0.3, 31_000),
        ]
    )
    m = places.match_alternate_names(
        ["Basra", "Frankfurt", "Bitou Local Municipality", "Atlantis"], alt
    ).set_index("label")
    assert m.loc["Basra", ["place", "cc", "status", "candidates"]].tolist() == ["Basrah", "IQ", "matched", 1]
    assert m.loc["Frankfurt", "place"] == "Frankfurt am Main" and m.loc["Frankfurt", "status"] == "ambiguous"
    # stripped of "Local Municipality" the label would be "Bitou", a town of Burkina Faso: not trusted
    assert m.loc["Bitou Local Municipality", "status"] == "not found"
    assert m.loc["Atlantis", "status"] == "not found" and np.isnan(m.loc["Atlantis", "lat"])
    assert places.match_alternate_names(["Basra"], alt, cc="US")["status"].iloc[0] == "not found"
    assert places.match_alternate_names([], alt).empty


def test_alternate_names_place_basra_and_the_fallback_keeps_name_matches(gazetteer, monkeypatch):
    assert {"basrah", "basra"} <= set(
        places.alternate_names_table().query("name == 'Basrah' and cc == 'IQ'")["key"]
    ), "GeoNames' cities15000 names Basra as an alternate name of Basrah"
    alt = _alternates([("nowhere", 9, "Nowhere City", "", "US", 7.0, 8.0, 20_000)])
    monkeypatch.setattr(places, "alternate_names_table", lambda: alt)
    found = places._with_alternate_names(places.match_places(["Town", "Nowhere", "Mars"], gazetteer), None)
    found = found.set_index("label")
    assert found.loc["Town", "rule"] == "name" and found.loc["Town", "lat"] == 30.0
    assert found.loc["Nowhere", ["rule", "status", "place", "lat"]].tolist() == [
        "alternate name",
        "matched",
        "Nowhere City",
        7.0,
    ]
    assert found.loc["Mars", "rule"] == "" and found.loc["Mars", "status"] == "not found"
    assert found["candidates"].dtype.kind == "i"


def test_unplaced_labels_and_note_edge_cases():
    located = pd.DataFrame({"label": ["A", "B", "C", "D"], "lat": [1.0, np.nan, np.nan, np.nan]})
    report = pd.DataFrame(
        {"f1": [0.9, 0.2, 0.88, 0.2], "support": [10, 1, 100, 5]}, index=pd.Index(list("ABCD"), name="label")
    )
    missing = places.unplaced_labels(located, report)
    assert missing["label"].tolist() == ["C", "D", "B"], "best F1 first, then most photos"
    note = places.unplaced_note(missing, 4)
    assert note == (
        "Not on the map: 3 of the 4 labels, for which no GeoNames place has that name: C (F1 0.88, 100 photos); "
        "D (F1 0.20, 5 photos); B (F1 0.20, 1 photo)."
    )
    same = places.unplaced_note(missing.assign(support=100), 643)
    assert same.startswith(
        "Not on the map: 3 of the 643 labels (100 photos each), for which"
    ) and same.endswith(": C (F1 0.88); D (F1 0.20); B (F1 0.20).")
    none = places.unplaced_labels(located.assign(lat=1.0), report)
    assert places.unplaced_note(none, 4) == "Every one of the 4 labels is on the map."
    assert places.unplaced_note(none, 1) == "Every one of the 1 label is on the map."
    one = places.unplaced_note(missing.head(1), 1)
    assert one.startswith("Not on the map: 1 of the 1 label (100 photos), ") and one.endswith("C (F1 0.88).")


def test_region_confusion_counts_every_photo_and_answers_outside_the_regions():
    df = make_predictions(
        ["1", "2", "3", "4"],
        ["A", "B", "C", "C"],
        [("B",), ("B",), ("D",), ("C",)],
        [(1.0,)] * 4,
        experiment="t",
        source="local",
    )
    counts = countries.region_confusion(df, {"A": "X", "B": "X", "C": "Y", "D": "Z"})
    assert counts.index.tolist() == ["X", "Y"] and counts.columns.tolist() == ["X", "Y", "Z"]
    assert counts.to_numpy().tolist() == [[2, 0, 0], [0, 1, 1]] and counts.to_numpy().sum() == 4
    shares = countries.region_confusion(df, {"A": "X", "B": "X", "C": "Y"}, normalize=True)
    assert shares.loc["Y", "unknown"] == 0.5 and shares.sum(axis=1).tolist() == [1.0, 1.0]


def test_places_table_has_us_states():
    t = places.places_table()
    assert {"lat", "lon", "name", "admin1", "cc", "key"} <= set(t.columns)
    assert "California" in set(t.loc[t["cc"] == "US", "admin1"])
    france = {a for parts in places.FRANCE_REGIONS.values() for cc, a in parts if cc == "FR"}
    assert france <= set(t.loc[t["cc"] == "FR", "admin1"])


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


# =========================================================================== studies.countries
def _countries_df():
    gold = ["France", "France", "France", "Spain", "Spain", "Japan", "Japan", "Japan"]
    pred = ["France", "Spain", "Japan", "Spain", "France", "Japan", "Japan", "China"]
    return make_predictions(
        [str(i) for i in range(8)], gold, [(p,) for p in pred], experiment="c100", source="local"
    )


def test_confusion_share_and_region_f1():
    counts = stats.confusion_matrix(_countries_df())
    assert countries.confusion_share(counts, "France", "Spain") == pytest.approx(1 / 3)
    assert countries.confusion_share(counts, "Japan", "Japan") == pytest.approx(2 / 3)
    assert countries.confusion_share(counts, "Namibia", "Japan") == 0.0
    assert countries.confusion_share(counts, "China", "Japan") == 0.0  # predicted only: no photo of its own
    table = pd.DataFrame({"region": ["X", "X", "X", "Y", "Y"], "f1": [0.2, 0.4, 0.6, 0.9, 0.7]})
    r = countries.region_f1(table)
    assert r.index.tolist() == ["X"] and r.loc["X", "mean"] == pytest.approx(0.4)
    r = countries.region_f1(table, min_countries=4)  # no region that large: all kept, worst first
    assert r.index.tolist() == ["X", "Y"] and r["size"].tolist() == [3, 2]


def test_mistakes_within_region():
    region_of = {"France": "W", "Spain": "S", "Japan": "E", "China": "E"}
    w = countries.mistakes_within_region(_countries_df(), region_of)
    # wrong: France→Spain (W→S), France→Japan, Spain→France, Japan→China (E→E)
    assert w == {"wrong": 4, "within": 1, "share": 0.25}
    region_of["Spain"] = "W"
    assert countries.mistakes_within_region(_countries_df(), region_of)["within"] == 3
    # an unknown region never counts as shared
    unknown = {"France": "unknown", "Spain": "unknown", "Japan": "E", "China": "E"}
    assert countries.mistakes_within_region(_countries_df(), unknown)["within"] == 1
    right = make_predictions(["1"], ["A"], [("A",)], experiment="t", source="local")
    assert countries.mistakes_within_region(right, {}) == {"wrong": 0, "within": 0, "share": 0.0}


def test_countries_headline_text():
    s = {
        "experiment": "country100",
        "source": "paper",
        "n": 11500,
        "classes": 115,
        "top1": 0.5174,
        "top1_ci95": [0.5083, 0.527],
        "top5": None,
        "macro_f1": 0.503,
        "macro_f1_ci95": [0.4936, 0.5104],
        "chance": 1 / 115,
    }
    assert countries.headline_text(s) == (
        "country100 (paper): 11500 images, 115 classes\n"
        "     top1: 51.74%  (95% CI 50.83% – 52.70%)\n"
        "     top5: n/a\n"
        " macro_f1: 50.30%  (95% CI 49.36% – 51.04%)\n"
        "   chance: 0.87%\n"
    )


def test_countries_conclusions_follow_the_numbers():
    c = countries.conclusions(
        {"top1_ci95": [0.50, 0.52]}, within={"share": 0.505}, experiment="country100", source="paper"
    )
    assert c["ci_width_words"] == "narrow" and c["within_words"] == "about half"
    assert c["map_relation"].startswith("from the same result file")
    c = countries.conclusions(
        {"top1_ci95": [0.18, 0.44]}, within={"share": 0.8}, experiment="country100", source="local"
    )
    assert c["ci_width_words"] == "wide" and c["within_words"] == "about four fifths"
    assert (
        "country100 (local)" in c["map_relation"] and "agree only as far as the runs do" in c["map_relation"]
    )
    c = countries.conclusions(
        {"top1_ci95": [0.5, 0.52]}, within={"share": 0.0}, experiment="filtered_country100", source="paper"
    )
    assert c["within_words"] == "almost none" and "filtered_country100 (paper)" in c["map_relation"]


# =========================================================================== studies.regions (chapter numbers)
def test_region_rules_table(two_stage):
    region, _ = two_stage
    # gold A, A, D, B; top-1 west, east, east, west; gold sets (authors) as in the fixture
    t = regions.region_rules_table(region, MAP, subregion_of=SUB, n_boot=50)
    assert list(t.index) == list(regions.RULES)
    # authors: west∈{west,all} ✓, east∉{west,all}, east∈{east,all} ✓, west∈{west,all} ✓
    assert t.loc["authors' lists", "top1"] == pytest.approx(0.75)
    # majority: A→X (west, all), D→Y (east), B→X: west ✓, east ✗, east ✓, west ✓
    assert t.loc["UN, majority", "top1"] == pytest.approx(0.75)
    # any: A, B → X: west, all; D → Y: west, east, all — still 3 of 4
    assert t.loc["UN, any", "top1"] == pytest.approx(0.75)
    # candidates seen: all, east, west; chance under the authors' lists = mean over answers
    assert t.loc["authors' lists", "chance"] == pytest.approx((1.0 + 0.25 + 0.75) / 3)
    assert t.loc["authors' lists", "majority"] == pytest.approx(1.0)
    assert (t["ci_lo"] <= t["top1"]).all() and (t["top1"] <= t["ci_hi"]).all()


def test_conditional_comparison_and_breakdown_numbers(two_stage):
    region, stage2 = two_stage
    b = regions.two_stage_breakdown(region, stage2)
    # direct run: right on i1 and i4 only
    direct = _direct_run()
    cond = regions.conditional_comparison(b, direct, n_boot=50)
    # region right for i1, i3, i4; stage 2 right on i1, i3; direct on i1, i4
    assert (cond.n, cond.accuracy_a, cond.accuracy_b, cond.only_a, cond.only_b) == (3, 2 / 3, 2 / 3, 1, 1)
    n = regions.breakdown_numbers(regions.outcome_table(b), cond)
    assert (
        n["share_region_wrong"] == 0.25 and n["share_country_wrong"] == 0.25 and n["share_both_right"] == 0.5
    )
    assert n["stage2_given_region"] == pytest.approx(2 / 3) and n["cond_diff"] == 0.0
    with pytest.raises(DataError, match="not in the direct run"):
        regions.conditional_comparison(b, direct.iloc[:2], n_boot=50)


def test_region_and_two_stage_numbers(two_stage):
    region, stage2 = two_stage
    summary = {"n": 4, "top1": 0.75, "top1_ci95": [0.5, 1.0], "chance": 0.5, "majority": 1.0}
    n = regions.region_numbers(region, {"west": ["A", "B"], "east": ["D"]}, summary)
    assert n["n_regions"] == 2 and n["unlisted"] == "none" and n["n_unlisted_images"] == 0
    assert n["unlisted_sentence"].startswith("Every country") and n["single_regions"] == "East"
    assert np.isnan(n["region_top5"])
    n = regions.region_numbers(region, {"west": ["B", "C"], "east": ["C", "E"]}, summary)
    assert n["unlisted"] == "A, D" and n["n_unlisted_images"] == 3
    assert n["unlisted_sentence"].startswith("A, D are in none of the authors' regions, so their 3 photos")
    direct = _direct_run()
    stage2 = stage2.assign(top_labels=[("other",), ("D",), ("D",), ("A",)])
    p = stats.paired_predictions(direct, stage2, n_boot=50)
    t = regions.two_stage_numbers(p, direct, stage2)
    assert t["n_paired"] == 4 and t["country_chance"] == pytest.approx(1 / 3) and t["n_other"] == 1
    assert t["direct_top1"] == 0.5 and t["better_or_worse"] == ("better" if p.diff > 0 else "worse")
    assert t["two_stage_diff_abs"] == abs(p.diff) and t["only_direct"] == p.only_a


def test_broad_regions_and_absorption_numbers(two_stage):
    region, _ = two_stage
    assert regions.broad_regions(MAP, n=2) == ["all", "west"]
    assert regions.broad_regions({"b": ["X"], "a": ["Y"]}, n=1) == ["a"]  # ties alphabetical
    absorb = regions.region_absorption(region)
    n = regions.absorption_numbers(absorb, ["all"])
    # "all" is right for 4 photos and never answered
    assert n["broad_answers"] == 0 and n["broad_ratio"] == 0.0
    assert n["broad_words"] == "far fewer than the 4 photos they would be right for"
    n = regions.absorption_numbers(absorb, ["east"])  # answered twice, right for 1
    assert n["broad_words"].startswith("at least as many as the 1 photos") and n["broad_share"] == 0.5
    n = regions.absorption_numbers(absorb, ["west", "east"])  # 4 answers, right for 4
    assert n["broad_ratio"] == 1.0
    n = regions.absorption_numbers(absorb, ["nowhere"])
    assert np.isnan(n["broad_ratio"]) and "none of the photos" in n["broad_words"]
    assert n["top_absorber"] == "east" and n["most_predicted"] == "west"  # ties by photos covered


def test_regions_headline_text():
    summary = {
        "top1": 0.703,
        "top1_ci95": [0.694, 0.711],
        "top5": 0.941,
        "top5_ci95": [0.936, 0.945],
        "chance": 0.084,
        "majority": 0.322,
    }
    rules = pd.DataFrame(
        {
            "top1": [0.703, 0.527, 0.767],
            "ci_lo": [0.694, 0.517, 0.759],
            "ci_hi": [0.711, 0.537, 0.774],
            "chance": [0.084, 0.055, 0.2],
            "majority": [0.322, 0.2, 0.3],
        },
        index=list(regions.RULES),
    )
    p = stats.paired([1, 1, 0, 1] * 25, [1, 0, 0, 1] * 25, n_boot=20)
    text = regions.headline_text(summary, rules, p)
    lines = text.split("\n")
    assert lines[0] == "region, authors' lists : top-1 70.30%  (95% CI 69.40% – 71.10%)"
    assert lines[1] == " " * 25 + "top-5 94.10%  (95% CI 93.60% – 94.50%)"
    assert lines[3] == "region, UN, majority   : top-1 52.70%  (95% CI 51.70% – 53.70%)"
    assert lines[7].startswith("country, direct        : top-1 75.00%  (95% CI ") and lines[7].endswith(
        "(100 images)"
    )
    assert lines[9].startswith("two-stage − direct     : -25.00 points (95% CI ")  # points, not %
    assert lines[10] == "discordant images      : direct only 25, two-stage only 0"
    assert text.endswith("\n") and len(lines) == 12
    like = _restricted([1, 1, 0, 1] * 25, [1, 0, 0, 1] * 25, [1, 1, 0, 1] * 25, b_outside=25)
    lines = regions.headline_text(summary, rules, p, like).split("\n")
    assert (
        lines[11] == "like for like          : 2 countries both can answer; two-stage answers outside them 25"
    )
    assert lines[12].endswith("direct 75.00%, two-stage 50.00% – 75.00%")
    assert "two-stage − direct between -25.00 and 0.00 points (95% limits " in lines[13]


def _restricted(a_correct, b_lower, b_upper=None, *, labels=2, b_outside=0):
    """A RestrictedComparison built from per-image correctness (B's run-outs right in ``b_upper``)."""
    b_upper = b_lower if b_upper is None else b_upper
    point = stats.paired(a_correct, b_lower, n_boot=50)
    high = stats.paired(a_correct, b_upper, n_boot=50)
    ran_out = int(np.sum(np.asarray(b_upper, bool) & ~np.asarray(b_lower, bool)))
    n = len(a_correct)
    return stats.RestrictedComparison(
        n, labels, labels, labels + 1, 0, 0, b_outside, 0, ran_out, point, point, high
    )


def test_regions_conclusions_follow_the_numbers():
    worse = stats.paired([1, 1, 1, 0] * 25, [1, 0, 0, 0] * 25, n_boot=50)
    better = stats.paired([1, 0, 0, 0] * 25, [1, 1, 1, 0] * 25, n_boot=50)
    # the authors' lists between the two UN rules (the real case: 70.3 % between 52.7 % and 76.7 %)
    rules = pd.DataFrame({"top1": [0.7, 0.5, 0.8]}, index=list(regions.RULES))
    c = regions.conclusions(rules, worse, worse)
    assert c["lists_words"].startswith(
        "more generous than the strict UN rule and less generous than the lenient"
    )
    assert "depends on how a broad region is credited" in c["rules_words"]
    assert c["taxonomy_words"].startswith("a range around them (50.0% under the strict rule, 80.0% under")
    assert "less flattering" not in c["taxonomy_words"]
    assert c["first_step"].startswith("but it is a poor first step")
    assert c["cond_words"] == "narrowing the candidates to the region hurts once the region is known"
    assert c["region_vs_country"].startswith("CLIP names a right region no more often")  # 0.7 against 0.75
    # above both, below both, tied with one
    c = regions.conclusions(rules.assign(top1=[0.9, 0.5, 0.8]), better, better)
    assert c["lists_words"] == "more generous than either UN rule"
    assert c["taxonomy_words"] == "a less flattering picture under both of its rules"
    assert c["first_step"].startswith("and it is a useful first step") and c["cond_words"].endswith(
        "helps once the region is known"
    )
    c = regions.conclusions(rules.assign(top1=[0.4, 0.5, 0.6]), better, better)
    assert c["lists_words"] == "less generous than either UN rule" and "do not flatter" in c["rules_words"]
    assert c["region_vs_country"].startswith("CLIP names a right region more often")  # 0.4 against 0.25
    assert "those photos are no easier than the average photo" in c["cond_sentence"]
    assert "stage 2 finds the country for 75.0%" in c["cond_sentence"]
    assert "raw paired difference +50.0 points" in c["cond_sentence"]
    c = regions.conclusions(rules.assign(top1=[0.5, 0.5, 0.6]), better, better)
    assert c["lists_words"] == "as generous as one of the UN rules"
    # the order above chance, when the table has it
    ranked = rules.assign(above_chance=[0.6, 0.4, 0.7])
    assert regions.conclusions(ranked, worse, worse)["above_order_words"] == "the order is the same"
    flipped = rules.assign(above_chance=[0.75, 0.4, 0.7])
    assert regions.conclusions(flipped, worse, worse)["above_order_words"] == "the order changes"
    empty = stats.paired([], [], n_boot=50)
    assert regions.conclusions(rules, worse, empty)["cond_sentence"].startswith(
        "No photo got its region right"
    )


def test_regions_conclusions_like_for_like_decide_the_verdicts():
    rules = pd.DataFrame({"top1": [0.7, 0.5, 0.8]}, index=list(regions.RULES))
    raw = stats.paired([1, 1, 1, 0] * 25, [1, 0, 0, 0] * 25, n_boot=50)  # two-stage worse, raw
    # like for like still worse even with every run-out right
    still_worse = _restricted([1, 1, 1, 0] * 25, [1, 0, 0, 0] * 25, [1, 1, 0, 0] * 25, b_outside=25)
    c = regions.conclusions(rules, raw, raw, still_worse, still_worse)
    assert "even like for like" in c["first_step"] and c["first_step"].startswith(
        "but it is a poor first step"
    )
    assert c["cond_words"] == "narrowing the candidates to the region hurts once the region is known"
    assert "did so for 25 photos (25.0%)" in c["cond_sentence"]
    assert "between -50.0 and -25.0 points" in c["cond_sentence"]
    # the run-outs could turn it around: no verdict
    open_ = _restricted([1, 1, 0, 0] * 25, [1, 0, 0, 0] * 25, [1, 1, 1, 0] * 25, b_outside=50)
    c = regions.conclusions(rules, raw, raw, open_, open_)
    assert c["first_step"].startswith("and the stored answers cannot tell whether it is a useful first step")
    assert c["cond_words"].startswith("the stored answers cannot tell whether narrowing the candidates")
    # nothing outside the common labels: exact, and said with the CI
    exact = _restricted([1, 1, 1, 0] * 25, [1, 0, 0, 0] * 25)
    c = regions.conclusions(rules, raw, raw, exact, exact)
    assert "never did" in c["cond_sentence"] and "(difference -50.0 points, 95 % CI" in c["cond_sentence"]


def test_answered_comparison_and_like_numbers():
    ids = ["1", "2", "3", "4"]
    direct = make_predictions(
        ids, ["A", "B", "C", "A"], [("A",), ("B",), ("A",), ("B",)], experiment="d", source="local"
    )
    # stage 2: right on 1, a country without photos on 2 and 3, "other" on 4
    stage2 = make_predictions(
        ids, ["A", "B", "C", "A"], [("A",), ("Z",), ("Z",), ("other",)], experiment="s", source="local"
    )
    ans = regions.answered_comparison(direct, stage2, {"A", "B", "C"}, n_boot=20)
    assert (ans.paired.n, ans.n_dropped, ans.direct_right_dropped, ans.n_other) == (1, 3, 1, 1)
    like = stats.restricted_paired(direct, stage2, {"A", "B", "C"}, {"A", "B", "C", "Z", "other"}, n_boot=20)
    n = regions.like_numbers(like, ans)
    assert (n["ts_outside"], n["ts_outside_countries"], n["ts_other"], n["ts_direct_right_outside"]) == (
        3,
        2,
        1,
        1,
    )
    assert n["ts_like_direct"] == 0.5 and n["ts_like_lo"] == 0.25 and n["ts_like_hi"] == 1.0
    assert n["ts_like_diff_lo_pts"] == pytest.approx(-25.0) and n["ts_like_diff_hi_pts"] == pytest.approx(
        50.0
    )
    assert n["ans_words"] == "there the two runs cannot be told apart"  # one photo, no discordance
    assert n["ts_like_words"].startswith(
        "Both runs scored the same 4 photos, but they could not give the same"
    )


def test_conditional_like_keeps_the_right_region_photos(two_stage):
    region, stage2 = two_stage
    b = regions.two_stage_breakdown(region, stage2)
    direct = _direct_run()
    r = regions.conditional_like(b, direct, stage2, {"A", "B", "D"}, {"A", "B", "C", "D"}, n_boot=20)
    # region right for i1, i3, i4; stage 2 answers A, D, C there: C is no label of the direct run
    assert r.n == 3 and r.b_outside == 1 and r.b_ran_out == 1 and r.point.accuracy_b == pytest.approx(2 / 3)
    none_right = b.assign(stage1_correct=False)
    assert regions.conditional_like(none_right, direct, stage2, {"A"}, {"A"}) is None  # a tiny local run
    empty = stats.paired([], [], n_boot=20)
    rules = pd.DataFrame({"top1": [0.7, 0.5, 0.8]}, index=list(regions.RULES))
    c = regions.conclusions(rules, empty, empty, None, None)
    assert c["cond_sentence"].startswith("No photo got its region right")


def test_region_rules_table_above_chance(two_stage):
    region, _ = two_stage
    t = regions.region_rules_table(region, MAP, subregion_of=SUB, n_boot=20)
    expected = (t["top1"] - t["chance"]) / (1 - t["chance"])
    assert t["above_chance"].tolist() == pytest.approx(expected.tolist())


# =========================================================================== studies.prompts (chapter numbers)
@pytest.fixture
def prompt_runs():
    ids = [str(i) for i in range(8)]
    gold = ["France", "France", "Spain", "Spain", "Japan", "Japan", "Japan", "Japan"]
    a_top = [
        ("France", "Spain"),
        ("Spain", "France"),
        ("Spain", "Japan"),
        ("France", "Spain"),
        ("Japan", "Spain"),
        ("Japan", "France"),
        ("Spain", "Japan"),
        ("Japan", "Spain"),
    ]
    # B: different answers on 0, 1, 3, 6; its top-2 repeats a country on 2 (several prompts per country)
    b_top = [
        ("Spain", "France"),
        ("France", "Spain"),
        ("Spain", "Spain"),
        ("Spain", "France"),
        ("Japan", "Spain"),
        ("Japan", "Spain"),
        ("France", "Japan"),
        ("Japan", "France"),
    ]
    a = make_predictions(ids, gold, a_top, experiment="std", source="local")
    b = make_predictions(ids[::-1], gold[::-1], b_top[::-1], experiment="mix", source="local")
    for t in (a, b):
        t["gold_iso3"] = t["gold"].map({"France": "FRA", "Spain": "ESP", "Japan": "JPN"})
    return a, b


def test_compare_prompts_by_hand(prompt_runs):
    a, b = prompt_runs
    r = prompts.compare_prompts(a, b, n_boot=50)
    # A right on 0, 2, 4, 5, 7; B right on 1, 2, 3, 4, 5, 7
    assert r.top1.n == 8 and r.top1.accuracy_a == 5 / 8 and r.top1.accuracy_b == 6 / 8
    assert (r.top1.only_a, r.top1.only_b) == (1, 2)
    assert r.summary_a["top1"] == r.top1.accuracy_a and r.summary_b["top1_ci95"] == list(
        r.top1.accuracy_b_ci95
    )
    assert r.summary_a["classes"] == 3 and r.summary_a["majority"] == 0.5
    assert r.top5 is None  # two answers stored: no top-5 comparison
    assert r.dup_top5 == 1 / 8 and r.changed == 4 / 8
    n = prompts.comparison_numbers(r)
    assert n["n_images"] == 8 and n["only_b"] == 2 and np.isnan(n["diff5"]) and n["dup_top5"] == 1 / 8
    assert n["f1_diff"] == pytest.approx(r.summary_b["macro_f1"] - r.summary_a["macro_f1"])
    assert n["dup_words"].startswith("which leaves fewer than five")
    assert n["balance_words"] in ("hurts", "makes no clear difference", "helps")
    lo, hi = r.top1.diff_ci95
    assert n["balance_words"] == ("helps" if lo > 0 else "hurts" if hi < 0 else "makes no clear difference")
    text = prompts.headline_text(r, ("std", "mix"))
    lines = text.split("\n")
    assert lines[0] == "8 paired images, 3 countries; chance 33.33%, majority 50.00%"
    assert lines[1].startswith("std                      top-1 62.50%  (95% CI ")
    assert lines[2] == " " * 24 + " top-5 n/a"
    # a difference of shares is printed in points, signed
    assert lines[7].startswith("mixed − standard, top-1: +12.50 points (95% CI ")
    assert lines[8] == "discordant images: standard only 1, mixed only 2" and text.endswith("\n")
    assert n["diff_pts"] == pytest.approx(12.5) and n["f1_diff_pts"] == pytest.approx(100 * n["f1_diff"])


def test_compare_prompts_top5_and_no_duplicates():
    ids = [str(i) for i in range(4)]
    gold = ["A", "B", "C", "D"]
    tops = [
        ("A", "B", "C", "D", "E"),
        ("A", "C", "D", "E", "B"),
        ("A", "B", "D", "E", "F"),
        ("D", "A", "B", "C", "E"),
    ]
    a = make_predictions(ids, gold, tops, experiment="a", source="local")
    b = make_predictions(ids, gold, [t[::-1] for t in tops], experiment="b", source="local")
    r = prompts.compare_prompts(a, b, n_boot=50)
    assert r.top5 is not None and r.top5.accuracy_a == 0.75 and r.top5.diff == 0.0
    assert r.dup_top5 == 0.0
    n = prompts.comparison_numbers(r)
    assert n["dup_words"].startswith("so the comparison at top-5 is not handicapped") and n["p5"] == 1.0
    assert "mixed − standard, top-5: 0.00 points (95% CI 0.00 – 0.00)" in prompts.headline_text(r, ("a", "b"))


def test_by_subregion_and_subregion_numbers(prompt_runs):
    a, b = prompt_runs
    r = prompts.compare_prompts(a, b, n_boot=50)
    t = prompts.by_subregion(r, n_boot=50)
    # France, Spain: Western / Southern Europe; Japan: Eastern Asia
    assert set(t.index) == {"Western Europe", "Southern Europe", "Eastern Asia"}
    assert t.loc["Southern Europe", "diff"] == 0.5 and t.loc["Eastern Asia", "diff"] == 0.0
    n = prompts.subregion_numbers(t)
    assert n["n_subregions"] == 3 and n["best_region"] == "Southern Europe" and n["worst_region_diff"] <= 0
    table = pd.DataFrame(
        {"diff": [-0.2, -0.1, 0.1, 0.3], "mcnemar_p": [0.01, 0.5, 0.9, 0.001]}, index=list("abcd")
    )
    n = prompts.subregion_numbers(table)
    assert (n["n_worse"], n["n_better"]) == (1, 1)
    assert (
        n["subregion_words"] == "significantly worse in 1 and significantly better in 1 of the 4 sub-regions"
    )
    n = prompts.subregion_numbers(table.assign(mcnemar_p=0.5))
    assert n["subregion_words"] == "not significantly different in any of the 4 sub-regions"
    n = prompts.subregion_numbers(table.assign(mcnemar_p=[0.5, 0.5, 0.5, 0.01]))
    assert (
        n["subregion_words"]
        == "significantly better in 1 of the 4 sub-regions and significantly worse in none"
    )


def test_never_answerable_and_change_numbers(prompt_runs):
    a, b = prompt_runs
    assert prompts.never_answerable(a["gold"], b) == []
    assert prompts.never_answerable(["France", "Germany", "Chad"], b) == ["Chad", "Germany"]
    changes = prompts.class_change_table(a, b)
    n = prompts.change_numbers(changes, ["Germany"])
    assert n["top_gain"] == changes.index[0] and n["top_loss_df1"] == changes["d_f1"].min()
    assert n["n_gain"] + n["n_loss"] <= 3 and n["never"] == "Germany" and n["n_never"] == 1
    assert prompts.change_numbers(changes, [])["never"] == "none"


def test_prompts_like_for_like_by_hand(prompt_runs):
    a, b = prompt_runs
    # B may also answer Italy, which has no photos: it does on images 3 and 6 (first answer), and on 6 the
    # stored top-2 holds no other common country
    b = b.copy()
    b["top_labels"] = [
        ("Japan", "France"),
        ("Italy", "Italy"),
        ("Japan", "Spain"),
        ("Japan", "Spain"),
        ("Italy", "France"),
        ("Spain", "Spain"),
        ("France", "Spain"),
        ("Spain", "France"),
    ]  # rows of b in its own order (ids 7 … 0)
    r = prompts.compare_prompts(a, b, n_boot=50)
    like = prompts.restricted_comparison(
        r, {"France", "Spain", "Japan"}, {"France", "Spain", "Japan", "Italy"}, n_boot=50
    )
    assert (like.labels, like.a_labels, like.b_labels, like.b_outside, like.b_ran_out) == (3, 3, 4, 2, 1)
    n = prompts.restricted_numbers(like, r.top1)
    assert n["b_outside"] == 2 and n["b_outside_share"] == 0.25 and n["gold_outside"] == 0
    assert n["r_b_hi"] - n["r_b_lo"] == pytest.approx(1 / 8)  # the one run-out could be right
    assert "1 photo of the mixed prompts" in n["restricted_words"]
    assert n["like_words"].startswith("Both runs scored the same 8 photos, but they could not give the same")
    assert "2 first answers of the mixed prompts (25.0% of the photos) name countries" in n["like_words"]
    # where those answers went
    without = prompts.answers_without_photos(r.b, a["gold"].unique())
    assert without.index.tolist() == ["Italy"] and without.loc["Italy", "answers"] == 2
    assert without.loc["Italy", "from"] == "Japan 1, Spain 1"  # ties by name
    w = prompts.without_photos_numbers(without, len(r.b))
    assert (w["n_without"], w["without_answers"], w["without_examples"]) == (1, 2, "Italy (2)")
    sub = prompts.without_by_subregion_numbers(r, prompts.by_subregion(r, n_boot=20))
    assert (
        sub["without_share_all"] == 0.25 and sub["most_without_share"] == 0.5
    )  # Spain: 1 of 2, Japan: 1 of 4
    assert sub["most_without_region"] == "Southern Europe"
    # the per-country table keeps the countries with photos only
    changes = prompts.class_change_table(r.a, r.b)
    assert "Italy" not in changes.index and (changes["support"] > 0).all()


def test_prompts_without_photos_empty_and_many_sources():
    from geoclip_utils.schema import make_predictions as mk

    b = mk(list("123"), ["A", "B", "C"], [("A",), ("B",), ("C",)], experiment="b", source="local")
    t = prompts.answers_without_photos(b, ["A", "B", "C"])
    assert t.empty and prompts.without_photos_numbers(t, 3) == {
        "n_without": 0,
        "without_answers": 0,
        "without_share": 0.0,
        "without_examples": "none",
    }
    b = mk(list("12345"), ["A", "B", "C", "D", "D"], [("M",)] * 5, experiment="b", source="local")
    t = prompts.answers_without_photos(b, ["A", "B", "C", "D"], n_sources=2)
    assert t.loc["M", "from"] == "D 2, A 1 and 2 others"


def test_prompts_source_sentence_edges():
    assert prompts.source_sentence(0.0, -0.01, 0.01).startswith("There is no raw difference")
    assert prompts.source_sentence(-0.066, -0.016, 0.0).startswith("Most of the raw difference comes from")
    assert prompts.source_sentence(-0.066, 0.01, 0.02).startswith("Most of the raw difference comes from")
    assert prompts.source_sentence(-0.066, -0.06, -0.04).startswith("Most of the raw difference remains")
    assert prompts.source_sentence(-0.066, -0.05, -0.02).startswith("The stored answers cannot tell")
    assert prompts.source_sentence(0.05, 0.04, 0.06).startswith(
        "Most of the raw difference remains"
    )  # a gain


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


# =========================================================================== studies.places (chapter numbers)
def _head(top1, chance, majority=None, top5=None, classes=10):
    h = {
        "n": 100,
        "classes": classes,
        "top1": top1,
        "top1_ci95": [top1 - 0.01, top1 + 0.01],
        "chance": chance,
    }
    h |= {"majority": chance if majority is None else majority, "macro_f1": top1, "macro_f1_ci95": [0.1, 0.2]}
    if top5 is not None:
        h |= {"top5": top5, "top5_ci95": [top5 - 0.01, top5 + 0.01]}
    return h


def test_places_summary_table_and_headline():
    heads = {"US_states_max100": _head(0.43, 0.02, top5=0.8), "city100": _head(0.2, 0.002)}
    t = places.summary_table(heads)
    assert (
        t.loc["US_states_max100", "level"] == "US state"
        and t.loc["US_states_max100", "top1 CI"] == "42.0% – 44.0%"
    )
    assert t.loc["city100", "top5"] is None
    assert t.loc["city100", "above chance"] == pytest.approx((0.2 - 0.002) / (1 - 0.002))
    lines = places.headline_text(heads).split("\n")
    assert lines[0] == "US_states_max100 (100 images, 10 labels)"
    assert (
        lines[1]
        == "    top1 43.00% (42.00% – 44.00%); top5 80.00% (79.00% – 81.00%); macro_f1 43.00% (10.00% – 20.00%)"
    )
    assert lines[2] == "    chance 2.00%, majority 2.00%"
    assert lines[4] == "    top1 20.00% (19.00% – 21.00%); top5: n/a; macro_f1 20.00% (10.00% – 20.00%)"


def test_places_summary_numbers_follow_the_numbers():
    heads = {
        "US_states_max100": _head(0.4, 0.02, top5=0.8, classes=50),
        "France_states_max100": _head(0.3, 0.05, top5=0.7, classes=18),
        "UScity100": _head(0.4, 0.013, top5=0.7, classes=77),
        "city100": _head(0.2, 0.0015, classes=643),
        "city300": _head(0.3, 0.004, classes=261),
    }
    n = places.summary_numbers(heads)
    assert n["lift_us"] == pytest.approx(20) and n["lift_fr"] == pytest.approx(6)
    assert n["above_France_states_max100"] == pytest.approx((0.3 - 0.05) / 0.95)
    assert n["US_states_max100_lo"] == pytest.approx(0.39) and n["classes_city300"] == 261
    assert n["top5_note"] == "city100 and city300 store only CLIP's first answer, so they have no top-5."
    assert n["balance_words"].startswith("Every label set is nearly balanced")
    # no ranking across label sets, no cause: every run is said against its own chance
    assert "lift_join" not in n and "city_words" not in n
    assert n["compare_words"].startswith(
        "The runs ask different questions over label sets of 18 to 643 labels"
    )
    assert "(it is 133 for city100 against 20 for the US states)" in n["compare_words"]
    assert "roads" not in n["summary_words"] and "told apart" not in n["summary_words"]
    assert n["summary_words"].startswith(
        "Below the country CLIP's answers are well above chance in every run (at least 6.0"
    )
    assert "accuracy above chance runs from 19.9% to 39.2%" in n["summary_words"]
    # one set unbalanced, one run near chance, one below
    heads["France_states_max100"] = _head(0.9, 0.04, majority=0.2, top5=0.99)
    heads["city100"] = _head(0.003, 0.002, top5=0.01)
    heads["city300"] = _head(0.003, 0.004, top5=0.01)
    n = places.summary_numbers(heads)
    assert n["top5_note"] == "Every run stores five answers."
    assert n["balance_words"].startswith("Not every label set is balanced: on France_states_max100")
    assert n["summary_words"].startswith("Below the country CLIP's answers are not above chance on city300")
    heads["city300"] = _head(0.006, 0.004, top5=0.01)
    assert "but only 1.5 times on city100" in places.summary_numbers(heads)["summary_words"]
    # label sets of one size: accuracy above chance is on one scale
    same = {e: _head(0.4, 0.02, top5=0.8) for e in heads}  # 10 labels each
    assert places.summary_numbers(same)["compare_words"].startswith("Every run has 10 labels")


def test_places_label_numbers_name_every_tie():
    us = pd.DataFrame({"f1": [0.9, 0.5, 0.0, 0.004]}, index=["Hawaii", "Ohio", "Vermont", "Idaho"])
    fr = pd.DataFrame({"f1": [0.69, 0.69]}, index=["Bretagne", "Corse"])
    n = places.label_numbers({"US_states_max100": us, "France_states_max100": fr})
    assert n["worst_state"] == "Idaho and Vermont" and n["worst_state_f1"] == 0.0
    assert n["best_state"] == "Hawaii" and n["best_fr"] == "Bretagne and Corse"


def test_places_reports_locations_and_numbers(gazetteer, monkeypatch):
    # the alternate names of GeoNames' larger cities know one of the two labels the gazetteer lacks
    alt = _alternates([("atlantis", 7, "Atlantis City", "", "GR", 36.4, 25.4, 20_000)])
    monkeypatch.setattr(places, "alternate_names_table", lambda: alt)

    def run(labels, pred):
        return make_predictions(
            [str(i) for i in range(len(labels))], labels, [(p,) for p in pred], experiment="t", source="local"
        )

    tables = {
        "US_states_max100": run(
            ["Ohio", "Ohio", "Illinois", "Texas"], ["Ohio", "Illinois", "Illinois", "Ohio"]
        ),
        "France_states_max100": run(
            ["Auvergne-Rhône-Alpes", "Mayotte"], ["Auvergne-Rhône-Alpes", "Auvergne-Rhône-Alpes"]
        ),
        "UScity100": run(["Springfield", "Town"], ["Town", "Town"]),
        "city100": run(
            ["Springfield", "Cordoba", "Nowhere", "Atlantis"],
            ["Springfield", "Cordoba", "Cordoba", "Cordoba"],
        ),
    }
    reports = places.label_reports(tables)
    assert reports["US_states_max100"].index[0] == "Illinois"  # F1 2/3 beats Ohio's 1/2
    n = places.label_numbers(reports)
    assert (
        n["best_state"] == "Illinois"
        and n["worst_state"] == "Texas"
        and n["best_fr"] == "Auvergne-Rhône-Alpes"
    )
    located = places.locate_labels(reports, gazetteer)
    assert located["France_states_max100"].set_index("label").loc["Auvergne-Rhône-Alpes", "places"] == 1
    counts = places.match_counts(located)
    assert counts.loc["city100", "labels"] == 4 and counts.loc["city100", "not found"] == 1
    assert located["city100"].set_index("label")["rule"].to_dict() == {
        "Cordoba": "name",
        "Springfield": "name",
        "Atlantis": "alternate name",
        "Nowhere": "",
    }
    m = places.match_numbers(counts, located, examples=1)
    assert m["city100_not_found"] == 1 and m["city100_ambiguous"] == 2 and m["uscity_not_found"] == 0
    assert m["city100_unplaced_examples"] == "Nowhere"
    pts = places.recall_points(located["city100"], reports["city100"])
    assert set(pts["label"]) == {"Springfield", "Cordoba", "Atlantis"} and {
        "recall",
        "f1",
        "support",
        "lat",
    } <= set(pts.columns)
    assert places.unplaced_labels(located["city100"], reports["city100"])["label"].tolist() == ["Nowhere"]
    assert pts.set_index("label").loc["Cordoba", "recall"] == 1.0
