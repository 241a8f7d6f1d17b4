"""geoclip_utils.geo.distance: great-circle distances and GeoScore."""

from __future__ import annotations

import numpy as np
import pytest

from geoclip_utils import geo

LONDON = (51.5074, -0.1278)


PARIS = (48.8566, 2.3522)


NEW_YORK = (40.7128, -74.0060)


LOS_ANGELES = (34.0522, -118.2437)


@pytest.mark.parametrize(
    ("a", "b", "km", "tol"),
    [
        (LONDON, PARIS, 343.5, 1.0),
        (NEW_YORK, LOS_ANGELES, 3936.0, 5.0),
        ((0.0, 0.0), (0.0, 180.0), 20015.1, 1.0),  # antipodes: half the circumference (R = 6371 km)
        ((10.0, 20.0), (10.0, 20.0), 0.0, 1e-9),
    ],
)
def test_great_circle_known_pairs(a, b, km, tol):
    d = float(geo.haversine_km(a[0], a[1], b[0], b[1]))
    assert d == pytest.approx(km, abs=tol)
    assert float(geo.haversine_km(b[0], b[1], a[0], a[1])) == pytest.approx(d)


def test_geoscore_values():
    s = geo.geoscore(np.array([0.0, 1492.7, 2 * 1492.7, 20015.0]))
    np.testing.assert_allclose(s[:3], [5000.0, 5000 / np.e, 5000 / np.e**2], rtol=1e-9)
    assert 0 < s[3] < 10
