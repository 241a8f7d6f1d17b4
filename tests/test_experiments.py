"""Tests of geoclip_utils.experiments: the registry, its schema, the loaders that read it."""

from __future__ import annotations

import textwrap

import pandas as pd
import pytest

from geoclip_utils import data, experiments
from geoclip_utils.errors import ConfigError, DataError


@pytest.fixture
def extra_registry(tmp_path, monkeypatch):
    """Write a user registry file and point GEOCLIP_EXPERIMENTS at it; returns a writer."""

    def write(text: str, name: str = "extra.toml"):
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        monkeypatch.setenv(experiments.ENV_EXTRA, str(path))
        return path

    return write


# --------------------------------------------------------------------------- the packaged registry
def test_every_paper_experiment_is_registered_with_its_mode():
    exps = experiments.experiments()
    assert list(exps)[:5] == [
        "country100",
        "filtered_country100",
        "country100_region",
        "country100_country_from_region",
        "country100_mixedprompt",
    ]
    assert (
        exps["country100_region"].mode == "region"
        and exps["country100_region"].region_map == "country_to_region"
    )
    assert exps["country100_mixedprompt"].region_map == "region_to_country"
    assert exps["climates30k"].mode == "climate" and not exps["climates30k"].published
    assert exps["country100_geoestimation"].mode == "geoestimation"
    assert experiments.get_label_set("US_states_max100").prompt_kind == "state"
    assert experiments.get("city100").top_k == 1 and not experiments.get("city100").probabilities


def test_unknown_names_list_the_known_ones():
    with pytest.raises(ConfigError, match="unknown experiment 'country999'.*country100"):
        experiments.get("country999")
    with pytest.raises(ConfigError, match="unknown label set 'mars100'"):
        experiments.load_labels("mars100")


def test_load_labels_country100_and_climate():
    df = experiments.load_labels("country100")
    assert len(df) == 11500 and df["label"].nunique() == 115
    assert df["iso3"].str.len().eq(3).all()
    assert df.groupby("label").size().eq(100).all()
    clim = experiments.load_labels("climates30k")
    assert {"image_id", "label", "description"} <= set(clim.columns)
    assert clim["label"].str.match(r"^[A-E][A-Za-z]{0,2}$").all()


@pytest.mark.slow
def test_load_results_every_published_experiment():
    sizes = {
        "country100": 11500,
        "filtered_country100": 9700,
        "US_states_max100": 4840,
        "France_states_max100": 1778,
        "UScity100": 7700,
        "city100": 64300,
        "city300": 78300,
    }
    for name, exp in experiments.experiments().items():
        if not exp.published or exp.mode == "geoestimation":
            continue
        df = experiments.load_results(name)
        assert df.attrs["experiment"] == name and df.attrs["source"] == "paper"
        assert df.attrs["k"] == exp.top_k
        assert df["image_id"].is_monotonic_increasing
        if name in sizes:
            assert len(df) == sizes[name]


def test_region_and_two_stage_shapes():

    region = experiments.load_results("country100_region")
    assert "gold_set" in region.columns
    belgium = region[region["gold"] == "Belgium"]["gold_set"].iloc[0]
    assert "western europe" in belgium
    assert (region.loc[region["gold"] == "Germany", "gold_set"].map(len) == 0).all()
    stage2 = experiments.load_results("country100_country_from_region")
    labels = experiments.load_labels("country100").set_index("image_id")["label"]
    assert (stage2["gold"].to_numpy() == labels.loc[stage2["image_id"]].to_numpy()).all()
    assert stage2["stage1_region"].iloc[0] in data.load_region_map("country_to_region")


def test_country_experiments_carry_iso3():
    df = experiments.load_results("country100")
    assert df["gold_iso3"].str.len().eq(3).all() and df["pred_iso3"].str.len().eq(3).all()
    assert "gold_iso3" not in experiments.load_results("US_states_max100").columns


def test_coordinates_and_counts_come_from_the_registry():
    coords = experiments.load_coordinates("country100")
    assert len(coords) == 11500 and {"lat", "lon", "label", "iso3"} <= set(coords.columns)
    # the coordinate file covers the country100 images: only some of the filtered set's images are among them
    assert 0 < len(experiments.load_coordinates("filtered_country100")) < 9700
    with pytest.raises(ConfigError, match="has no coordinates"):
        experiments.load_coordinates("city100")
    tok = experiments.label_counts("US_states_max100", "tokens")
    assert tok["count"].gt(0).all() and len(tok) >= 50
    with pytest.raises(ConfigError, match="no tokens label counts for 'UScity100'"):
        experiments.label_counts("UScity100", "tokens")


def test_unusable_requests_are_one_sentence():
    with pytest.raises(ConfigError, match="unknown source"):
        experiments.load_results("country100", source="cloud")
    with pytest.raises(ConfigError, match="published no result file"):
        experiments.load_results("climates30k")
    with pytest.raises(ConfigError, match="coordinates, not labels"):
        experiments.load_results("country100_geoestimation")


def test_describe_lists_images_and_classes():
    t = experiments.describe().set_index("experiment")
    assert t.loc["country100", "images"] == 11500 and t.loc["country100", "classes"] == 115
    assert t.loc["city300", "classes"] == 261 and t.loc["country100_region", "mode"] == "region"


# --------------------------------------------------------------------------- user registry files
def test_a_user_registry_adds_an_experiment(extra_registry, tmp_path):
    gold = tmp_path / "gold.csv"
    pd.DataFrame({"image_id": ["a", "b"], "label": ["France", "Spain"]}).to_csv(gold, index=False)
    extra_registry(
        """
        [label_sets.toy]
        place = "country"
        prompt_kind = "country"
        gold = "gold.csv"
        countries = true

        [experiments.toy]
        label_set = "toy"
        mode = "flat"
        prompt = "paper"
        chapter = "countries"
        """
    )
    exp = experiments.get("toy")
    assert exp.labels.local and exp.labels.gold == str(gold)
    assert experiments.load_labels("toy")["iso3"].tolist() == ["FRA", "ESP"]
    assert "toy" in experiments.describe()["experiment"].tolist()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[experiments.country100]\nlabel_set='country100'\nmode='flat'\nprompt='paper'\n",
            "already defined",
        ),
        (
            "[experiments.x]\nlabel_set='nope'\nmode='flat'\nprompt='paper'\n",
            "label set 'nope' is not defined",
        ),
        ("[experiments.x]\nlabel_set='country100'\nmode='sideways'\nprompt='paper'\n", "mode 'sideways'"),
        ("[experiments.x]\nlabel_set='country100'\nmode='region'\nprompt='region'\n", "needs a region_map"),
        ("[experiments.x\n", "not valid TOML"),
        ("[models.x]\n", "unknown sections"),
        # the schema: types, required keys, unknown keys; each message names the file, the entry and the key
        (
            "[label_sets.toy]\nplace='country'\nprompt_kind='country'\ngold='g.csv'\ncountries='false'\n",
            r"label set 'toy': countries must be true or false \(TOML booleans, without quotes\), got 'false'",
        ),
        (
            "[experiments.x]\nlabel_set='country100'\nmode='flat'\nprompt='paper'\ntop_k=true\n",
            r"experiment 'x': top_k must be an integer \(without quotes\), got True",
        ),
        (
            "[experiments.x]\nlabel_set='country100'\nmode='flat'\nprompt='paper'\ntop_k='5'\n",
            "experiment 'x': top_k must be an integer",
        ),
        (
            "[experiments.x]\nlabel_set='country100'\nprompt='paper'\n",
            r"experiment 'x': missing key 'mode' \(required: label_set, mode, prompt\)",
        ),
        (
            "[label_sets.toy]\nplace='country'\ngold='g.csv'\n",
            "label set 'toy': missing key 'prompt_kind'",
        ),
        (
            "[experiments.x]\nlabel_set='country100'\nmode='flat'\nprompt='paper'\nchapter=3\n",
            "experiment 'x': chapter must be a string",
        ),
        (
            "[label_sets.toy]\nplace='c'\nprompt_kind='c'\ngold='g.csv'\ncounts={substring=5}\n",
            "label set 'toy': counts must be a table of strings",
        ),
        (
            "[experiments.x]\nlabel_set='country100'\nmode='flat'\nprompt='paper'\ncolour='red'\n",
            "experiment 'x': unknown key 'colour'; known keys: \\['chapter', 'description'",
        ),
        ("label_sets = 5\n", "label_sets is not a table"),
        ("[experiments]\nx = 5\n", r"experiment 'x' is not a table: write \[experiments.x\]"),
    ],
)
def test_bad_user_registries_are_refused(extra_registry, text, message):
    path = extra_registry(text)
    with pytest.raises(ConfigError, match=message) as err:
        experiments.experiments()
    assert str(err.value).startswith(f"{path}: ") and "\n" not in str(err.value)


def test_a_user_registry_that_is_not_utf8_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "latin1.toml"
    path.write_bytes("[label_sets.x]\nplace = 'Zürich'\n".encode("latin-1"))
    monkeypatch.setenv(experiments.ENV_EXTRA, str(path))
    with pytest.raises(ConfigError, match=rf"registry file {path} is not UTF-8 text \(byte 0xfc on line 2\)"):
        experiments.experiments()
    monkeypatch.setenv(experiments.ENV_EXTRA, str(tmp_path))
    with pytest.raises(ConfigError, match="is a folder, not a file"):
        experiments.experiments()


def test_every_registry_field_has_a_schema_type():
    """A field added to a record is type-checked like the others (its type has registry words)."""
    import dataclasses
    from typing import get_type_hints

    for cls in (experiments.LabelSet, experiments.Experiment):
        hints = get_type_hints(cls)
        for f in dataclasses.fields(cls):
            assert experiments._type_words(hints[f.name]), (cls, f.name)


def test_missing_user_registry_file(monkeypatch, tmp_path):
    monkeypatch.setenv(experiments.ENV_EXTRA, str(tmp_path / "absent.toml"))
    with pytest.raises(ConfigError, match="absent.toml does not exist"):
        experiments.get("country100")


def test_local_gold_file_must_exist(extra_registry):
    extra_registry(
        """
        [label_sets.ghost]
        place = "city"
        prompt_kind = "city"
        gold = "nowhere.csv"
        """
    )
    with pytest.raises(DataError, match="nowhere.csv does not exist"):
        experiments.load_labels("ghost")


def test_a_city_run_is_a_field_of_its_label_set():
    sets = experiments.label_sets()
    assert [n for n, s in sets.items() if s.cities] == ["UScity100", "city100", "city300"]
    assert {n: s.in_country for n, s in sets.items() if s.in_country} == {"UScity100": "US"}
    assert not sets["country100"].cities and sets["country100"].in_country == ""


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("cities=true\nin_country='us'\n", r"in_country 'us' must be an ISO-2 country code such as \"US\""),
        ("in_country='US'\n", "in_country is for city label sets; add cities = true or drop it"),
        ("cities='yes'\n", r"cities must be true or false \(TOML booleans, without quotes\), got 'yes'"),
    ],
)
def test_bad_city_fields_are_refused(extra_registry, fields, message):
    path = extra_registry("[label_sets.towns]\nplace='town'\nprompt_kind='town'\ngold='g.csv'\n" + fields)
    with pytest.raises(ConfigError, match=message) as err:
        experiments.label_sets()
    assert str(err.value).startswith(f"{path}: label set 'towns': ") and "\n" not in str(err.value)
