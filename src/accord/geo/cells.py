"""Coarse cells: what a party that may only see a presence ``coarse`` is told of where it is.

A fixed global grid, the same for every party and every version of Accord:

- rows of ``COARSE_CELL_DEG`` = 0.05° of latitude (at least 5,528 m of meridian anywhere), row 0
  starting at the south pole, 3,600 rows;
- each row is cut into ``ncols = max(1, floor(360 cos(φp) / 0.05))`` equal columns, φp being the
  row's most poleward latitude, so that a cell's east-west side, measured along its poleward edge,
  is at least 0.05° of equatorial arc (~5.5 km) and shrinks no further towards the poles; the two
  rows touching a pole are a single cell each (a polar cap of 5.5 km radius);
- the id is ``"c:<row>:<col>"`` and carries nothing but the cell.

Every side of every cell is at least 5 km long measured geodesically (a unit test checks every
row with GeographicLib's geodesics through pyproj). A cell is half-open: it holds its south and
west edges, not its north and east ones (the north pole and the east edge at 180° belong to the
last row / first column: longitude 180 is -180).

The GeoJSON of a cell draws its edges along parallels and meridians (densified every degree), so
that it reads right on a map; Accord's own polygons have geodesic edges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache, lru_cache

from accord.errors import InvalidInput

__all__ = ["COARSE_CELL_DEG", "CoarseCell", "coarse_cell"]

COARSE_CELL_DEG: float = 0.05
"""Height of a coarse cell in degrees of latitude; widths vary by row (see the module docstring)."""

_ROWS_PER_DEG = 20  # 1 / COARSE_CELL_DEG, as an integer so that edges are computed exactly
_NROWS = 180 * _ROWS_PER_DEG
_INTEGER_SLACK = 1e-6


@dataclass(frozen=True, slots=True)
class CoarseCell:
    """One coarse cell: an opaque stable ``id`` and its ``bbox`` (west, south, east, north)."""

    id: str
    bbox: tuple[float, float, float, float]

    def geojson(self) -> dict[str, object]:
        """The cell as a GeoJSON Polygon (exterior counter-clockwise, RFC 7946)."""
        w, s, e, n = self.bbox
        steps = max(1, math.ceil(e - w))
        south_edge = [[w + (e - w) * i / steps, s] for i in range(steps)]
        north_edge = [[e - (e - w) * i / steps, n] for i in range(steps)]
        ring = [*south_edge, [e, s], *north_edge, [w, n], [w, s]]
        return {"type": "Polygon", "coordinates": [ring]}


def _row_south(row: int) -> float:
    return (row - 90 * _ROWS_PER_DEG) / _ROWS_PER_DEG


def _ncols(row: int) -> int:
    """Number of columns of a row (1 for the rows touching a pole)."""
    south = _row_south(row)
    north = _row_south(row + 1)
    phi = max(abs(south), abs(north))
    if phi >= 90.0:
        return 1
    v = 360.0 * math.cos(math.radians(phi)) * _ROWS_PER_DEG
    # Where v is an integer in exact arithmetic (60°: 3600), floor() would depend on the last bit
    # of the C library's cosine; take the integer. Elsewhere v is > 1e-6 from any integer.
    n = round(v) if abs(v - round(v)) < _INTEGER_SLACK else math.floor(v)
    return max(1, n)


@cache
def _ncols_table() -> tuple[int, ...]:
    return tuple(_ncols(r) for r in range(_NROWS))


def _col_west(col: int, ncols: int) -> float:
    return (col * 360 - 180 * ncols) / ncols  # integer numerator: one rounding only


@lru_cache(maxsize=1 << 16)
def _cell(row: int, col: int) -> CoarseCell:
    ncols = _ncols_table()[row]
    bbox = (_col_west(col, ncols), _row_south(row), _col_west(col + 1, ncols), _row_south(row + 1))
    return CoarseCell(id=f"c:{row}:{col}", bbox=bbox)


def _number(x: object, field: str, what: str, lo: float, hi: float) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise InvalidInput(field, f"{what} must be a number")
    v = float(x)
    if not lo <= v <= hi:  # also refuses NaN
        raise InvalidInput(field, f"{what} must be a finite number in [{lo:g}, {hi:g}]")
    return v


def coarse_cell(lon: object, lat: object) -> CoarseCell:
    """The coarse cell holding the point ``(lon, lat)`` (WGS84 degrees). Anything but a finite
    number in range, a boolean included, is refused with InvalidInput (the parameters are
    ``object`` so that the compiled signature does not turn a boolean into a float first)."""
    x = _number(lon, "lon", "longitude", -180.0, 180.0)
    y = _number(lat, "lat", "latitude", -90.0, 90.0)
    if x == 180.0:
        x = -180.0
    row = min(int((y + 90.0) * _ROWS_PER_DEG), _NROWS - 1)
    # settle rounding against the exact edges the bbox reports
    while row > 0 and y < _row_south(row):
        row -= 1
    while row < _NROWS - 1 and y >= _row_south(row + 1):
        row += 1
    ncols = _ncols_table()[row]
    col = min(int((x + 180.0) * ncols / 360.0), ncols - 1)
    while col > 0 and x < _col_west(col, ncols):
        col -= 1
    while col < ncols - 1 and x >= _col_west(col + 1, ncols):
        col += 1
    return _cell(row, col)
