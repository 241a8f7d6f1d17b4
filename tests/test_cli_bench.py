"""`geoclip bench …` options: every one checked before any work starts (one line, exit status 2)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from geoclip_utils.cli import app

runner = CliRunner()


@pytest.fixture
def no_bench_runs(monkeypatch):
    """Every benchmark replaced by one that fails the test: a refused option must stop before it."""
    from geoclip_utils.bench import captions, geocode, inference, scale

    def ran(*args, **kwargs):
        raise AssertionError("the benchmark started although an option was refused")

    monkeypatch.setattr(inference, "run_inference_benchmark", ran)
    monkeypatch.setattr(scale, "run_scale_benchmark", ran)
    monkeypatch.setattr(captions, "run_caption_benchmark", ran)
    monkeypatch.setattr(geocode, "run", ran)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["inference", "--n-images", "0"], "--n-images"),
        (["inference", "--n-images", "100000"], "--n-images"),
        (["inference", "--batch-size", "0"], "--batch-size"),
        (["inference", "--threads", "0"], "'--threads': 0 is not a number of threads"),
        (["inference", "--threads", "-3"], "--threads"),
        (["inference", "--workers", "-7"], "--workers"),
        (["inference", "--workers", "1000"], "--workers"),
        (["inference", "--seed-subset", "0"], "--seed-subset"),
        (["inference", "--arch", "bogus"], "'--arch': 'bogus' is not an architecture; choose one of"),
        (["scale", "--arch", "tiny", "--arch", "bogus"], "'--arch': 'bogus' is not an architecture"),
        (["scale", "--n-images", "8", "--n-shards", "9"], "9 shards for 8 images"),
        (["scale", "--batch-size", "0"], "--batch-size"),
        (["captions", "--n-captions", "0"], "--n-captions"),
        (["captions", "--workers", "0"], "--workers"),
        (["captions", "--place-rate", "0.9"], "--place-rate"),
        (["geocode", "--seed", "-1"], "--seed"),
        (["geocode", "--repeat", "0"], "--repeat"),
        (["geocode", "--n-random", "-5"], "--n-random"),
    ],
)
def test_bad_options_stop_before_any_work(no_bench_runs, args, needle):
    res = runner.invoke(app, ["bench", *args, "--json"])
    assert res.exit_code == 2, (args, res.output)
    assert res.stderr.startswith("error: ") and needle in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.output
