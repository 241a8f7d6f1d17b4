"""geoclip_utils.evaluate: the labels a run could answer and whether each photo's gold label was among them."""

from __future__ import annotations

from geoclip_utils import data, evaluate, experiments


def test_candidate_labels_follow_the_mode():
    assert evaluate.candidate_labels("country100") == frozenset(
        experiments.load_labels("country100")["label"]
    )
    mixed = evaluate.candidate_labels("country100_mixedprompt")
    assert len(mixed) == 167 and "Moldova" in mixed and "Germany" not in mixed  # no region lists Germany
    two = evaluate.candidate_labels("country100_country_from_region")
    assert "other" in two and len(two) == 168  # the placeholder of the one-country regions
    assert evaluate.candidate_labels("country100_region") == frozenset(
        data.load_region_map("country_to_region")
    )
    # answers are candidates; an unregistered run knows its gold labels and answers only
    from geoclip_utils.schema import make_predictions

    t = make_predictions(["1"], ["A"], [("B", "C")], experiment="mine", source="local")
    assert evaluate.candidate_labels("mine", t) == {"A", "B", "C"}
    assert "B" in evaluate.candidate_labels("country100", t)


def test_gold_candidates_only_for_the_two_stage_run():
    s2 = experiments.load_results("country100_country_from_region")
    ok = evaluate.gold_candidates("country100_country_from_region", s2)
    region_map = data.load_region_map("country_to_region")
    row = s2.iloc[0]
    assert ok.loc[row["image_id"]] == (row["gold"] in region_map[row["stage1_region"]])
    assert not ok[s2["gold"].eq("Germany").to_numpy()].any()  # Germany is in no region
    assert evaluate.gold_candidates("country100", experiments.load_results("country100")) is None
