"""Near-duplicate filtering: the authors' 1-km rule (spatial index) and their embedding rule (cosine > 0.9)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputError
from .distance import as_coords, check_km, chord, haversine_km, unit_vectors

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DEDUPE_KM", "DEDUPE_COSINE", "dedupe_by_distance", "dedupe_by_cosine"]


#: The authors' de-duplication radius (km) and cosine threshold.
DEDUPE_KM = 1.0


DEDUPE_COSINE = 0.9


def _group_positions(n: int, groups: Sequence[Hashable] | np.ndarray | None) -> list[np.ndarray]:
    import pandas as pd

    if groups is None:
        return [np.arange(n)]
    g = (
        pd.Series(np.asarray(groups, dtype=object))
        if not isinstance(groups, pd.Series)
        else groups.reset_index(drop=True)
    )
    if len(g) != n:
        raise InputError(f"groups has {len(g)} entries for {n} points")
    codes, _ = pd.factorize(g, use_na_sentinel=False)
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    return np.split(order, bounds)


def _greedy(
    n_local: int, neighbours: list[list[int]] | np.ndarray, too_close: Callable[[int, np.ndarray], np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    keep = np.zeros(n_local, dtype=bool)
    dup_of = np.full(n_local, -1, dtype=np.int64)
    removed = np.zeros(n_local, dtype=bool)
    for j in range(n_local):
        if removed[j]:
            continue
        keep[j] = True
        nb = np.asarray(neighbours[j], dtype=np.int64)
        nb = nb[(nb != j) & ~removed[nb] & ~keep[nb]]
        if len(nb):
            nb = nb[too_close(j, nb)]
            removed[nb] = True
            dup_of[nb] = j
    return keep, dup_of


def dedupe_by_distance(
    lat: Any, lon: Any, groups: Sequence[Hashable] | np.ndarray | None = None, radius_km: float = DEDUPE_KM
) -> pd.DataFrame:
    """The authors' near-duplicate rule by distance, with a spatial index (O(n log n)).

    Within each group (e.g. country, or the authors' country/state/road), walk the points in input order;
    a point closer than ``radius_km`` (great-circle, strictly) to a point already accepted is dropped,
    otherwise it is accepted. Same result as their pairwise loop in ``notebooks/distance_correction.py``.

    Parameters
    ----------
    lat, lon : 1-D arrays of degrees.
    groups : group key of every point (``None``: one group).
    radius_km : the distance rule (default 1 km).

    Returns
    -------
    DataFrame (input order) with ``keep`` (bool) and ``duplicate_of`` (position of the accepted point
    that caused the drop, ``-1`` when kept).

    Example
    -------
    >>> dedupe_by_distance([0, 0, 0], [0, 0.005, 0.5])["keep"].tolist()
    [True, False, True]
    """
    import pandas as pd
    from scipy.spatial import cKDTree

    la, lo = as_coords(lat, lon)
    radius_km = check_km("radius_km", radius_km, positive=True)
    n = len(la)
    keep = np.zeros(n, dtype=bool)
    dup_of = np.full(n, -1, dtype=np.int64)
    xyz = unit_vectors(la, lo)
    r_chord = chord(radius_km) * (1 + 1e-9)
    for pos in _group_positions(n, groups):
        if len(pos) == 1:
            keep[pos] = True
            continue
        sub = xyz[pos]
        nbs = cKDTree(sub).query_ball_point(sub, r=r_chord)
        plat, plon = la[pos], lo[pos]

        def close(j: int, nb: np.ndarray, plat=plat, plon=plon) -> np.ndarray:
            return haversine_km(plat[j], plon[j], plat[nb], plon[nb]) < radius_km

        k, d = _greedy(len(pos), nbs, close)
        keep[pos] = k
        dup_of[pos] = np.where(d >= 0, pos[np.maximum(d, 0)], -1)
    return pd.DataFrame({"keep": keep, "duplicate_of": dup_of})


def dedupe_by_cosine(
    ids: Sequence[str] | np.ndarray,
    features: np.ndarray,
    groups: Sequence[Hashable] | np.ndarray | None = None,
    threshold: float = DEDUPE_COSINE,
    block: int = 2048,
) -> pd.DataFrame:
    """The authors' near-duplicate rule by image embedding: cosine similarity > ``threshold`` (0.9).

    Same walk as :func:`dedupe_by_distance` (input order, within groups). Similar pairs are found block
    by block (``block`` rows of the similarity matrix at a time), so memory stays O(block × n).

    Parameters
    ----------
    ids : one id per row of ``features`` (unique).
    features : (n, d) float array of embeddings (normalised here).
    groups : group key of every row (``None``: one group).

    Returns
    -------
    DataFrame with ``id``, ``keep``, ``duplicate_of`` (id of the accepted image that caused the drop, ``""``).

    Raises
    ------
    InputError
        Shapes disagree, duplicate ids, non-finite or all-zero feature rows.
    """
    import pandas as pd

    ids = np.asarray(ids, dtype=object)
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] != len(ids):
        raise InputError(f"features must be (n, d) with n = len(ids) = {len(ids)}, got shape {f.shape}")
    vc = pd.Series(ids).value_counts()
    if (vc > 1).any():
        raise InputError(
            f"{int((vc > 1).sum())} duplicate ids, e.g. {vc.index[0]!r} ({int(vc.iloc[0])} times)"
        )
    norm = np.linalg.norm(f, axis=1)
    bad = ~np.isfinite(norm) | (norm == 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"{int(bad.sum())} feature rows are zero or not finite, first id {ids[i]!r}")
    f = f / norm[:, None]
    n = len(ids)
    keep = np.zeros(n, dtype=bool)
    dup_of = np.full(n, -1, dtype=np.int64)
    for pos in _group_positions(n, groups):
        sub = f[pos]
        m = len(pos)
        nbs: list[list[int]] = [[] for _ in range(m)]
        for s in range(0, m, block):
            sim = sub[s : s + block] @ sub.T
            r, c = np.nonzero(sim > threshold)
            for a, b in zip(r + s, c, strict=True):
                nbs[a].append(int(b))
        k, d = _greedy(m, nbs, lambda j, nb: np.ones(len(nb), dtype=bool))
        keep[pos] = k
        dup_of[pos] = np.where(d >= 0, pos[np.maximum(d, 0)], -1)
    return pd.DataFrame(
        {"id": ids, "keep": keep, "duplicate_of": np.where(dup_of >= 0, ids[np.maximum(dup_of, 0)], "")}
    )
