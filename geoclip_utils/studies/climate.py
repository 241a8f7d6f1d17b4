"""Climate analyses for the Climate chapter: the Köppen-Geiger class of each photo and CLIP's accuracy by climate.

Owns: joining photos to their climate (through :func:`geoclip_utils.geo.climate`, the offline map),
accuracy per climate with bootstrap CIs and a test of independence, and the gold climates of the
offline demo images. Does not own the Köppen lookup or its prompt table (:mod:`geoclip_utils.geo`),
nor the zero-shot run itself (:mod:`geoclip_utils.zeroshot`, experiment ``climates30k``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import experiments, geo, stats
from ..errors import ConfigError
from ..stats.bootstrap import DEFAULT_N_BOOT, DEFAULT_SEED


def image_climates(label_set: str = "country100") -> pd.DataFrame:
    """Photos of a label set with coordinates, joined to their Köppen-Geiger class.

    Returns
    -------
    DataFrame with ``image_id``, ``lat``, ``lon``, ``label``, ``iso3``, ``climate`` (code, e.g. ``"Cfb"``),
    ``group`` (Tropical, Arid, Temperate, Cold, Polar, Ocean) and ``description``.

    Raises
    ------
    ConfigError
        When the label set has no coordinates (the experiment registry says which do).
    """
    df = experiments.load_coordinates(label_set)
    df["climate"] = geo.climate(df["lat"].to_numpy(), df["lon"].to_numpy())
    table = geo.koppen_table().set_index("code")
    df["group"] = table["group"].reindex(df["climate"]).to_numpy()
    df["description"] = table["description"].reindex(df["climate"]).to_numpy()
    return df


def accuracy_by(
    correct: np.ndarray,
    groups: np.ndarray,
    *,
    min_images: int = 1,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
) -> pd.DataFrame:
    """Accuracy within each group of images, with a bootstrap 95 % CI per group.

    Parameters
    ----------
    correct : boolean per image. groups : group label per image (same length).
    min_images : groups with fewer images are left out.

    Returns
    -------
    DataFrame indexed by group: ``images``, ``accuracy``, ``ci_lo``, ``ci_hi``; sorted by accuracy.

    Example
    -------
    >>> t = accuracy_by(np.array([1, 1, 0, 0]), np.array(["a", "a", "b", "b"]), n_boot=50)
    >>> t["accuracy"].to_dict()
    {'a': 1.0, 'b': 0.0}
    """
    correct = np.asarray(correct, bool)
    groups = np.asarray(groups, dtype=object)
    if correct.shape != groups.shape:
        raise ConfigError(f"{len(correct)} correctness values but {len(groups)} groups")
    rows = []
    for g in pd.unique(groups):
        c = correct[groups == g]
        if len(c) < min_images:
            continue
        lo, hi = stats.accuracy_ci(c, n_boot=n_boot, seed=seed)
        rows.append((g, len(c), float(c.mean()), lo, hi))
    out = pd.DataFrame(rows, columns=["group", "images", "accuracy", "ci_lo", "ci_hi"]).set_index("group")
    return out.sort_values("accuracy", ascending=False)


def independence_test(correct: np.ndarray, groups: np.ndarray) -> dict:
    """Chi-square test that accuracy is the same in every group (contingency table group × right/wrong).

    Returns ``chi2``, ``dof``, ``p`` and ``cramers_v`` (effect size, 0 = no association).
    """
    from scipy.stats import chi2_contingency

    table = pd.crosstab(pd.Series(groups, name="group"), pd.Series(np.asarray(correct, bool), name="correct"))
    if table.shape[0] < 2 or table.shape[1] < 2:
        return {"chi2": 0.0, "dof": 0, "p": 1.0, "cramers_v": 0.0}
    chi2, p, dof, _ = chi2_contingency(table.to_numpy())
    n = table.to_numpy().sum()
    v = float(np.sqrt(chi2 / (n * (min(table.shape) - 1))))
    return {"chi2": float(chi2), "dof": int(dof), "p": float(p), "cramers_v": v}


def typical_climate(photos: pd.DataFrame) -> dict[str, str]:
    """The most common climate code of each country label among ``photos`` (from :func:`image_climates`)."""
    counts = photos.groupby(["label", "climate"]).size().rename("n").reset_index()
    counts = counts.sort_values(["label", "n", "climate"], ascending=[True, False, True])
    return dict(
        zip(counts.drop_duplicates("label")["label"], counts.drop_duplicates("label")["climate"], strict=True)
    )


def demo_climate_gold(gold_countries: pd.DataFrame, photos: pd.DataFrame) -> pd.DataFrame:
    """Gold climates for the offline demo images: each image takes its country's typical climate.

    ``gold_countries`` has ``image_id`` and ``label`` (a country name); countries with no photo in
    ``photos`` are dropped. A stand-in for real coordinates, used only by the pipeline demonstration.
    """
    typical = typical_climate(photos)
    out = gold_countries[["image_id", "label"]].copy()
    out["label"] = out["label"].map(typical)
    return out.dropna().reset_index(drop=True)
