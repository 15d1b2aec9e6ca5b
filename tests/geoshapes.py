"""Standard geometries shared by the geo tests (as shapely's tests/common.py): GeoJSON objects for
the awkward cases (empty, bowtie, antimeridian, pole, huge, tiny) and a few builders.

Vertices are computed with GeographicLib (an oracle independent of Accord's code)."""

from __future__ import annotations

from geographiclib.geodesic import Geodesic

GEOD = Geodesic.WGS84

Position = list[float]


def dest(lon: float, lat: float, azimuth: float, metres: float) -> Position:
    """The point ``metres`` from (lon, lat) along ``azimuth`` (degrees), lon in [-180, 180)."""
    r = GEOD.Direct(lat, lon, azimuth, metres)
    return [(r["lon2"] + 180.0) % 360.0 - 180.0, r["lat2"]]


def star(lon: float, lat: float, radius_m: float, n: int = 10) -> list[Position]:
    """A closed counterclockwise ring of ``n`` vertices ``radius_m`` from (lon, lat)."""
    ring = [dest(lon, lat, -i * 360.0 / n, radius_m) for i in range(n)]
    return [*ring, ring[0]]


def polygon(*rings: list[Position]) -> dict[str, object]:
    return {"type": "Polygon", "coordinates": [list(r) for r in rings]}


def point(lon: float, lat: float) -> dict[str, object]:
    return {"type": "Point", "coordinates": [lon, lat]}


def line(*pts: Position) -> dict[str, object]:
    return {"type": "LineString", "coordinates": [list(p) for p in pts]}


#: A Polygon with no rings at all.
EMPTY = {"type": "Polygon", "coordinates": []}
#: A MultiPolygon with no polygons.
EMPTY_MULTI = {"type": "MultiPolygon", "coordinates": []}
#: A figure-of-eight ring whose edges cross at about (71.005, 34.905).
BOWTIE = polygon([[71.0, 34.9], [71.01, 34.91], [71.01, 34.9], [71.0, 34.91], [71.0, 34.9]])
#: A square of about 22 km across the antimeridian at the equator (edges cross 180°).
ANTIMERIDIAN = polygon([[179.9, -0.1], [-179.9, -0.1], [-179.9, 0.1], [179.9, 0.1], [179.9, -0.1]])
#: A ring around the North Pole at 88°N: it encloses the pole.
POLE = polygon([[0.0, 88.0], [90.0, 88.0], [180.0, 88.0], [-90.0, 88.0], [0.0, 88.0]])
#: A polygon near the pole that does not contain it (88.5-89.5°N, 10° of longitude).
NEAR_POLE = polygon([[0.0, 88.5], [10.0, 88.5], [10.0, 89.5], [0.0, 89.5], [0.0, 88.5]])
#: A square 3,000 km across: beyond the 1,000 km extent limit.
HUGE = polygon([[0.0, -13.0], [27.0, -13.0], [27.0, 13.0], [0.0, 13.0], [0.0, -13.0]])
#: A square of about 2 m by 2 m (4 m², over the 1 m² minimum).
TINY = polygon(
    [[71.0, 34.9], [71.00002, 34.9], [71.00002, 34.90002], [71.0, 34.90002], [71.0, 34.9]]
)
#: A 10-vertex polygon of about 1 km across (the hot path's typical area).
SQUARE_1KM = polygon(star(71.0, 34.9, 500.0, 10))
#: A 6 km polygon with a 2 km hole in the middle.
WITH_HOLE = polygon(star(71.2, 34.9, 3000.0, 12), star(71.2, 34.9, 1000.0, 8)[::-1])
