"""The book's studies: the analyses behind each chapter, one module per question.

* :mod:`.data_quality` — where the photos are, and whether their country labels can be reproduced offline;
* :mod:`.countries` — which countries CLIP recognises (per-country scores, confusions);
* :mod:`.regions` — region and two-stage runs, the UN M49 taxonomy;
* :mod:`.prompts` — what the wording of the prompt changes;
* :mod:`.places` — placing sub-country labels (states, regions, cities) at GeoNames coordinates;
* :mod:`.calibration` — whether CLIP's confidence is meaningful;
* :mod:`.geoestimation` — CLIP against a supervised geolocator;
* :mod:`.climate` — accuracy by Köppen-Geiger climate;
* :mod:`.kilometre` — CLIP on the kilometre scale: city runs as distances, zero-shot coordinates;
* :mod:`.your_model` — any CLIP-family model on a benchmark, beside published anchors;
* :mod:`.running_clip` — the inference pipeline run step by step (the Running CLIP and Climate chapters);
* :mod:`.label_frequency` — caption counts in LAION-400M against per-class F1.

Import the module you need (``from geoclip_utils.studies import regions``).
"""

__all__ = [
    "calibration",
    "climate",
    "countries",
    "data_quality",
    "geoestimation",
    "kilometre",
    "label_frequency",
    "places",
    "prompts",
    "regions",
    "running_clip",
    "your_model",
]
