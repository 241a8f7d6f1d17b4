"""geoclip_utils.provenance: the read log behind the reproducibility appendix, and the appendix itself."""

from __future__ import annotations

import nbformat
import pytest

from geoclip_utils import data, provenance


def test_record_read_is_a_no_op_without_the_variable(monkeypatch, tmp_path):
    monkeypatch.delenv(provenance.ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    provenance.record_read("a.csv", "c0ffee", "ab" * 32, 10)
    assert list(tmp_path.iterdir()) == []


def test_record_read_appends_and_read_log_dedupes(monkeypatch, tmp_path):
    log = tmp_path / "ch.files.jsonl"
    monkeypatch.setenv(provenance.ENV, str(log))
    provenance.record_read("b.csv", "c0ffee", "ab" * 32, 10)
    provenance.record_read("a.csv", "c0ffee", "cd" * 32, 5)
    provenance.record_read("b.csv", "c0ffee", "ab" * 32, 10)
    assert len(log.read_text().splitlines()) == 3
    rows = provenance.read_log(log)
    assert [r["path"] for r in rows] == ["a.csv", "b.csv"] and rows[1]["bytes"] == 10
    assert provenance.read_log(tmp_path / "absent.jsonl") == []


def test_read_log_names_a_bad_line(tmp_path):
    log = tmp_path / "x.jsonl"
    log.write_text('{"path": "a"}\nnot json\n')
    with pytest.raises(ValueError, match=r"x.jsonl:2"):
        provenance.read_log(log)


def test_fetch_records_every_file_it_hands_out(monkeypatch, tmp_path):
    log = tmp_path / "fetch.jsonl"
    monkeypatch.setenv(provenance.ENV, str(log))
    path = "inputdata/country100.csv"
    data.fetch(path, progress=False)
    (row,) = provenance.read_log(log)
    entry = data.registry()[path]
    assert row == {"path": path, "commit": entry.commit, "bytes": entry.size, "sha256": entry.sha256}


def _executed(tmp_path, injected: str | None = None):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Which countries?\n\nText."),
        nbformat.v4.new_code_cell(
            'experiment = "country100"  # the authors\' run | or another\nn_boot = 1000  # resamples',
            metadata={"tags": ["parameters"]},
        ),
    ]
    if injected:
        nb.cells.append(nbformat.v4.new_code_cell(injected, metadata={"tags": ["injected-parameters"]}))
    nb.cells.append(
        nbformat.v4.new_code_cell("import numpy as np\nfrom geoclip_utils import data\n%matplotlib x")
    )
    nb.metadata["papermill"] = {"duration": 12.5, "start_time": "2026-12-01T10:00:00", "end_time": "x"}
    nbformat.write(nb, tmp_path / "countries.ipynb")
    return nb


def test_parameters_show_value_used_default_and_comment(tmp_path):
    nb = _executed(tmp_path, injected="n_boot = 50\n")
    params = provenance.parameters(nb)
    assert params == [
        {
            "name": "experiment",
            "value": '"country100"',
            "default": '"country100"',
            "comment": "the authors' run | or another",
        },
        {"name": "n_boot", "value": "50", "default": "1000", "comment": "resamples"},
    ]


def test_imported_packages_map_modules_to_distributions(tmp_path):
    nb = _executed(tmp_path)
    assert provenance.imported_packages(nb) == ["geoclip-utils", "numpy"]


def test_appendix_has_every_chapter_its_files_and_the_environment(tmp_path, monkeypatch):
    _executed(tmp_path, injected="n_boot = 50\n")
    monkeypatch.setenv(provenance.ENV, str(tmp_path / "countries.files.jsonl"))
    provenance.record_read("resultcsv/country100_results.csv", "81914fe" + "0" * 33, "ef" * 32, 1234)
    text = provenance.appendix_markdown(tmp_path, ["countries"])
    assert "## Which countries?" in text and "Run time: 12.5 s" in text
    assert "| `n_boot` | `50` | `1000` | `resamples` |" in text
    assert "the authors' run \\| or another" in text, "a | in a comment must not break the table"
    assert "| `resultcsv/country100_results.csv` | `81914fe` | 1,234 | `" + "ef" * 32 + "` |" in text
    assert "numpy " in text and "## The environment" in text and "| pandas |" in text


def test_appendix_main_reports_a_missing_notebook(tmp_path, capsys):
    assert provenance.main([str(tmp_path), str(tmp_path / "out.md"), "nope"]) == 2
    assert "executed notebook missing" in capsys.readouterr().err
