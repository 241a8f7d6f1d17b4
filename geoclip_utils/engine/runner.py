"""Embedding images (and prompts) once, into a resumable on-disk cache.

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

import csv
import hashlib
import json
import os
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from .errors import ConfigError, DataError, InputError
from .models import encode_image_batch, encode_text_batch, model_info

__all__ = [
    "IMAGE_SUFFIXES",
    "DEFAULT_MAX_PIXELS",
    "read_ids",
    "find_image",
    "open_rgb",
    "ImageSkipped",
    "ImageSet",
    "model_cache_dir",
    "embed_images",
    "load_embeddings",
    "load_report",
    "cache_manifest",
    "encode_texts",
    "default_workers",
]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG")
#: PIL raises DecompressionBombError above 2 x Image.MAX_IMAGE_PIXELS (about 179 megapixels);
#: we skip such images with a reason instead (pass ``max_pixels`` to change the limit).
DEFAULT_MAX_PIXELS = 2 * 89_478_485
FORMAT_VERSION = 1
_CHUNK_RE = re.compile(r"^chunk_(\d{5,})\.npz$")


class ImageSkipped(Exception):
    """An image that cannot be embedded; the message is the reason written to the report."""


# --------------------------------------------------------------------------- id lists and files


def read_ids(path: str | os.PathLike) -> list[str]:
    """Read an id list: a CSV with a column ``id`` or ``image_id``, else its first column.

    A file whose first row does not look like a header (no ``id``/``image_id`` column and the first
    cell not a column name such as ``label``) is read without a header.

    Parameters
    ----------
    path : CSV file (any delimiter among ``,``, tab, ``;``).

    Returns
    -------
    list of str, in file order.

    Raises
    ------
    InputError
        Missing or unreadable file, empty list, blank or duplicated ids (named).

    Example
    -------
    >>> read_ids("ids.csv")  # doctest: +SKIP
    ['I2bZIA3vJauI6rm_OV3Z7w', ...]
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"id list {path} does not exist; give a CSV with a column 'id' or 'image_id'")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"id list {path} is not readable UTF-8 text ({exc})") from exc
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise InputError(f"id list {path} is empty; it needs one image id per row")
    try:
        dialect = csv.Sniffer().sniff(lines[0], delimiters=",\t;")
        delim = dialect.delimiter
    except csv.Error:
        delim = ","
    rows = list(csv.reader(lines, delimiter=delim))
    header = [c.strip() for c in rows[0]]
    lowered = [c.lower() for c in header]
    if "image_id" in lowered:
        col, body = lowered.index("image_id"), rows[1:]
    elif "id" in lowered:
        col, body = lowered.index("id"), rows[1:]
    elif lowered[0] in {"filename", "file", "image", "name", "ids", "images"}:
        col, body = 0, rows[1:]
    else:
        col, body = 0, rows
    ids = []
    for lineno, row in enumerate(body, start=len(rows) - len(body) + 1):
        value = row[col].strip() if len(row) > col else ""
        if not value:
            raise InputError(f"id list {path}: row {lineno} has a blank id")
        ids.append(value)
    if not ids:
        raise InputError(f"id list {path} has a header but no ids")
    seen: set[str] = set()
    dups = [i for i in ids if i in seen or seen.add(i)]
    if dups:
        raise InputError(f"id list {path}: {len(dups)} duplicated ids, e.g. {dups[:3]}; remove the repeats")
    return ids


def find_image(image_dir: str | os.PathLike, image_id: str) -> Path | None:
    """The file of an image id: ``<image_dir>/<id>.jpg`` (or .jpeg / .png, any case); ``None`` if absent."""
    base = Path(image_dir)
    for suffix in IMAGE_SUFFIXES:
        p = base / f"{image_id}{suffix}"
        if p.is_file():
            return p
    return None


def _to_rgb(im: Image.Image) -> Image.Image:
    mode = im.mode
    if mode == "RGB":
        return im
    if mode.startswith("I;16") or mode in ("I", "F"):
        arr = np.asarray(im)
        if arr.ndim != 2:
            raise ImageSkipped(f"unsupported {mode} image with shape {arr.shape}")
        arr = arr.astype(np.float64)
        if mode.startswith("I;16") or (mode == "I" and arr.max(initial=0) > 255):
            arr = arr / 257.0  # 16-bit -> 8-bit
        elif mode == "F" and arr.size and arr.max() <= 1.0:
            arr = arr * 255.0
        arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        return Image.fromarray(arr, mode="L").convert("RGB")
    if mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        im = im.convert("RGBA")
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, im).convert("RGB")
    return im.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB, HSV


def open_rgb(
    path: str | os.PathLike, *, max_pixels: int = DEFAULT_MAX_PIXELS, draft_size: int | None = None
) -> Image.Image:
    """Open an image file as a fully decoded 8-bit RGB PIL image.

    Parameters
    ----------
    path : image file.
    max_pixels : int
        Larger images are refused (checked from the header, before decoding).
    draft_size : int, optional
        For JPEGs, let the decoder downscale by 2, 4 or 8 while both sides stay >= ``draft_size``
        (much faster for big photos; :func:`embed_images` passes twice the model resolution, so the
        final bicubic resize still starts from at least 2x the target). ``None``: full decode.

    Returns
    -------
    PIL.Image.Image in mode RGB.

    Raises
    ------
    ImageSkipped
        With the reason (not an image, truncated, too large, zero-sized, unsupported mode).
    """
    old = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # our own, explicit check below replaces PIL's warning/error
    try:
        try:
            im = Image.open(path)
        except UnidentifiedImageError as exc:
            raise ImageSkipped("not an image (PIL cannot identify the file)") from exc
    finally:
        Image.MAX_IMAGE_PIXELS = old
    try:
        w, h = im.size
        if w <= 0 or h <= 0:
            raise ImageSkipped(f"zero-sized image ({w}x{h})")
        if w * h > max_pixels:
            raise ImageSkipped(
                f"too large: {w}x{h} = {w * h:,} pixels > max_pixels {max_pixels:,} "
                "(decompression-bomb guard; raise max_pixels to embed it)"
            )
        if draft_size and im.format == "JPEG":
            im.draft(None, (draft_size, draft_size))
        try:
            im.load()
        except OSError as exc:
            msg = str(exc)
            if "truncated" in msg:
                raise ImageSkipped(f"truncated file ({msg})") from exc
            raise ImageSkipped(f"corrupt image data ({msg})") from exc
        except (ValueError, SyntaxError, EOFError) as exc:
            raise ImageSkipped(f"corrupt image data ({type(exc).__name__}: {exc})") from exc
        return _to_rgb(im)
    except ImageSkipped:
        im.close()
        raise


class ImageSet(Dataset):
    """A map-style dataset of images by id; items are ``(index, tensor or None, reason)``.

    Failures never raise: the item carries ``None`` and the reason, and the collate function
    :func:`collate_images` keeps them apart from the stacked tensors.

    Parameters
    ----------
    image_dir : folder with ``<id>.jpg`` files.
    ids : image ids.
    preprocess : the model's transform (PIL RGB image -> tensor).
    max_pixels, draft_size : see :func:`open_rgb`.
    """

    def __init__(
        self,
        image_dir: str | os.PathLike,
        ids: Sequence[str],
        preprocess: Callable,
        *,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        draft_size: int | None = None,
    ) -> None:
        self.image_dir = Path(image_dir)
        self.ids = list(ids)
        self.preprocess = preprocess
        self.max_pixels = max_pixels
        self.draft_size = draft_size

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[int, torch.Tensor | None, str]:
        image_id = self.ids[i]
        if "/" in image_id or "\\" in image_id or image_id in (".", ".."):
            return i, None, "invalid image id (contains a path separator)"
        path = find_image(self.image_dir, image_id)
        if path is None:
            return i, None, f"missing file: no {image_id}.jpg/.jpeg/.png in {self.image_dir}"
        try:
            with open_rgb(path, max_pixels=self.max_pixels, draft_size=self.draft_size) as im:
                x = self.preprocess(im)
            return i, x, ""
        except ImageSkipped as exc:
            return i, None, str(exc)
        except Exception as exc:  # never crash on one image; keep the reason
            return i, None, f"could not read image ({type(exc).__name__}: {exc})"


def collate_images(items: list) -> tuple[list[int], torch.Tensor | None, list[int], list[str]]:
    """Collate ImageSet items into (ok indices, stacked tensor or None, skipped indices, reasons)."""
    ok = [(i, x) for i, x, _ in items if x is not None]
    bad = [(i, r) for i, x, r in items if x is None]
    tensor = torch.stack([x for _, x in ok]) if ok else None
    return [i for i, _ in ok], tensor, [i for i, _ in bad], [r for _, r in bad]


# --------------------------------------------------------------------------- cache files


def _model_key(model_id: str) -> str:
    key = model_id.replace("/", "__")
    if not re.fullmatch(r"[A-Za-z0-9_.@+=-]+", key):
        key = re.sub(r"[^A-Za-z0-9_.@+=-]", "_", key) + "-" + hashlib.sha1(model_id.encode()).hexdigest()[:8]
    return key


def model_cache_dir(cache_dir: str | os.PathLike, model_id: str) -> Path:
    """The sub-folder of ``cache_dir`` that holds one model's embeddings."""
    return Path(cache_dir) / _model_key(model_id)


def _atomic_write_bytes(path: Path, writer: Callable[[Path], None]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        writer(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _write_npz(path: Path, **arrays: np.ndarray) -> None:
    def writer(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    _atomic_write_bytes(path, writer)


def _write_text(path: Path, text: str) -> None:
    _atomic_write_bytes(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _str_array(values: Sequence[str]) -> np.ndarray:
    return np.array(list(values), dtype=str) if len(values) else np.zeros(0, dtype="<U1")


def _read_chunk(path: Path) -> dict[str, np.ndarray]:
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


def _chunk_paths(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _CHUNK_RE.match(p.name))]
    return [p for _, p in sorted(found)]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Lock:
    """A pid lock file; a lock left by a dead process (kill -9) is taken over."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / ".lock"

    def __enter__(self) -> _Lock:
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


def _read_manifest(folder: Path) -> dict | None:
    path = folder / "manifest.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(
            f"embedding cache manifest {path} is unreadable ({exc}); delete it and rerun"
        ) from exc


def _write_manifest(folder: Path, model_id: str, dim: int | None, extra: dict, done: dict) -> dict:
    statuses = [s for s, _ in done.values()]
    manifest = {
        "format": FORMAT_VERSION,
        "model_id": model_id,
        "dim": dim,
        "dtype": "float32",
        "normalised": True,
        "chunks": [p.name for p in _chunk_paths(folder)],
        "n_ok": statuses.count("ok"),
        "n_skipped": statuses.count("skipped"),
        **extra,
    }
    _write_text(folder / "manifest.json", json.dumps(manifest, indent=1))
    return manifest


def _resolve_model_dir(cache_dir: str | os.PathLike, model_id: str | None) -> Path:
    cache_dir = Path(cache_dir)
    if not cache_dir.is_dir():
        raise DataError(
            f"embedding cache {cache_dir} does not exist; run `geoclip embed --out {cache_dir}` first"
        )
    if model_id is not None:
        folder = model_cache_dir(cache_dir, model_id)
        if (folder / "manifest.json").is_file() or _chunk_paths(folder):
            return folder
        if (cache_dir / "manifest.json").is_file() and (_read_manifest(cache_dir) or {}).get(
            "model_id"
        ) == model_id:
            return cache_dir
        raise DataError(f"embedding cache {cache_dir} holds no embeddings of model {model_id!r}")
    if (cache_dir / "manifest.json").is_file() or _chunk_paths(cache_dir):
        return cache_dir
    subs = sorted(p for p in cache_dir.iterdir() if p.is_dir() and (p / "manifest.json").is_file())
    if not subs:
        raise DataError(
            f"embedding cache {cache_dir} holds no embeddings; run `geoclip embed --out {cache_dir}` first"
        )
    if len(subs) > 1:
        names = [(_read_manifest(p) or {}).get("model_id", p.name) for p in subs]
        raise ConfigError(
            f"embedding cache {cache_dir} holds several models {names}; say which one (model_id)"
        )
    return subs[0]


# --------------------------------------------------------------------------- embedding


def default_workers() -> int:
    """DataLoader workers by default: one per spare core, at most 8; none on a machine of two cores or
    fewer, where torch's threads already use every core and a decoding process only competes with them
    (measured on 2 cores, ViT-B/32, 256 JPEGs: pipeline/model-only 0.92 decoding in the main process
    against 0.89 with one worker process). Without workers, a thread decodes ahead (``prefetch``)."""
    cores = os.cpu_count() or 1
    return 0 if cores <= 2 else min(8, cores - 1)


def _prefetched(batches: Iterable, depth: int = 2) -> Iterator:
    """Iterate ``batches`` in a background thread, ``depth`` items ahead.

    With ``workers=0`` the images are decoded in this process; a thread lets JPEG decoding and resizing
    (which release the GIL) overlap with the forward pass instead of alternating with it. An error in
    the thread is raised here; closing the generator early stops the thread.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in batches:
                if not put(("item", item)):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            put(("error", exc))
            return
        put(("done", done))

    thread = threading.Thread(target=run, name="geoclip-decode", daemon=True)
    thread.start()
    try:
        while True:
            kind, item = q.get()
            if kind == "item":
                yield item
            elif kind == "error":
                raise item
            else:
                return
    finally:
        stop.set()
        thread.join()


def embed_images(
    model: torch.nn.Module,
    preprocess: Callable,
    image_dir: str | os.PathLike,
    ids: Sequence[str] | str | os.PathLike,
    cache_dir: str | os.PathLike,
    batch_size: int = 64,
    workers: int | None = None,
    device: str | None = None,
    progress: bool = True,
    *,
    chunk_size: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    fast_decode: bool = True,
    max_chunks: int | None = None,
    prefetch: bool = True,
) -> pd.DataFrame:
    """Embed images into the cache, resuming where an earlier run stopped.

    Parameters
    ----------
    model, preprocess : from :func:`geoclip_utils.models.load_model`.
    image_dir : folder with ``<id>.jpg`` (or .jpeg/.png) files.
    ids : image ids, or the path of an id CSV (see :func:`read_ids`).
    cache_dir : cache folder; this model's files go to ``model_cache_dir(cache_dir, model_id)``.
    batch_size : images per forward pass.
    workers : DataLoader worker processes decoding images (default :func:`default_workers`).
    device : ignored unless given, then it must match the model's device (the model decides).
    progress : show a tqdm bar (img/s).
    chunk_size : images per cache chunk (default 1024, rounded up to a multiple of ``batch_size``).
    max_pixels : larger images are skipped (decompression-bomb guard).
    fast_decode : JPEG draft decoding for photos larger than 2x the model resolution (see
        :func:`open_rgb`); ``False`` gives exactly the openai reference preprocessing.
    max_chunks : stop after writing this many new chunks (for tests and time-boxed jobs).
    prefetch : with ``workers=0``, decode the next batches in a background thread while the model runs.

    Returns
    -------
    pandas.DataFrame
        The report: ``image_id``, ``status`` (``ok`` or ``skipped``), ``reason``, one row per requested
        id in input order (ids finished by an earlier run included). Also written to ``report.csv``.

    Raises
    ------
    InputError
        Missing image folder, empty id list.
    ConfigError
        Another process is writing the same cache; bad batch size / workers; device mismatch.

    Example
    -------
    >>> model, preprocess, model_id = load_model("ViT-L/14")  # doctest: +SKIP
    >>> report = embed_images(model, preprocess, "images/", "ids.csv", "cache/")  # doctest: +SKIP
    >>> ids, feats = load_embeddings("cache/")  # doctest: +SKIP
    """
    image_dir = Path(image_dir)
    if not image_dir.is_dir():
        raise InputError(f"image folder {image_dir} does not exist or is not a folder")
    if isinstance(ids, (str, os.PathLike)):
        ids = read_ids(ids)
    ids = [str(i) for i in ids]
    if not ids:
        raise InputError("the id list is empty; nothing to embed")
    seen: set[str] = set()
    dups = [i for i in ids if i in seen or seen.add(i)]
    if dups:
        raise InputError(f"{len(dups)} duplicated image ids, e.g. {dups[:3]}; remove the repeats")
    if batch_size < 1:
        raise ConfigError(f"batch size must be >= 1, got {batch_size}")
    workers = default_workers() if workers is None else workers
    if workers < 0:
        raise ConfigError(f"workers must be >= 0, got {workers}")
    info = model_info(model)
    if device not in (None, "", "auto") and torch.device(device).type != torch.device(info.device).type:
        raise ConfigError(
            f"device {device!r} differs from the model's device {info.device}; load the model there"
        )
    chunk_size = chunk_size or 1024
    chunk_size = max(batch_size, -(-chunk_size // batch_size) * batch_size)

    folder = model_cache_dir(cache_dir, info.model_id)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = _read_manifest(folder)
    if manifest and manifest.get("model_id") != info.model_id:
        raise DataError(
            f"embedding cache {folder} belongs to model {manifest.get('model_id')!r}, not {info.model_id!r}"
        )
    extra = {
        "model_source": info.source,
        "input_resolution": info.input_resolution,
        "preprocess": "clip._transform" + (" + JPEG draft >= 2x resolution" if fast_decode else ""),
        "max_pixels": max_pixels,
    }
    with _Lock(folder):
        for p in folder.glob(".*.tmp"):  # leftovers of an interrupted write
            p.unlink(missing_ok=True)
        done: dict[str, tuple[str, str]] = {}
        chunks = _chunk_paths(folder)
        for p in chunks:
            c = _read_chunk(p)
            for i in c["ids"].tolist():
                done[i] = ("ok", "")
            for i, r in zip(c["skipped_ids"].tolist(), c["skipped_reasons"].tolist(), strict=True):
                done[i] = ("skipped", r)
        next_chunk = int(_CHUNK_RE.match(chunks[-1].name).group(1)) + 1 if chunks else 0
        todo = [i for i in ids if i not in done]

        if todo:
            dataset = ImageSet(
                image_dir,
                todo,
                preprocess,
                max_pixels=max_pixels,
                draft_size=2 * info.input_resolution if fast_decode else None,
            )
            loader = DataLoader(
                dataset,
                batch_size=batch_size,
                shuffle=False,
                num_workers=workers,
                collate_fn=collate_images,
                pin_memory=info.device.startswith("cuda"),
                prefetch_factor=4 if workers else None,
                persistent_workers=False,
            )
            bar = tqdm(
                total=len(ids), initial=len(ids) - len(todo), unit="img", disable=not progress, desc="embed"
            )
            buf_ids: list[str] = []
            buf_feats: list[np.ndarray] = []
            buf_skip: list[str] = []
            buf_reason: list[str] = []
            written = 0
            dim = manifest.get("dim") if manifest else None

            def flush() -> None:
                nonlocal next_chunk, written, dim
                feats = (
                    np.concatenate(buf_feats).astype(np.float32, copy=False)
                    if buf_feats
                    else np.zeros((0, dim or 0), np.float32)
                )
                _write_npz(
                    folder / f"chunk_{next_chunk:05d}.npz",
                    ids=_str_array(buf_ids),
                    features=feats,
                    skipped_ids=_str_array(buf_skip),
                    skipped_reasons=_str_array(buf_reason),
                )
                for i in buf_ids:
                    done[i] = ("ok", "")
                for i, r in zip(buf_skip, buf_reason, strict=True):
                    done[i] = ("skipped", r)
                next_chunk += 1
                written += 1
                buf_ids.clear(), buf_feats.clear(), buf_skip.clear(), buf_reason.clear()
                _write_manifest(folder, info.model_id, dim, extra, done)

            batches = _prefetched(loader) if prefetch and workers == 0 else iter(loader)
            try:
                for ok_idx, tensor, bad_idx, reasons in batches:
                    if tensor is not None:
                        feats = encode_image_batch(model, tensor).cpu().numpy()
                        dim = int(feats.shape[1])
                        buf_feats.append(feats)
                        buf_ids.extend(todo[i] for i in ok_idx)
                    buf_skip.extend(todo[i] for i in bad_idx)
                    buf_reason.extend(reasons)
                    bar.update(len(ok_idx) + len(bad_idx))
                    if len(buf_ids) + len(buf_skip) >= chunk_size:
                        flush()
                        if max_chunks is not None and written >= max_chunks:
                            break
                else:
                    if buf_ids or buf_skip:
                        flush()
            finally:
                if hasattr(batches, "close"):
                    batches.close()
                bar.close()
        if not (folder / "manifest.json").is_file() or not todo:
            dim0 = manifest.get("dim") if manifest else None
            if dim0 is None and done:
                dim0 = (
                    int(load_embeddings(folder)[1].shape[1])
                    if any(s == "ok" for s, _ in done.values())
                    else None
                )
            _write_manifest(folder, info.model_id, dim0, extra, done)

        rows = [(i, *done.get(i, ("pending", "not embedded yet (run stopped early)"))) for i in ids]
        report = pd.DataFrame(rows, columns=["image_id", "status", "reason"])
        all_rows = pd.DataFrame(
            [(i, s, r) for i, (s, r) in done.items()], columns=["image_id", "status", "reason"]
        )
        _write_text(folder / "report.csv", all_rows.to_csv(index=False))
    report.attrs.update(model_id=info.model_id, cache=str(folder))
    return report


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
    for p in _chunk_paths(folder):
        c = _read_chunk(p)
        all_ids.extend(c["ids"].tolist())
        if len(c["ids"]):  # a chunk of skipped images only has a (0, 0) feature array
            feats.append(c["features"].astype(np.float32, copy=False))
    dim = (_read_manifest(folder) or {}).get("dim") or 0
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
    manifest = _read_manifest(folder) or {}
    return {**manifest, "folder": str(folder)}


def load_report(cache_dir: str | os.PathLike, model_id: str | None = None) -> pd.DataFrame:
    """The report of every image in a cache: ``image_id``, ``status`` (ok/skipped), ``reason``."""
    folder = _resolve_model_dir(cache_dir, model_id)
    rows = []
    for p in _chunk_paths(folder):
        c = _read_chunk(p)
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


# --------------------------------------------------------------------------- texts


def encode_texts(
    model: torch.nn.Module,
    texts: Iterable[str],
    cache_dir: str | os.PathLike | None = None,
    batch_size: int = 256,
) -> np.ndarray:
    """Encode prompts to L2-normalised float32 features, with an optional cache keyed by (model id, text).

    Parameters
    ----------
    model : a CLIP model (see :mod:`geoclip_utils.models`).
    texts : the prompts; repeats are encoded once.
    cache_dir : optional; texts already cached for this model are not re-encoded, new ones are added
        as a new ``texts/texts_<hash>.npz`` file.
    batch_size : prompts per forward pass.

    Returns
    -------
    numpy.ndarray, float32, shape (len(texts), dim).

    Raises
    ------
    InputError
        A prompt longer than CLIP's 77-token context.

    Example
    -------
    >>> encode_texts(model, ["This is a photo of France, a country"]).shape  # doctest: +SKIP
    (1, 768)
    """
    texts = [str(t) for t in texts]
    info = model_info(model)
    known: dict[str, np.ndarray] = {}
    folder = None
    if cache_dir is not None:
        folder = model_cache_dir(cache_dir, info.model_id) / "texts"
        if folder.is_dir():
            for p in sorted(folder.glob("texts_*.npz")):
                try:
                    with np.load(p, allow_pickle=False) as z:
                        for t, f in zip(z["texts"].tolist(), z["features"], strict=True):
                            known[t] = f
                except Exception as exc:
                    raise DataError(f"text cache file {p} is unreadable ({exc}); delete it") from exc
    new = [t for t in dict.fromkeys(texts) if t not in known]
    if new:
        feats = []
        for s in range(0, len(new), batch_size):
            feats.append(encode_text_batch(model, new[s : s + batch_size]).cpu().numpy())
        arr = np.concatenate(feats).astype(np.float32)
        known.update(zip(new, arr, strict=True))
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha1("\n".join(new).encode()).hexdigest()[:16]
            _write_npz(
                folder / f"texts_{digest}_{int(time.time() * 1000)}.npz", texts=_str_array(new), features=arr
            )
    if not texts:
        return np.zeros((0, 0), np.float32)
    return np.stack([known[t] for t in texts]).astype(np.float32, copy=False)
