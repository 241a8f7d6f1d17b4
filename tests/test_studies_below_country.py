"""geoclip_utils.studies.below_country (the Below the country chapter): its tables, numbers and words."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import alternates, places_sample

from geoclip_utils.geo import matching
from geoclip_utils.schema import make_predictions
from geoclip_utils.studies import below_country


def test_unplaced_labels_and_note_edge_cases():
    located = pd.DataFrame({"label": ["A", "B", "C", "D"], "lat": [1.0, np.nan, np.nan, np.nan]})
    report = pd.DataFrame(
        {"f1": [0.9, 0.2, 0.88, 0.2], "support": [10, 1, 100, 5]}, index=pd.Index(list("ABCD"), name="label")
    )
    missing = below_country.unplaced_labels(located, report)
    assert missing["label"].tolist() == ["C", "D", "B"], "best F1 first, then most photos"
    note = below_country.unplaced_note(missing, 4)
    assert note == (
        "Not on the map: 3 of the 4 labels, for which no GeoNames place has that name: C (F1 0.88, 100 photos); "
        "D (F1 0.20, 5 photos); B (F1 0.20, 1 photo)."
    )
    same = below_country.unplaced_note(missing.assign(support=100), 643)
    assert same.startswith(
        "Not on the map: 3 of the 643 labels (100 photos each), for which"
    ) and same.endswith(": C (F1 0.88); D (F1 0.20); B (F1 0.20).")
    none = below_country.unplaced_labels(located.assign(lat=1.0), report)
    assert below_country.unplaced_note(none, 4) == "Every one of the 4 labels is on the map."
    assert below_country.unplaced_note(none, 1) == "Every one of the 1 label is on the map."
    one = below_country.unplaced_note(missing.head(1), 1)
    assert one.startswith("Not on the map: 1 of the 1 label (100 photos), ") and one.endswith("C (F1 0.88).")


# =========================================================================== the chapter's numbers
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
    t = below_country.summary_table(heads)
    assert (
        t.loc["US_states_max100", "level"] == "US state"
        and t.loc["US_states_max100", "top1 CI"] == "42.0% – 44.0%"
    )
    assert t.loc["city100", "top5"] is None
    assert t.loc["city100", "above chance"] == pytest.approx((0.2 - 0.002) / (1 - 0.002))
    lines = below_country.headline_text(heads).split("\n")
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
    n = below_country.summary_numbers(heads)
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
    assert (
        "accuracy above chance (the share of the way from chance to every photo right) runs from 19.9% to 39.2%"
        in n["summary_words"]
    )
    # one set unbalanced, one run near chance, one below
    heads["France_states_max100"] = _head(0.9, 0.04, majority=0.2, top5=0.99)
    heads["city100"] = _head(0.003, 0.002, top5=0.01)
    heads["city300"] = _head(0.003, 0.004, top5=0.01)
    n = below_country.summary_numbers(heads)
    assert n["top5_note"] == "Every run stores five answers."
    assert n["balance_words"].startswith("Not every label set is balanced: on France_states_max100")
    assert n["summary_words"].startswith("Below the country CLIP's answers are not above chance on city300")
    heads["city300"] = _head(0.006, 0.004, top5=0.01)
    assert "but only 1.5 times on city100" in below_country.summary_numbers(heads)["summary_words"]
    # label sets of one size: accuracy above chance is on one scale
    same = {e: _head(0.4, 0.02, top5=0.8) for e in heads}  # 10 labels each
    assert below_country.summary_numbers(same)["compare_words"].startswith("Every run has 10 labels")


def test_places_label_numbers_name_every_tie():
    us = pd.DataFrame({"f1": [0.9, 0.5, 0.0, 0.004]}, index=["Hawaii", "Ohio", "Vermont", "Idaho"])
    fr = pd.DataFrame({"f1": [0.69, 0.69]}, index=["Bretagne", "Corse"])
    n = below_country.label_numbers({"US_states_max100": us, "France_states_max100": fr})
    assert n["worst_state"] == "Idaho and Vermont" and n["worst_state_f1"] == 0.0
    assert n["best_state"] == "Hawaii" and n["best_fr"] == "Bretagne and Corse"


def test_places_reports_locations_and_numbers(gazetteer, monkeypatch):
    # the alternate names of GeoNames' larger cities know one of the two labels the gazetteer lacks
    alt = alternates([("atlantis", 7, "Atlantis City", "", "GR", 36.4, 25.4, 20_000)])
    monkeypatch.setattr(matching, "alternate_names_table", lambda: alt)
    # the cities go through the book's one city matcher (place_labels): no larger city knows these names, the
    # hand-made places do; the US cities are searched in the US, the worldwide ones anywhere
    monkeypatch.setattr(matching, "cities15000", lambda: gazetteer.iloc[:0])
    monkeypatch.setattr(matching, "places_table", lambda: gazetteer)
    monkeypatch.setattr(
        below_country,
        "label_countries",
        lambda run: pd.DataFrame(
            {"label": ["Springfield", "Town"], "cc": "US" if run == "UScity100" else ""}
        ),
    )

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
    reports = below_country.label_reports(tables)
    assert reports["US_states_max100"].index[0] == "Illinois"  # F1 2/3 beats Ohio's 1/2
    n = below_country.label_numbers(reports)
    assert (
        n["best_state"] == "Illinois"
        and n["worst_state"] == "Texas"
        and n["best_fr"] == "Auvergne-Rhône-Alpes"
    )
    located = below_country.locate_labels(reports, gazetteer)
    assert located["France_states_max100"].set_index("label").loc["Auvergne-Rhône-Alpes", "places"] == 1
    counts = below_country.match_counts(located)
    assert counts.loc["city100", "labels"] == 4 and counts.loc["city100", "not found"] == 1
    assert located["city100"].set_index("label")["rule"].to_dict() == {
        "Cordoba": "name",
        "Springfield": "name",
        "Atlantis": "alternate name",
        "Nowhere": "",
    }
    m = below_country.match_numbers(counts, located, examples=1)
    assert m["city100_not_found"] == 1 and m["city100_ambiguous"] == 2 and m["uscity_not_found"] == 0
    assert m["city100_unplaced_examples"] == "Nowhere"
    pts = below_country.recall_points(located["city100"], reports["city100"])
    assert set(pts["label"]) == {"Springfield", "Cordoba", "Atlantis"} and {
        "recall",
        "f1",
        "support",
        "lat",
    } <= set(pts.columns)
    assert below_country.unplaced_labels(located["city100"], reports["city100"])["label"].tolist() == [
        "Nowhere"
    ]
    assert pts.set_index("label").loc["Cordoba", "recall"] == 1.0


@pytest.fixture
def gazetteer():
    """A few GeoNames-like places (:func:`helpers.places_sample`)."""
    return places_sample()


@pytest.mark.needs_data
def test_city_labels_sit_in_the_country_of_their_photos():
    """The maps place cities with the matcher the kilometre scores use: Antwerp in Belgium (not Antwerp,
    Ohio), Boston in Massachusetts, Austin in Texas, Basra by its GeoNames alternate name."""
    from geoclip_utils.geo.matching import places_table

    def rep(labels):
        return pd.DataFrame(index=pd.Index(labels, name="label"))

    reports = {
        "US_states_max100": rep(["Ohio"]),
        "France_states_max100": rep(["Bretagne"]),
        "UScity100": rep(["Austin"]),
        "city100": rep(["Antwerp", "Boston", "Basra"]),
    }
    located = below_country.locate_labels(reports, places_table())
    city = located["city100"].set_index("label")
    assert city.loc["Antwerp", "cc"] == "BE" and city.loc["Boston", "cc"] == "US"
    assert city.loc["Boston", "lon"] == pytest.approx(-71.06, abs=0.1)
    assert (city.loc["Basra", "cc"], city.loc["Basra", "rule"]) == ("IQ", "alternate name")
    assert located["UScity100"].set_index("label").loc["Austin", "lat"] == pytest.approx(30.27, abs=0.1)
