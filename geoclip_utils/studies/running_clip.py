"""The *Running CLIP* chapter: what its first result can say.

The pipeline the chapter runs step by step (load the model, embed, classify, summarise) is
:mod:`geoclip_utils.pipeline`, shared with the Climate chapter; this study holds the chapter's own wording.
"""

from __future__ import annotations

import pandas as pd

from ..pipeline import RunImages
from ..stats import summarize

__all__ = ["first_result_note"]


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
    >>> from pathlib import Path
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
