"""Benchmarks, each run by ``geoclip bench <name> --json`` and printing one JSON object with ratios
measured in the same run: :mod:`.inference` (the cached engine against the seed scripts' way),
:mod:`.geocode` (offline geocoding against reverse_geocoder), :mod:`.captions` (the caption counter
against the authors' loop)."""
