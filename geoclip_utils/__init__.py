"""geoclip_utils — the small package behind the geoclip book.

Modules (import the one you need; nothing heavy is imported here):

- :mod:`geoclip_utils.data` — the authors' files: registry, hash-checked fetch, typed loaders
- :mod:`geoclip_utils.schema` — the predictions table shared by the paper's files and our runs
- :mod:`geoclip_utils.metrics` — accuracy, F1, confusion, bootstrap CIs, McNemar, calibration
- :mod:`geoclip_utils.experiments` — an experiment's headline numbers, paired comparisons, per-country tables
- :mod:`geoclip_utils.plots` — offline plotly figures (choropleth, heatmap, point maps, reliability)
- :mod:`geoclip_utils.notebook` — publishing computed numbers to chapter prose (glue)
- :mod:`geoclip_utils.cli` — the ``geoclip`` command line
- :mod:`geoclip_utils.errors` — ``GeoclipError`` and its subclasses
"""

__version__ = "0.1.0"
