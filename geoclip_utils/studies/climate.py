"""Climate analyses for the Climate chapter: the Köppen-Geiger class of each photo and CLIP's accuracy by climate.

Owns: joining photos to their climate (through :func:`geoclip_utils.geo.climate`, the offline map),
accuracy per climate with bootstrap CIs and a test of independence (and the chapter's wording of it,
:func:`association_words`), the chapter's parameter checks, and the climate run of the chapter's last
section (a local result file, else the pipeline demonstration, whose demo images take their country's
typical climate as gold). Does not own the Köppen lookup or its prompt table (:mod:`geoclip_utils.geo`),
nor the pipeline itself (:mod:`geoclip_utils.pipeline`, :mod:`geoclip_utils.engine.zeroshot`,
experiment ``climates30k``).
"""

from __future__ import annotations

from dataclasses import dataclass

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


# --------------------------------------------------------------------------- the chapter's checks and views
#: The modes of a country experiment whose first answer can be broken down by climate.
COUNTRY_MODES: tuple[str, ...] = ("flat", "two_stage", "mixed")


def photo_label_set(experiment: str) -> str:
    """The label set with coordinates whose photos an experiment's images are (``country100`` for a local
    run that is not registered).

    Raises
    ------
    ConfigError
        When the experiment's label set has no coordinates.
    """
    exp = experiments.experiments().get(experiment)
    name = exp.label_set if exp is not None else "country100"
    if not experiments.get_label_set(name).coordinates:
        have = [n for n, s in experiments.label_sets().items() if s.coordinates]
        raise ConfigError(
            f"experiment={experiment!r} is not allowed: its photos ({name}) have no coordinates, so no climate; "
            f"use an experiment on {have}"
        )
    return name


def group_counts(photos: pd.DataFrame) -> dict:
    """``n_photos``, ``n_classes`` (land classes: a photo on an open sea pixel has no climate class, as in the
    *Data* chapter's count), ``top_group`` and its share ``top_group_share``, and ``n_ocean`` (photos on open
    sea pixels) of an :func:`image_climates` table."""
    groups = photos["group"].value_counts()
    return {
        "n_photos": len(photos),
        "n_classes": int(photos.loc[photos["climate"] != "Ocean", "climate"].nunique()),
        "top_group": groups.index[0],
        "top_group_share": groups.iloc[0] / len(photos),
        "n_ocean": int((photos["climate"] == "Ocean").sum()),
    }


def join_climates(df: pd.DataFrame, photos: pd.DataFrame) -> pd.DataFrame:
    """A predictions table joined to the climate of each photo, photos on sea pixels left out.

    Raises
    ------
    ConfigError
        When no photo of the table has a climate (e.g. a local run on other images).
    """
    joined = df.merge(photos[["image_id", "climate", "group"]], on="image_id", how="inner")
    joined = joined[joined["group"] != "Ocean"].reset_index(drop=True)  # a sea pixel is not a climate
    if joined.empty:
        raise ConfigError(
            f"none of the {len(df)} images of {df.attrs.get('experiment', 'the table')!r} is a photo with "
            "coordinates on land; the climate chapter needs the country100 photos"
        )
    return joined


@dataclass(frozen=True)
class ClimateAccuracy:
    """CLIP's accuracy by climate: per group and per class (:func:`accuracy_by`) and the test of
    independence across groups (:func:`independence_test`)."""

    joined: pd.DataFrame
    by_group: pd.DataFrame
    by_class: pd.DataFrame
    test: dict


def climate_accuracy(
    joined: pd.DataFrame, *, min_images: int = 100, n_boot: int = DEFAULT_N_BOOT, seed: int = DEFAULT_SEED
) -> ClimateAccuracy:
    """Top-1 accuracy by climate group and class (classes and groups with fewer than ``min_images`` photos
    left out) and the chi-square test across groups, for a :func:`join_climates` table."""
    correct = stats.correct_at_k(joined, 1)
    kw = {"min_images": min_images, "n_boot": n_boot, "seed": seed}
    by_group = accuracy_by(correct, joined["group"].to_numpy(), **kw)
    by_class = accuracy_by(correct, joined["climate"].to_numpy(), **kw)
    if by_group.empty or by_class.empty:
        raise ConfigError(
            f"min_images={min_images} leaves no climate group or class with enough photos "
            f"({len(joined)} photos in all); lower min_images"
        )
    return ClimateAccuracy(joined, by_group, by_class, independence_test(correct, joined["group"].to_numpy()))


def accuracy_text(acc: ClimateAccuracy, experiment: str, source: str) -> str:
    """The chapter's checked lines: accuracy per climate group with its 95 % CI, then the chi-square test."""
    from ..notebook import format_ci

    t = acc.test
    lines = [f"{experiment} ({source}), {len(acc.joined)} photos on land; top-1 accuracy by climate group:"]
    lines += [
        f"  {r.Index:>10}: {format_ci(r.accuracy, r.ci_lo, r.ci_hi)}, {r.images} photos"
        for r in acc.by_group.itertuples()
    ]
    lines.append(
        f"chi-square {t['chi2']:.1f} on {t['dof']} df, p = {t['p']:.2g}, Cramér's V {t['cramers_v']:.3f}"
    )
    return "\n".join(lines)


def class_table(by_class: pd.DataFrame) -> pd.DataFrame:
    """The per-class table of :func:`climate_accuracy` for the figure: ``climate``, ``images``,
    ``accuracy``, ``ci_lo``, ``ci_hi`` and the class ``description``."""
    t = by_class.reset_index().rename(columns={"group": "climate"})
    t["description"] = geo.koppen_table().set_index("code")["description"].reindex(t["climate"]).to_numpy()
    return t


def class_countries(joined: pd.DataFrame, classes) -> dict:
    """How entangled climate and country are: over the given climate classes, the median number of
    countries a class draws its photos from (``countries_per_class``) and the median share of a class's
    photos that its three largest countries hold (``top3_share``). ``joined`` needs ``climate`` and ``gold``
    (the country)."""
    sub = joined[joined["climate"].isin(list(classes))]
    per = sub.groupby("climate")["gold"]
    top3 = per.apply(lambda s: s.value_counts().iloc[:3].sum() / len(s))
    return {"countries_per_class": float(per.nunique().median()), "top3_share": float(top3.median())}


#: The test of :func:`independence_test` rejects equal accuracy across groups below this p value.
ALPHA = 0.05
#: Cramér's V bands (Cohen 1988, for a table with two columns): below 0.1 weak, below 0.3 modest, below 0.5
#: moderate, else strong.
V_BANDS: tuple[tuple[float, str], ...] = ((0.1, "weak"), (0.3, "modest"), (0.5, "moderate"))


def association_words(test: dict) -> dict:
    """The chapter's wording of the test, chosen by its numbers.

    * ``test_verdict``: ``"rejects"`` when ``p < ALPHA``, else ``"does not reject"``;
    * ``strength``: the band of Cramér's V in :data:`V_BANDS` (``"strong"`` above the last);
    * ``climate_verdict``: the summary's first sentence — accuracy "differs clearly between climates"
      (test rejects and V at least modest), "differs between climates, though only weakly" (test rejects,
      V weak), or "does not differ detectably between climates" (test does not reject).

    Example
    -------
    >>> association_words({"p": 8e-7, "cramers_v": 0.054})["strength"]
    'weak'
    >>> association_words({"p": 0.3, "cramers_v": 0.02})["test_verdict"]
    'does not reject'
    """
    v = test["cramers_v"]
    strength = next((word for limit, word in V_BANDS if v < limit), "strong")
    rejects = test["p"] < ALPHA
    tangled = "climate and country are tangled in this data set, so the difference describes the data more than the model"
    if rejects and strength != "weak":
        verdict = f"CLIP's country accuracy differs clearly between climates, but {tangled}."
    elif rejects:
        verdict = f"CLIP's country accuracy differs between climates, though only weakly; {tangled}."
    else:
        verdict = (
            "CLIP's country accuracy does not differ detectably between climates; climate and country are "
            "tangled in this data set in any case."
        )
    return {
        "test_verdict": "rejects" if rejects else "does not reject",
        "strength": strength,
        "climate_verdict": verdict,
    }


def accuracy_glue(acc: ClimateAccuracy, min_images: int) -> dict:
    """The numbers the chapter quotes from :func:`climate_accuracy`, with :func:`association_words` and
    :func:`class_countries`."""
    g, c, t = acc.by_group, acc.by_class, acc.test
    return {
        "n_joined": len(acc.joined),
        "best_group": g.index[0],
        "best_group_acc": g["accuracy"].iloc[0],
        "best_group_lo": g["ci_lo"].iloc[0],
        "best_group_hi": g["ci_hi"].iloc[0],
        "worst_group": g.index[-1],
        "worst_group_acc": g["accuracy"].iloc[-1],
        "worst_group_lo": g["ci_lo"].iloc[-1],
        "worst_group_hi": g["ci_hi"].iloc[-1],
        "chi2": t["chi2"],
        "chi2_p": t["p"],
        "cramers_v": t["cramers_v"],
        "best_class": c.index[0],
        "best_class_acc": c["accuracy"].iloc[0],
        "worst_class": c.index[-1],
        "worst_class_acc": c["accuracy"].iloc[-1],
        "min_images": min_images,
        **association_words(t),
        **class_countries(acc.joined, c.index),
    }


def climate_run(
    results_dir, model_name: str, photos: pd.DataFrame, *, demo_dir: str = "_build/demo_climate"
) -> tuple[pd.DataFrame, str]:
    """The climate experiment's predictions: ``<results_dir>/climates30k.parquet`` when it exists, else a
    pipeline demonstration on the synthetic demo set (:func:`geoclip_utils.pipeline.run_demo`), each demo
    image taking its country's typical climate (:func:`typical_climate`) as gold.

    Returns
    -------
    The predictions table and a phrase saying which run it is.
    """
    from pathlib import Path

    local = Path(results_dir) / "climates30k.parquet" if results_dir else None
    if local is not None and local.is_file():
        return experiments.load_results("climates30k", source="local", results_dir=results_dir), "your run"
    from ..pipeline import run_demo

    run = run_demo(model_name, demo_dir, ["climates30k"], relabel=typical_climate(photos), workers=0)
    weights = "random weights" if model_name == "tiny" else "synthetic pictures"
    return run.tables["climates30k"], f"pipeline demonstration ({model_name} model, {weights})"


def run_text(what: str, summary: dict) -> str:
    """One line on a climate run (:func:`geoclip_utils.stats.summarize` of its table)."""
    return f"{what}: {summary['n']} images, top-1 {summary['top1']:.1%}, top-5 {summary.get('top5', float('nan')):.1%}"


def prompt_table() -> tuple[dict, pd.DataFrame]:
    """The Köppen-Geiger classes with their prompt phrases, beside the authors' phrases.

    Returns
    -------
    numbers : ``n_codes`` (land classes) and ``n_changed`` (rows with a note on a change against the
        authors' table).
    table : ``code``, ``group``, ``description``, ``prompt``, ``authors_prompt``, ``note``.
    """
    kt = geo.koppen_table()
    numbers = {"n_codes": int((kt["code"] != "Ocean").sum()), "n_changed": int((kt["note"] != "").sum())}
    return numbers, kt[["code", "group", "description", "prompt", "authors_prompt", "note"]]


def authors_label_counts(label_set: str = "climates30k") -> dict:
    """The authors' climate labels: ``n_authors`` (photos), ``authors_classes``, ``authors_top`` (the most
    common class) and ``authors_top_share``."""
    authors = experiments.load_labels(label_set)
    share = authors["label"].value_counts(normalize=True)
    return {
        "n_authors": len(authors),
        "authors_top": share.index[0],
        "authors_top_share": share.iloc[0],
        "authors_classes": authors["label"].nunique(),
    }
