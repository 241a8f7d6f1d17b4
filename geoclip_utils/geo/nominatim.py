"""Online reverse geocoding with OpenStreetMap's Nominatim (optional, never the default)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import pandas as pd

from .._io import write_text
from ..errors import ConfigError, DataError
from ..names import country_converter
from .distance import as_coords

log = logging.getLogger(__name__)

__all__ = ["NominatimGeocoder"]


class NominatimGeocoder:
    """Online reverse geocoding with OpenStreetMap's Nominatim (what the authors did), done politely.

    Never used unless asked for (``geoclip geocode --nominatim``). At most one request per second
    (Nominatim's usage policy; a smaller ``min_delay_seconds`` is refused), a user agent naming the
    application is required, and every answer is cached on disk (JSON lines, one
    ``{"key": "lat,lon", "address": {...}}`` per point, the file rewritten atomically every
    ``flush_every`` answers and at the end), so an interrupted run resumes where it stopped.

    Parameters
    ----------
    user_agent : identifies the application to Nominatim (e.g. ``"geoclip-book/0.1 (you@example.org)"``).
    cache_path : the JSON-lines cache file.
    min_delay_seconds : delay between requests, at least 1.
    geocoder : an object with geopy's ``reverse(query, language=..., exactly_one=True)`` method
        (default ``geopy.geocoders.Nominatim``); tests pass a fake.
    language : answer language (the authors used ``"en"``).

    Raises
    ------
    ConfigError
        Empty user agent, or a delay under one second.
    """

    def __init__(
        self,
        user_agent: str,
        cache_path: str | os.PathLike,
        *,
        min_delay_seconds: float = 1.0,
        geocoder: Any = None,
        language: str = "en",
        flush_every: int = 50,
    ) -> None:
        if not user_agent or not user_agent.strip() or user_agent.strip() in ("geopy", "geoapiExercises"):
            raise ConfigError(
                "Nominatim needs a user agent naming your application, e.g. "
                "--user-agent 'geoclip-book/0.1 (you@example.org)'"
            )
        if min_delay_seconds < 1.0:
            raise ConfigError(
                f"min_delay_seconds={min_delay_seconds}: Nominatim's policy allows at most "
                "1 request per second"
            )
        from geopy.extra.rate_limiter import RateLimiter

        if geocoder is None:
            from geopy.geocoders import Nominatim

            geocoder = Nominatim(user_agent=user_agent.strip(), timeout=30)
        self.geocoder = geocoder
        self.language = language
        self.cache_path = Path(cache_path)
        self.flush_every = max(1, int(flush_every))
        self._reverse = RateLimiter(
            geocoder.reverse,
            min_delay_seconds=min_delay_seconds,
            max_retries=2,
            error_wait_seconds=5.0,
            swallow_exceptions=False,
        )
        self.cache: dict[str, dict] = self._load()

    @staticmethod
    def key(lat: float, lon: float) -> str:
        """Cache key of a point (7 decimals, ~1 cm)."""
        return f"{lat:.7f},{lon:.7f}"

    def _load(self) -> dict[str, dict]:
        out: dict[str, dict] = {}
        if not self.cache_path.is_file():
            return out
        with open(self.cache_path, encoding="utf-8") as fh:
            for i, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                    out[str(rec["key"])] = rec["address"]
                except (json.JSONDecodeError, KeyError, TypeError) as exc:
                    raise DataError(
                        f"{self.cache_path}: line {i} is not a cache record ({exc}); "
                        "delete the file to start over"
                    ) from exc
        return out

    def _flush(self) -> None:
        lines = [json.dumps({"key": k, "address": v}, ensure_ascii=False) for k, v in self.cache.items()]
        write_text(self.cache_path, "\n".join(lines) + ("\n" if lines else ""))

    def reverse(self, lat: Any, lon: Any, progress: bool = True) -> pd.DataFrame:
        """Reverse-geocode points; cached points cost no request.

        Returns
        -------
        DataFrame with ``country``, ``country_code`` (ISO-2, lower case as Nominatim gives it), ``iso3``,
        ``state``, ``city``, ``road`` (``""`` where absent; an error or sea point gives all ``""``).
        """
        from tqdm.auto import tqdm

        la, lo = as_coords(lat, lon)
        keys = [self.key(a, b) for a, b in zip(la.tolist(), lo.tolist(), strict=True)]
        todo = [
            (k, a, b) for k, a, b in zip(keys, la.tolist(), lo.tolist(), strict=True) if k not in self.cache
        ]
        todo = list({k: (k, a, b) for k, a, b in todo}.values())
        fresh = 0
        try:
            for k, a, b in tqdm(todo, desc="Nominatim", unit="pt", disable=not progress or not todo):
                try:
                    loc = self._reverse((a, b), language=self.language, exactly_one=True)
                    addr = dict(loc.raw.get("address", {})) if loc is not None else {}
                except Exception as exc:  # noqa: BLE001 - one failed point must not lose the others
                    log.warning("Nominatim failed for %s: %s", k, exc)
                    continue
                self.cache[k] = addr
                fresh += 1
                if fresh % self.flush_every == 0:
                    self._flush()
        finally:
            if fresh:
                self._flush()
        addrs = [self.cache.get(k, {}) for k in keys]
        cc = [str(a.get("country_code", "")).upper() for a in addrs]
        uniq = sorted({c for c in cc if c})
        conv = country_converter().convert(uniq, src="ISO2", to="ISO3", not_found=None) if uniq else []
        conv = [conv] if isinstance(conv, str) else conv
        iso = {c: (v if isinstance(v, str) else "") for c, v in zip(uniq, conv, strict=True)}
        iso["XK"] = "XKX"
        return pd.DataFrame(
            {
                "country": [a.get("country", "") for a in addrs],
                "country_code": [c.lower() for c in cc],
                "iso3": [iso.get(c, "") for c in cc],
                "state": [a.get("state", "") for a in addrs],
                "city": [a.get("city", a.get("town", a.get("village", ""))) for a in addrs],
                "road": [a.get("road", "") for a in addrs],
            }
        )
