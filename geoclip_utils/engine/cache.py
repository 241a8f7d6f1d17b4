"""The embedding cache: one folder per model, chunk files written atomically, a manifest, a lock.

The seed scripts re-encoded every image for every experiment and never L2-normalised the image
features. Here each image is encoded once per model; every experiment then reads the cache.

Cache layout (one sub-folder per model, so one ``cache_dir`` can hold several models)::

    cache_dir/
      <model key>/                 model key = model_id with "/" replaced by "__"
        manifest.json              model id, feature dim, dtype, chunk list, counts (rewritten atomically)
        chunk_00000.npz            ids (unicode), features (float32, N x D, L2-normalised),
        chunk_00001.npz            skipped_ids, skipped_reasons (unicode)
        report.csv                 image_id, status (ok | skipped), reason
        texts/texts_<hash>.npz     prompt texts and their normalised features
        .lock                      pid of the running `embed` (stale locks of dead processes are taken over)

Chunk files are the truth: each is written to a temp file in the same folder and renamed into
place, so a chunk exists completely or not at all. An interrupted run (Ctrl-C, kill -9, node
pre-emption) resumes with the ids no chunk holds yet; finished chunks are never redone and no id is
stored twice. All files load with ``np.load(allow_pickle=False)``.

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
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .._io import write_text
from ..errors import ConfigError, DataError

__all__ = [
    "FORMAT_VERSION",
    "model_cache_dir",
    "load_embeddings",
    "cache_manifest",
    "load_report",
]


FORMAT_VERSION = 1


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


def read_chunk(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            out = {k: z[k] for k in ("ids", "features", "skipped_ids", "skipped_reasons")}
    except Exception as exc:
        raise DataError(
            f"embedding cache chunk {path} is unreadable ({exc}); delete it and rerun `geoclip embed`"
        ) from exc
    if out["features"].ndim != 2 or len(out["features"]) != len(out["ids"]):
        raise DataError(
            f"embedding cache chunk {path} is inconsistent (ids vs features); delete it and rerun"
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
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(
            f"embedding cache manifest {path} is unreadable ({exc}); delete it and rerun"
        ) from exc


def write_manifest(folder: Path, model_id: str, dim: int | None, extra: dict, done: dict) -> dict:
    statuses = [s for s, _ in done.values()]
    manifest = {
        "format": FORMAT_VERSION,
        "model_id": model_id,
        "dim": dim,
        "dtype": "float32",
        "normalised": True,
        "chunks": [p.name for p in chunk_paths(folder)],
        "n_ok": statuses.count("ok"),
        "n_skipped": statuses.count("skipped"),
        **extra,
    }
    write_text(folder / "manifest.json", json.dumps(manifest, indent=1))
    return manifest


def cache_settings(info, *, fast_decode: bool, max_pixels: int) -> dict:
    """Every setting of an embedding run that changes the features (or which images get features).

    Recorded in the manifest; a later run into the same cache must have the same ones
    (:func:`check_settings`), so one cache never mixes two kinds of rows.
    """
    return {
        "model_id": info.model_id,
        "backend": getattr(info, "backend", "openai"),
        "model_checksum": info.checksum,
        "precision": info.precision,
        "input_resolution": info.input_resolution,
        "preprocess": getattr(info, "preprocess", "clip._transform")
        + (" + JPEG draft >= 2x resolution" if fast_decode else ""),
        "max_pixels": max_pixels,
        "format": FORMAT_VERSION,
    }


#: How each setting is chosen on the command line, for the message of :func:`check_settings`.
_SETTING_OPTION = {
    "model_id": "--model",
    "backend": "--model (its prefix: openai:, open_clip:, hf:)",
    "model_checksum": "--model (the weights file changed)",
    "precision": "--precision / --device",
    "input_resolution": "--model",
    "preprocess": "--exact-preprocess",
    "max_pixels": "max_pixels",
    "format": "the geoclip version",
}


def check_settings(folder: Path, manifest: dict, settings: dict) -> None:
    """Refuse to add rows to a cache made with other settings (names the setting and how to proceed).

    Settings a cache written by an older version did not record are not compared.

    Raises
    ------
    ConfigError
        Naming the first setting that differs, the cache's value and this run's value.
    """
    recorded = {**{k: manifest[k] for k in settings if k in manifest}, **manifest.get("settings", {})}
    if "preprocess" in manifest:
        recorded.setdefault("preprocess", manifest["preprocess"])
    for key, value in settings.items():
        old = recorded.get(key)
        if old is not None and old != "" and value != "" and old != value:
            raise ConfigError(
                f"embedding cache {folder} was made with {key}={old!r} but this run has {key}={value!r} "
                f"({_SETTING_OPTION.get(key, key)}); features of the two would be mixed in one cache. "
                f"Give this run another --out folder, or delete {folder} to start the cache over"
            )


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
    cache_dir : the folder given to :func:`embed_images` (or a model's own sub-folder).
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
