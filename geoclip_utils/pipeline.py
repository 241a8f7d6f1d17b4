"""The inference pipeline in three steps, on the demo set or on real photos: images → model → predictions.

:class:`PipelineRun` is the pipeline in three steps (load the model, :meth:`~PipelineRun.embed`,
:meth:`~PipelineRun.classify`, then a summary table): the Running CLIP chapter runs it step by step on the
synthetic demo set (:mod:`geoclip_utils.engine.synthetic`) or on real photos (:func:`chapter_images`), the
Climate chapter in one call (:func:`run_demo`). Both chapters' studies (:mod:`geoclip_utils.studies.running_clip`,
:mod:`geoclip_utils.studies.climate`) use it, so it sits below them. The chapters' parameters are checked up
front by :mod:`geoclip_utils.parameters`.

Does not own: the engine itself (:mod:`geoclip_utils.engine`: the embedding driver, the cache, zero-shot
scoring), which the pipeline only calls.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import experiments as registry
from .data import read_region_map
from .engine.images import read_ids
from .engine.models import load_model
from .engine.runner import embed_images
from .engine.synthetic import DemoSet, make_demo_images
from .engine.zeroshot import run_experiment
from .errors import ConfigError, InputError

__all__ = [
    "RunImages",
    "demo_images",
    "chapter_images",
    "PipelineRun",
    "run_demo",
]


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
    """The synthetic demo set (:func:`~geoclip_utils.engine.synthetic.make_demo_images` in ``out_dir``) as the
    images of a run.

    Parameters
    ----------
    out_dir : folder of the demo set.
    relabel : demo label → the label an experiment expects (e.g. a country's typical climate); images whose
        label has no entry are left out of the gold table (they are still embedded).

    Returns
    -------
    RunImages with the demo's gold labels and region map.
    """
    from .labels import read_gold_csv

    demo = make_demo_images(out_dir)
    gold = read_gold_csv(demo.ids_csv)
    n_classes = len(set(gold["label"]))
    if relabel is not None:
        gold = gold[["image_id", "label"]].assign(label=gold["label"].map(relabel))
        gold = gold.dropna().reset_index(drop=True)
    region_map = read_region_map(demo.region_map_json, what="demo region map")
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
        from .engine.cache import load_embeddings
        from .engine.models import model_info

        embeddings = load_embeddings(self.cache_dir, model_id=model_info(self.model).model_id)  # once for all
        for name in experiments:
            self.tables[name] = run_experiment(
                name,
                self.model,
                self.cache_dir,
                results_dir,
                gold=self.images.gold,
                region_map=self.images.region_map,
                embeddings=embeddings,
            )
        self.results_dir = Path(results_dir) if results_dir is not None else None
        return self.tables

    def summary(self) -> pd.DataFrame:
        """One row per experiment run: ``experiment``, ``mode``, ``images``, ``top-k stored``,
        ``top-1 accuracy``, ``file`` (where the table was written; ``""`` when it was not)."""
        from .stats import topk_accuracy

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
        from .stats import topk_accuracy

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
