"""A small offline image set for demonstrating the inference pipeline end to end, and the pipeline itself as the
chapters run it.

:func:`make_demo_images` writes synthetic street-scene-like JPEGs for a handful of country labels,
an id CSV with gold labels, a labels file and a region map. With the random-weight ``tiny`` model this
exercises every step (embed → cache → classify → predictions table → metrics) without a download,
but it is a **pipeline demonstration only**: random weights and synthetic pictures give chance-level
accuracy, and no number computed from it says anything about CLIP.

:class:`PipelineRun` is that pipeline in three steps (load the model, :meth:`~PipelineRun.embed`,
:meth:`~PipelineRun.classify`, then a summary table): the Running CLIP chapter runs it step by step on the
demo set or on real photos (:func:`chapter_images`), the Climate chapter in one call (:func:`run_demo`).
The chapters' parameters are checked up front by :mod:`geoclip_utils.parameters`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from .. import experiments as registry
from .._io import atomic_write, write_csv, write_json, write_text
from ..errors import ConfigError, InputError
from .images import read_ids
from .models import load_model
from .runner import embed_images
from .zeroshot import run_experiment

__all__ = [
    "DEMO_LABELS",
    "DEMO_REGION_MAP",
    "DemoSet",
    "synthetic_image",
    "synthetic_photos",
    "synthetic_shards",
    "write_jpeg",
    "make_demo_images",
    "RunImages",
    "demo_images",
    "chapter_images",
    "PipelineRun",
    "run_demo",
    "first_result_note",
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


# --------------------------------------------------------------------------- the pipeline of the chapters
# The Running CLIP chapter runs it step by step (images, embedding, classification); the Climate chapter runs
# it in one call (:func:`run_demo`). Both go through :class:`PipelineRun`, so the pipeline is written once.


@dataclass(frozen=True)
class RunImages:
    """The images of a pipeline run.

    Attributes
    ----------
    image_dir : folder of ``<image_id>.jpg`` files.
    ids : the ids to embed, in order.
    gold : gold labels every experiment uses (the demo set's), or ``None``: each experiment takes its own
        from the registry (:func:`geoclip_utils.experiments.load_labels`).
    region_map : region → countries every experiment uses (the demo set's), or ``None`` (the registry's).
    demo : the demo set, when the images are the synthetic ones.
    n_classes : distinct labels of the demo set (0 for real photos).
    """

    image_dir: Path
    ids: list[str]
    gold: pd.DataFrame | None = None
    region_map: dict[str, list[str]] | None = None
    demo: DemoSet | None = None
    n_classes: int = 0

    def describe(self) -> str:
        """One line saying what the images are.

        Example
        -------
        >>> RunImages(Path("photos"), ["a", "b"]).describe()
        '2 image ids, photos in photos'
        """
        if self.demo is not None:
            return (
                f"demo set: {self.demo.n_images} synthetic pictures of {self.n_classes} 'countries' "
                f"in {self.image_dir}"
            )
        return f"{len(self.ids)} image ids, photos in {self.image_dir}"


def demo_images(out_dir: str | os.PathLike, *, relabel: Mapping[str, str] | None = None) -> RunImages:
    """The synthetic demo set (:func:`make_demo_images` in ``out_dir``) as the images of a run.

    Parameters
    ----------
    out_dir : folder of the demo set.
    relabel : demo label → the label an experiment expects (e.g. a country's typical climate); images whose
        label has no entry are left out of the gold table (they are still embedded).

    Returns
    -------
    RunImages with the demo's gold labels and region map.
    """
    from ..labels import read_gold_csv

    demo = make_demo_images(out_dir)
    gold = read_gold_csv(demo.ids_csv)
    n_classes = len(set(gold["label"]))
    if relabel is not None:
        gold = gold[["image_id", "label"]].assign(label=gold["label"].map(relabel))
        gold = gold.dropna().reset_index(drop=True)
    region_map = json.loads(demo.region_map_json.read_text(encoding="utf-8"))
    return RunImages(demo.image_dir, read_ids(demo.ids_csv), gold, region_map, demo, n_classes)


def chapter_images(
    image_dir: str | os.PathLike = "",
    ids_csv: str | os.PathLike = "",
    experiments: Sequence[str] = (),
    *,
    demo_dir: str | os.PathLike = "_build/demo",
) -> RunImages:
    """The images of the Running CLIP chapter: the demo set when ``image_dir`` is empty, else the photos.

    Parameters
    ----------
    image_dir : folder of ``<image_id>.jpg`` files; ``""`` for the synthetic demo set in ``demo_dir``.
    ids_csv : CSV of the ids to embed; ``""``: the demo's ids, or with photos the ids of the label sets of
        ``experiments``.
    experiments : the registered experiments to run (for their ids).
    demo_dir : folder of the demo set.

    Raises
    ------
    InputError
        A photo folder or id file that does not exist.
    """
    if not str(image_dir):
        return demo_images(demo_dir)
    folder = Path(image_dir)
    if not folder.is_dir():
        raise InputError(f"image folder {folder} does not exist or is not a folder")
    if str(ids_csv):
        ids = read_ids(ids_csv)
    else:
        sets = sorted({registry.get(n).label_set for n in experiments})
        ids = list(dict.fromkeys(i for s in sets for i in registry.load_labels(s)["image_id"]))
    return RunImages(folder, ids)


@dataclass
class PipelineRun:
    """One pass of the inference pipeline: a model, its embedding cache, and the experiments run from it.

    Start it with :meth:`start`, then :meth:`embed` and :meth:`classify` (or all three with
    :func:`run_demo`). The tables are the predictions tables of
    :func:`geoclip_utils.engine.zeroshot.run_experiment` (``source="local"``).
    """

    images: RunImages
    model: Any
    preprocess: Callable
    model_id: str
    cache_dir: Path
    report: pd.DataFrame | None = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    results_dir: Path | None = None

    @classmethod
    def start(
        cls, images: RunImages, model_name: str, cache_dir: str | os.PathLike, *, device: str = "auto"
    ) -> PipelineRun:
        """Load the model (:func:`geoclip_utils.engine.models.load_model`; ``device="auto"``: CUDA > MPS >
        CPU) for a run on ``images`` with its embedding cache in ``cache_dir``."""
        model, preprocess, model_id = load_model(model_name, device=None if device == "auto" else device)
        return cls(images, model, preprocess, model_id, Path(cache_dir))

    def embed(self, *, batch_size: int = 64, workers: int = -1, progress: bool = True) -> pd.DataFrame:
        """Embed the images into the cache (resumable; :func:`geoclip_utils.engine.runner.embed_images`).

        ``workers=-1`` picks the number of decoding processes automatically. Returns the report (one row
        per id: ``status`` ``ok`` or ``skipped`` with a ``reason``).
        """
        self.report = embed_images(
            self.model,
            self.preprocess,
            self.images.image_dir,
            self.images.ids,
            self.cache_dir,
            batch_size=batch_size,
            workers=None if workers < 0 else workers,
            progress=progress,
        )
        return self.report

    def _report(self) -> pd.DataFrame:
        if self.report is None:
            raise ConfigError("nothing embedded yet: call embed() first")
        return self.report

    @property
    def n_ok(self) -> int:
        """Images embedded."""
        return int((self._report()["status"] == "ok").sum())

    @property
    def n_skipped(self) -> int:
        """Images skipped (each with its reason in the report)."""
        return int((self._report()["status"] != "ok").sum())

    def skipped(self, n: int = 20) -> pd.DataFrame:
        """The first ``n`` skipped images of the report, with their reasons."""
        report = self._report()
        return report[report["status"] != "ok"].head(n)

    def classify(
        self, experiments: Sequence[str], results_dir: str | os.PathLike | None = None
    ) -> dict[str, pd.DataFrame]:
        """Run each experiment from the cache; with ``results_dir``, write ``<results_dir>/<name>.parquet``.

        The demo's gold labels and region map are used for every experiment when the images are the demo's.
        """
        for name in experiments:
            self.tables[name] = run_experiment(
                name,
                self.model,
                self.cache_dir,
                results_dir,
                gold=self.images.gold,
                region_map=self.images.region_map,
            )
        self.results_dir = Path(results_dir) if results_dir is not None else None
        return self.tables

    def summary(self) -> pd.DataFrame:
        """One row per experiment run: ``experiment``, ``mode``, ``images``, ``top-k stored``,
        ``top-1 accuracy``, ``file`` (where the table was written; ``""`` when it was not)."""
        from ..stats import topk_accuracy

        return pd.DataFrame(
            [
                {
                    "experiment": name,
                    "mode": df.attrs["mode"],
                    "images": len(df),
                    "top-k stored": df.attrs["k"],
                    "top-1 accuracy": topk_accuracy(df, k=1),
                    "file": str(self.results_dir / f"{name}.parquet") if self.results_dir else "",
                }
                for name, df in self.tables.items()
            ]
        )

    def numbers(self) -> dict:
        """What a chapter quotes about the run: ``n_images``, ``model_id``, ``device_used``, ``n_ok``,
        ``n_skipped``, and after :meth:`classify` ``n_experiments``, ``first_experiment``, ``first_top1`` and
        ``first_classes`` (labels among the gold and the answers of the first experiment)."""
        from ..stats import topk_accuracy

        out = {
            "n_images": len(self.images.ids),
            "model_id": self.model_id,
            "device_used": self.model.geoclip.device,
        }
        if self.report is not None:
            out |= {"n_ok": self.n_ok, "n_skipped": self.n_skipped}
        if self.tables:
            name, first = next(iter(self.tables.items()))
            out |= {
                "n_experiments": len(self.tables),
                "first_experiment": name,
                "first_top1": topk_accuracy(first, k=1),
                "first_classes": len(
                    {lab for row in first["top_labels"] for lab in row} | set(first["gold"])
                ),
            }
        return out

    def headline(self) -> str:
        """The checked lines of a run: experiments, images embedded and skipped, then one line per table."""
        lines = [f"{len(self.tables)} experiments, {self.n_ok} images embedded, {self.n_skipped} skipped"]
        lines += [
            f"{name}: {len(df)} rows, top-{df.attrs['k']} stored, source={df.attrs['source']}"
            for name, df in self.tables.items()
        ]
        return "\n".join(lines)


def first_result_note(
    images: RunImages, first: pd.DataFrame | None = None, *, n_boot: int = 1000, seed: int = 0
) -> str:
    """What the accuracy of a run can say: for the demo set (random weights, synthetic pictures) where it lies
    against chance (one over the demo's classes, with the run's bootstrap 95 % CI) and that it says nothing
    about CLIP; for real photos, a comparison with the authors' published files.

    Parameters
    ----------
    images : the run's images.
    first : the run's first predictions table (for the demo's chance comparison).
    n_boot, seed : bootstrap settings of the CI.

    Example
    -------
    >>> first_result_note(RunImages(Path("photos"), ["a"])).split(":")[0]
    "Compare it with the authors' published predictions"
    """
    if images.demo is None:
        return (
            "Compare it with the authors' published predictions: the analysis chapters read this run with "
            'source="local".'
        )
    if first is None or first.empty:
        return (
            "In demo mode the weights are random and the pictures synthetic, so it says nothing about CLIP."
        )
    from ..stats import summarize

    s = summarize(first, n_boot=n_boot, seed=seed)
    lo, hi = s["top1_ci95"]
    chance = s["chance"]
    where = (
        "consistent with chance (the interval includes it)"
        if lo <= chance <= hi
        else "above chance"
        if lo > chance
        else "below chance"
    )
    return (
        f"With {s['classes']} demo countries chance is {chance:.1%}; on {s['n']} pictures this run's 95 % CI is "
        f"{lo:.1%} – {hi:.1%}, so it is {where}. In demo mode the weights are random and the pictures "
        "synthetic, so either way it says nothing about CLIP."
    )


def run_demo(
    model_name: str,
    out_dir: str | os.PathLike,
    experiments: Sequence[str],
    *,
    relabel: Mapping[str, str] | None = None,
    cache_dir: str | os.PathLike | None = None,
    results_dir: str | os.PathLike | None = None,
    device: str = "auto",
    batch_size: int = 64,
    workers: int = -1,
    progress: bool = False,
) -> PipelineRun:
    """The whole pipeline on the synthetic demo set: make the images, load the model, embed, classify.

    A **pipeline demonstration**: with the random-weight ``tiny`` model the accuracy means nothing.

    Parameters
    ----------
    model_name : ``"tiny"``, a CLIP name or a checkpoint path.
    out_dir : folder of the demo set (``images/``, ``ids.csv``, …) and, by default, of the cache.
    experiments : the experiments to run (registered ones).
    relabel : demo label → the label the experiments expect (see :func:`demo_images`).
    cache_dir : embedding cache (default ``<out_dir>/cache``).
    results_dir : where to write ``<name>.parquet`` (default: not written).
    device, batch_size, workers, progress : see :meth:`PipelineRun.start` and :meth:`PipelineRun.embed`.

    Returns
    -------
    PipelineRun

    Example
    -------
    >>> run = run_demo("tiny", "_build/demo", ["country100"])  # doctest: +SKIP
    >>> run.summary()["images"].tolist()  # doctest: +SKIP
    [40]
    """
    images = demo_images(out_dir, relabel=relabel)
    run = PipelineRun.start(images, model_name, cache_dir or Path(out_dir) / "cache", device=device)
    run.embed(batch_size=batch_size, workers=workers, progress=progress)
    run.classify(experiments, results_dir)
    return run
