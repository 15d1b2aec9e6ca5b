"""The shapes Accord reasons about, as plain immutable values in WGS84 degrees ``(lon, lat)``.

- :class:`Disc`: a point with a radius in metres (radius 0 is a bare point). A presence at a point
  with an uncertainty, and a clearance area given as a point plus ``radius_m``, are both discs.
- :class:`Corridor`: a line (geodesic segments between vertices) with a total width in metres.
- :class:`Area`: one or more polygons, each an exterior ring followed by its holes; rings are closed
  (first vertex repeated last) and edges are geodesics.
- :class:`PointGeometry`: not a shape but a GeoJSON Point as a read-only mapping of two floats, the
  geometry a verdict's reason gives for a presence at a point.

A shape denotes a *set of points on the ellipsoid*: a disc's whole interior, a corridor's whole
buffer, a polygon's interior. Distances between shapes are distances between those sets (0 when
they touch or overlap).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Area", "Corridor", "Disc", "LonLat", "PointGeometry", "Ring", "Shape"]

LonLat = tuple[float, float]
Ring = tuple[LonLat, ...]


@dataclass(frozen=True, slots=True)
class Disc:
    lon: float
    lat: float
    radius_m: float = 0.0


@dataclass(frozen=True, slots=True)
class Corridor:
    coords: tuple[LonLat, ...]
    width_m: float  # total width: the buffer reaches width_m / 2 on each side


@dataclass(frozen=True, slots=True)
class Area:
    polygons: tuple[tuple[Ring, ...], ...]  # each polygon: (exterior, *holes)


Shape = Disc | Corridor | Area


class PointGeometry(Mapping[str, Any]):
    """The GeoJSON Point ``{"type": "Point", "coordinates": [lon, lat]}`` of a reason, read-only:
    two floats instead of a dict and a list (a clearance may list hundreds of presences)."""

    __slots__ = ("lat", "lon")

    def __init__(self, lon: float, lat: float) -> None:
        self.lon = lon
        self.lat = lat

    def __getitem__(self, key: str) -> Any:
        if key == "type":
            return "Point"
        if key == "coordinates":
            return [self.lon, self.lat]
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(("type", "coordinates"))

    def __len__(self) -> int:
        return 2

    def __repr__(self) -> str:
        return f"PointGeometry({self.lon!r}, {self.lat!r})"
