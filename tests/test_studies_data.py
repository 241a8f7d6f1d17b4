"""geoclip_utils.studies.data (the Data chapter): balance, distinct places, label agreement and its reasons, climates,
region taxonomies and the Data chapter's worded conclusions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geoclip_utils import geo
from geoclip_utils.errors import ConfigError
from geoclip_utils.studies import data as dq


def _points():
    # A: three photos, the second 0.5 km from the first (a near-duplicate); B: two photos 50 km apart
    return pd.DataFrame(
        {
            "image_id": ["a1", "a2", "a3", "b1", "b2"],
            "lat": [48.8566, 48.8566 + 0.5 / 111.2, 45.76, 52.52, 52.52 + 50 / 111.2],
            "lon": [2.3522, 2.3522, 4.84, 13.405, 13.405],
            "label": ["France", "France", "France", "Germany", "Germany"],
            "iso3": ["FRA", "FRA", "FRA", "DEU", "DEU"],
        }
    )


def test_photo_counts_equal_and_unequal():
    c = dq.photo_counts(_points())
    assert c == {
        "n_images": 5,
        "n_countries": 2,
        "per_country": 2,  # median of 3 and 2, as an integer
        "min_per_country": 2,
        "max_per_country": 3,
        "equal": False,
    }
    assert dq.photo_counts(_points().iloc[[0, 1, 3, 4]])["equal"] is True
    with pytest.raises(ConfigError):
        dq.photo_counts(_points().iloc[:0])
    with pytest.raises(ConfigError, match="label"):
        dq.photo_counts(pd.DataFrame({"x": [1]}))


def test_place_spread_drops_the_near_duplicate():
    keep, spread = dq.place_spread(_points(), radius_km=1.0)
    assert keep.tolist() == [True, False, True, True, True]
    t = spread.set_index("label")
    assert t["photos"].to_dict() == {"France": 3, "Germany": 2}
    assert t["distinct_places"].to_dict() == {"France": 2, "Germany": 2}
    # a radius larger than 50 km merges Germany's two photos as well
    keep, spread = dq.place_spread(_points(), radius_km=60.0)
    assert spread.set_index("label")["distinct_places"].to_dict() == {"Germany": 1, "France": 2}
    s = dq.spread_summary(keep, spread, few=2)
    assert s["n_distinct"] == 3 and s["n_under_10"] == 1
    assert (s["most_conc"], s["most_conc_n"], s["least_conc"], s["least_conc_n"]) == (
        "Germany",
        1,
        "France",
        2,
    )


def test_balance_sentence_and_per_country_phrase():
    differ = pd.DataFrame({"distinct_places": [3, 90]})
    same = pd.DataFrame({"distinct_places": [90, 90]})
    equal = {"equal": True, "per_country": 100, "min_per_country": 100, "max_per_country": 100}
    unequal = {"equal": False, "per_country": 80, "min_per_country": 40, "max_per_country": 100}
    assert dq.balance_sentence(equal, differ).startswith("Every country contributes the same number")
    assert "not the same spread" in dq.balance_sentence(equal, differ)
    assert "not the same spread" not in dq.balance_sentence(equal, same)
    assert dq.balance_sentence(unequal, differ).startswith("Countries contribute between 40 and 100 photos")
    assert dq.per_country_phrase(equal) == "100 from each"
    assert dq.per_country_phrase(unequal) == "40 to 100 from each"


def _reason_row_by_row(t: pd.DataFrame) -> list[str]:
    """The chapter's former loop, one nearest-town lookup per row: the oracle of the vectorised rules."""
    out = []
    for row in t.itertuples():
        if row.geo_iso3 == "":
            out.append("no polygon within tolerance (small island, coast)")
        elif {row.iso3, row.geo_iso3} & {"PSE", "ISR"} == {"PSE", "ISR"} or row.geo_iso3 == "VAT":
            out.append("disputed or special territory")
        elif row.geo_place_km < 10 and geo.nearest_places([row.lat], [row.lon])["place_iso3"][0] == row.iso3:
            out.append("border: nearest town agrees with the authors")
        else:
            out.append("border: coarse polygon, town elsewhere")
    return out


def test_disagreement_reasons_each_rule():
    t = pd.DataFrame(
        {
            "iso3": ["FRA", "PSE", "ISR", "ITA", "KHM", "KHM", "KHM", "ISR"],
            "geo_iso3": ["", "ISR", "PSE", "VAT", "THA", "THA", "THA", "ISR"],
            "geo_place_km": [1.0, 1.0, 1.0, 1.0, 2.0, 12.0, 2.0, 1.0],
            "lat": [0.0] * 8,
            "lon": [0.0] * 8,
        },
        index=[10, 11, 12, 13, 14, 15, 16, 17],
    )
    towns = np.array(["FRA", "PSE", "ISR", "ITA", "KHM", "KHM", "THA", "PSE"], dtype=object)
    r = dq.disagreement_reasons(t, nearest_place_iso3=towns)
    assert list(r.index) == list(t.index)
    assert r.tolist() == [
        dq.REASONS[0],  # no country
        dq.REASONS[1],  # Palestine / Israel
        dq.REASONS[1],  # the other way round
        dq.REASONS[1],  # the Vatican
        dq.REASONS[2],  # town within 10 km, in the authors' country
        dq.REASONS[3],  # town in the authors' country but 12 km away
        dq.REASONS[3],  # town close but elsewhere
        dq.REASONS[3],  # both codes ISR: not the disputed pair
    ]
    with pytest.raises(ConfigError, match="nearest towns"):
        dq.disagreement_reasons(t, nearest_place_iso3=towns[:3])


def test_disagreement_reasons_match_the_row_by_row_rules():
    # real coordinates around borders (Cambodia/Thailand, Israel/West Bank, Rome/Vatican) and in the sea
    t = pd.DataFrame(
        {
            "lat": [13.66, 13.40, 31.90, 41.9029, 41.90, 40.0, 49.0],
            "lon": [102.56, 102.98, 35.20, 12.4534, 12.50, -30.0, 8.2],
            "iso3": ["KHM", "THA", "PSE", "ITA", "ITA", "PRT", "DEU"],
            "geo_iso3": ["THA", "KHM", "ISR", "VAT", "FRA", "", "FRA"],
            "geo_place_km": [3.0, 4.0, 2.0, 0.5, 30.0, 900.0, 5.0],
        }
    )
    assert dq.disagreement_reasons(t).tolist() == _reason_row_by_row(t)
    assert dq.disagreement_reasons(t.iloc[:0]).tolist() == []


def test_label_agreement_on_known_points():
    t = dq.label_agreement(_points().iloc[[0, 3]], tolerance_km=25.0, border_km=2.0)
    assert t["geo_sovereign_iso3"].tolist() == ["FRA", "DEU"] and t["agree"].all()
    assert t["reason"].tolist() == ["", ""]
    wrong = _points().iloc[[0, 3]].assign(iso3=["DEU", "DEU"], label=["Germany", "Germany"])
    sea = pd.DataFrame(
        {"image_id": ["s"], "lat": [40.0], "lon": [-30.0], "label": ["Portugal"], "iso3": ["PRT"]}
    )
    t = dq.label_agreement(pd.concat([wrong, sea]), tolerance_km=25.0, border_km=2.0)
    assert t["agree"].tolist() == [False, True, False]
    assert t["reason"].tolist()[2] == dq.REASONS[0]
    pairs = dq.disagreement_pairs(t)
    assert pairs["photos"].sum() == 2 and set(pairs["reason"]) <= set(dq.REASONS)
    s = dq.agreement_summary(t, pairs)
    assert s["n_disagree"] == 2 and s["agree"] == pytest.approx(1 / 3)
    assert s["n_reason_none"] == 1 and s["n_within"] + s["n_nearest"] + s["n_border"] + s["n_none"] <= 3
    per = dq.agreement_by_country(t).set_index("label")["agreement"].to_dict()
    assert per == {"Germany": 0.5, "Portugal": 0.0}


def test_agreement_summary_without_disagreements():
    t = pd.DataFrame(
        {
            "agree": [True, True],
            "geo_iso3": ["FRA", "HKG"],
            "iso3": ["FRA", "CHN"],
            "geo_method": ["within", "nearest"],
            "reason": ["", ""],
            "label": ["France", "China"],
        }
    )
    s = dq.agreement_summary(t, dq.disagreement_pairs(t))
    assert s["agree"] == 1.0 and s["agree_iso"] == 0.5 and s["n_disagree"] == 0
    assert (s["top_gold"], s["top_n"]) == ("", 0)
    assert (s["n_within"], s["n_nearest"]) == (1, 1)


def test_headline_text():
    t = pd.DataFrame(
        {
            "distinct_place": [True, False, True],
            "agree": [True, True, False],
            "geo_method": ["within", "nearest", "within"],
        }
    )
    assert dq.headline(t, 1.0) == (
        "photos: 3, distinct places (1 km rule): 2\n"
        "offline country = authors' label: 66.67% (2 of 3)\n"
        "photos by geocoding method: within 2, nearest 1"
    )  # counts in words, most first, not a raw dict


def test_filtered_set_numbers_and_missing_sentence():
    full = pd.DataFrame({"image_id": list("abcdef"), "label": ["X", "X", "Y", "Y", "Z", "Z"]})
    filt = pd.DataFrame({"image_id": list("agh"), "label": ["X", "X", "Y"]})
    spread = pd.DataFrame({"label": ["X", "Y", "Z"], "distinct_places": [2, 2, 1]})
    n = dq.filtered_set_numbers(full, filt, spread)
    assert (n["filt_images"], n["filt_countries"], n["filt_shared"], n["filt_missing"]) == (3, 2, 1, 1)
    assert n["filt_per_country"] == "1 to 2 from each" and n["filt_missing_names"] == "Z"
    assert n["filt_missing_places"] == 1 and n["filt_kept_places"] == 2
    assert (
        "1 country of `country100` is missing from it, and in `country100` it has a median of 1"
        in n["filt_sentence"]
    )
    assert "(chance 1/2)" in n["filt_caveat"] and n["filt_caveat"].endswith(
        "the 1 country it lacks include Z."
    )
    none = dq.filtered_set_numbers(full, full)
    assert (
        none["filt_missing"] == 0
        and none["filt_missing_names"] == "none"
        and "missing" not in none["filt_sentence"]
    )
    assert np.isnan(none["filt_missing_places"])
    assert dq.missing_sentence([]).startswith("every one of the experiment's countries")
    assert (
        dq.missing_sentence(["DEU"])
        == "one of the experiment's countries, Germany, is in no region of the list used"
    )
    assert dq.missing_sentence(["DEU", "FRA"]).startswith(
        "2 of the experiment's countries, Germany and France, are"
    )
    assert (
        dq.missing_sentence(["DEU", "FRA", "ITA", "ESP"])
        == "4 of the experiment's countries are in no region of the list used"
    )


def test_climate_counts_and_balance():
    clim = dq.climate_counts(["Cfb", "Cfb", "Af", "Cfb", "ET"])
    assert clim["code"].tolist() == ["Cfb", "Af", "ET"] and clim["photos"].tolist() == [3, 1, 1]
    assert clim["group"].tolist() == ["Temperate", "Tropical", "Polar"]
    s = dq.climate_summary(clim)
    assert s["n_climates"] == 3 and s["top_climate"] == "Cfb"
    assert s["top_climate_share"] == pytest.approx(0.6) and s["polar_share"] == pytest.approx(0.2)
    # 0.6 >= 2 / 3? no: roughly balanced; the threshold is twice the even share
    assert dq.climate_balance_sentence(s).startswith("Climate classes are roughly balanced")
    assert dq.climate_balance_sentence({"n_climates": 4, "top_climate_share": 0.5}).startswith(
        "Climate classes are far from balanced"
    )
    assert dq.climate_balance_sentence({"n_climates": 4, "top_climate_share": 0.49}).startswith(
        "Climate classes are roughly"
    )


def test_region_taxonomies_counts_match_the_table():
    numbers, table = dq.region_taxonomies(["FRA", "DEU", "XKX"])
    cmp = geo.compare_region_maps().countries
    assert len(table) == int(((cmp["n_a"] != 1) | (~cmp["same"])).sum())
    assert list(table.columns) == ["country", "country_to_region", "region_to_country", "UN sub-region"]
    assert numbers["n_overlap_a"] == int((cmp["n_a"] > 1).sum())
    assert numbers["n_un_sub"] == 2  # Western Europe, Southern Europe (Kosovo)
    assert all(isinstance(v, int) for k, v in numbers.items() if k != "missing_a_words")
    # Germany is in no region of the list the region runs used: named, not only counted
    assert numbers["n_missing_a"] == 1
    assert (
        numbers["missing_a_words"]
        == "one of the experiment's countries, Germany, is in no region of the list used"
    )


def _agreement(share, border=0, disputed=0, none=0):
    return {
        "agree": share,
        "n_disagree": border + disputed + none,
        "n_reason_border": border,
        "n_reason_disputed": disputed,
        "n_reason_none": none,
    }


def test_summary_sentence_is_worded_by_the_numbers():
    equal, unequal = {"equal": True}, {"equal": False}
    handful, spread_out = {"n_under_10": 9}, {"n_under_10": 0}
    s = dq.summary_sentence(equal, handful, _agreement(0.986, border=140, disputed=20, none=5))
    assert s.startswith("The photos cover many countries evenly by count but not by place")
    assert (
        "for nearly every photo; the few differences sit on borders and in disputed territory, not in the bulk"
        in s
    )
    s = dq.summary_sentence(unequal, spread_out, _agreement(0.7, none=50, border=5))
    assert "unevenly by count, though every country has at least ten" in s
    assert "for most photos; the differences sit off every polygon (small islands)." in s and "bulk" not in s
    s = dq.summary_sentence(equal, spread_out, _agreement(0.4, border=10, disputed=10, none=10))
    assert "fewer than half of the photos" in s
    assert "on borders, in disputed territory and off every polygon" in s
    assert dq.summary_sentence(equal, handful, _agreement(1.0)).endswith("there are no differences.")
