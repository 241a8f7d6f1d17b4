"""The `geoclip` data and metrics commands (typer CliRunner, and the installed console script once)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from typer.testing import CliRunner

from geoclip_utils.cli import app

runner = CliRunner()


def test_metrics_json_country100():
    r = runner.invoke(
        app, ["metrics", "--experiment", "country100", "--source", "paper", "--json", "--n-boot", "200"]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["n"] == 11500 and out["classes"] == 115
    assert 0 < out["top1"] < out["top5"] < 1
    lo, hi = out["top1_ci95"]
    assert lo < out["top1"] < hi
    assert out["macro_f1_ci95"][0] < out["macro_f1"] < out["macro_f1_ci95"][1]


@pytest.mark.slow
def test_metrics_region_and_city_files():
    r = runner.invoke(app, ["metrics", "--experiment", "country100_region", "--json", "--n-boot", "50"])
    out = json.loads(r.stdout)
    assert out["macro_f1"] is None and "top5" in out and "note" in out
    r = runner.invoke(app, ["metrics", "--experiment", "city300", "--json", "--n-boot", "20"])
    out = json.loads(r.stdout)
    assert "top5" not in out and out["n"] == 78300


def test_metrics_unknown_experiment_exit_2():
    r = runner.invoke(app, ["metrics", "--experiment", "country999"])
    assert r.exit_code == 2
    assert "unknown experiment 'country999'" in r.output


def test_metrics_local_missing_file(tmp_path):
    r = runner.invoke(
        app, ["metrics", "--experiment", "mine", "--source", "local", "--results-dir", str(tmp_path)]
    )
    assert r.exit_code == 2 and "does not exist" in r.output


def test_compare_json():
    r = runner.invoke(
        app, ["compare", "--a", "country100", "--b", "country100_mixedprompt", "--json", "--n-boot", "200"]
    )
    out = json.loads(r.stdout)
    assert set(out) >= {"n", "a_top1", "b_top1", "diff", "diff_ci95", "mcnemar_p"}
    assert out["diff"] == pytest.approx(out["b_top1"] - out["a_top1"])
    assert out["diff_ci95"][0] <= out["diff"] <= out["diff_ci95"][1]
    # like for like: the mixed run answers countries without photos; restricted to the 114 both can answer
    r = out["restricted"]
    assert (r["labels"], r["a_labels"], r["b_labels"], r["b_outside"]) == (114, 115, 167, 1764)
    assert r["b_top1"] == pytest.approx(5724 / 11500) and r["b_ran_out"] > 0 and not r["exact"]
    assert r["diff_bounds"][0] <= r["diff"] <= r["diff_bounds"][1] < 0
    assert r["diff_bounds_ci95"][0] <= r["diff_bounds"][0] and r["diff_bounds_ci95"][1] >= r["diff_bounds"][1]


def test_compare_region_run_has_no_restricted_block():
    r = runner.invoke(
        app, ["compare", "--a", "country100", "--b", "country100_region", "--json", "--n-boot", "20"]
    )
    assert r.exit_code == 0 and json.loads(r.stdout)["restricted"] is None


def test_compare_city_files_have_no_ids():
    r = runner.invoke(app, ["compare", "--a", "city100", "--b", "city300"])
    assert r.exit_code == 2 and "no image ids" in r.output


def test_fetch_reports(monkeypatch, tmp_path):
    r = runner.invoke(app, ["fetch", "-q", "inputdata/country100.csv", "pickles/country_to_region.json"])
    assert r.exit_code == 0 and "2 of 2 files verified" in r.output
    monkeypatch.delenv("GEOCLIP_DATA_MIRROR")
    monkeypatch.setenv("GEOCLIP_CACHE", str(tmp_path))
    monkeypatch.setenv("GEOCLIP_DATA_URL", "http://127.0.0.1:9")
    r = runner.invoke(app, ["fetch", "-q", "inputdata/country100.csv"])
    assert r.exit_code == 2 and "0 of 1 files verified" in r.output


@pytest.mark.skipif(
    shutil.which("geoclip") is None and not os.path.exists(".venv/bin/geoclip"),
    reason="console script not installed",
)
def test_console_script_exit_status():
    exe = shutil.which("geoclip") or ".venv/bin/geoclip"
    p = subprocess.run([exe, "metrics", "--experiment", "nope"], capture_output=True, text=True)
    assert p.returncode == 2 and p.stderr.startswith("error: unknown experiment")


# --------------------------------------------------------------------------- the error contract
def _one_line_exit_2(r, *needles):
    err = r.stderr.strip()
    assert r.exit_code == 2, (r.exit_code, r.output)
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["metrics", "--experiment", "country100", "--n-boot", "0"], "--n-boot"),
        (["metrics", "--experiment", "country100", "--seed", "-1"], "--seed"),
        (["metrics", "--experiment", "country100", "--n-boot", "many"], "--n-boot"),
        (["compare", "--a", "country100", "--b", "country100_mixedprompt", "--n-boot", "-5"], "--n-boot"),
        (["metrics", "--experiment", "country100", "--bogus"], "No such option: --bogus"),
        (["metrics", "--experiment", "country100_geoestimation", "--source", "local"], "drop --source local"),
        (["metrics", "--experiment", "../../etc/passwd", "--source", "local"], "is not allowed"),
        (["metrics", "--experiment", "climates30k"], "published no result file"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(args, needle):
    _one_line_exit_2(runner.invoke(app, args), needle)


def test_misplaced_download_cache_is_one_line(tmp_path, monkeypatch):
    blocker = tmp_path / "cache"
    blocker.write_text("a file, not a folder")
    monkeypatch.delenv("GEOCLIP_DATA_MIRROR", raising=False)
    monkeypatch.setenv("GEOCLIP_CACHE", str(blocker))
    _one_line_exit_2(runner.invoke(app, ["metrics", "--experiment", "country100"]), "GEOCLIP_CACHE")


def test_experiments_lists_the_registry():
    r = runner.invoke(app, ["experiments"])
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["experiment", "mode", "label"]
    row = next(line for line in lines if line.startswith("country100 "))
    assert row.split()[1:5] == ["flat", "country100", "11500", "115"]
    assert any(line.startswith("climates30k") and "local runs only" in line for line in lines)


def test_the_command_line_starts_without_pandas_or_scipy():
    """``geoclip --help`` and every command's start: the heavy libraries load when a command needs them
    (``import geoclip_utils.geo`` resolves its names on first use)."""
    import sys

    code = (
        "import sys, geoclip_utils.cli, geoclip_utils.geo as g\n"
        "heavy = sorted(m for m in ('pandas', 'scipy', 'geopandas', 'torch') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
        "assert sorted(g._NAMES) == sorted(g.__all__)\n"
        "[getattr(g, name) for name in g.__all__]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
