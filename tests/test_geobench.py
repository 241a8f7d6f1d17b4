"""geoclip_utils.geobench: strict layout checks of the benchmark sets (one line per problem) and scoring."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from geoclip_utils import geo, geobench
from geoclip_utils.errors import ConfigError, InputError
from geoclip_utils.stats import distance as stats_distance


def _folder(tmp_path, names):
    d = tmp_path / "images"
    d.mkdir(exist_ok=True)
    for n in names:
        p = d / n
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8)).save(p)
    return d


def _write(tmp_path, text, name="meta.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_custom_layout_reads_and_keys_images_by_stem(tmp_path):
    d = _folder(tmp_path, ["a.jpg", "b.png"])
    meta = _write(tmp_path, "IMG_ID,LAT,LON,S3_Label\na.jpg,48.85,2.35,1\nb.png,-33.9,151.2,2\n")
    b = geobench.load_benchmark("custom", meta, d)
    assert b["image_id"].tolist() == ["a", "b"] and b["file"].tolist() == ["a.jpg", "b.png"]
    assert b["lat"].tolist() == [48.85, -33.9] and b.attrs["benchmark"] == "custom"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ID,LAT,LON\na.jpg,1,2\n", r"line 1: missing column 'img_id'"),
        ("IMG_ID,LAT,LON\na.jpg,1,2,3\n", "line 2 has 4 fields"),
        ("IMG_ID,LAT,LON\na.jpg,north,2\n", "line 2: LAT 'north' is not a number"),
        ("IMG_ID,LAT,LON\na.jpg,91,2\n", r"line 2: LAT '91' is out of range \[-90, 90\]"),
        ("IMG_ID,LAT,LON\na.jpg,1,nan\n", "line 2: LON 'nan' is not a number"),
        (
            "IMG_ID,LAT,LON\na.jpg,1,2\n\na.jpg,3,4\n",
            r"1 duplicate IMG_IDs, e.g. 'a.jpg' appears 2 times \(lines 2, 4\)",
        ),
        ("IMG_ID,LAT,LON\n,1,2\n", "line 2 has a blank IMG_ID"),
        (
            "IMG_ID,LAT,LON\nmissing.jpg,1,2\n",
            "1 of the 1 images of meta.csv are missing, first 'missing.jpg'",
        ),
        ("IMG_ID;LAT;LON\na.jpg;1;2\n", "delimited by ';'"),
    ],
)
def test_each_problem_is_one_line_naming_file_and_line(tmp_path, text, message):
    d = _folder(tmp_path, ["a.jpg"])
    meta = _write(tmp_path, text)
    with pytest.raises(InputError, match=message) as exc:
        geobench.load_benchmark("custom", meta, d)
    assert "\n" not in str(exc.value)


def test_benchmark_row_counts_are_checked(tmp_path):
    d = _folder(tmp_path, ["a.jpg"])
    meta = _write(tmp_path, "IMG_ID,LAT,LON\na.jpg,1,2\n")
    with pytest.raises(InputError, match="1 rows, but im2gps3k has 2,997 images .*allow_subset=True"):
        geobench.load_benchmark("im2gps3k", meta, d)
    assert len(geobench.load_benchmark("im2gps3k", meta, d, allow_subset=True)) == 1
    with pytest.raises(InputError, match="yfcc4k has 4,536"):
        geobench.load_benchmark("yfcc4k", meta, d)
    with pytest.raises(ConfigError, match="benchmark 'im2gps' unknown"):
        geobench.load_benchmark("im2gps", meta, d)
    with pytest.raises(InputError, match="does not exist"):
        geobench.load_benchmark("custom", tmp_path / "nope.csv", d)


def test_osv5m_layout_finds_images_in_sub_folders_and_keeps_areas(tmp_path):
    d = _folder(tmp_path, ["00/101.jpg", "01/102.jpg"])
    meta = _write(
        tmp_path,
        "id,latitude,longitude,country,region,sub-region,city\n"
        "101,48.85,2.35,FR,IDF,Paris,Paris\n102,35.68,139.69,JP,Tokyo,Tokyo,Tokyo\n",
        "test.csv",
    )
    b = geobench.load_benchmark("osv5m", meta, d, allow_subset=True)
    assert b["file"].tolist() == ["00/101.jpg", "01/102.jpg"] and b["country"].tolist() == ["FR", "JP"]
    meta2 = _write(tmp_path, "id,latitude,longitude\n101,48.85,2.35\n103,1,1\n", "test2.csv")
    with pytest.raises(InputError, match="first '103.jpg'"):
        geobench.load_benchmark("osv5m", meta2, d, allow_subset=True)


@pytest.mark.slow
def test_score_benchmark_is_the_book_metric(tmp_path):
    d = _folder(tmp_path, ["a.jpg", "b.jpg", "c.jpg"])
    meta = _write(
        tmp_path, "IMG_ID,LAT,LON\na.jpg,48.8566,2.3522\nb.jpg,35.6762,139.6503\nc.jpg,-33.8688,151.2093\n"
    )
    b = geobench.load_benchmark("custom", meta, d)
    exact = (b["lat"].to_numpy(), b["lon"].to_numpy())
    paris_for_all = (np.full(3, 48.8566), np.full(3, 2.3522))
    res = geobench.score_benchmark(b, {"exact": exact, "paris": paris_for_all}, n_boot=20)
    assert (
        res["exact"]["acc_1km"] == 1.0
        and res["exact"]["median_km"] == 0.0
        and res["exact"]["geoscore"] == 5000
    )
    assert res["exact"]["country_top1"] == 1.0
    d_paris = geo.haversine_km(b["lat"], b["lon"], 48.8566, 2.3522)
    assert res["paris"]["acc_25km"] == pytest.approx(1 / 3)
    assert res["paris"]["median_km"] == pytest.approx(float(np.median(d_paris)))
    with pytest.raises(ConfigError, match="have 2 rows; the benchmark has 3"):
        geobench.score_benchmark(b, {"short": (np.zeros(2), np.zeros(2))})


def test_threshold_is_strict_as_osv5m_counts_it(tmp_path):
    """``d < t`` (OSV-5M's ``haversine_distance < acc``): a prediction exactly 25 km away is not within 25 km."""

    f = {
        "image_id": ["a", "b", "c"],
        "method": "m",
        "error_km": [24.999999, 25.0, 25.000001],
        "country_correct": True,
    }

    m = stats_distance.score_coordinates(pd.DataFrame(f), n_boot=0)["m"]
    assert m["acc_25km"] == pytest.approx(1 / 3) and m["acc_1km"] == 0.0
