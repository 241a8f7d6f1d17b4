"""The bootstrap: one set of resamples for every statistic of the same images.

*Bootstrap CI*: percentile interval over ``n_boot`` resamples of the images (with replacement), drawn
with ``numpy.random.default_rng(seed)`` and stored as image weights (:func:`bootstrap_weights`), so one
mechanism serves any statistic, paired differences included, and the same seed resamples the same images
for every statistic. Default ``n_boot=1000``, ``seed=0``, 95 %.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from ..errors import ConfigError

__all__ = [
    "DEFAULT_N_BOOT",
    "DEFAULT_SEED",
    "bootstrap_weights",
    "bootstrap_distribution",
    "percentile_interval",
    "bootstrap_ci",
    "weighted_means",
    "accuracy_ci",
]


DEFAULT_N_BOOT = 1000


DEFAULT_SEED = 0


def bootstrap_weights(
    n: int,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
    max_cells: int = 4_000_000,
) -> Iterator[np.ndarray]:
    """The bootstrap resamples of ``n`` images, as blocks of weight rows.

    Resample ``r`` draws ``n`` images uniformly with replacement (``rng.integers``, then a bincount):
    row ``r`` counts how often each image was drawn. The rows come in blocks of at most ``max_cells``
    numbers (memory stays bounded for any ``n``). The same ``n``, ``n_boot`` and ``seed`` always give the
    same resamples, so every statistic of the same images is resampled identically — paired
    differences and several metrics of one table included.

    Yields
    ------
    numpy.ndarray of shape ``(b, n)``, float64, each row summing to ``n``.
    """
    if n < 1:
        raise ConfigError("bootstrap of an empty sample")
    rng = np.random.default_rng(seed)
    block = max(1, min(n_boot, max_cells // n))
    done = 0
    while done < n_boot:
        b = min(block, n_boot - done)
        idx = rng.integers(0, n, size=(b, n)) + (np.arange(b) * n)[:, None]
        yield np.bincount(idx.ravel(), minlength=b * n).reshape(b, n).astype(np.float64)
        done += b


def bootstrap_distribution(
    stat: Callable[[np.ndarray], np.ndarray | float],
    n: int,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
    vectorized: bool = False,
) -> np.ndarray:
    """Values of ``stat`` on each resample of :func:`bootstrap_weights`.

    ``stat`` receives one weight vector (length ``n``) and returns a float, or, with
    ``vectorized=True``, a block of weight rows ``(b, n)`` and returns ``b`` values (or a ``(b, m)``
    array for ``m`` statistics at once).
    """
    out = []
    for w in bootstrap_weights(n, n_boot=n_boot, seed=seed):
        if vectorized:
            out.append(np.asarray(stat(w), dtype=float))
        else:
            out.append(np.array([stat(row) for row in w], dtype=float))
    return np.concatenate(out, axis=0)


def percentile_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float] | np.ndarray:
    """Percentile interval of bootstrap values (per column for a 2-D array)."""
    if not 0 < level < 1:
        raise ConfigError(f"confidence level must be in (0, 1), got {level}")
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(values, [tail, 100 - tail], axis=0)
    if np.ndim(lo) == 0:
        return float(lo), float(hi)
    return np.stack([lo, hi], axis=-1)


def bootstrap_ci(
    stat: Callable[[np.ndarray], float],
    n: int,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
    level: float = 0.95,
    vectorized: bool = False,
) -> tuple[float, float]:
    """Percentile bootstrap interval of a statistic over ``n`` images.

    ``stat(w)`` receives a weight vector (how many times each image is drawn in one resample; see
    :func:`bootstrap_weights`) and returns the statistic of that resample, so paired statistics
    resample both members of a pair together. With ``vectorized=True`` it receives a block of rows.

    Example
    -------
    >>> correct = np.array([1, 1, 0, 1] * 50, float)
    >>> lo, hi = bootstrap_ci(lambda w: (w * correct).sum() / w.sum(), len(correct))
    >>> lo < 0.75 < hi
    True
    """
    if not 0 < level < 1:
        raise ConfigError(f"confidence level must be in (0, 1), got {level}")
    values = bootstrap_distribution(stat, n, n_boot=n_boot, seed=seed, vectorized=vectorized)
    return percentile_interval(values, level)


def weighted_means(values: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Vectorised statistic: the weighted mean of each column of ``values`` (n,) or (n, m)."""
    return lambda w: (w @ values) / w.sum(axis=1, keepdims=values.ndim > 1)


def accuracy_ci(correct: np.ndarray, **kw) -> tuple[float, float]:
    """Bootstrap CI of the mean of a boolean/0-1 array (see :func:`bootstrap_ci` for options)."""
    c = np.asarray(correct, dtype=float)
    return bootstrap_ci(weighted_means(c), len(c), vectorized=True, **kw)
