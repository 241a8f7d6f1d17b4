"""Synthetic pictures for demos, tests and benchmarks, and the small offline demo set.

:func:`synthetic_image` draws a street-scene-like picture (sky, ground, a few blocks, noise);
:func:`synthetic_photos` and :func:`synthetic_shards` write many of them as JPEG files or as WebDataset tar
shards. :func:`make_demo_images` writes the demo set: pictures for a handful of country labels, an id CSV
with gold labels, a labels file and a region map. With the random-weight ``tiny`` model it exercises every
step of the pipeline (embed → cache → classify → predictions table → metrics) without a download, but it
is a **pipeline demonstration only**: random weights and synthetic pictures give chance-level accuracy,
and no number computed from it says anything about CLIP.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from .._io import atomic_write, write_csv, write_json, write_text

__all__ = [
    "DEMO_LABELS",
    "DEMO_REGION_MAP",
    "DemoSet",
    "synthetic_image",
    "synthetic_photos",
    "synthetic_shards",
    "write_jpeg",
    "make_demo_images",
]

#: The demo's country labels (gold labels of the synthetic images).
DEMO_LABELS = ("France", "Spain", "Latvia", "Japan", "Brazil")
#: A demo region map (region -> countries) for the region / two-stage / mixed modes.
DEMO_REGION_MAP = {
    "western europe": ["France", "Spain"],
    "southern europe": ["Spain"],
    "baltic": ["Latvia"],
    "east asia": ["Japan"],
    "south america": ["Brazil"],
}


@dataclass(frozen=True)
class DemoSet:
    """Paths of a demo image set."""

    image_dir: Path
    ids_csv: Path  # columns image_id, label
    labels_txt: Path  # one label per line
    region_map_json: Path
    n_images: int


def synthetic_image(
    rng: np.random.Generator, palette: np.ndarray, size: tuple[int, int] = (320, 240)
) -> Image.Image:
    """One synthetic street-scene-like picture: sky and ground split at a random horizon, a few blocks
    (buildings, cars, signs) and pixel noise — the one generator of pictures for demos, tests and benchmarks.

    Parameters
    ----------
    rng : the random generator (its state advances, so consecutive calls give different pictures).
    palette : (3, 3) RGB colours of the sky, the ground and the blocks.
    size : width, height in pixels.

    Returns
    -------
    PIL.Image.Image, RGB.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> synthetic_image(rng, rng.uniform(40, 220, (3, 3)), (64, 48)).size
    (64, 48)
    """
    w, h = size
    yy = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    horizon = rng.uniform(0.35, 0.6)
    img = np.where(yy < horizon, palette[0], palette[1]) * np.ones((h, w, 3), np.float32)
    for _ in range(rng.integers(2, 6)):
        x0, y0 = rng.integers(0, w - 30), rng.integers(int(h * 0.2), h - 30)
        img[y0 : y0 + rng.integers(15, 120), x0 : x0 + rng.integers(15, 120)] = palette[2] + rng.normal(
            0, 20, 3
        )
    img += rng.normal(0, 6, img.shape).astype(np.float32)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def write_jpeg(path: str | os.PathLike, picture: Image.Image, quality: int = 88) -> Path:
    """Save a picture as JPEG atomically."""
    return atomic_write(path, lambda fh: picture.save(fh, format="JPEG", quality=quality))


def synthetic_photos(
    out_dir: str | os.PathLike, n: int, size: tuple[int, int] = (640, 480), seed: int = 0
) -> list[str]:
    """Write ``n`` synthetic pictures (:func:`synthetic_image`, a random palette each) as
    ``<out_dir>/synthetic_<i>.jpg``; return their ids (for benchmarks and tests)."""
    out = Path(out_dir)
    rng = np.random.default_rng(seed)
    ids = []
    for i in range(n):
        image_id = f"synthetic_{i:05d}"
        write_jpeg(out / f"{image_id}.jpg", synthetic_image(rng, rng.uniform(40, 220, (3, 3)), size), 90)
        ids.append(image_id)
    return ids


def synthetic_shards(
    out_dir: str | os.PathLike,
    n: int,
    n_shards: int = 4,
    size: tuple[int, int] = (640, 480),
    seed: int = 0,
) -> list[Path]:
    """Write ``n`` synthetic pictures (:func:`synthetic_image`) as WebDataset tar shards
    ``<out_dir>/{00000..}.tar`` in the img2dataset layout: per sample ``<key>.jpg`` and ``<key>.json``
    (``{"key": ...}``), keys ``synthetic_<i>`` (for benchmarks and tests).

    Returns
    -------
    list of Path: the shards (each written atomically), ``n`` samples spread evenly over them.

    Example
    -------
    >>> [p.name for p in synthetic_shards("_build/shards", 10, n_shards=2, size=(64, 48))]  # doctest: +SKIP
    ['00000.tar', '00001.tar']
    """
    import io
    import json
    import tarfile

    out = Path(out_dir)
    rng = np.random.default_rng(seed)
    bounds = np.linspace(0, n, n_shards + 1).astype(int)
    paths = []

    def add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))

    for s in range(n_shards):

        def write(fh, s=s) -> None:
            with tarfile.open(fileobj=fh, mode="w") as tar:
                for i in range(bounds[s], bounds[s + 1]):
                    key = f"synthetic_{i:05d}"
                    buf = io.BytesIO()
                    synthetic_image(rng, rng.uniform(40, 220, (3, 3)), size).save(
                        buf, format="JPEG", quality=90
                    )
                    add(tar, f"{key}.jpg", buf.getvalue())
                    add(tar, f"{key}.json", json.dumps({"key": key}).encode())

        paths.append(atomic_write(out / f"{s:05d}.tar", write))
    return paths


def make_demo_images(
    out_dir: str | os.PathLike,
    n_per_label: int = 8,
    labels: tuple[str, ...] = DEMO_LABELS,
    size: tuple[int, int] = (320, 240),
    seed: int = 0,
) -> DemoSet:
    """Write the demo set into ``out_dir`` (idempotent: same seed, same files).

    Parameters
    ----------
    out_dir : folder; gets ``images/``, ``ids.csv``, ``labels.txt``, ``region_map.json``.
    n_per_label : images per label (default 8, so 40 images).
    labels : gold labels.
    size : image width, height.
    seed : random seed.

    Returns
    -------
    DemoSet

    Example
    -------
    >>> demo = make_demo_images("_build/demo")  # doctest: +SKIP
    >>> demo.n_images  # doctest: +SKIP
    40
    """
    out = Path(out_dir)
    image_dir = out / "images"
    image_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for li, label in enumerate(labels):
        palette = np.random.default_rng(1000 + li).uniform(40, 220, (3, 3))  # sky, ground, blocks per label
        for j in range(n_per_label):
            image_id = f"demo_{label.lower()}_{j:02d}"
            write_jpeg(image_dir / f"{image_id}.jpg", synthetic_image(rng, palette, size))
            rows.append((image_id, label))
    ids_csv = write_csv(pd.DataFrame(rows, columns=["image_id", "label"]), out / "ids.csv")
    labels_txt = write_text(out / "labels.txt", "\n".join(labels) + "\n")
    region_map = {r: [c for c in cs if c in labels] for r, cs in DEMO_REGION_MAP.items()}
    region_map_json = write_json(
        out / "region_map.json", {r: cs for r, cs in region_map.items() if cs}, indent=1
    )
    return DemoSet(image_dir, ids_csv, labels_txt, region_map_json, len(rows))
