"""Tests of geoclip_utils.parameters: every chapter's parameters, declared once, checked by one function."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import torch

from geoclip_utils import parameters as P
from geoclip_utils.errors import ConfigError
from geoclip_utils.schema import make_predictions, save_predictions

ROOT = Path(__file__).resolve().parents[1]
_CELL = re.compile(r"```\{code-cell\} ipython3\n((?::[^\n]*\n)*)\n?(.*?)\n```", re.S)


def _cells(chapter: str) -> list[tuple[str, str]]:
    """(options, source) of every code cell of a chapter's MyST source."""
    return _CELL.findall((ROOT / "book" / f"{chapter}.md").read_text(encoding="utf-8"))


def _defaults(chapter: str) -> dict:
    """name -> default of the chapter's parameters cell (plain assignments of literals only)."""
    (source,) = [src for opts, src in _cells(chapter) if re.search(r":tags: \[[^\]]*\bparameters\b", opts)]
    out = {}
    for node in ast.parse(source).body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1, ast.dump(node)
        out[node.targets[0].id] = ast.literal_eval(node.value)
    return out


# --------------------------------------------------------------------------- declarations = parameters cells
def test_every_chapter_with_parameters_is_declared_and_agrees_with_its_parameters_cell():
    with_cell = sorted(
        p.stem for p in (ROOT / "book").glob("*.md") if any("parameters" in o for o, _ in _cells(p.stem))
    )
    assert with_cell == sorted(P.CHAPTERS), "declare every chapter's parameters in geoclip_utils.parameters"
    for chapter, spec in P.CHAPTERS.items():
        cell = _defaults(chapter)
        assert list(cell) == spec.names, chapter  # the same names, in the same order
        (source,) = [
            src for opts, src in _cells(chapter) if re.search(r":tags: \[[^\]]*\bparameters\b", opts)
        ]
        comments = dict(re.findall(r"^(\w+) = .*?  # (.*)$", source, re.M))
        for param in spec.params:
            default = cell[param.name]
            # what the cell's comment says is what the declaration allows
            if param.kind in (int, float):
                assert param.bounds() in comments[param.name], (chapter, param.name, param.bounds())
            for choice in param.choices or ():
                assert f'"{choice}"' in comments[param.name], (chapter, param.name, choice)
            kinds = (int, float) if param.kind is float else param.kind
            assert isinstance(default, kinds) or (default is None and param.optional), (chapter, param.name)
            P.check_value(param, default)  # every default is allowed
        # the cell after the parameters cell is the check cell, and it asks the one module
        cells = [src for _, src in _cells(chapter)]
        check_cell = cells[[i for i, (o, _) in enumerate(_cells(chapter)) if "parameters" in o][0] + 1]
        assert f'parameters.check_notebook("{chapter}", globals())' in check_cell, chapter
        assert "check_" not in check_cell.replace("check_notebook", ""), chapter  # no check of its own


def test_every_chapter_runs_its_checks_on_its_defaults():
    for chapter in P.CHAPTERS:
        P.check(chapter, **_defaults(chapter))


def test_every_parameter_has_a_meaning_and_numbers_have_bounds():
    for spec in P.CHAPTERS.values():
        for p in spec.params:
            assert p.meaning.strip(), (spec.name, p.name)
            if p.kind in (int, float):
                assert p.minimum is not None or p.above is not None, (spec.name, p.name)


# --------------------------------------------------------------------------- values
@pytest.mark.parametrize(
    ("chapter", "change", "message"),
    [
        (
            "calibration",
            {"n_bins": 100_000_000},
            r"^n_bins=100000000 is not allowed: use an integer from 1 to 1000$",
        ),
        (
            "calibration",
            {"n_bins": 0},
            r"^n_bins=0 is not allowed: use an integer from 1 to 1000$",
        ),
        ("countries", {"n_boot": -5}, r"^n_boot=-5 is not allowed: use an integer from 1 to 100000$"),
        (
            "countries",
            {"n_boot": 10**9},
            r"^n_boot=1000000000 is not allowed: use an integer from 1 to 100000$",
        ),
        ("countries", {"n_boot": 10.5}, r"^n_boot=10.5 is not allowed"),
        ("countries", {"n_boot": True}, r"^n_boot=True is not allowed"),
        ("countries", {"seed": -1}, r"^seed=-1 is not allowed: use an integer of at least 0$"),
        (
            "countries",
            {"source": "cloud"},
            r"^source='cloud' is not allowed: choose one of \['paper', 'local'\]",
        ),
        ("countries", {"results_dir": "x"}, r"^results_dir='x' is read only with source='local'"),
        ("countries", {"experiment": 3}, r"^experiment=3 is not allowed: give a string$"),
        (
            "data",
            {"dedupe_km": 0},
            r"^dedupe_km=0 is not allowed: use a number greater than 0 and at most 20015.1$",
        ),
        ("data", {"border_km": float("nan")}, r"^border_km=nan is not allowed"),
        ("data", {"tolerance_km": 1e9}, r"^tolerance_km=1000000000.0 is not allowed: .* at most 20015.1$"),
        ("data", {"dedupe_km": "1"}, r"^dedupe_km='1' is not allowed"),
        (
            "geoestimation",
            {"partitioning": "finest"},
            r"^partitioning='finest' is not allowed: choose one of",
        ),
        ("training_data", {"kind": "words"}, r"^kind='words' is not allowed: .*these two ways only$"),
        ("training_data", {"demo_captions": 10**8}, r"^demo_captions=100000000 is not allowed"),
        ("running_clip", {"workers": -7}, r"^workers=-7 is not allowed: use an integer from -1 to 64$"),
        ("running_clip", {"batch_size": 0}, r"^batch_size=0 is not allowed"),
        (
            "running_at_scale",
            {"n_shards": 200},
            r"^n_shards=200 is not allowed: there are n_images=96 pictures",
        ),
        ("running_at_scale", {"backend": "spark"}, r"^backend='spark' is not allowed: choose one of"),
        ("your_model", {"min_population": 500}, r"^min_population=500 is not allowed: .* at least 15000$"),
        ("your_model", {"top_k": 0}, "^top_k=0"),
        ("your_model", {"threshold_km": 0}, "^threshold_km=0"),
        ("your_model", {"metadata": "meta.csv"}, "leave them empty with benchmark='demo'"),
        ("your_model", {"benchmark": "yfcc4k"}, "benchmark='yfcc4k' needs metadata="),
        ("your_model", {"model_name": "ViT-Z/99"}, r"^model_name='ViT-Z/99' is not allowed: use 'tiny'"),
        ("your_model", {"device": "gpu"}, r"^device='gpu' is not allowed: choose one of \['auto'"),
    ],
)
def test_bad_values_are_one_sentence(chapter, change, message):
    with pytest.raises(ConfigError, match=message) as err:
        P.check(chapter, **(_defaults(chapter) | change))
    assert "\n" not in str(err.value)


def test_undeclared_parameters_are_refused_naming_the_real_ones():
    with pytest.raises(ConfigError) as err:
        P.check("calibration", **_defaults("calibration"), n_bot=5)
    assert str(err.value) == (
        "the calibration chapter has no parameter 'n_bot' (did you mean 'n_boot'?); its parameters are "
        "source, experiment, results_dir, n_bins, n_boot, seed"
    )
    with pytest.raises(ConfigError, match=r"^the data chapter has no parameter 'colour'; its parameters are"):
        P.check("data", colour="red")
    with pytest.raises(ConfigError, match="no parameters are declared for chapter 'nope'"):
        P.check("nope")


# --------------------------------------------------------------------------- the check cell
def test_injected_names_reads_papermills_cell_and_the_parameters_cell_only():
    declared = ["n_boot", "seed"]
    params = "n_boot = 1000  # resamples\nseed = 0\n"
    injected = "# Parameters\nn_bot = 5\nseed = 3\n"
    check = 'from geoclip_utils import parameters\nparameters.check_notebook("x", globals())'
    assert P.injected_names(["", params, injected, check], declared) == ["n_boot", "seed", "n_bot"]
    assert P.injected_names(["", params, check], declared) == ["n_boot", "seed"]
    # a name a reader added to the parameters cell is found too
    assert P.injected_names(["", params + "n_bins = 3\n", check], declared) == ["n_boot", "seed", "n_bins"]
    # cells run before in an interactive session are not parameters: the walk stops at the first other cell
    history = ["", "x = 5", "df = load()", "n_boot = 10", check]
    assert P.injected_names(history, declared) == ["n_boot"]
    assert P.injected_names(["", "x = 5", check], declared) == []
    assert P.injected_names([check], declared) == []


def test_check_notebook_refuses_a_misspelt_parameter_and_checks_the_values():
    defaults = _defaults("calibration")
    params = "".join(f"{k} = {v!r}\n" for k, v in defaults.items())
    check = 'parameters.check_notebook("calibration", globals())'
    ns = dict(defaults, _ih=["", params, "# Parameters\nn_bot = 5\n", check], n_bot=5)
    with pytest.raises(
        ConfigError, match=r"^the calibration chapter has no parameter 'n_bot' \(did you mean"
    ):
        P.check_notebook("calibration", ns)
    ns = dict(defaults, _ih=["", params, "# Parameters\nn_bins = 100000000\n", check], n_bins=100_000_000)
    with pytest.raises(ConfigError, match="^n_bins=100000000 is not allowed"):
        P.check_notebook("calibration", ns)
    P.check_notebook("calibration", dict(defaults, _ih=["", params, check]))
    P.check_notebook("calibration", defaults)  # outside IPython: no history, the values are still checked
    with pytest.raises(ConfigError, match="parameter 'seed' is not set: run the parameters cell first"):
        P.check_notebook("calibration", {k: v for k, v in defaults.items() if k != "seed"})


# --------------------------------------------------------------------------- the registry checks
def test_check_results_dir(tmp_path):
    assert P.check_results_dir(None, "paper") is None
    assert P.check_results_dir(str(tmp_path), "local") == str(tmp_path)
    with pytest.raises(ConfigError, match="read only with source='local'"):
        P.check_results_dir(str(tmp_path), "paper")
    with pytest.raises(ConfigError, match="is not a folder"):
        P.check_results_dir(str(tmp_path / "missing"), "local")


def test_check_experiment_names_the_parameter_and_the_chapter_that_fits(tmp_path):
    with pytest.raises(ConfigError) as err:
        P.check_experiment("US_states_max100", chapter="countries", modes=("flat",), countries=True)
    msg = str(err.value)
    assert "experiment='US_states_max100' is a US state experiment" in msg
    assert "country100" in msg and "below_country chapter analyses it" in msg and "\n" not in msg
    assert P.check_experiment("filtered_country100", modes=("flat",), countries=True).name
    with pytest.raises(ConfigError, match="source='cloud' is not allowed"):
        P.check_experiment("country100", source="cloud")
    with pytest.raises(ConfigError) as err:
        P.check_experiment(
            "nonsense", chapter="prompts", modes=("flat",), countries=True, parameter="standard"
        )
    msg = str(err.value)
    assert msg.startswith("standard='nonsense' is not a registered experiment; the prompts chapter takes [")
    assert "'country100'" in msg and "experiment=" not in msg
    with pytest.raises(ConfigError, match=r"^mixed='US_states_max100' is a US state experiment"):
        P.check_experiment("US_states_max100", modes=("mixed",), countries=True, parameter="mixed")
    with pytest.raises(ConfigError, match=r"^mixed=3 is not allowed"):
        P.check_experiment(3, parameter="mixed")
    assert P.check_experiment("country100_mixedprompt", modes=("mixed",), parameter="mixed").mode == "mixed"
    with pytest.raises(ConfigError, match="no local results at .*my_run.parquet"):
        P.check_experiment("my_run", source="local", results_dir=tmp_path)


def test_countries_experiment(tmp_path):
    ok = _defaults("countries")
    P.check("countries", **(ok | {"experiment": "filtered_country100"}))
    P.check("countries", **(ok | {"experiment": "country100_mixedprompt"}))
    with pytest.raises(ConfigError) as err:
        P.check("countries", **(ok | {"experiment": "US_states_max100"}))
    msg = str(err.value)
    assert msg.startswith(
        "experiment='US_states_max100' is a US state experiment; the countries chapter takes ["
    )
    assert "below_country chapter analyses it" in msg and "Alabama" not in msg
    with pytest.raises(ConfigError, match="is a region experiment"):
        P.check("countries", **(ok | {"experiment": "country100_region"}))
    # unregistered local runs: accepted over a label set of countries, refused otherwise
    df = make_predictions(["1"], ["France"], [("France",)], [(0.9,)], experiment="mine", source="local")
    df.attrs.update(label_set="country100", mode="flat")
    save_predictions(df, tmp_path / "mine.parquet")
    local = ok | {"source": "local", "results_dir": str(tmp_path)}
    P.check("countries", **(local | {"experiment": "mine"}))
    df.attrs.update(label_set="US_states_max100")
    save_predictions(df, tmp_path / "states.parquet")
    with pytest.raises(ConfigError, match=r"^experiment='states': .* holds a US state run"):
        P.check("countries", **(local | {"experiment": "states"}))
    with pytest.raises(ConfigError, match="no local results"):
        P.check("countries", **(local | {"experiment": "absent"}))


def test_calibration_experiment_stores_probabilities():
    ok = _defaults("calibration")
    P.check("calibration", **(ok | {"experiment": "UScity100"}))
    with pytest.raises(ConfigError) as err:
        P.check("calibration", **(ok | {"experiment": "city100"}))
    msg = str(err.value)
    assert msg.startswith("experiment='city100' stores no probabilities; the calibration chapter takes [")
    assert (
        "'country100'" in msg and "'city100'" not in msg.split("takes")[1] and "below_country chapter" in msg
    )
    with pytest.raises(ConfigError, match="no published result file"):
        P.check("calibration", **(ok | {"experiment": "climates30k"}))  # probabilities, but local runs only


def test_climate_experiment(tmp_path):
    ok = _defaults("climate")
    for name in ("country100", "country100_mixedprompt", "filtered_country100"):
        P.check("climate", **(ok | {"experiment": name}))
    with pytest.raises(ConfigError, match="^experiment='climates30k' is not allowed: .*results_dir"):
        P.check("climate", **(ok | {"experiment": "climates30k"}))
    with pytest.raises(ConfigError, match="US state experiment.*below_country chapter analyses it$"):
        P.check("climate", **(ok | {"experiment": "US_states_max100"}))
    with pytest.raises(ConfigError, match="^min_images=0 is not allowed"):
        P.check("climate", **(ok | {"min_images": 0}))
    with pytest.raises(ConfigError, match="no local results"):
        P.check("climate", **(ok | {"source": "local", "results_dir": str(tmp_path)}))
    with pytest.raises(ConfigError, match="^source="):
        P.check("climate", **(ok | {"source": "mine"}))
    with pytest.raises(ConfigError, match="^climate_model='ViT-Z/99' is not allowed: use 'tiny'"):
        P.check("climate", **(ok | {"climate_model": "ViT-Z/99"}))


def test_geoestimation_clip_experiment():
    from geoclip_utils.studies import geoestimation as ge

    ok = _defaults("geoestimation")
    assert ge.clip_experiments() == ["country100", "country100_country_from_region", "country100_mixedprompt"]
    P.check("geoestimation", **(ok | {"partitioning": "coarse", "clip_experiment": "country100_mixedprompt"}))
    with pytest.raises(ConfigError, match="below_country chapter analyses US_states_max100$"):
        P.check("geoestimation", **(ok | {"clip_experiment": "US_states_max100"}))
    with pytest.raises(ConfigError, match="countries chapter analyses filtered_country100$"):
        P.check(
            "geoestimation", **(ok | {"clip_experiment": "filtered_country100"})
        )  # a subset of country100
    with pytest.raises(
        ConfigError, match="^clip_experiment='nope' is not allowed.*country100_mixedprompt'\\]$"
    ):
        P.check("geoestimation", **(ok | {"clip_experiment": "nope"}))


def test_data_label_set():
    assert P.check_label_set(
        "filtered_country100", chapter="data", coordinates=True, countries=True
    ).coordinates
    with pytest.raises(
        ConfigError,
        match=r"^label_set='US_states_max100' has no coordinates; the data chapter takes "
        r"\['country100', 'filtered_country100'\]; the below_country chapter analyses it$",
    ):
        P.check("data", **(_defaults("data") | {"label_set": "US_states_max100"}))
    with pytest.raises(ConfigError, match=r"^label_set='city300' is a set of city labels; this step takes"):
        P.check_label_set("city300", countries=True)
    with pytest.raises(ConfigError, match=r"^label_set='nope' is not a registered label set"):
        P.check_label_set("nope", chapter="data")


def test_experiment_names_one_sentence_each():
    assert P.experiment_names(" country100 ,country100_region") == ["country100", "country100_region"]
    everything = P.experiment_names("all")
    assert "climates30k" in everything and "country100_geoestimation" not in everything
    with pytest.raises(
        ConfigError,
        match=r"^experiments='country100,nope' is not allowed: 'nope' is not registered; use 'all'",
    ):
        P.experiment_names("country100,nope")
    with pytest.raises(ConfigError, match="geoestimation experiment.*the geoestimation chapter analyses it"):
        P.experiment_names("country100_geoestimation")
    with pytest.raises(ConfigError, match="^experiments=' , ' is not allowed"):
        P.experiment_names(" , ")
    with pytest.raises(ConfigError, match="^experiments=3 is not allowed"):
        P.experiment_names(3)


def test_model_device_and_image_checks(tmp_path):
    assert P.check_model_name("tiny") == "tiny" and P.check_model_name("ViT-B/32") == "ViT-B/32"
    ckpt = tmp_path / "m.pt"
    ckpt.write_bytes(b"x")
    assert P.check_model_name(str(ckpt)) == str(ckpt)
    with pytest.raises(ConfigError, match="^climate_model='ViT-Z/99' is not allowed: use 'tiny'"):
        P.check_model_name("ViT-Z/99", parameter="climate_model")
    with pytest.raises(ConfigError, match="^model_name='hf:models/x' is not allowed"):
        P.check_model_name("hf:models/x")  # other backends only where the chapter loads them
    assert P.check_model_name("hf:models/x", backends=True) == "hf:models/x"
    assert P.check_model_name("open_clip:ViT-B-32:random", backends=True)
    with pytest.raises(ConfigError, match="^model_name='hf:' is not allowed"):
        P.check_model_name("hf:", backends=True)
    assert P.check_device("cpu") == "cpu" and P.check_device("auto") == "auto"
    with pytest.raises(ConfigError, match=r"^device='gpu' is not allowed: choose one of \['auto'"):
        P.check_device("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="^device='cuda' is not allowed: that device is not available"):
            P.check_device("cuda")
    P.check_image_source("", "")
    P.check_image_source(str(tmp_path), "")
    with pytest.raises(ConfigError, match="^image_dir='/no/such' is not allowed"):
        P.check_image_source("/no/such", "")
    with pytest.raises(ConfigError, match="^ids_csv='/no/ids.csv' is not allowed: it is not a file"):
        P.check_image_source(str(tmp_path), "/no/ids.csv")
    with pytest.raises(ConfigError, match="without image_dir"):
        P.check_image_source("", str(ckpt))
