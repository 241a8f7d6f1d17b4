"""The layers contract (``[tool.importlinter]`` in pyproject.toml, run by ``make lint``): it holds on the
package, and it breaks on a forbidden import, one inside a function included, on a study importing another
study, and on a module that has no place in it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [LINT, "--no-cache", "--no-logo", str(tree / "pyproject.toml")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the package and its contract, to break."""
    shutil.copytree(
        ROOT / "geoclip_utils", tmp_path / "geoclip_utils", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _append(path: Path, code: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + code, encoding="utf-8")


def test_the_package_keeps_its_layers():
    r = _lint(ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Contracts: 2 kept, 0 broken." in r.stdout


def test_make_lint_runs_the_contract():
    lint = (ROOT / "Makefile").read_text().split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "lint-imports" in lint


def test_an_import_inside_a_function_that_points_up_breaks_the_layers(tree):
    assert _lint(tree).returncode == 0  # the copy holds before the change
    _append(
        tree / "geoclip_utils" / "geo" / "matching.py",
        "\n\ndef _up():\n    from ..studies import below_country\n\n    return below_country\n",
    )
    r = _lint(tree)
    assert r.returncode == 1
    assert "Layers: an import only ever points down BROKEN" in r.stdout
    assert "geoclip_utils.geo is not allowed to import geoclip_utils.studies" in r.stdout
    assert "geoclip_utils.geo.matching -> geoclip_utils.studies.below_country" in r.stdout


def test_the_registry_importing_evaluation_breaks_the_layers(tree):
    _append(tree / "geoclip_utils" / "experiments.py", "\nfrom .evaluate import cities  # noqa: E402\n")
    r = _lint(tree)
    assert r.returncode == 1
    assert "geoclip_utils.experiments is not allowed to import geoclip_utils.evaluate" in r.stdout


def test_a_study_importing_another_breaks_their_independence(tree):
    _append(tree / "geoclip_utils" / "studies" / "regions.py", "\nfrom . import countries  # noqa: E402\n")
    r = _lint(tree)
    assert r.returncode == 1
    assert "Studies: no chapter's study imports another's (shared pieces go down) BROKEN" in r.stdout
    assert "- geoclip_utils.studies.regions -> geoclip_utils.studies.countries (l." in r.stdout


def test_a_module_without_a_layer_is_refused(tree):
    (tree / "geoclip_utils" / "newthing.py").write_text('"""A module no layer names."""\n', encoding="utf-8")
    r = _lint(tree)
    assert r.returncode == 1
    assert "geoclip_utils.newthing" in r.stdout


def _cycles(tree: Path) -> list[list[str]]:
    """The import circles of the package in ``tree`` (strongly connected modules, every import counted)."""
    code = (
        "import json, sys, grimp\n"
        "sys.setrecursionlimit(10000)\n"
        "g = grimp.build_graph('geoclip_utils')\n"
        "index, low, stack, on, out = {}, {}, [], set(), []\n"
        "def visit(v):\n"
        "    index[v] = low[v] = len(index); stack.append(v); on.add(v)\n"
        "    for w in g.find_modules_directly_imported_by(v):\n"
        "        if w not in index:\n"
        "            visit(w); low[v] = min(low[v], low[w])\n"
        "        elif w in on:\n"
        "            low[v] = min(low[v], index[w])\n"
        "    if low[v] == index[v]:\n"
        "        c = []\n"
        "        while True:\n"
        "            w = stack.pop(); on.discard(w); c.append(w)\n"
        "            if w == v: break\n"
        "        if len(c) > 1: out.append(sorted(c))\n"
        "for m in sorted(g.modules):\n"
        "    if m not in index: visit(m)\n"
        "print(json.dumps(out))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(r.stdout)


def test_no_module_imports_itself_round_a_circle(tree):
    """Inside a layer too (the contract only orders the top-level packages): no circle such as the old
    engine.shards <-> engine.units, and the check sees one made inside a function."""
    assert _cycles(ROOT) == []
    _append(
        tree / "geoclip_utils" / "engine" / "shards.py",
        "\n\ndef _back():\n    from . import units\n\n    return units\n",
    )
    assert ["geoclip_utils.engine.shards", "geoclip_utils.engine.units"] in _cycles(tree)
