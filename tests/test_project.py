"""The project's own consistency: environment files, notebook pairs, committed outputs, the toc."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(ROOT.glob("book/*.md"))
_spec = importlib.util.spec_from_file_location("nbtools", ROOT / "tools/nbtools.py")
nbtools = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nbtools)


def _pyproject():
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[; ]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_matches_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    extras = re.search(r"\[(.*)\]", (ROOT / "Makefile").read_text().split('-e ".', 1)[1]).group(1)
    assert f"-e .[{extras}]" in pip, "environment.yml installs the package with the Makefile's extras"
    py = next(d for d in deps if isinstance(d, str) and d.startswith("python"))
    assert py == "python=3.11"
    pins = {_name(x): x for x in pip if not x.startswith("-")}
    # torch pins in environment.yml and the Makefile agree with constraints.txt
    constraints = {
        _name(x): x
        for x in (ROOT / "constraints.txt").read_text().splitlines()
        if x and not x.startswith("#")
    }
    for pkg in ("torch", "torchvision", "setuptools"):
        assert pins[pkg].replace(" ", "") == constraints[pkg], pkg
    assert "torch==2.14.1 torchvision==0.29.1" in (ROOT / "Makefile").read_text()


def test_constraints_cover_every_dependency():
    proj = _pyproject()["project"]
    reqs = proj["dependencies"] + sum(proj["optional-dependencies"].values(), [])
    constraints = {
        _name(x) for x in (ROOT / "constraints.txt").read_text().splitlines() if x and not x.startswith("#")
    }
    missing = sorted({_name(r) for r in reqs} - constraints)
    assert not missing, f"pin these in constraints.txt: {missing}"


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_pair_in_sync_and_stripped(md):
    import jupytext

    nb_path = md.with_suffix(".ipynb")
    assert nb_path.exists(), f"{nb_path.name} missing: run `make sync`"
    from_md = jupytext.read(md)
    committed = nbformat.read(nb_path, as_version=4)
    src_md = [c.source for c in from_md.cells]
    src_nb = [c.source for c in committed.cells]
    assert src_md == src_nb, f"{nb_path.name} is out of date with {md.name}: run `make sync`"
    params = [c for c in committed.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == (0 if md.stem == "intro" else 1), "one cell tagged `parameters` per chapter"
    for c in committed.cells:
        if c.cell_type == "code" and not nbtools.is_headline(c):
            assert not c.outputs, (
                f"{nb_path.name}: output committed outside a headline cell: {c.source[:50]!r}"
            )


def test_headline_cells_have_stored_outputs():
    for md in CHAPTERS:
        nb = nbformat.read(md.with_suffix(".ipynb"), as_version=4)
        for c in nb.cells:
            if nbtools.is_headline(c):
                assert c.outputs, f"{md.stem}: headline cell without stored output (run `make book headline`)"
                assert c.metadata.get("keep_output") is True, (
                    f"{md.stem}: headline cell lacks keep_output (make sync)"
                )


def test_toc_lists_every_chapter():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = {toc["root"]} | {c["file"] for part in toc["parts"] for c in part["chapters"]}
    assert {f for f in files if f.startswith("book/")} == {f"book/{p.stem}" for p in CHAPTERS}


def test_no_typed_percentages_in_prose():
    """Numbers in chapter prose come from glue: no literal percentages outside code cells."""
    for md in CHAPTERS:
        text = md.read_text()
        prose = re.sub(r"```.*?```", "", text, flags=re.S)
        prose = re.sub(r"\{glue:\w*\}`[^`]*`", "", prose)  # computed values
        prose = re.sub(r"95\s?%", "", prose)  # the confidence level is a choice, not a result
        hits = re.findall(r"(?<![\w.])\d+(?:\.\d+)?\s?%", prose)
        assert not hits, f"{md.name}: typed numbers in prose {hits}; glue them"


_REPO_PATH = re.compile(
    r"(?<![\w/.])((?:geoclip_utils|data|tools|book|appendix|jobs|tests|docs)/[\w.*/-]+[\w*])"
)


def test_paths_named_in_prose_exist():
    """A file the chapters, the bibliography or the reproducibility appendix point a reader to exists (the
    registry moved from data/ to geoclip_utils/resources/ once and the notes kept the old path)."""
    sources = [
        *CHAPTERS,
        *ROOT.glob("appendix/*.md"),
        ROOT / "references.bib",
        ROOT / "geoclip_utils/provenance.py",
    ]
    missing = []
    for path in sources:
        text = path.read_text()
        if path.suffix == ".md":
            text = re.sub(r"```.*?```", "", text, flags=re.S)  # commands with example paths
        for name in _REPO_PATH.findall(text):
            if not any(c in name for c in "{<") and not list(ROOT.glob(name)):
                missing.append(f"{path.relative_to(ROOT)}: {name}")
    assert not missing, missing


def test_no_signed_percentages_in_prose():
    """A difference of two shares is written in percentage points (``{glue:text}`x_pts:+z.1f` points``), never
    as a signed percentage (``:+.1%``)."""
    for md in CHAPTERS:
        hits = re.findall(r"\{glue:text\}`[^`]*:[+-][^`]*%`", md.read_text())
        assert not hits, f"{md.name}: differences of shares written as percentages {hits}; write points"


def test_makefile_help_lists_targets():
    text = (ROOT / "Makefile").read_text()
    for target in ("help", "setup", "book", "test", "clean"):
        assert re.search(rf"^{target}:.*## ", text, flags=re.M), target


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_papermill_parses_every_parameter(md):
    """papermill must understand each parameter line (a stray `=` in a comment breaks its parser)."""
    from papermill.translators import PythonTranslator

    nb = nbformat.read(md.with_suffix(".ipynb"), as_version=4)
    for cell in nb.cells:
        if "parameters" in cell.metadata.get("tags", []):
            assigned = [ln for ln in cell.source.splitlines() if re.match(r"^\w+\s*=", ln)]
            parsed = PythonTranslator.inspect(cell)
            assert [p.name for p in parsed] == [ln.split("=")[0].strip() for ln in assigned]
