"""Online reverse geocoding with OpenStreetMap's Nominatim (optional, never the default)."""

from __future__ import annotations

import json
import logging
import os
import time
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

    When Nominatim cannot be reached the run stops with one sentence (:class:`ConfigError`): at the
    first request of a run that fails, or at ``max_failures_in_row`` failed points in a row (no network,
    the service down). A point that fails among answered ones keeps its reason in the ``error`` column
    of :meth:`reverse` and is asked again by the next run. A request that timed out or found the service
    unavailable is tried ``max_retries`` more times, ``error_wait_seconds`` apart, without a word.

    Parameters
    ----------
    user_agent : identifies the application to Nominatim (e.g. ``"geoclip-book/0.1 (you@example.org)"``).
    cache_path : the JSON-lines cache file.
    min_delay_seconds : delay between requests, at least 1.
    geocoder : an object with geopy's ``reverse(query, language=..., exactly_one=True)`` method
        (default ``geopy.geocoders.Nominatim``); tests pass a fake.
    language : answer language (the authors used ``"en"``).
    flush_every : answers between two rewrites of the cache file.
    max_retries, error_wait_seconds : tries again of a request that timed out or found the service
        unavailable, and the wait before each.
    max_failures_in_row : failed points in a row that stop the run.

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
        max_retries: int = 2,
        error_wait_seconds: float = 5.0,
        max_failures_in_row: int = 3,
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
        self.max_retries = max(0, int(max_retries))
        self.error_wait_seconds = error_wait_seconds
        self.max_failures_in_row = max(1, int(max_failures_in_row))
        # The rate limiter only spaces the requests; retries are ours (geopy's log a traceback each).
        self._reverse = RateLimiter(
            geocoder.reverse, min_delay_seconds=min_delay_seconds, max_retries=0, swallow_exceptions=False
        )
        self.cache: dict[str, dict] = self._load()
        self.answered = 0  # requests answered by this geocoder (over every call of reverse)
        self._in_row = 0  # failed points since the last answer

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

    def _ask(self, lat: float, lon: float) -> dict:
        """One point's address (``{}`` at sea), a transient failure tried again ``max_retries`` times."""
        from geopy.exc import GeocoderQuotaExceeded, GeocoderTimedOut, GeocoderUnavailable

        for attempt in range(self.max_retries + 1):
            try:
                loc = self._reverse((lat, lon), language=self.language, exactly_one=True)
                return dict(loc.raw.get("address", {})) if loc is not None else {}
            except (GeocoderTimedOut, GeocoderUnavailable, GeocoderQuotaExceeded):
                if attempt == self.max_retries:
                    raise
                time.sleep(self.error_wait_seconds)
        raise AssertionError("unreachable")  # pragma: no cover

    def reverse(self, lat: Any, lon: Any, progress: bool = True) -> pd.DataFrame:
        """Reverse-geocode points; cached points cost no request.

        Returns
        -------
        DataFrame with ``country``, ``country_code`` (ISO-2, lower case as Nominatim gives it), ``iso3``,
        ``state``, ``city``, ``road`` (``""`` where absent; a sea point gives all ``""``) and ``error``:
        ``""`` for an answered point, else why its request failed (the point is asked again next run).

        Raises
        ------
        ConfigError
            When Nominatim cannot be reached: the first request of the run failed, or
            ``max_failures_in_row`` points in a row did (the answers so far stay in the cache).
        """
        from tqdm.auto import tqdm

        la, lo = as_coords(lat, lon)
        keys = [self.key(a, b) for a, b in zip(la.tolist(), lo.tolist(), strict=True)]
        todo = [
            (k, a, b) for k, a, b in zip(keys, la.tolist(), lo.tolist(), strict=True) if k not in self.cache
        ]
        todo = list({k: (k, a, b) for k, a, b in todo}.values())
        fresh = 0
        failed: dict[str, str] = {}
        try:
            for k, a, b in tqdm(todo, desc="Nominatim", unit="pt", disable=not progress or not todo):
                try:
                    addr = self._ask(a, b)
                except Exception as exc:  # noqa: BLE001 - one failed point must not lose the others
                    self._in_row += 1
                    if self.answered == 0 or self._in_row >= self.max_failures_in_row:
                        raise self._unreachable(exc) from exc
                    failed[k] = _reason(exc)
                    log.info("Nominatim failed for %s: %s", k, failed[k])
                    continue
                self._in_row = 0
                self.answered += 1
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
                "error": [failed.get(k, "") for k in keys],
            }
        )

    def _unreachable(self, exc: BaseException) -> ConfigError:
        where = getattr(self.geocoder, "domain", None) or "Nominatim"
        answered = self.answered
        what = (
            "the first request of this run failed"
            if answered == 0
            else f"{self._in_row} points in a row failed"
        )
        kept = f"the {answered} answers of this run are saved in {self.cache_path}; " if answered else ""
        return ConfigError(
            f"Nominatim cannot be reached ({where}: {_reason(exc)}): {what}; {kept}check the network and "
            "rerun (cached points are not asked again), or drop --nominatim to geocode offline only"
        )


def _reason(exc: BaseException) -> str:
    """Why a request failed, in one short line: the innermost exception of its chain (e.g. the DNS error
    under geopy's and requests' wrappers)."""
    seen = {id(exc)}
    while (inner := exc.__cause__ or exc.__context__) is not None and id(inner) not in seen:
        seen.add(id(inner))
        exc = inner
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."
