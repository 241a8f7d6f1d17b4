"""The authors' own loops, kept as reference implementations.

The paper's scripts (``Ispanicus/geoguessr-ai``) computed their numbers with simple, slow loops. The
package replaces each with a fast version; the originals live here, written as the authors wrote them,
so that tests, chapters and benchmarks compare against one copy:

* :func:`authors_token_counts` — ``notebooks/label_counts_tokens.py``: CLIP token sets per caption;
* :func:`authors_substring_counts` — ``notebooks/Utils.py: LAION_label_count``: ``" " + label`` substrings;
* :func:`authors_dedupe` — ``notebooks/distance_correction.py``: the pairwise 1-km near-duplicate walk;
* :func:`seed_encode_images`, :func:`seed_encode_texts`, :func:`seed_flat` — the inference path of
  ``ModelRun3all.py``: serial decoding, un-normalised image features, the full 77-token text encoder.

They are slow on purpose (O(n²) or one tokenizer call per caption): use them on small inputs.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

__all__ = [
    "authors_token_counts",
    "authors_substring_counts",
    "authors_dedupe",
    "seed_encode_images",
    "seed_encode_texts",
    "seed_flat",
]


@contextlib.contextmanager
def _lines(captions: str | os.PathLike | Iterable[str]) -> Iterator[Iterable[str]]:
    if isinstance(captions, str | os.PathLike):
        with open(captions, encoding="utf-8") as fh:
            yield fh
    else:
        yield captions


def authors_token_counts(
    captions: str | os.PathLike | Iterable[str], labels: Sequence[str]
) -> dict[str, int]:
    """The authors' token-set count, as in their ``label_counts_tokens.py`` (one process).

    Label tokens: ``set(clip.tokenize(label).numpy()[0])``; for each caption line (text mode, UTF-8):
    ``set(clip.tokenize(caption).numpy()[0])``, skipping captions on which it raises (too long);
    a label counts when its set is a subset of the caption's.

    Parameters
    ----------
    captions : a caption text file (read in text mode, UTF-8, as the authors did), or the lines themselves.
    labels : sequence of str
        Labels.

    Returns
    -------
    dict[str, int]
        label -> count.

    Example
    -------
    >>> authors_token_counts("caps.txt", ["France"])  # doctest: +SKIP
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import clip

    label_to_tokens = {}
    for label in labels:
        if label not in label_to_tokens:
            label_to_tokens[label] = set(clip.tokenize(label).numpy()[0])
    label_count = {label: 0 for label in label_to_tokens}
    with _lines(captions) as capfile:
        for caption in capfile:
            try:
                caption_tokens_set = set(clip.tokenize(caption).numpy()[0])
            except Exception:  # noqa: BLE001 - the authors used a bare except (too-long captions)
                continue
            for key, tokens in label_to_tokens.items():
                if tokens.issubset(caption_tokens_set):
                    label_count[key] += 1
    return label_count


def authors_substring_counts(
    captions: str | os.PathLike | Iterable[str], labels: Sequence[str]
) -> dict[str, int]:
    """The authors' substring count (``LAION_label_count`` in their ``notebooks/Utils.py``).

    A caption line counts for a label when ``" " + label.lower()`` is in ``" " + line.lower()``.

    Parameters
    ----------
    captions : a caption text file (UTF-8), or the lines themselves.
    labels : sequence of str
        Labels.

    Returns
    -------
    dict[str, int]
        label -> count.

    Example
    -------
    >>> authors_substring_counts("caps.txt", ["France"])  # doctest: +SKIP
    """
    keys = {" " + label.lower(): label for label in labels}
    counts = {label: 0 for label in labels}
    with _lines(captions) as capfile:
        for line in capfile:
            caption = " " + line.lower()
            for key, label in keys.items():
                if key in caption:
                    counts[label] += 1
    return counts


def authors_dedupe(
    lat: Sequence[float], lon: Sequence[float], groups: Sequence, radius_km: float = 1.0
) -> np.ndarray:
    """The authors' near-duplicate walk, literally (O(n²)): which points are kept.

    Within each group, in input order, every point is compared with every other; a point closer than
    ``radius_km`` (great-circle, strictly) to one not yet removed is removed.

    Returns
    -------
    numpy.ndarray of bool, one per point.
    """
    from .geo import haversine_km

    n = len(lat)
    accepted: list[int] = []
    removed: set[int] = set()
    for g in dict.fromkeys(groups):
        members = [i for i in range(n) if groups[i] == g]
        first = True
        for i in members:
            if first:
                first = False
                accepted.append(i)
            for j in members:
                if i == j or i in removed or j in removed:
                    continue
                if haversine_km(lat[i], lon[i], lat[j], lon[j]) < radius_km:
                    removed.add(j)
                elif i not in accepted:
                    accepted.append(i)
    keep = np.zeros(n, bool)
    keep[accepted] = True
    keep[list(removed)] = False
    return keep


def seed_encode_images(model, preprocess, image_dir: Path, ids: list[str]) -> torch.Tensor:
    """The seed's image path: serial open/convert/preprocess, one stacked batch, no normalisation."""
    batch = torch.stack([preprocess(Image.open(image_dir / f"{i}.jpg").convert("RGB")) for i in ids])
    with torch.inference_mode():
        return model.encode_image(batch.to(next(model.parameters()).device)).float()


def seed_encode_texts(model, prompts: list[str]) -> torch.Tensor:
    """The seed's text path: full 77-token ``model.encode_text``, then normalisation."""
    import clip

    with torch.inference_mode():
        txt = model.encode_text(clip.tokenize(prompts).to(next(model.parameters()).device)).float()
    return txt / txt.norm(dim=-1, keepdim=True)


def seed_flat(model, preprocess, image_dir, ids, prompts) -> np.ndarray:
    img = seed_encode_images(model, preprocess, image_dir, ids)
    txt = seed_encode_texts(model, prompts)
    return (100.0 * img @ txt.T).softmax(dim=-1).cpu().numpy()
