"""The published book: repository setting, CI workflow, bibliography, citation file, axe-core pin."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(ROOT.glob("book/*.md"))
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"
TEST_WORKFLOW = ROOT / ".github" / "workflows" / "test.yml"
REQUIRED_WORKS = {
    "geoguessr_ai_paper",
    "geoguessr_ai_repo",
    "radford2021clip",
    "muellerbudack2018geoestimation",
    "schuhmann2021laion400m",
    "rubel2017koppen",
    "astruc2024osv5m",
    "vivanco2023geoclip",
    "haas2023streetclip",
    "haas2024pigeon",
}
CITE = re.compile(r"\{cite(?::[pt])?\}`([^`]+)`")


def _config():
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def _bib_keys() -> set[str]:
    return set(re.findall(r"^@\w+\{([^,]+),", (ROOT / "references.bib").read_text(), flags=re.M))


def test_repository_address_is_one_setting():
    cfg = _config()
    url = cfg["repository"]["url"]
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url)
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["repository-code"] == url, "CITATION.cff and _config.yml must name the same repository"
    assert cfg["html"]["use_repository_button"] is True
    launch = cfg["launch_buttons"]
    assert launch["binderhub_url"] and launch["colab_url"], "Binder and Colab launch buttons"
    assert cfg["repository"]["path_to_book"] == "", "launch buttons open book/<chapter>.ipynb at the root"
    for md in CHAPTERS:
        assert md.with_suffix(".ipynb").is_file(), "launch buttons need the committed notebook"


def _first_code_cell(md: Path):
    import jupytext

    return next(c for c in jupytext.read(md).cells if c.cell_type == "code")


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_colab_cell_installs_the_package_only_where_it_is_missing(md, monkeypatch):
    """The Colab button opens book/<chapter>.ipynb in a kernel without the package: the chapter's first code
    cell (hidden from the book) installs it from the repository of _config.yml, and does nothing where the
    package is importable (every normal run)."""
    import subprocess
    import sys
    import tomllib

    cell = _first_code_cell(md)
    import jupytext

    installs = [
        c for c in jupytext.read(md).cells if c.cell_type == "code" and '"pip", "install"' in c.source
    ]
    assert [c.source for c in installs] == [cell.source], f"{md.name}: one install cell, the first code cell"
    assert cell.metadata.get("tags") == ["remove-cell"], (
        f"{md.name}: the install cell is hidden from the book"
    )
    url = _config()["repository"]["url"]
    assert f'url = "{url}"' in cell.source, f"{md.name}: install from _config.yml's repository.url"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "geoclip-utils" and "book" in project["optional-dependencies"]
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda args, **kw: calls.append((args, kw)))
    exec(compile(cell.source, md.name, "exec"), {})
    assert calls == [], "a kernel with the package installs nothing"
    monkeypatch.setitem(sys.modules, "geoclip_utils", None)  # import geoclip_utils -> ModuleNotFoundError
    exec(compile(cell.source, md.name, "exec"), {})
    ((args, kw),) = calls
    assert args == [sys.executable, "-m", "pip", "install", "-q", f"geoclip-utils[book] @ git+{url}"]
    assert kw == {"check": True}, "a failed install stops the notebook"


def test_workflow_builds_on_pull_requests_and_deploys_main_to_pages():
    wf = yaml.safe_load(WORKFLOW.read_text())
    on = _triggers(wf)
    assert on["push"]["branches"] == ["main"] and "pull_request" in on
    build = wf["jobs"]["build"]
    runs = [s.get("run", "") for s in build["steps"]]
    assert "make setup" in runs and "make book" in runs, "the README's setup and build"
    html = re.search(r"^HTML\s*:=\s*\$\(SITE\)/(\S+)", (ROOT / "Makefile").read_text(), flags=re.M).group(1)
    site = re.search(r"^SITE\s*:=\s*(\S+)", (ROOT / "Makefile").read_text(), flags=re.M).group(1)
    uploads = {s["uses"].split("@")[0]: s for s in build["steps"] if "uses" in s}
    for action in ("actions/upload-pages-artifact", "actions/upload-artifact"):
        assert uploads[action]["with"]["path"] == f"{site}/{html}", action
    assert "pull_request" in uploads["actions/upload-artifact"]["if"]
    deploy = wf["jobs"]["deploy"]
    assert deploy["needs"] == "build" and "refs/heads/main" in deploy["if"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["steps"][-1]["uses"].startswith("actions/deploy-pages@")


def _triggers(wf: dict) -> dict:
    return wf[True] if True in wf else wf["on"]  # YAML 1.1 reads the key `on` as True


def test_test_workflow_runs_the_readme_test_command_on_pull_requests_and_main():
    wf = yaml.safe_load(TEST_WORKFLOW.read_text())
    on = _triggers(wf)
    assert on["push"]["branches"] == ["main"] and "pull_request" in on
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"^(make \w+)\s+# everything CI runs", readme, flags=re.M).group(1)
    test = wf["jobs"]["test"]
    runs = [s.get("run", "") for s in test["steps"]]
    assert command == "make test" and command in runs, "the README's test command"
    assert runs.index("make setup") < runs.index("make test")
    # Debian's chromium and chromedriver (the browser check), npm for axe-core's `npm ci`
    system = next(r for r in runs if "apt-get install" in r)
    packages = set(system.split())
    assert {"chromium", "chromium-driver", "npm", "python3.11", "python3.11-venv", "make"} <= packages
    assert "make setup-axe" in runs and "npm ci" in (ROOT / "Makefile").read_text()
    assert test["container"]["image"].startswith("debian:") and test["runs-on"].startswith("ubuntu-")
    # the quick job: the README's setup, then make check
    check_runs = [s.get("run", "") for s in wf["jobs"]["check"]["steps"]]
    assert "make setup" in check_runs and "make check" in check_runs


@pytest.mark.parametrize("path", sorted((ROOT / ".github" / "workflows").glob("*.yml")), ids=lambda p: p.name)
def test_workflow_caches_are_keyed_by_files_that_exist(path):
    """A key hashing a file that moved never changes (hashFiles of nothing is empty): every file a key
    hashes exists, and the data cache is keyed by the registry of the authors' files."""
    text = path.read_text()
    hashed = re.findall(r"hashFiles\(([^)]*)\)", text)
    assert hashed
    for args in hashed:
        for name in re.findall(r"'([^']+)'", args):
            assert (ROOT / name).is_file(), f"{path.name}: hashFiles('{name}'): no such file"
    wf = yaml.safe_load(text)
    data = [
        s["with"]
        for job in wf["jobs"].values()
        for s in job["steps"]
        if s.get("uses", "").startswith("actions/cache@") and "~/.cache/geoclip" in s["with"]["path"].split()
    ]
    assert data and all("geoclip_utils/resources/registry.tsv" in d["key"] for d in data)
    # the prepared geo structures are not cached with the downloads (they record their own settings)
    assert all("!~/.cache/geoclip/prepared" in d["path"].split() for d in data)
    # the comment names the validator make lint runs
    assert "actionlint" not in text and "check-jsonschema" in text


def test_make_lint_validates_every_workflow():
    make = (ROOT / "Makefile").read_text()
    line = next(x for x in make.splitlines() if "vendor.github-workflows" in x)
    pattern = line.split()[-1]
    assert pattern == ".github/workflows/*.yml"
    assert {p.name for p in ROOT.glob(pattern)} >= {"book.yml", "test.yml"}


def test_bibliography_has_every_work_and_chapters_cite_only_known_keys():
    keys = _bib_keys()
    assert REQUIRED_WORKS <= keys, sorted(REQUIRED_WORKS - keys)
    cited = set()
    for md in CHAPTERS:
        text = md.read_text()
        found = {k.strip() for group in CITE.findall(text) for k in group.split(",")}
        unknown = found - keys
        assert not unknown, f"{md.name} cites keys missing from references.bib: {sorted(unknown)}"
        cited |= found
    assert keys <= cited, f"works in references.bib that no chapter cites: {sorted(keys - cited)}"


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_ends_with_resources_and_references(md):
    text = md.read_text()
    assert CITE.search(text), f"{md.name} cites nothing"
    tail = text.split("## Resources and references", 1)
    assert len(tail) == 2, f"{md.name}: no '## Resources and references' section"
    assert "```{bibliography}" in tail[1] and ":filter: docname in docnames" in tail[1]
    assert "\n## " not in tail[1], f"{md.name}: the references section must be the last one"


def test_bibliography_page_and_appendix_in_toc():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    assert files[-2:] == ["appendix/references", "appendix/reproducibility"]
    assert ":all:" in (ROOT / "appendix" / "references.md").read_text()
    assert not (ROOT / "appendix" / "reproducibility.md").exists(), "generated by `make html`, not committed"


def test_citation_file():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["title"] and cff["authors"] and cff["message"]


def test_axe_core_is_pinned_in_package_and_lock():
    pkg = json.loads((ROOT / "package.json").read_text())
    lock = json.loads((ROOT / "package-lock.json").read_text())
    want = pkg["devDependencies"]["axe-core"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", want), "an exact version"
    assert lock["packages"]["node_modules/axe-core"]["version"] == want
    assert "npm ci" in (ROOT / "Makefile").read_text()
