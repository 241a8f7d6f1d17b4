"""geoclip_utils.data: registry, fetching (mirror, cache, download), loaders and their quirks."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import threading
from pathlib import Path

import pytest

from geoclip_utils import data
from geoclip_utils.errors import ConfigError, DataError


# --------------------------------------------------------------------------- a fake registry + server
@pytest.fixture
def fake_repo(tmp_path, monkeypatch):
    """A tiny repository served over HTTP on localhost, registered in a private registry."""
    repo = tmp_path / "repo"
    commit = "c" * 40
    files = {"inputdata/tiny.csv": b"id1,Belgium\nid2,France\n", "pickles/x.json": b'{"a": ["Belgium"]}'}
    rows = ["path\tcommit\tsha256\tbytes"]
    for rel, content in files.items():
        p = repo / commit / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content)
        rows.append(f"{rel}\t{commit}\t{hashlib.sha256(content).hexdigest()}\t{len(content)}")
    reg = tmp_path / "registry.tsv"
    reg.write_text("\n".join(rows) + "\n")
    read_registry = data.registry.__wrapped__
    monkeypatch.setattr(data, "registry", functools.cache(lambda path=reg: read_registry(path)))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(repo))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("GEOCLIP_DATA_URL", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.delenv("GEOCLIP_DATA_MIRROR", raising=False)
    monkeypatch.setenv("GEOCLIP_CACHE", str(tmp_path / "cache"))
    yield {"repo": repo, "commit": commit, "files": files, "cache": tmp_path / "cache"}
    server.shutdown()


def test_download_verifies_and_caches(fake_repo):
    p = data.fetch("inputdata/tiny.csv", progress=False)
    assert p.read_bytes() == fake_repo["files"]["inputdata/tiny.csv"]
    assert p.is_relative_to(fake_repo["cache"])
    # second call: served from the cache even with the server's file gone
    (fake_repo["repo"] / fake_repo["commit"] / "inputdata/tiny.csv").unlink()
    assert data.fetch("inputdata/tiny.csv", progress=False) == p


def test_hash_mismatch_on_download_is_never_used(fake_repo):
    served = fake_repo["repo"] / fake_repo["commit"] / "inputdata/tiny.csv"
    served.write_bytes(b"id1,Belgium\nid2,Franke\n")  # same size, other bytes
    with pytest.raises(DataError, match="fails its check.*not used"):
        data.fetch("inputdata/tiny.csv", progress=False)
    assert not list(fake_repo["cache"].rglob("tiny.csv"))
    assert not list(fake_repo["cache"].rglob("*.part"))


def test_truncated_cache_entry_is_replaced(fake_repo):
    p = data.fetch("inputdata/tiny.csv", progress=False)
    p.write_bytes(p.read_bytes()[:5])  # truncated
    again = data.fetch("inputdata/tiny.csv", progress=False)
    assert again.read_bytes() == fake_repo["files"]["inputdata/tiny.csv"]


def test_corrupt_cache_and_no_network_says_so(fake_repo, monkeypatch):
    p = data.fetch("inputdata/tiny.csv", progress=False)
    p.write_bytes(b"x" * p.stat().st_size)
    monkeypatch.setenv("GEOCLIP_DATA_URL", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(DataError, match="corrupt or truncated.*removed"):
        data.fetch("inputdata/tiny.csv", progress=False)


def test_no_network_no_mirror(fake_repo, monkeypatch):
    monkeypatch.setenv("GEOCLIP_DATA_URL", "http://127.0.0.1:9")
    with pytest.raises(DataError, match="GEOCLIP_DATA_MIRROR"):
        data.fetch("inputdata/tiny.csv", progress=False)


def test_mirror_missing_file_and_bad_hash(fake_repo, monkeypatch, tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "inputdata").mkdir(parents=True)
    monkeypatch.setenv("GEOCLIP_DATA_MIRROR", str(mirror))
    with pytest.raises(DataError, match="missing from the mirror"):
        data.fetch("inputdata/tiny.csv")
    (mirror / "inputdata/tiny.csv").write_bytes(b"tampered")
    with pytest.raises(DataError, match="fails its hash check"):
        data.fetch("inputdata/tiny.csv")
    (mirror / "inputdata/tiny.csv").write_bytes(fake_repo["files"]["inputdata/tiny.csv"])
    assert data.fetch("inputdata/tiny.csv") == mirror / "inputdata/tiny.csv"


def test_mirror_not_a_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("GEOCLIP_DATA_MIRROR", str(tmp_path / "nope"))
    with pytest.raises(ConfigError, match="not a folder"):
        data.fetch("inputdata/country100.csv")


def test_unknown_file():
    with pytest.raises(DataError, match="not in the data registry"):
        data.fetch("inputdata/nope.csv")


def test_fetch_all_reports_each_file(fake_repo):
    served = fake_repo["repo"] / fake_repo["commit"] / "pickles/x.json"
    served.unlink()
    report = data.fetch_all(progress=False)
    assert dict(zip(report.path, report.status, strict=True)) == {
        "inputdata/tiny.csv": "ok",
        "pickles/x.json": "error",
    }


def test_registry_matches_the_mirror_manifest():
    manifest = Path(os.environ.get("GEOCLIP_DATA_MIRROR", "")) / "MANIFEST.tsv"
    if not manifest.is_file():
        pytest.skip("needs GEOCLIP_DATA_MIRROR pointing at the team's mirror (which carries MANIFEST.tsv)")
    import pandas as pd

    m = pd.read_csv(manifest, sep="\t", dtype=str).set_index("path")
    reg = data.registry()
    assert set(reg) == set(m.index)
    for path, e in reg.items():
        assert (e.commit, e.sha256, e.size) == (
            m.at[path, "commit"],
            m.at[path, "sha256"],
            int(m.at[path, "bytes"]),
        )


# --------------------------------------------------------------------------- result-file quirks
def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_three_header_names_four_fields(tmp_path):
    p = _write(
        tmp_path,
        "r.csv",
        "Gold\tPredictions\tProbabilities\n"
        "Belgium\t['Belgium', 'France']\t[0.9, 0.1]\timg1\n"
        "France\t['Belgium', 'France']\t[0.6, 0.4]\timg2\n",
    )
    df = data.read_result_file(p, "t")
    assert df["image_id"].tolist() == ["img1", "img2"]
    assert df["gold"].tolist() == ["Belgium", "France"]
    assert df["top_labels"].iloc[1] == ("Belgium", "France")
    assert df["top_probs"].iloc[0] == (0.9, 0.1)
    assert df.attrs == {"experiment": "t", "source": "paper", "k": 2}


def test_four_header_names(tmp_path):
    p = _write(
        tmp_path,
        "r.csv",
        "Gold\tPredictions\tProbabilities\tFilename\nRéunion\t['Réunion', 'Mayotte']\t[1.0, 1.5e-21]\tid_é\n",
    )
    df = data.read_result_file(p, "t")
    assert df["image_id"].iloc[0] == "id_é" and df["top_labels"].iloc[0][0] == "Réunion"


def test_old_city_format(tmp_path):
    p = _write(tmp_path, "r.csv", 'Gold,Predict\nBuenos Aires,Montevideo\n"Ica, Peru",La Paz\n')
    df = data.read_result_file(p, "t")
    assert df["gold"].tolist() == ["Buenos Aires", "Ica, Peru"]
    assert df["top_labels"].tolist() == [("Montevideo",), ("La Paz",)]
    assert df["image_id"].tolist() == ["", ""]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("Gold\tPredictions\tProbabilities\nBelgium\t['Belgium']\t[1.0]\n", "row 2 has 3 fields"),
        (
            "Gold\tPredictions\tProbabilities\nBelgium\t__import__('os')\t[1.0]\tx\n",
            "row 2, column Predictions",
        ),
        (
            "Gold\tPredictions\tProbabilities\nBelgium\t['A', 'B']\t[1.0]\tx\n",
            "2 predictions but 1 probabilities",
        ),
        ("Label\tGuess\nx\ty\n", "unknown header"),
        ("", "empty result file"),
    ],
)
def test_malformed_result_files(tmp_path, text, match):
    with pytest.raises(DataError, match=match):
        data.read_result_file(_write(tmp_path, "bad.csv", text), "bad")


# --------------------------------------------------------------------------- the real files
def test_coordinates_geoestimation_counts_polygons():
    coords = data.load_coordinates("geoinputdata/country100_geoestimation.csv")
    assert len(coords) == 11500 and not coords["image_id"].str.endswith(".jpg").any()
    ge = data.load_geoestimation("georesultcsv/country100_geoestimation_result.csv")
    assert set(ge["partitioning"]) == {"coarse", "middle", "fine", "hierarchy"} and len(ge) == 46000
    sub = data.load_label_counts(["label_counts/country100_labelcount.json"])
    assert sub.set_index("label").loc["haiti", "count"] == 40030
    with pytest.raises(ConfigError, match="unknown count kind"):
        data.load_label_counts(["label_counts/country100_labelcount.json"], "words")
    poly = data.load_country_polygons()
    assert poly["iso3"].is_unique and {"BEL", "PRT", "JEY"} <= set(poly["iso3"])


def test_registry_ships_inside_the_package():
    from importlib import resources

    files = {p.name for p in resources.files("geoclip_utils.resources").iterdir()}
    assert {"registry.tsv", "experiments.toml", "country_aliases.csv", "koppen.csv"} <= files
    assert len(data.registry()) == 180


# --------------------------------------------------------------------------- region maps
def test_read_region_map_is_the_one_strict_reader(tmp_path):
    """One reader for the authors' region maps and a user's --region-map (the CLI had its own)."""
    from geoclip_utils.errors import InputError

    p = tmp_path / "map.json"
    p.write_text('{"baltic": ["Latvia", "Estonia"], "east asia": ["Japan"]}', encoding="utf-8")
    assert data.read_region_map(p) == {"baltic": ["Latvia", "Estonia"], "east asia": ["Japan"]}
    for content, message in [
        (b'{"r": ["France"], "r": ["Spain"]}', "names region 'r' twice"),
        (b'{"r": "France"}', "region 'r' must be a list of country names"),
        (b'{"r": ["France", 3]}', "region 'r' must be a list of country names"),
        (b'{"r": []}', "region 'r' lists no country"),
        (b'{"r": ["France", " "]}', "region 'r' lists a blank country name"),
        (b'{"r": ["France", "France"]}', "region 'r' lists 'France' twice"),
        (b'{" ": ["France"]}', "has a region with a blank name"),
        (b'["France"]', "must be a non-empty JSON object"),
        (b"{}", "must be a non-empty JSON object"),
        (b'{"r": ["France"]', "is not valid JSON"),
        ('{"r": ["Côte"]}'.encode("latin-1"), "is not UTF-8 text"),
    ]:
        p.write_bytes(content)
        with pytest.raises(InputError, match=f"^region map {p}.*{message}"):
            data.read_region_map(p)
    with pytest.raises(InputError, match="does not exist"):
        data.read_region_map(tmp_path / "none.json")
    p.write_bytes(b'{"r": []}')
    with pytest.raises(DataError, match="the authors' region map"):
        data.read_region_map(p, what="the authors' region map", error=DataError)
