"""Data files the package authors and ships: the registry of the authors' files (``registry.tsv``), the
experiment registry (``experiments.toml``), country-name exceptions (``country_aliases.csv``) and the
Köppen-Geiger table with its prompts (``koppen.csv``). Read them with :mod:`importlib.resources`."""
