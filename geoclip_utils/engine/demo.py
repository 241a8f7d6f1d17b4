"""A small offline image set for demonstrating the inference pipeline end to end.

:func:`make_demo_images` writes synthetic street-scene-like JPEGs for a handful of country labels,
an id CSV with gold labels, a labels file and a region map. With the random-weight ``tiny`` model this
exercises every step (embed → cache → classify → predictions table → metrics) without a download,
but it is a **pipeline demonstration only**: random weights and synthetic pictures give chance-level
accuracy, and no number computed from it says anything about CLIP.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

__all__ = ["DEMO_LABELS", "DEMO_REGION_MAP", "DemoSet", "make_demo_images"]

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
    w, h = size
    yy = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    rows = []
    for li, label in enumerate(labels):
        palette = np.random.default_rng(1000 + li).uniform(40, 220, (3, 3))  # sky, ground, blocks per label
        for j in range(n_per_label):
            horizon = rng.uniform(0.35, 0.6)
            img = np.where(yy < horizon, palette[0], palette[1]) * np.ones((h, w, 3), np.float32)
            for _ in range(rng.integers(2, 6)):
                x0, y0 = rng.integers(0, w - 30), rng.integers(int(h * 0.2), h - 30)
                img[y0 : y0 + rng.integers(15, 120), x0 : x0 + rng.integers(15, 120)] = palette[
                    2
                ] + rng.normal(0, 20, 3)
            img += rng.normal(0, 6, img.shape).astype(np.float32)
            image_id = f"demo_{label.lower()}_{j:02d}"
            path = image_dir / f"{image_id}.jpg"
            tmp = path.with_name(f".{path.name}.tmp")
            Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(tmp, format="JPEG", quality=88)
            os.replace(tmp, path)
            rows.append((image_id, label))
    ids_csv = out / "ids.csv"
    pd.DataFrame(rows, columns=["image_id", "label"]).to_csv(ids_csv, index=False)
    labels_txt = out / "labels.txt"
    labels_txt.write_text("\n".join(labels) + "\n", encoding="utf-8")
    region_map_json = out / "region_map.json"
    region_map = {r: [c for c in cs if c in labels] for r, cs in DEMO_REGION_MAP.items()}
    region_map_json.write_text(
        json.dumps({r: cs for r, cs in region_map.items() if cs}, indent=1), encoding="utf-8"
    )
    return DemoSet(image_dir, ids_csv, labels_txt, region_map_json, len(rows))
