"""The book's studies: one module per chapter, named after it (``book/NAME.md`` ↔ ``studies/NAME.py``).

* :mod:`.data` — where the photos are, and whether their country labels can be reproduced offline (not
  :mod:`geoclip_utils.data`, the authors' files);
* :mod:`.countries` — which countries CLIP recognises (per-country scores, confusions);
* :mod:`.regions` — region and two-stage runs, the UN M49 taxonomy (not :mod:`geoclip_utils.geo.regions`);
* :mod:`.prompts` — what the wording of the prompt changes (not :mod:`geoclip_utils.engine.prompts`, which
  writes the prompts);
* :mod:`.below_country` — the runs below the country, their labels placed at GeoNames coordinates;
* :mod:`.calibration` — whether CLIP's confidence is meaningful (not :mod:`geoclip_utils.stats.calibration`);
* :mod:`.running_clip` — what the first result of the pipeline (:mod:`geoclip_utils.pipeline`) can say;
* :mod:`.geoestimation` — CLIP against a supervised geolocator (not :mod:`geoclip_utils.evaluate.geoestimation`,
  which scores it);
* :mod:`.geoguessr` — CLIP's answers as pins on the map (the pins: :mod:`geoclip_utils.evaluate.map_guess`);
* :mod:`.climate` — accuracy by Köppen-Geiger climate;
* :mod:`.training_data` — caption counts in LAION-400M against per-class F1;
* :mod:`.your_model` — any CLIP-family model on a benchmark, beside published anchors and the city runs in km.

The Intro and Running at scale chapters need no study of their own (they call the registry, the statistics and
the engine directly). A study imports the layers below it (evaluate, engine, geo, stats, the registry, …) and
never another study: what two chapters share goes down (``make lint`` checks both).

Import the module you need (``from geoclip_utils.studies import regions``).
"""

__all__ = [
    "below_country",
    "calibration",
    "climate",
    "countries",
    "data",
    "geoestimation",
    "geoguessr",
    "prompts",
    "regions",
    "running_clip",
    "training_data",
    "your_model",
]
