"""geoclip_utils.geo.gazetteer: GeoNames cities, most populous first, and the spherical mean."""

from __future__ import annotations

import pytest

from geoclip_utils.errors import ConfigError
from geoclip_utils.geo import gazetteer


# --------------------------------------------------------------------------- the gazetteer and the matcher
def test_gazetteer_is_most_populous_first_and_refuses_thresholds_below_its_own():
    g = gazetteer.gazetteer(1_000_000)
    assert (g["population"] >= 1_000_000).all() and g["population"].is_monotonic_decreasing
    assert len(gazetteer.gazetteer()) > 30_000  # GeoNames cities15000
    with pytest.raises(ConfigError, match="at least 15,000"):
        gazetteer.gazetteer(1000)
    with pytest.raises(ConfigError, match="leaves no city"):
        gazetteer.gazetteer(10**10)


# --------------------------------------------------------------------------- zero-shot coordinates
def test_spherical_mean_handles_the_antimeridian():
    lat, lon = gazetteer.spherical_mean([[10.0, 10.0]], [[179.0, -179.0]], [[1.0, 1.0]])
    assert abs(abs(lon[0]) - 180) < 1e-6 and lat[0] == pytest.approx(10.0, abs=0.01)
    lat, lon = gazetteer.spherical_mean([[0.0, 0.0]], [[0.0, 90.0]], [[3.0, 1.0]])
    assert 0 < lon[0] < 45  # pulled towards the heavier point
