"""Zero-shot classification from cached embeddings: prompts, ensembles, flat, region, two-stage, mixed.

Everything here works on L2-normalised feature matrices (from :mod:`geoclip_utils.engine.cache`), so one
experiment over 11,500 images is a few matrix products, with no per-image model call.

Scores
    ``probs = softmax(LOGIT_SCALE * cos(image, class))`` with ``LOGIT_SCALE = 100``, CLIP's learned
    logit scale (``exp(4.6052) = 100``), as in the CLIP paper and the authors' scripts. Unlike the
    authors' scripts, the *image* features are normalised too, so the scores are true cosines (their
    un-normalised image features made most probabilities 1.0 or 1e-20).

Prompts
    The templates and phrases live in :mod:`geoclip_utils.engine.prompts`. Template ensembles: several
    templates per label, the class embedding is the mean of the normalised prompt embeddings,
    renormalised (CLIP paper, section 3.1.4).

Experiments
    ``flat``: one softmax over all labels. ``two-stage``: stage 1 picks a region, stage 2 a country
    among that region's countries only (masked softmax). ``mixed``: one softmax over all
    (country, region phrase) prompts; a country's probability is the sum over its prompts, so the
    top-k are distinct countries (the authors' file could list a country twice).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError, InputError
from ..labels import gold_frame, validate_labels
from ..schema import make_predictions, save_predictions
from .prompts import (
    CLIMATE_TEMPLATE,
    REGION_TEMPLATE,
    format_prompts,
    mixed_prompts,
    paper_template,
    validate_templates,
)

__all__ = [
    "LOGIT_SCALE",
    "ensemble",
    "class_embeddings",
    "softmax",
    "probabilities",
    "top_k",
    "classify_flat",
    "region_mask",
    "classify_two_stage",
    "classify_mixed",
    "predictions_table",
    "write_predictions",
    "DEFAULT_K",
    "check_gold_in_labels",
    "check_region_map",
    "ExperimentPlan",
    "plan_experiment",
    "run_experiment",
]


#: CLIP's logit scale: probabilities are softmax(100 * cosine).
LOGIT_SCALE = 100.0


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def ensemble(per_template: np.ndarray) -> np.ndarray:
    """Template ensemble: mean over templates of normalised embeddings, renormalised.

    Parameters
    ----------
    per_template : array (T, L, D): T templates, L labels.

    Returns
    -------
    array (L, D), float32, rows of unit norm.

    Example
    -------
    >>> [round(float(v), 4) for v in ensemble(np.array([[[1.0, 0.0]], [[0.0, 2.0]]]))[0]]
    [0.7071, 0.7071]
    """
    per_template = np.asarray(per_template, dtype=np.float32)
    if per_template.ndim != 3:
        raise ValueError(f"expected (templates, labels, dim), got shape {per_template.shape}")
    return _normalise(_normalise(per_template).mean(axis=0))


def class_embeddings(
    model,
    labels: Sequence[str],
    templates: Sequence[str] | str,
    kind: str = "",
    cache_dir: str | os.PathLike | None = None,
    label_text: Mapping[str, str] | None = None,
) -> np.ndarray:
    """Class embeddings of labels under one or several templates (ensembled when several).

    Parameters
    ----------
    model : a CLIP model (see :mod:`geoclip_utils.engine.models`).
    labels : the label set.
    templates : template(s) with ``{label}`` (and optionally ``{kind}``).
    kind : fills ``{kind}``.
    cache_dir : text cache (see :func:`geoclip_utils.engine.text.encode_texts`).
    label_text : label -> the words of the prompt (default: the label itself).

    Returns
    -------
    array (L, D) float32, unit rows.
    """
    from .text import encode_texts

    labels = validate_labels(labels)
    templates = validate_templates(templates)
    prompts = [p for t in templates for p in format_prompts(labels, t, kind, label_text)]
    feats = encode_texts(model, prompts, cache_dir=cache_dir)
    return ensemble(feats.reshape(len(templates), len(labels), -1))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax (stable; ``-inf`` entries get probability 0)."""
    logits = np.asarray(logits, dtype=np.float64)
    m = logits.max(axis=1, keepdims=True)
    e = np.exp(logits - m)
    return e / e.sum(axis=1, keepdims=True)


def probabilities(
    image_features: np.ndarray,
    class_features: np.ndarray,
    logit_scale: float = LOGIT_SCALE,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """``softmax(logit_scale * cos)`` of every image against every class, optionally masked.

    Parameters
    ----------
    image_features : (N, D), class_features : (L, D); both are (re)normalised here.
    logit_scale : CLIP's 100.
    mask : optional bool (N, L); False entries get probability 0.

    Returns
    -------
    array (N, L) float64, rows summing to 1.
    """
    logits = logit_scale * (_normalise(image_features) @ _normalise(class_features).T)
    if mask is not None:
        logits = np.where(mask, logits, -np.inf)
    return softmax(logits)


def top_k(probs: np.ndarray, labels: Sequence[str], k: int = 5) -> tuple[list[tuple[str, ...]], np.ndarray]:
    """The k most probable labels of each row, best first (ties: earlier label first).

    Returns
    -------
    top_labels : list of tuples of str; top_probs : array (N, k).
    """
    labels = np.asarray(list(labels), dtype=object)
    k = min(k, probs.shape[1])
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    top_probs = np.take_along_axis(probs, order, axis=1)
    return [tuple(row) for row in labels[order]], top_probs


def classify_flat(
    image_features: np.ndarray, class_features: np.ndarray, labels: Sequence[str], k: int = 5
) -> tuple[list[tuple[str, ...]], np.ndarray]:
    """Flat zero-shot classification over one label set; returns ``top_k`` of the probabilities.

    Example
    -------
    >>> classify_flat(np.eye(2), np.eye(2), ["A", "B"], k=1)[0]
    [('A',), ('B',)]
    """
    labels = validate_labels(labels)
    if len(labels) != len(class_features):
        raise ValueError(f"{len(labels)} labels but {len(class_features)} class embeddings")
    return top_k(probabilities(image_features, class_features), labels, k)


def region_mask(
    region_map: Mapping[str, Sequence[str]], regions: Sequence[str], countries: Sequence[str]
) -> np.ndarray:
    """Boolean (R, C) matrix: ``mask[r, c]`` is True when region ``r`` lists country ``c``.

    Raises
    ------
    InputError
        A region with no countries, or a region not in the map.
    """
    pos = {c: j for j, c in enumerate(countries)}
    mask = np.zeros((len(regions), len(countries)), dtype=bool)
    for i, r in enumerate(regions):
        if r not in region_map:
            raise InputError(f"region {r!r} is not in the region map")
        members = [c for c in region_map[r] if c in pos]
        if not members:
            raise InputError(f"region {r!r} lists no country of the label set")
        mask[i, [pos[c] for c in members]] = True
    return mask


def classify_two_stage(
    image_features: np.ndarray,
    region_features: np.ndarray,
    regions: Sequence[str],
    country_features: np.ndarray,
    countries: Sequence[str],
    region_map: Mapping[str, Sequence[str]],
    k: int = 5,
) -> tuple[list[str], list[tuple[str, ...]], np.ndarray]:
    """Two-stage classification: region first, then a country among that region's countries only.

    Stage 1 is flat over ``regions``; stage 2 is the softmax over the countries the predicted region
    lists (other countries are masked to probability 0). ``k`` is capped at the size of the smallest
    region, so every row has the same number of real candidates (the authors' map has Greenland
    alone, hence top-1, as in their run).

    Returns
    -------
    stage1 : list of the predicted region per image;
    top_labels : list of tuples; top_probs : array (N, k').
    """
    regions = validate_labels(regions, "regions")
    countries = validate_labels(countries, "countries")
    mask = region_mask(region_map, regions, countries)
    p1 = probabilities(image_features, region_features)
    r_hat = p1.argmax(axis=1)
    p2 = probabilities(image_features, country_features, mask=mask[r_hat])
    k = min(k, int(mask.sum(axis=1).min()))
    top_labels, top_probs = top_k(p2, countries, k)
    return [regions[i] for i in r_hat], top_labels, top_probs


def classify_mixed(
    image_features: np.ndarray, prompt_features: np.ndarray, prompt_labels: Sequence[str], k: int = 5
) -> tuple[list[tuple[str, ...]], np.ndarray]:
    """Classify over several prompts per label; a label's probability is the sum over its prompts.

    Returns
    -------
    top_labels : list of tuples of distinct labels; top_probs : array (N, k).
    """
    labels = list(dict.fromkeys(prompt_labels))
    col = {lab: j for j, lab in enumerate(labels)}
    onehot = np.zeros((len(prompt_labels), len(labels)))
    onehot[np.arange(len(prompt_labels)), [col[x] for x in prompt_labels]] = 1.0
    probs = probabilities(image_features, prompt_features) @ onehot
    return top_k(probs, labels, k)


def predictions_table(
    image_ids: Sequence[str],
    gold: Sequence[str],
    top_labels: Sequence[Sequence[str]],
    top_probs: np.ndarray,
    experiment: str,
    **attrs: str | int | float,
) -> pd.DataFrame:
    """A predictions table (:mod:`geoclip_utils.schema`) with ``source="local"`` and extra attrs."""
    df = make_predictions(
        list(image_ids),
        list(gold),
        top_labels,
        np.asarray(top_probs).tolist(),
        experiment=experiment,
        source="local",
    )
    df.attrs.update(attrs)
    return df


def write_predictions(df: pd.DataFrame, results_dir: str | os.PathLike) -> Path:
    """Save a table as ``<results_dir>/<experiment>.parquet`` (atomic); return the path.

    Raises
    ------
    ConfigError
        An experiment name that is not a plain file name (``../x`` would write outside the folder).
    """
    from ..experiments import check_name

    return save_predictions(df, Path(results_dir) / f"{check_name(df.attrs['experiment'])}.parquet")


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _examples(counts: Mapping[str, int], n: int = 3) -> str:
    """``'Germany' (12 images), 'Narnia' (1 image)``: the most frequent first."""
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    more = ", ..." if len(counts) > n else ""
    return ", ".join(f"{k!r} ({_plural(v, 'image', 'images')})" for k, v in top) + more


def check_gold_in_labels(gold: pd.DataFrame, labels: Sequence[str], experiment: str) -> None:
    """Refuse gold labels that are not among the candidate labels: no answer could be right for them.

    Raises
    ------
    InputError
        With the number of images and labels concerned, and the most frequent examples.

    Example
    -------
    >>> check_gold_in_labels(pd.DataFrame({"image_id": ["a"], "label": ["X"]}), ["Y"], "mine")
    Traceback (most recent call last):
    ...
    geoclip_utils.errors.InputError: 1 of the 1 images of 'mine' have a gold label outside its 1 candidate label ...
    """
    outside = gold.loc[~gold["label"].isin(set(labels)), "label"]
    if len(outside):
        counts = outside.value_counts().to_dict()
        raise InputError(
            f"{len(outside)} of the {len(gold)} images of {experiment!r} have a gold label outside its "
            f"{_plural(len(labels), 'candidate label', 'candidate labels')} "
            f"({_plural(len(counts), 'label', 'labels')}: {_examples(counts)}); the model could never answer "
            "them right: add those labels to --labels, or drop those images from --gold"
        )


def check_region_map(region_map: Mapping[str, Sequence[str]], gold: pd.DataFrame, experiment: str) -> None:
    """Check a region map given for an experiment against its gold labels.

    Every gold country must be listed by some region (else its images can never be answered right), and
    every country the map names must be a gold label or a country name (:func:`geoclip_utils.names.to_iso3`):
    other names are misspellings or places the experiment cannot have. The authors' own maps are not checked
    here: the paper ran them as they are (``country_to_region`` leaves Germany out; the Regions chapter
    measures what that costs).

    Raises
    ------
    InputError
        With the count and examples of the gold countries left out, or of the unknown names.
    """
    from ..names import to_iso3

    listed = {c for countries in region_map.values() for c in countries}
    left_out = gold.loc[~gold["label"].isin(listed), "label"]
    if len(left_out):
        counts = left_out.value_counts().to_dict()
        raise InputError(
            f"the region map leaves out {_plural(len(counts), 'gold country', 'gold countries')} of "
            f"{experiment!r} ({len(left_out)} of its {len(gold)} images, e.g. {_examples(counts)}): no region "
            "lists them, so those images could never be answered right; add them to a region of --region-map"
        )
    gold_labels = set(gold["label"])
    others = sorted(listed - gold_labels)
    unknown = [c for c, code in zip(others, to_iso3(others, strict=False), strict=True) if not code]
    if unknown:
        regions = {c: next(r for r, cs in region_map.items() if c in cs) for c in unknown}
        shown = ", ".join(f"{c!r} (in {regions[c]!r})" for c in unknown[:3])
        raise InputError(
            f"the region map names {_plural(len(unknown), 'country that is', 'countries that are')} neither a "
            f"gold label of {experiment!r} nor a known country name, e.g. {shown}; correct the spelling to the "
            "gold labels, or remove them"
        )


def _check_k(k: int | None, n: int, what: str, experiment: str) -> int:
    """``k`` itself when given (refused above ``n``), else the default 5 capped at ``n``."""
    if k is None:
        return min(DEFAULT_K, n)
    if k > n:
        raise ConfigError(
            f"k={k} (--k) is more than the {n} {what} of {experiment!r}: a top-{k} cannot be filled; "
            f"give --k {n} or less"
        )
    return k


#: Labels stored per image when ``k`` is not given (fewer when there are fewer candidates).
DEFAULT_K = 5


@dataclass
class ExperimentPlan:
    """An experiment resolved and checked before any model or cache is touched (:func:`plan_experiment`).

    ``labels`` is ``None`` for a flat experiment that takes its candidates from the gold labels of the
    images in the cache (known only when the cache is read).
    """

    experiment: str
    spec: Any
    mode: str
    gold: pd.DataFrame
    kind: str
    labels: list[str] | None = None
    templates: list[str] | str | None = None
    region_map: Mapping[str, Sequence[str]] | None = None
    k: int | None = None
    label_text: Mapping[str, str] | None = None


def plan_experiment(
    experiment: str,
    *,
    mode: str | None = None,
    gold=None,
    labels: Sequence[str] | None = None,
    templates: Sequence[str] | str | None = None,
    kind: str | None = None,
    region_map: Mapping[str, Sequence[str]] | None = None,
    k: int | None = None,
    label_text: Mapping[str, str] | None = None,
) -> ExperimentPlan:
    """Resolve an experiment (registry, gold, candidates, region map) and refuse what the model cannot answer.

    Refused: a gold label outside the candidate labels, a region map given for the run that leaves out gold
    countries or names unknown ones (:func:`check_region_map`), and ``k`` above the number of candidates.
    Nothing here reads the model or the cache, so a command checks every experiment before its work starts.

    Parameters
    ----------
    experiment : a registered experiment (its mode, label set, prompt kind and region map come from the
        registry, :mod:`geoclip_utils.experiments`), or any name with ``gold`` and ``labels`` (flat).
    mode : ``flat``, ``region``, ``two_stage``, ``mixed`` or ``climate`` (default from the registry, else
        flat; :data:`geoclip_utils.experiments.RUNNABLE_MODES`).
    gold : DataFrame ``image_id``, ``label`` or dict id -> label (default ``data.load_labels``).
    labels : the candidate labels of a flat experiment (default: the distinct gold labels of the images in
        the cache, sorted); every gold label must be among them.
    templates : prompt template(s) (default the paper's, with ``kind``); several = ensemble.
    kind : fills ``{kind}`` (default the label set's ``prompt_kind``, else "country").
    region_map : region -> countries (default the registry's region map of the experiment: the authors'
        ``country_to_region`` for region and two-stage runs, ``region_to_country`` for the mixed prompts).
        A map given here is checked against the gold (:func:`check_region_map`).
    k : top-k stored; default 5, or the number of candidates when fewer; more than the candidates is
        refused. Two-stage tables are capped by the smallest region (every row then has as many real
        candidates).
    label_text : label -> words in the prompt (flat mode). The ``climate`` mode defaults to the corrected
        Köppen prompt phrases of ``resources/koppen.csv`` with :data:`CLIMATE_TEMPLATE`; its labels are the
        Köppen codes, so predictions and gold stay codes.

    Returns
    -------
    ExperimentPlan

    Raises
    ------
    ConfigError
        Unknown experiment / mode without gold or labels; ``k`` too large; bad templates.
    InputError
        Bad labels, gold labels outside the candidates, a region map that does not fit the gold.
    """
    from .. import data
    from .. import experiments as registry

    spec = registry.experiments().get(experiment)
    if spec is not None and spec.mode not in registry.RUNNABLE_MODES:
        raise ConfigError(f"experiment {experiment!r} ({spec.mode}) cannot be run from an embedding cache")
    mode = mode or (spec.mode if spec else "flat")
    if mode not in registry.RUNNABLE_MODES:
        raise ConfigError(f"mode {mode!r} unknown; choose one of {registry.RUNNABLE_MODES}")
    if k is not None and k < 1:
        raise ConfigError(f"k={k} (--k) must be at least 1")
    if gold is None:
        if spec is None:
            raise ConfigError(
                f"experiment {experiment!r} is not registered ({', '.join(registry.experiments())}); "
                "give gold labels (--gold)"
            )
        gold = registry.load_labels(spec.label_set)[["image_id", "label"]]
    gold = gold_frame(gold)
    kind = kind if kind is not None else (spec.labels.prompt_kind if spec else "country")
    if mode in ("region", "two_stage", "mixed"):
        if region_map is None:
            which = spec.region_map if spec and spec.region_map else None
            region_map = data.load_region_map(
                which or ("region_to_country" if mode == "mixed" else "country_to_region")
            )
        else:
            check_region_map(region_map, gold, experiment)
    if mode == "climate":
        from ..geo import koppen_table

        table = koppen_table()
        table = table[table["code"] != "Ocean"]
        label_text = label_text or dict(zip(table["code"], table["prompt"], strict=True))
        labels = labels if labels is not None else table["code"].tolist()
        templates = templates or CLIMATE_TEMPLATE
    if mode in ("flat", "climate") and labels is not None:
        labels = validate_labels(labels)
        check_gold_in_labels(gold, labels, experiment)
        _check_k(k, len(labels), "candidate labels", experiment)
    elif mode == "flat":  # the candidates will be the gold labels of the cached images: at most these
        _check_k(k, gold["label"].nunique(), "candidate labels", experiment)
    elif mode == "region":
        _check_k(k, len(region_map), "regions", experiment)
    elif mode in ("two_stage", "mixed"):
        countries = list(dict.fromkeys(c for v in region_map.values() for c in v))
        _check_k(k, len(countries), "countries of the region map", experiment)
    if templates is not None and mode != "mixed":
        validate_templates(templates)
    return ExperimentPlan(
        experiment,
        spec,
        mode,
        gold,
        kind,
        None if labels is None else list(labels),
        templates,
        region_map,
        k,
        label_text,
    )


def run_experiment(
    experiment: str,
    model,
    cache_dir: str | os.PathLike,
    results_dir: str | os.PathLike | None = None,
    *,
    plan: ExperimentPlan | None = None,
    embeddings: tuple[list[str], np.ndarray] | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Run one zero-shot experiment on cached image embeddings and (optionally) save its table.

    Parameters
    ----------
    experiment : the experiment's name (see :func:`plan_experiment`).
    model : the CLIP model the cache was made with (encodes the prompts; text cache in ``cache_dir``).
    cache_dir : image embedding cache (:func:`geoclip_utils.engine.runner.embed`).
    results_dir : if given, the table is written to ``<results_dir>/<experiment>.parquet``.
    plan : an :func:`plan_experiment` of this experiment made earlier; else
    embeddings : ``(ids, features)`` of the cache for this model, read once by a caller that runs several
        experiments (:func:`geoclip_utils.engine.cache.load_embeddings`); else read here.
    **options : ``mode``, ``gold``, ``labels``, ``templates``, ``kind``, ``region_map``, ``k``,
        ``label_text``: see :func:`plan_experiment`, which checks them first.

    Returns
    -------
    The predictions table (``source="local"``); attrs carry ``model_id``, ``mode``, ``templates``,
    ``n_images``, ``n_not_embedded`` (gold images absent from the cache or skipped). Region tables
    have ``gold`` = the country and ``gold_set`` = the regions listing it (correct = prediction in
    ``gold_set``, as :mod:`geoclip_utils.stats.metrics` reads it); two-stage tables have ``gold`` = the
    country and ``stage1_region`` = the region chosen in stage 1.

    Raises
    ------
    ConfigError
        Unknown experiment / mode without gold or labels; bad templates; ``k`` above the candidates.
    InputError
        Bad labels, gold labels outside them, a region map that does not fit the gold; no image of the
        gold table in the cache.
    """
    from .cache import load_embeddings
    from .models import model_info
    from .text import encode_texts

    if plan is None:
        plan = plan_experiment(experiment, **options)
    elif options:
        raise TypeError(f"run_experiment: give a plan or the options {sorted(options)}, not both")
    experiment, spec, mode, gold, kind = plan.experiment, plan.spec, plan.mode, plan.gold, plan.kind
    labels, templates, region_map, label_text = plan.labels, plan.templates, plan.region_map, plan.label_text
    info = model_info(model)
    ids, feats = embeddings if embeddings is not None else load_embeddings(cache_dir, model_id=info.model_id)
    pos = {i: n for n, i in enumerate(ids)}
    keep = gold["image_id"].isin(pos).to_numpy()
    if not keep.any():
        raise InputError(
            f"none of the {len(gold)} images of {experiment!r} is in the embedding cache {cache_dir} "
            f"(model {info.model_id}); run `geoclip embed` on them first"
        )
    g = gold[keep]
    x = feats[[pos[i] for i in g["image_id"]]]

    if mode in ("flat", "climate"):
        labels = validate_labels(labels if labels is not None else sorted(g["label"].unique()))
        k = _check_k(plan.k, len(labels), "candidate labels", experiment)
        templates = validate_templates(templates or paper_template(kind))
        cls = class_embeddings(
            model, labels, templates, kind=kind, cache_dir=cache_dir, label_text=label_text
        )
        top_labels, top_probs = classify_flat(x, cls, labels, k)
    elif mode == "region":
        regions = validate_labels(list(region_map), "regions")
        k = _check_k(plan.k, len(regions), "regions", experiment)
        templates = validate_templates(templates or REGION_TEMPLATE)
        cls = class_embeddings(model, regions, templates, kind="region", cache_dir=cache_dir)
        top_labels, top_probs = classify_flat(x, cls, regions, k)
    elif mode == "two_stage":
        regions = validate_labels(list(region_map), "regions")
        countries = list(dict.fromkeys(c for v in region_map.values() for c in v))
        k = _check_k(plan.k, len(countries), "countries of the region map", experiment)
        region_templates = validate_templates(templates or REGION_TEMPLATE)
        templates = validate_templates(templates or paper_template("country"))
        r_emb = class_embeddings(model, regions, region_templates, kind="region", cache_dir=cache_dir)
        c_emb = class_embeddings(model, countries, templates, kind="country", cache_dir=cache_dir)
        stage1, top_labels, top_probs = classify_two_stage(x, r_emb, regions, c_emb, countries, region_map, k)
    else:  # mixed
        prompts, prompt_labels = mixed_prompts(region_map)
        k = _check_k(plan.k, len(set(prompt_labels)), "countries of the region map", experiment)
        templates = ["This is a photo of {label}, {region phrase}."]
        p_emb = encode_texts(model, prompts, cache_dir=cache_dir)
        top_labels, top_probs = classify_mixed(x, p_emb, prompt_labels, k)
    df = predictions_table(
        g["image_id"].tolist(),
        g["label"].tolist(),
        top_labels,
        top_probs,
        experiment,
        model_id=info.model_id,
        mode=mode,
        templates=" | ".join(templates),
        logit_scale=LOGIT_SCALE,
        n_images=int(len(g)),
        n_not_embedded=int((~keep).sum()),
        label_set=spec.label_set if spec else "",
    )
    if mode == "two_stage":
        df["stage1_region"] = stage1
    if mode == "region":  # gold is a country: a region is correct when it lists that country
        df["gold_set"] = [tuple(r for r in regions if lab in region_map[r]) for lab in df["gold"]]
    if results_dir is not None:
        write_predictions(df, results_dir)
    return df
