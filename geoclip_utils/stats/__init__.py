"""Statistics of predictions: metrics, the bootstrap, paired comparisons, calibration.

Modules: :mod:`~geoclip_utils.stats.metrics` (correctness, per-class scores, confusion, the summary),
:mod:`~geoclip_utils.stats.bootstrap` (one set of resamples for every statistic),
:mod:`~geoclip_utils.stats.compare` (two classifiers on the same images),
:mod:`~geoclip_utils.stats.calibration` (reliability, ECE, temperature),
:mod:`~geoclip_utils.stats.distance` (shares within km thresholds, median km, GeoScore, paired scores). The
names below are the public API.
"""

from .bootstrap import (
    DEFAULT_N_BOOT,
    DEFAULT_SEED,
    accuracy_ci,
    bootstrap_ci,
    bootstrap_distribution,
    bootstrap_weights,
    percentile_interval,
)
from .calibration import ece_ci, expected_calibration_error, reliability_table
from .compare import (
    PairedComparison,
    RestrictedAnswers,
    RestrictedComparison,
    mcnemar_exact,
    paired,
    paired_predictions,
    paired_tables,
    per_group_paired,
    restricted_answers,
    restricted_paired,
)
from .distance import distance_metrics, paired_scores, threshold_shares
from .metrics import (
    confusion_matrix,
    correct_at_k,
    macro_f1,
    macro_f1_ci,
    per_class_report,
    summarize,
    topk_accuracy,
)

__all__ = [
    "PairedComparison",
    "RestrictedAnswers",
    "RestrictedComparison",
    "DEFAULT_N_BOOT",
    "DEFAULT_SEED",
    "accuracy_ci",
    "bootstrap_ci",
    "bootstrap_distribution",
    "bootstrap_weights",
    "confusion_matrix",
    "correct_at_k",
    "distance_metrics",
    "ece_ci",
    "expected_calibration_error",
    "macro_f1",
    "macro_f1_ci",
    "mcnemar_exact",
    "paired",
    "paired_scores",
    "paired_predictions",
    "paired_tables",
    "per_class_report",
    "per_group_paired",
    "percentile_interval",
    "reliability_table",
    "restricted_answers",
    "restricted_paired",
    "summarize",
    "threshold_shares",
    "topk_accuracy",
]
