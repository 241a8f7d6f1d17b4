"""Shared fixtures. The real data come through geoclip_utils.data: CI points GEOCLIP_DATA_MIRROR at
the offline mirror; on a machine with network the files are downloaded into the cache once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_DEFAULT_MIRROR = ROOT.parent / "shared" / "data" / "geoguessr-ai"

# Use the team's offline mirror when it sits beside the checkout and nothing else was configured.
if not os.environ.get("GEOCLIP_DATA_MIRROR") and _DEFAULT_MIRROR.is_dir():
    os.environ["GEOCLIP_DATA_MIRROR"] = str(_DEFAULT_MIRROR)


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "needs_data: reads the authors' files (skipped, with that reason, when GEOCLIP_DATA_MIRROR names no mirror)",
    )


def pytest_runtest_setup(item):
    """The one ``needs_data`` marker: a test that reads the authors' files runs only with a mirror."""
    if item.get_closest_marker("needs_data") and not os.environ.get("GEOCLIP_DATA_MIRROR"):
        pytest.skip("needs GEOCLIP_DATA_MIRROR (the authors' files)")


@pytest.fixture
def no_mirror(monkeypatch, tmp_path):
    """Run with no mirror and an empty, private cache."""
    monkeypatch.delenv("GEOCLIP_DATA_MIRROR", raising=False)
    monkeypatch.setenv("GEOCLIP_CACHE", str(tmp_path / "cache"))
    return tmp_path
