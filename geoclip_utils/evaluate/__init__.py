"""Evaluation: experiment → predictions → statistics, the numbers ``geoclip metrics`` and ``geoclip compare``
print, below the chapters' studies so that every study (and the CLI) can use them.

Modules: :mod:`~geoclip_utils.evaluate.runs` (a run's headline metrics, two runs compared raw and like for
like, the labels a run could answer), :mod:`~geoclip_utils.evaluate.geoestimation` (the authors' GeoEstimation
run scored in km and by country), :mod:`~geoclip_utils.evaluate.cities` (a city run in km between the
predicted and the gold city), :mod:`~geoclip_utils.evaluate.map_guess` (a country run's answers as pins on
the map, paired with GeoEstimation).

Imports only the layers below it (registry, engine's prompts, geo, stats); a study imports it, never the
other way round (``make lint`` checks).
"""

from .runs import candidate_labels, compare_experiments, experiment_metrics, gold_candidates

__all__ = ["candidate_labels", "compare_experiments", "experiment_metrics", "gold_candidates"]
