"""The package installs: a wheel built from this checkout carries everything the package reads, and an
installed (not editable) copy answers `geoclip metrics` from another folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Build the wheel from a copy of the sources (the checkout stays free of build folders)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(
        ROOT / "geoclip_utils", src / "geoclip_utils", ignore=shutil.ignore_patterns("__pycache__")
    )
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(src),
        ],
        check=True,
        capture_output=True,
    )
    (whl,) = dist.glob("geoclip_utils-*.whl")
    return whl


@pytest.mark.slow
def test_wheel_ships_package_data_and_every_subpackage(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for f in ("registry.tsv", "experiments.toml", "country_aliases.csv", "koppen.csv", "__init__.py"):
        assert f"geoclip_utils/resources/{f}" in names, f
    assert "geoclip_utils/py.typed" in names
    for sub in ("engine", "evaluate", "geo", "stats", "studies", "captions", "cli", "bench"):
        assert f"geoclip_utils/{sub}/__init__.py" in names, sub
    meta = next(n for n in names if n.endswith("METADATA"))
    text = zipfile.ZipFile(wheel).read(meta).decode()
    assert "Requires-Python: >=3.11\n" in text


@pytest.mark.slow
def test_installed_wheel_runs_metrics_from_another_folder(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = (
        "import sys, geoclip_utils; "
        f"assert geoclip_utils.__file__.startswith({str(target)!r}), geoclip_utils.__file__; "
        "from geoclip_utils.cli import main; sys.argv = ['geoclip'] + sys.argv[1:]; main()"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, "metrics", "--experiment", "country100", "--json", "--n-boot", "50"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["n"] == 11500 and out["classes"] == 115 and abs(out["top1"] - 0.5173913) < 1e-6
    assert not any(elsewhere.iterdir())  # nothing written where it ran
