"""geoclip_utils.stats.distance: threshold shares (d < t), weighted median, distance metrics."""

from __future__ import annotations

import numpy as np
import pytest

from geoclip_utils.errors import ConfigError
from geoclip_utils.stats import distance as stats_distance


def test_threshold_shares_small_table():
    d = np.array([0.5, 1.0, 10.0, 25.0, 199.0, 700.0, 2000.0, 3000.0])
    shares = stats_distance.threshold_shares(d)
    assert list(shares) == ["acc_1km", "acc_25km", "acc_200km", "acc_750km", "acc_2500km"]
    assert shares == {
        "acc_1km": 1 / 8,  # d < t: 1.0 km is not within 1 km, nor 25.0 km within 25 km (OSV-5M's rule)
        "acc_25km": 3 / 8,
        "acc_200km": 5 / 8,
        "acc_750km": 6 / 8,
        "acc_2500km": 7 / 8,
    }
    with pytest.raises(ConfigError):
        stats_distance.threshold_shares([])


def test_weighted_median_matches_numpy():
    rng = np.random.default_rng(1)
    v = rng.exponential(1000, size=51)
    for _ in range(20):
        w = rng.integers(0, 4, size=51).astype(float)
        w[0] += 1
        assert stats_distance.weighted_median(v, w) == pytest.approx(
            float(np.median(np.repeat(v, w.astype(int))))
        )
