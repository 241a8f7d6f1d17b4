"""The embedding cache: one folder per model, chunk files written atomically, a manifest, a lock.

The seed scripts re-encoded every image for every experiment and never L2-normalised the image
features. Here each image is encoded once per model; every experiment then reads the cache.

Cache layout (one sub-folder per model, so one ``cache_dir`` can hold several models)::

    cache_dir/
      <model key>/                 model key = model_id with "/" replaced by "__"
        manifest.json              model id, feature dim, dtype, chunk list, counts, and ``settings``: the
                                   run's settings record (:class:`~.settings.EmbedSettings`) (rewritten
                                   atomically)
        chunk_00000.npz            ids (unicode), features (float32, N x D, L2-normalised),
        chunk_00001.npz            skipped_ids, skipped_reasons (unicode), settings (the record as one JSON
                                   text); chunks of tar shards also record their piece: source (the shard),
                                   part, part_size, last, source_error, duplicate_ids (samples whose id an
                                   earlier chunk already holds)
        report.csv                 image_id, status (ok | skipped), reason
        coords.parquet             image_id, lat, lon of the embedded ids (written by ``--coords``)
        texts/texts_<hash>.npz     prompt texts and their normalised features
        .lock                      pid of the running `embed` (stale locks of dead processes are taken over)

Chunk files are the truth: each is written to a temp file in the same folder and renamed into
place, so a chunk exists completely or not at all. An interrupted run (Ctrl-C, kill -9, node
pre-emption) resumes with the ids no chunk holds yet; finished chunks are never redone and no id is
stored twice. All files load with ``np.load(allow_pickle=False)``. Every run (a folder or tar shards, in
this process or on Ray) writes through one :class:`ChunkWriter`, so every run makes the same cache.

Older caches stay readable and resumable: chunks without a ``settings`` record (written before it was
added) are checked against the manifest's record; a setting the manifest does not record is not compared.

Features are stored as float32 and L2-normalised (so cosine similarity is a dot product).

Images that cannot be embedded are *skipped with a reason*, never dropped silently and never a
crash: missing file, not an image / corrupt, truncated, zero-sized, or larger than ``max_pixels``
(PIL's decompression-bomb guard). Grayscale, palette, CMYK, alpha and 16-bit images are converted to
8-bit RGB (alpha composited on white, 16-bit scaled by 1/257) and embedded.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .._io import write_npz, write_text
from ..errors import ConfigError, DataError
from .images import DEFAULT_MAX_PIXELS
from .settings import FORMAT_VERSION, EmbedSettings, recorded_settings

__all__ = [
    "FORMAT_VERSION",
    "model_cache_dir",
    "load_embeddings",
    "cache_manifest",
    "load_report",
    "load_coords",
    "ChunkWriter",
]


CHUNK_RE = re.compile(r"^chunk_(\d{5,})\.npz$")


def _model_key(model_id: str) -> str:
    key = model_id.replace("/", "__")
    if not re.fullmatch(r"[A-Za-z0-9_.@+=-]+", key):
        key = re.sub(r"[^A-Za-z0-9_.@+=-]", "_", key) + "-" + hashlib.sha1(model_id.encode()).hexdigest()[:8]
    return key


def model_cache_dir(cache_dir: str | os.PathLike, model_id: str) -> Path:
    """The sub-folder of ``cache_dir`` that holds one model's embeddings."""
    return Path(cache_dir) / _model_key(model_id)


def str_array(values: Sequence[str]) -> np.ndarray:
    return np.array(list(values), dtype=str) if len(values) else np.zeros(0, dtype="<U1")


#: Optional arrays of a chunk: its settings record, and (tar shards) which piece of which shard it holds.
PIECE_KEYS = ("settings", "source", "part", "part_size", "last", "source_error", "duplicate_ids")


def _features_shape(path: Path) -> tuple[int, ...]:
    """The shape of a chunk's feature array, read from its .npy header (the data is not read)."""
    with zipfile.ZipFile(path) as zf, zf.open("features.npy") as fh:
        version = np.lib.format.read_magic(fh)
        read_header = (
            np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        )
        return tuple(read_header(fh)[0])


def read_chunk(path: Path, features: bool = True) -> dict[str, np.ndarray]:
    """Read one chunk file; ``features=False`` checks the features' shape from the file's header without
    reading them (what a resume needs).

    Raises
    ------
    DataError
        An unreadable chunk, or one whose ids and features disagree.
    """
    keys = ("ids", "features", "skipped_ids", "skipped_reasons")
    try:
        with np.load(path, allow_pickle=False) as z:
            out = {k: z[k] for k in keys if features or k != "features"}
            out.update({k: z[k] for k in PIECE_KEYS if k in z.files})
        shape = out["features"].shape if features else _features_shape(path)
        out["features_shape"] = np.array(shape, dtype=np.int64)
    except Exception as exc:
        raise DataError(
            f"embedding cache chunk {path} is unreadable ({exc}); delete that file and rerun the same "
            "`geoclip embed` command: it embeds the chunk's images again"
        ) from exc
    if len(shape) != 2 or shape[0] != len(out["ids"]):
        raise DataError(
            f"embedding cache chunk {path} is inconsistent (ids vs features); delete that file and rerun "
            "the same `geoclip embed` command: it embeds the chunk's images again"
        )
    return out


def chunk_paths(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := CHUNK_RE.match(p.name))]
    return [p for _, p in sorted(found)]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Lock:
    """A pid lock file; a lock left by a dead process (kill -9) is taken over."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / ".lock"

    def __enter__(self) -> Lock:
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                try:
                    pid = int(self.path.read_text().strip() or 0)
                except (OSError, ValueError):
                    pid = 0
                if pid and pid != os.getpid() and _pid_alive(pid):
                    raise ConfigError(
                        f"embedding cache {self.path.parent} is in use by process {pid}; "
                        f"wait for it or use another --out folder (if no such run is active, delete {self.path})"
                    ) from None
                self.path.unlink(missing_ok=True)  # stale lock
                continue
            with os.fdopen(fd, "w") as fh:
                fh.write(str(os.getpid()))
            return self
        raise ConfigError(f"could not lock embedding cache {self.path.parent}")

    def __exit__(self, *exc) -> None:
        self.path.unlink(missing_ok=True)


def read_manifest(folder: Path) -> dict | None:
    path = folder / "manifest.json"
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(
            f"embedding cache manifest {path} is unreadable ({exc}); delete that file and rerun the same "
            "`geoclip embed` command: the chunk files record their settings, and the manifest is rebuilt"
        ) from exc
    if not isinstance(manifest, dict):
        raise DataError(
            f"embedding cache manifest {path} is not a JSON object; delete that file and rerun the same "
            "`geoclip embed` command: the chunk files record their settings, and the manifest is rebuilt"
        )
    return manifest


def write_manifest(
    folder: Path, model_id: str, dim: int | None, extra: dict, chunks: list[str], counts: dict[str, int]
) -> dict:
    """Write ``manifest.json``: the cache's model, feature size, chunk file names and how many images are
    embedded (``counts["ok"]``) and skipped (``counts["skipped"]``)."""
    manifest = {
        "format": FORMAT_VERSION,
        "model_id": model_id,
        "dim": dim,
        "dtype": "float32",
        "normalised": True,
        "chunks": chunks,
        "n_ok": counts.get("ok", 0),
        "n_skipped": counts.get("skipped", 0),
        **extra,
    }
    write_text(folder / "manifest.json", json.dumps(manifest, indent=1))
    return manifest


@dataclass
class SourceProgress:
    """What the chunks of one tar shard hold: the parts written cleanly, the number of its last part once
    written, the error that stopped its reading (a truncated or corrupt tar), if any, and how many of its
    samples the cache holds embedded (``present``: embedded from it, or already embedded from elsewhere)."""

    parts: set[int] = field(default_factory=set)
    last: int | None = None
    error: str = ""
    part_size: int = 0  # samples per piece (a resumed shard keeps the piece size it was started with)
    present: int = 0

    @property
    def complete(self) -> bool:
        """Every part up to the last one written, and no error: a rerun skips the shard."""
        return self.last is not None and not self.error and self.parts >= set(range(self.last + 1))


class ChunkWriter:
    """The one writer of an embedding cache: every run (a folder or tar shards, in this process or on
    Ray) writes its chunks, manifest and report through it, so every run makes the same cache.

    Used as a context manager: entering compares this run's settings record
    (:class:`~geoclip_utils.engine.settings.EmbedSettings`) with the manifest's and with every chunk's,
    takes the lock, removes leftovers of interrupted writes and reads what the existing chunks hold (ids and
    their status in :attr:`done`, the progress of each tar shard in :attr:`sources`; the features themselves
    are not read). Every chunk it writes records the settings. Leaving writes the manifest and
    ``report.csv`` and releases the lock, also after an error.

    Parameters
    ----------
    cache_dir : the cache folder; the model's files go to ``model_cache_dir(cache_dir, info.model_id)``.
    info : the model's :class:`~geoclip_utils.engine.models.ModelInfo`.
    fast_decode, max_pixels, id_field : the other settings (see
        :class:`~geoclip_utils.engine.settings.EmbedSettings`).

    Raises
    ------
    ConfigError
        The cache (its manifest, or one of its chunks) was made with other settings, its chunks do not
        record their settings and the manifest that did is gone, or another process is writing it.

    Example
    -------
    >>> with ChunkWriter("cache/", model_info(model), fast_decode=True, max_pixels=10**8) as w:  # doctest: +SKIP
    ...     w.write(["a", "b"], features, ["c"], ["missing file"])
    """

    def __init__(
        self,
        cache_dir: str | os.PathLike,
        info,
        *,
        fast_decode: bool = True,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        id_field: str | None = None,
    ) -> None:
        self.info = info
        self.folder = model_cache_dir(cache_dir, info.model_id)
        self.settings = EmbedSettings.of(
            info, fast_decode=fast_decode, max_pixels=max_pixels, id_field=id_field
        )
        self._record_json = self.settings.to_json()
        self.extra = {
            "model_source": info.source,
            "input_resolution": info.input_resolution,
            "preprocess": self.settings.preprocess,
            "max_pixels": max_pixels,
            "settings": self.settings.to_dict(),
        }
        self.done: dict[str, tuple[str, str]] = {}
        # what the manifest says, kept as the chunks come (not recounted per chunk: a run of millions of
        # images rewrites its manifest after every chunk)
        self._counts: dict[str, int] = {"ok": 0, "skipped": 0}
        self._chunk_names: list[str] = []
        self.sources: dict[str, SourceProgress] = {}
        self.dim: int | None = None
        self.written = 0  # chunks written by this writer
        self.n_new = 0  # images (embedded or skipped) written by this writer
        self.duplicates: list[tuple[str, str]] = []  # (id, where) dropped by this writer
        self._next = 0
        self._lock: Lock | None = None
        self._manifest: dict | None = None
        self._checked: set[str] = set()

    def __enter__(self) -> ChunkWriter:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._manifest = read_manifest(self.folder)
        if self._manifest:
            self.settings.check(recorded_settings(self._manifest), f"embedding cache {self.folder}")
            self.dim = self._manifest.get("dim")
        self._lock = Lock(self.folder).__enter__()
        try:
            for p in self.folder.glob(".*.tmp"):  # leftovers of an interrupted write
                p.unlink(missing_ok=True)
            chunks = chunk_paths(self.folder)
            self._chunk_names = [p.name for p in chunks]
            for p in chunks:  # in order: a later chunk's status of an id (a retry) wins
                c = read_chunk(p, features=False)
                self._check_chunk(p, c)
                self._record(c)
            self._next = int(CHUNK_RE.match(chunks[-1].name).group(1)) + 1 if chunks else 0
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise
        return self

    def _check_chunk(self, path: Path, c: dict[str, np.ndarray]) -> None:
        """Compare a chunk's own settings record (or, for a chunk of an older version, the manifest's)."""
        if "settings" not in c:
            if self._manifest is None:
                raise ConfigError(
                    f"embedding cache {self.folder} has no manifest, and its chunk {path.name} (written by an "
                    "older version) does not record its settings, so this run cannot check that it matches "
                    f"them; restore {self.folder / 'manifest.json'}, or delete {self.folder} to start the "
                    "cache over"
                )
            return  # checked against the manifest on entering
        text = str(c["settings"][0])
        if text in self._checked:
            return
        try:
            recorded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"embedding cache chunk {path} has an unreadable settings record ({exc}); delete that file "
                "and rerun the same `geoclip embed` command: it embeds the chunk's images again"
            ) from exc
        self.settings.check(recorded, f"embedding cache chunk {path}")
        self._checked.add(text)

    def _record(self, c: dict[str, np.ndarray]) -> None:
        done, counts = self.done, self._counts

        def put(i: str, status: tuple[str, str]) -> None:  # a later chunk's status of an id (a retry) wins
            before = done.get(i)
            if before is not None:
                counts[before[0]] -= 1
            done[i] = status
            counts[status[0]] += 1

        for i in c["ids"].tolist():
            put(i, ("ok", ""))
        for i, r in zip(c["skipped_ids"].tolist(), c["skipped_reasons"].tolist(), strict=True):
            put(i, ("skipped", r))
        shape = c["features_shape"]
        if shape[0] and self.dim is None:
            self.dim = int(shape[1])
        if "source" in c:
            prog = self.sources.setdefault(str(c["source"][0]), SourceProgress())
            part, error = int(c["part"][0]), str(c["source_error"][0])
            prog.present += len(c["ids"]) + len(c.get("duplicate_ids", ()))
            if "part_size" in c:
                prog.part_size = int(c["part_size"][0])
            if error:
                prog.error = error
            else:
                prog.parts.add(part)
                if bool(c["last"][0]):
                    prog.last, prog.error = part, ""

    def write(
        self,
        ids: Sequence[str],
        features: np.ndarray | None,
        skipped_ids: Sequence[str] = (),
        skipped_reasons: Sequence[str] = (),
        *,
        source: str | None = None,
        part: int = 0,
        part_size: int = 0,
        last: bool = False,
        error: str = "",
    ) -> Path:
        """Write one chunk atomically and update the manifest.

        Ids an earlier chunk (or this one) already holds embedded are not stored again: they are dropped
        and listed in the chunk's ``duplicate_ids`` (and in :attr:`duplicates`).

        Parameters
        ----------
        ids, features : the embedded images and their L2-normalised features (rows in the order of ids).
        skipped_ids, skipped_reasons : images that could not be embedded, with the reason of each.
        source, part, part_size, last, error : for a piece of a tar shard: the shard, the piece's number,
            the samples per piece, whether it is the shard's last piece, and why reading stopped there (a
            truncated shard), if it did.

        Returns
        -------
        Path of the chunk file.
        """
        keep, skip, dups, fresh = [], [], [], set()
        for n, i in enumerate(ids):
            if self.done.get(i, ("",))[0] == "ok" or i in fresh:
                dups.append(i)
            else:
                fresh.add(i)
                keep.append(n)
        for i, r in zip(skipped_ids, skipped_reasons, strict=True):
            if self.done.get(i, ("",))[0] == "ok" or i in fresh:
                dups.append(i)
            else:
                skip.append((i, r))
        kept = [ids[n] for n in keep]
        if features is not None and len(features) and len(keep):
            feats = np.asarray(features, dtype=np.float32)[keep]
            self.dim = int(feats.shape[1])
        else:
            feats = np.zeros((0, self.dim or 0), np.float32)
        arrays = {
            "ids": str_array(kept),
            "features": feats,
            "skipped_ids": str_array([i for i, _ in skip]),
            "skipped_reasons": str_array([r for _, r in skip]),
            "settings": str_array([self._record_json]),
        }
        if source is not None:
            arrays.update(
                source=str_array([source]),
                part=np.array([part], dtype=np.int64),
                part_size=np.array([part_size], dtype=np.int64),
                last=np.array([last]),
                source_error=str_array([error]),
            )
        if dups:
            arrays["duplicate_ids"] = str_array(dups)
            where = f"{source} part {part}" if source is not None else "this run"
            self.duplicates += [(i, where) for i in dups]
        path = self.folder / f"chunk_{self._next:05d}.npz"
        write_npz(path, **arrays)
        self._chunk_names.append(path.name)
        self._next += 1
        self.written += 1
        self.n_new += len(kept) + len(skip)
        self._record({**arrays, "features_shape": np.array(feats.shape)})
        self._checked.add(self._record_json)
        self._write_manifest()
        return path

    def _write_manifest(self) -> dict:
        extra = dict(self.extra)
        if self.sources:
            extra["shards"] = {
                "n": len(self.sources),
                "complete": sum(p.complete for p in self.sources.values()),
                "errors": {s: p.error for s, p in self.sources.items() if p.error},
            }
        return write_manifest(
            self.folder, self.info.model_id, self.dim, extra, self._chunk_names, self._counts
        )

    def __exit__(self, *exc) -> None:
        try:
            self._write_manifest()
            rows = pd.DataFrame(
                [(i, s, r) for i, (s, r) in self.done.items()], columns=["image_id", "status", "reason"]
            )
            write_text(self.folder / "report.csv", rows.to_csv(index=False))
        finally:
            if self._lock is not None:
                self._lock.__exit__(*exc)


def _resolve_model_dir(cache_dir: str | os.PathLike, model_id: str | None) -> Path:
    cache_dir = Path(cache_dir)
    if not cache_dir.is_dir():
        raise DataError(
            f"embedding cache {cache_dir} does not exist; run `geoclip embed --out {cache_dir}` first"
        )
    if model_id is not None:
        folder = model_cache_dir(cache_dir, model_id)
        if (folder / "manifest.json").is_file() or chunk_paths(folder):
            return folder
        if (cache_dir / "manifest.json").is_file() and (read_manifest(cache_dir) or {}).get(
            "model_id"
        ) == model_id:
            return cache_dir
        raise DataError(f"embedding cache {cache_dir} holds no embeddings of model {model_id!r}")
    if (cache_dir / "manifest.json").is_file() or chunk_paths(cache_dir):
        return cache_dir
    subs = sorted(p for p in cache_dir.iterdir() if p.is_dir() and (p / "manifest.json").is_file())
    if not subs:
        raise DataError(
            f"embedding cache {cache_dir} holds no embeddings; run `geoclip embed --out {cache_dir}` first"
        )
    if len(subs) > 1:
        names = [(read_manifest(p) or {}).get("model_id", p.name) for p in subs]
        raise ConfigError(
            f"embedding cache {cache_dir} holds several models {names}; say which one (model_id)"
        )
    return subs[0]


def load_embeddings(
    cache_dir: str | os.PathLike, model_id: str | None = None, ids: Sequence[str] | None = None
) -> tuple[list[str], np.ndarray]:
    """Read the cached image embeddings of one model.

    Parameters
    ----------
    cache_dir : the folder given to :func:`~geoclip_utils.engine.runner.embed_images` (or a model's own sub-folder).
    model_id : which model, when the cache holds several.
    ids : optional; return only these ids, in this order (ids not in the cache are left out).

    Returns
    -------
    ids : list of str (chunk order unless ``ids`` is given).
    features : float32 array (n, dim), rows L2-normalised.

    Raises
    ------
    DataError
        No cache, unreadable chunk, or an id stored twice.
    ConfigError
        Several models in the cache and no ``model_id``.
    """
    folder = _resolve_model_dir(cache_dir, model_id)
    all_ids: list[str] = []
    feats: list[np.ndarray] = []
    for p in chunk_paths(folder):
        c = read_chunk(p)
        all_ids.extend(c["ids"].tolist())
        if len(c["ids"]):  # a chunk of skipped images only has a (0, 0) feature array
            feats.append(c["features"].astype(np.float32, copy=False))
    dim = (read_manifest(folder) or {}).get("dim") or 0
    features = np.concatenate(feats) if feats else np.zeros((0, dim), np.float32)
    if len(set(all_ids)) != len(all_ids):
        raise DataError(f"embedding cache {folder} stores some ids twice; delete the folder and rerun")
    if ids is not None:
        pos = {i: n for n, i in enumerate(all_ids)}
        keep = [pos[i] for i in ids if i in pos]
        all_ids = [all_ids[n] for n in keep]
        features = features[keep]
    return all_ids, features


def cache_manifest(cache_dir: str | os.PathLike, model_id: str | None = None) -> dict:
    """The manifest of one model's cache (model_id, model_source, dim, counts, chunks, ...) plus ``folder``.

    Raises
    ------
    DataError, ConfigError
        As :func:`load_embeddings`.
    """
    folder = _resolve_model_dir(cache_dir, model_id)
    manifest = read_manifest(folder) or {}
    return {**manifest, "folder": str(folder)}


def load_report(cache_dir: str | os.PathLike, model_id: str | None = None) -> pd.DataFrame:
    """The report of every image in a cache: ``image_id``, ``status`` (ok/skipped), ``reason``."""
    folder = _resolve_model_dir(cache_dir, model_id)
    rows = []
    for p in chunk_paths(folder):
        c = read_chunk(p)
        rows += [(i, "ok", "") for i in c["ids"].tolist()]
        rows += list(
            zip(
                c["skipped_ids"].tolist(),
                ["skipped"] * len(c["skipped_ids"]),
                c["skipped_reasons"].tolist(),
                strict=True,
            )
        )
    return pd.DataFrame(rows, columns=["image_id", "status", "reason"])


def load_coords(cache_dir: str | os.PathLike, model_id: str | None = None) -> pd.DataFrame:
    """The coordinates joined to a cache by ``geoclip embed --coords``: ``image_id``, ``lat``, ``lon``.

    Raises
    ------
    DataError
        No cache, or a cache without joined coordinates.

    Example
    -------
    >>> load_coords("cache/").columns.tolist()  # doctest: +SKIP
    ['image_id', 'lat', 'lon']
    """
    folder = _resolve_model_dir(cache_dir, model_id)
    path = folder / "coords.parquet"
    if not path.is_file():
        raise DataError(
            f"embedding cache {folder} has no coordinates; rerun `geoclip embed` with --coords FILE"
        )
    return pd.read_parquet(path)
