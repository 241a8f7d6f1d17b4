"""Is CLIP's confidence meaningful? Calibration of the stored top-1 probabilities, and temperature rescaling.

The study of the *Calibration* chapter (``book/calibration.md``): its tables, numbers and words; the statistics
(ECE, reliability tables, temperature fitting) are :mod:`geoclip_utils.stats.calibration`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .. import stats
from ..errors import DataError
from ..notebook import format_interval, share_in_words
from ..stats.bootstrap import DEFAULT_N_BOOT, DEFAULT_SEED
from ..stats.calibration import fit_temperature, tempered_top1  # noqa: F401 (importable from here, as before)

__all__ = [
    "PAPER_RUNS",
    "top1_confidence",
    "tempered_top1",
    "fit_temperature",
    "calibration_summary",
    "calibration_table",
    "overview_table",
    "temperature_table",
    "headline_text",
    "calibration_numbers",
    "tempered_numbers",
    "conclusions",
]

#: The authors' runs with probabilities, in the order the chapter shows them.
PAPER_RUNS = (
    "country100",
    "filtered_country100",
    "country100_mixedprompt",
    "country100_region",
    "country100_country_from_region",
    "US_states_max100",
    "France_states_max100",
    "UScity100",
)


def top1_confidence(df: pd.DataFrame) -> np.ndarray:
    """CLIP's probability for its first answer, per image.

    Raises
    ------
    DataError
        If the table stores no probabilities (the authors' older city files).
    """
    conf = np.array([p[0] if len(p) else np.nan for p in df["top_probs"]], dtype=float)
    if np.isnan(conf).all():
        raise DataError(f"{df.attrs.get('experiment')!r} stores no probabilities")
    return conf


def calibration_summary(
    df: pd.DataFrame,
    *,
    n_bins: int = 10,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
) -> dict:
    """Calibration of one run's top-1 probabilities.

    Returns
    -------
    dict
        ``experiment``, ``n``, ``accuracy`` (top-1, set-valued gold respected), ``accuracy_ci95``,
        ``confidence`` (mean top-1 probability), ``ece``, ``ece_ci95`` (bootstrap over images; the same
        resamples for every run of this size), ``share_one`` (top-1 probability exactly 1.0),
        ``share_99`` (≥ 0.99), ``overconfidence`` (mean confidence − accuracy).
    """
    conf = top1_confidence(df)
    correct = stats.correct_at_k(df, 1).astype(float)
    ok = ~np.isnan(conf)
    conf, correct = conf[ok], correct[ok]
    n = len(conf)
    kw = {"n_boot": n_boot, "seed": seed}
    return {
        "experiment": df.attrs.get("experiment"),
        "n": n,
        "accuracy": float(correct.mean()),
        "accuracy_ci95": list(stats.accuracy_ci(correct, **kw)),
        "confidence": float(conf.mean()),
        "ece": stats.expected_calibration_error(conf, correct, n_bins),
        "ece_ci95": list(stats.ece_ci(conf, correct, n_bins, **kw)),
        "share_one": float((conf == 1.0).mean()),
        "share_99": float((conf >= 0.99).mean()),
        "overconfidence": float(conf.mean() - correct.mean()),
    }


def calibration_table(
    tables: Mapping[str, pd.DataFrame],
    *,
    n_bins: int = 10,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
) -> pd.DataFrame:
    """:func:`calibration_summary` of every run, one row each, indexed by ``experiment`` (in the order of
    ``tables``)."""
    rows = [calibration_summary(df, n_bins=n_bins, n_boot=n_boot, seed=seed) for df in tables.values()]
    return pd.DataFrame(rows).set_index("experiment")


def overview_table(cal: pd.DataFrame) -> pd.DataFrame:
    """The columns of :func:`calibration_table` a reader compares, the intervals as text
    (``accuracy_ci``, ``ece_ci``): ``n``, ``accuracy``, ``accuracy_ci``, ``confidence``, ``overconfidence``,
    ``ece``, ``ece_ci``, ``share_one``, ``share_99``."""
    shown = cal.assign(
        accuracy_ci=[format_interval(lo, hi, ".1%") for lo, hi in cal["accuracy_ci95"]],
        ece_ci=[format_interval(lo, hi, ".3f") for lo, hi in cal["ece_ci95"]],
    )
    cols = [
        "n",
        "accuracy",
        "accuracy_ci",
        "confidence",
        "overconfidence",
        "ece",
        "ece_ci",
        "share_one",
        "share_99",
    ]
    return shown[cols]


def temperature_table(
    tables: Mapping[str, pd.DataFrame], ece: Mapping[str, float], *, n_bins: int = 10
) -> pd.DataFrame:
    """One temperature per run (:func:`fit_temperature`, in-sample) and the ECE before and after.

    Parameters
    ----------
    tables : experiment → predictions table; runs that store a single probability are left out (nothing
        to rescale).
    ece : experiment → the run's ECE (the ``ece`` column of :func:`calibration_table`).
    n_bins : equal-width bins of the ECE.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``experiment``: ``ece``, ``temperature``, ``ece_tempered``.
    """
    rows = []
    for e, t in tables.items():
        if t.attrs.get("k", 1) < 2:
            continue  # one stored probability: nothing to rescale
        ok = stats.correct_at_k(t, 1)
        temp, ece_t = fit_temperature(t["top_probs"].tolist(), ok, n_bins=n_bins)
        rows.append({"experiment": e, "ece": ece[e], "temperature": temp, "ece_tempered": ece_t})
    return pd.DataFrame(rows, columns=["experiment", "ece", "temperature", "ece_tempered"]).set_index(
        "experiment"
    )


def headline_text(cal: pd.DataFrame) -> str:
    """The chapter's headline: per run accuracy, mean confidence and ECE with 95 % CIs, share of p = 1.0.

    Returns
    -------
    str
        One line per run of :func:`calibration_table`, newline-terminated.
    """
    lines = [
        f"{e:<31} acc {r['accuracy']:.2%} ({r['accuracy_ci95'][0]:.2%} – {r['accuracy_ci95'][1]:.2%}); "
        f"mean conf {r['confidence']:.2%}; ECE {r['ece']:.3f} ({r['ece_ci95'][0]:.3f} – {r['ece_ci95'][1]:.3f}); "
        f"p = 1.0: {r['share_one']:.1%}"
        for e, r in cal.iterrows()
    ]
    return "\n".join(lines) + "\n"


def calibration_numbers(cal: pd.DataFrame, experiment: str) -> dict:
    """The glued numbers of the calibration overview for the chapter's ``experiment``.

    Returns
    -------
    dict
        ``experiment_name``, ``n_runs``, ``main_conf``, ``main_acc``, ``main_acc_lo``, ``main_acc_hi``,
        ``main_ece``, ``main_ece_lo``, ``main_ece_hi``, ``main_one``, ``main_99``, and over all runs
        ``min_one``, ``max_one``, ``min_ece``, ``max_ece``.
    """
    main = cal.loc[experiment]
    return {
        "experiment_name": experiment,
        "n_runs": len(cal),
        "main_conf": main["confidence"],
        "main_acc": main["accuracy"],
        "main_acc_lo": main["accuracy_ci95"][0],
        "main_acc_hi": main["accuracy_ci95"][1],
        "main_ece": main["ece"],
        "main_ece_lo": main["ece_ci95"][0],
        "main_ece_hi": main["ece_ci95"][1],
        "main_one": main["share_one"],
        "main_99": main["share_99"],
        "min_one": cal["share_one"].min(),
        "max_one": cal["share_one"].max(),
        "min_ece": cal["ece"].min(),
        "max_ece": cal["ece"].max(),
    }


def tempered_numbers(tempered: pd.DataFrame, cal: pd.DataFrame, experiment: str, conf_t: np.ndarray) -> dict:
    """The glued numbers of the rescaled run.

    Parameters
    ----------
    tempered : :func:`temperature_table`.
    cal : :func:`calibration_table`.
    experiment : the run shown.
    conf_t : its top-1 confidence after rescaling (:func:`tempered_top1`).

    Returns
    -------
    dict
        ``main_temp`` (1 when the run could not be rescaled), ``main_ece_t`` (its ECE after rescaling; the
        ECE before when it could not be), ``main_one_t`` (share of rescaled probabilities equal to 1.0).
    """
    fitted = experiment in tempered.index
    return {
        "main_temp": tempered.loc[experiment, "temperature"] if fitted else 1.0,
        "main_ece_t": tempered.loc[experiment, "ece_tempered"] if fitted else cal.loc[experiment, "ece"],
        "main_one_t": float((np.asarray(conf_t) == 1.0).mean()),
    }


def conclusions(
    cal: pd.DataFrame,
    experiment: str,
    rel: pd.DataFrame,
    tempered: pd.DataFrame,
    *,
    source: str,
    usable_ece: float = 0.1,
) -> dict[str, str]:
    """The data-dependent wordings of the chapter's prose, chosen by the numbers.

    Parameters
    ----------
    cal : :func:`calibration_table`.
    experiment : the run shown.
    rel : its :func:`geoclip_utils.stats.reliability_table`.
    tempered : :func:`temperature_table`.
    source : ``"paper"`` or ``"local"`` (whose files the summary speaks of, and why they look as they do).
    usable_ece : the largest ECE still called close to usable.

    Returns
    -------
    dict
        ``conf_vs_acc`` (whether the mean confidence exceeds the accuracy), ``last_bin_words`` (a sentence: how many photos fall into the most confident bin that has photos,
        and how its accuracy compares with its confidence), ``tempered_words`` (what one temperature does to the run),
        ``usable_words``, ``sure_words`` (share of answers with probability at least 0.99, in words),
        ``right_words`` (share of right first answers, in words), ``cause_words`` (why, by ``source``) and
        ``rescale_words``.

    Example
    -------
    >>> cal = pd.DataFrame({"ece": [0.4], "accuracy": [0.52], "confidence": [0.95], "share_99": [0.8]}, index=["r"])
    >>> rel = pd.DataFrame(
    ...     {"lo": [0.4, 0.9], "hi": [0.5, 1.0], "n": [10, 90], "confidence": [0.5, 0.99], "accuracy": [0.5, 0.55]}
    ... )
    >>> t = pd.DataFrame({"ece_tempered": [0.05]}, index=["r"])
    >>> c = conclusions(cal, "r", rel, t, source="paper")
    >>> c["right_words"], c["last_bin_words"]
    ('about half', 'About nine tenths of the photos fall into the most confident bin (0.9 – 1.0), where accuracy is far below the claimed probability')
    """
    main = cal.loc[experiment]
    ece = main["ece"]
    filled = rel[rel["n"] > 0]
    last = filled.iloc[-1]
    gap = last["confidence"] - last["accuracy"]
    if gap > 0.1:
        gap_words = "far below"
    elif gap > 0.02:
        gap_words = "below"
    elif gap >= -0.02:
        gap_words = "close to"
    else:
        gap_words = "above"
    share = share_in_words(last["n"] / filled["n"].sum()).capitalize()
    last_words = (
        f"{share} of the photos fall into the most confident bin ({format_interval(last['lo'], last['hi'], '.1f')}), "
        f"where accuracy is {gap_words} the claimed probability"
    )
    if experiment not in tempered.index:
        tempered_words = "This run stored a single probability per photo, so it cannot be rescaled."
        rescale = "a single probability per photo leaves nothing to rescale"
    else:
        ece_t = tempered.loc[experiment, "ece_tempered"]
        if ece_t < ece / 2:
            tempered_words = (
                "Once the scale is undone, the probability does carry information: the bars of the diagram above "
                "follow the diagonal far more closely."
            )
            rescale = "a single rescaling recovers a confidence that is broadly informative"
        elif ece_t < ece:
            tempered_words = (
                "Undoing the scale helps, but the bars of the diagram above still stray from the diagonal."
            )
            rescale = "a single rescaling improves the confidence only in part"
        else:
            tempered_words = "Undoing a common scale does not improve the calibration of this run."
            rescale = "a single rescaling does not improve the confidence"
    where = "the authors' files" if source == "paper" else "this run"
    if source == "paper":
        cause = (
            "The cause is a missing normalisation of the image features, which acts like a very low softmax "
            "temperature. It distorts only the probabilities — every ranking, and therefore every accuracy in "
            "this book, is unaffected"
        )
    else:
        cause = (
            "This run normalises both embeddings, so its probabilities are the model's own; a temperature would "
            "change only the probabilities — never a ranking, and so never an accuracy"
        )
    over = main["confidence"] - main["accuracy"]
    return {
        "conf_vs_acc": "but the first answer is right for only"
        if over > 0.02
        else "and the first answer is right for",
        "last_bin_words": last_words,
        "tempered_words": tempered_words,
        "usable_words": f"The probabilities in {where} are {'close to' if ece <= usable_ece else 'not'} usable as stated",
        "sure_words": share_in_words(main["share_99"]),
        "right_words": share_in_words(main["accuracy"]),
        "cause_words": cause,
        "rescale_words": rescale,
    }
