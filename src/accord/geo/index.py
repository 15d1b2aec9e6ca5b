"""A spatial index of shapes that can be updated in place: insert, move, remove, query by distance.

Structure: a hierarchy of lon/lat grids (chosen by measurement, see docs/PERF-geo-index.md).

- Level 0 has rows of ``cell_deg`` degrees of latitude (0.03°, ~3.3 km). Each row is cut into
  ``floor(360 cos(φp) / h)`` equal columns, φp being the row's most poleward latitude, so that cells
  stay roughly square from the equator to the poles; the rows touching a pole hold a single cell
  (a polar cap), so a box around a pole never enumerates thousands of thin cells.
- Level ``L`` is the same grid with rows ``cell_deg * 4**L`` high; the top level is one cell, the
  whole globe.
- An entry is stored at the lowest level where its boxes cover at most ``max_cells`` cells, in each
  of those cells, with its box. A point with a few hundred metres of reach sits in one level-0 cell
  (sometimes 2 or 4); a country-sized polygon sits in a few coarse cells. Memory per entry is
  therefore bounded, whatever its size.
- A query visits, at each non-empty level, the cells its boxes cover, and keeps an entry when the
  entry's box meets the query's box (cells strictly inside the query's cell range need no test).
  A crowded cell (``crowd`` entries or more, 128 by default: ~11 km² at 25 presences per km²)
  is tested on its boxes packed in arrays, which its second query with no change in between
  builds and any change to the cell drops.

An index made with ``halo_m > 0`` also keeps a *halo*: for each level-0 cell, how many entries
may lie within ``halo_m`` of some point of it. A query of a disc whose radius + ``d`` is at most
``halo_m``, from a cell no entry's halo covers, is answered "none" with one dict lookup (the open
clearances are indexed so: most units are far from all of them). How the halo is marked, and why
it never hides a key the query would return, is in :meth:`SpatialIndex._halo_cells`.
:meth:`SpatialIndex.declines_points` gives that answer for a batch of points at once.

A moving point (:meth:`SpatialIndex.move_disc`, a unit's fix) that stays in its level-0 cell, in an
index without a halo, only has its box replaced: the structure is the one a fresh insert builds.

Correctness rests on :func:`bounds`: every box it returns contains the shape grown by ``grow_m``
metres geodesically (WGS84), never less. Two shapes within ``d`` of each other, one grown by its
reach, have overlapping boxes when one side is grown by ``reach_m`` and the other by ``d``; the grid
only ever narrows candidates by box overlap, so :meth:`SpatialIndex.query` returns a superset.

How a box is grown (all rules err towards a larger box):

- latitude: the geodesic distance between two points is at least the meridian arc between their
  parallels, and a degree of meridian is at least 110,574 m (at the equator), so ``grow_m /
  110,574`` degrees of latitude is enough;
- longitude: every point of a shortest path from the shape to a point within ``grow_m`` lies within
  the grown latitude band, where a degree of longitude is at least ``110,574 * cos(φmax)`` metres
  (the true value, ``a cos φ / sqrt(1 - e² sin² φ) * π / 180``, is larger), φmax being the band's
  most poleward latitude. If the band reaches a pole, or the growth reaches 180°, the box takes all
  longitudes;
- geodesic edges (corridors, polygons) can bulge poleward past their vertices: the latitude of the
  geodesic's vertex (Clairaut's relation on the ellipsoid, ``cos β sin α`` constant) is included
  when the edge passes it. Longitude is monotonic along a geodesic, so an edge's longitudes lie
  between its ends' (the short way round). Edges of 180° of longitude or over 10,000 km, and
  polygons that wind round a pole, get the whole globe;
- boxes that cross the antimeridian are split in two, and a small margin (1e-9°) is always added,
  so a shape touching ±180° is found from either side.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Sequence
from functools import cache
from typing import Any

import numpy as np
from pyproj import Geod

from accord.errors import InvalidInput
from accord.geo.shapes import Area, Corridor, Disc, Shape

__all__ = ["Box", "SpatialIndex", "bounds"]


Box = tuple[float, float, float, float]
"""(west, south, east, north) in degrees, west <= east, within [-180, 180] x [-90, 90]."""

_M_PER_DEG = 110_574.0  # smallest length of a degree of latitude on WGS84 (at the equator), metres
_SLACK = 1.0 + 1e-9  # relative margin on distances
_EPS_DEG = 1e-9  # absolute margin on every box edge, degrees (~0.1 mm)
_MAX_EDGE_M = 10_000_000.0  # a geodesic edge longer than this gets the whole globe
_WGS84_F = 1.0 / 298.257223563
_WORLD: Box = (-180.0, -90.0, 180.0, 90.0)
_INF = math.inf

_HALO_MAX_CELLS = 4096  # an entry whose halo would cover more cells turns the halo test off
_HALO_MARGIN_DEG = 1e-6  # widens the halo's ranges (~0.1 m) against rounding
_COL_BITS = 20  # cell code: level << 44 | row << 20 | col
_LEVEL_SHIFT = 44


@cache
def _geod() -> Geod:
    return Geod(ellps="WGS84")


# --------------------------------------------------------------------------------------------------
# bounds


def _grow(lon_lo: float, lon_hi: float, lat_lo: float, lat_hi: float, g: float) -> list[Box]:
    """Boxes containing every point within ``g`` metres of a set whose longitudes lie in the
    (unwrapped) arc ``[lon_lo, lon_hi]`` and latitudes in ``[lat_lo, lat_hi]``."""
    g *= _SLACK
    dlat = g / _M_PER_DEG + _EPS_DEG
    s = lat_lo - dlat
    n = lat_hi + dlat
    full = False
    if s <= -90.0:
        s = -90.0
        full = True
    if n >= 90.0:
        n = 90.0
        full = True
    if not full:
        phi = -s if -s > n else n
        dlon = g / (_M_PER_DEG * math.cos(math.radians(phi))) + _EPS_DEG
        w = lon_lo - dlon
        e = lon_hi + dlon
        if e - w >= 360.0:
            full = True
    if full:
        return [(-180.0, s, 180.0, n)]
    if w < -180.0 or w >= 180.0:
        shift = 360.0 * math.floor((w + 180.0) / 360.0)
        w -= shift
        e -= shift
    if e <= 180.0:
        return [(w, s, e, n)]
    return [(w, s, 180.0, n), (-180.0, s, e - 360.0, n)]


def _finite(x: object, field: str, what: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise InvalidInput(field, f"{what} must be a number")
    v = float(x)
    if not math.isfinite(v):
        raise InvalidInput(field, f"{what} must be finite")
    return v


def _check_grow(g: object, field: str) -> float:
    v = _finite(g, field, "distance")
    if v < 0.0:
        raise InvalidInput(field, "distance must be >= 0 metres")
    return v


def _disc_bounds(shape: Disc, grow: float, field: str) -> list[Box]:
    lon = shape.lon
    lat = shape.lat
    r = shape.radius_m
    # fast validation (NaN fails every comparison)
    if not -90.0 <= lat <= 90.0:
        raise InvalidInput(f"{field}.lat", "latitude must be a number in [-90, 90]")
    if not -_INF < lon < _INF:
        raise InvalidInput(f"{field}.lon", "longitude must be a finite number")
    if not 0.0 <= r < _INF:
        raise InvalidInput(f"{field}.radius_m", "radius must be a finite number >= 0")
    return _grow(lon, lon, lat, lat, r + grow)


def _coords(points: Iterable[object], field: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        arr = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(field, "coordinates must be [lon, lat] number pairs") from exc
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] < 2:
        raise InvalidInput(field, "coordinates must be a non-empty list of [lon, lat] pairs")
    lons = arr[:, 0]
    lats = arr[:, 1]
    if not np.all(np.isfinite(lons)):
        raise InvalidInput(field, "longitude must be finite")
    if not np.all((lats >= -90.0) & (lats <= 90.0)):
        raise InvalidInput(field, "latitude must be a number in [-90, 90]")
    return lons, lats


def _extent(lons: np.ndarray, lats: np.ndarray) -> tuple[float, float, float, float, float, bool]:
    """Extent of a chain of geodesic edges: (lon_lo, lon_hi) unwrapped, (lat_lo, lat_hi), the total
    longitude swept (the winding, ±360 for a ring round a pole), and whether the whole globe is
    needed (an edge of 180° of longitude or longer than _MAX_EDGE_M)."""
    if lons.shape[0] == 1:
        lon = float(lons[0])
        lat = float(lats[0])
        return lon, lon, lat, lat, 0.0, False
    lon1 = lons[:-1]
    lat1 = lats[:-1]
    lon2 = lons[1:]
    lat2 = lats[1:]
    dl = np.mod(lon2 - lon1 + 180.0, 360.0) - 180.0  # [-180, 180): the short way round
    az12, az21, dist = _geod().inv(lon1, lat1, lon2, lat2)
    az12 = np.asarray(az12, dtype=np.float64)
    az21 = np.asarray(az21, dtype=np.float64)
    dist = np.asarray(dist, dtype=np.float64)
    moving = dist > 0.0
    if bool(np.any(moving & (np.abs(dl) >= 180.0 - 1e-9))) or bool(np.any(dist > _MAX_EDGE_M)):
        return -180.0, 180.0, -90.0, 90.0, 0.0, True
    unwrapped = float(lons[0]) + np.concatenate(([0.0], np.cumsum(dl)))
    lat_hi = float(np.max(lats))
    lat_lo = float(np.min(lats))
    # Poleward bulge of each edge: the geodesic's vertex, if the edge passes it.
    a1 = np.radians(az12)
    a2 = np.radians(az21 + 180.0)  # forward azimuth at the end of the edge
    c1 = np.cos(a1)
    c2 = np.cos(a2)
    tol = 1e-9
    north = moving & (c1 > -tol) & (c2 < tol)
    south = moving & (c1 < tol) & (c2 > -tol)
    if bool(np.any(north | south)):
        beta1 = np.arctan((1.0 - _WGS84_F) * np.tan(np.radians(lat1)))
        cb0 = np.clip(np.abs(np.cos(beta1) * np.sin(a1)), 0.0, 1.0)
        beta0 = np.arccos(cb0)
        phi0 = np.degrees(np.arctan(np.tan(beta0) / (1.0 - _WGS84_F)))
        if bool(np.any(north)):
            lat_hi = max(lat_hi, float(np.max(phi0[north])))
        if bool(np.any(south)):
            lat_lo = min(lat_lo, -float(np.max(phi0[south])))
    return (
        float(np.min(unwrapped)),
        float(np.max(unwrapped)),
        lat_lo,
        lat_hi,
        float(np.sum(dl)),
        False,
    )


def _corridor_bounds(shape: Corridor, grow: float, field: str) -> list[Box]:
    width = shape.width_m
    if not 0.0 <= width < _INF:
        raise InvalidInput(f"{field}.width_m", "width must be a finite number >= 0")
    lons, lats = _coords(shape.coords, f"{field}.coords")
    lon_lo, lon_hi, lat_lo, lat_hi, _, world = _extent(lons, lats)
    if world:
        return [_WORLD]
    return _grow(lon_lo, lon_hi, lat_lo, lat_hi, width / 2.0 + grow)


def _area_bounds(shape: Area, grow: float, field: str) -> list[Box]:
    if not shape.polygons:
        raise InvalidInput(f"{field}.polygons", "an area needs at least one polygon")
    out: list[Box] = []
    for i, polygon in enumerate(shape.polygons):
        if not polygon:
            raise InvalidInput(f"{field}.polygons.{i}", "a polygon needs an exterior ring")
        for j, ring in enumerate(polygon[1:], start=1):  # holes: validated, not needed for bounds
            _coords(ring, f"{field}.polygons.{i}.{j}")
        lons, lats = _coords(polygon[0], f"{field}.polygons.{i}.0")
        lon_lo, lon_hi, lat_lo, lat_hi, winding, world = _extent(lons, lats)
        if world or abs(winding) > 180.0:
            # the ring winds round a pole: its interior contains one; take the globe
            return [_WORLD]
        out.extend(_grow(lon_lo, lon_hi, lat_lo, lat_hi, grow))
    return out


def _bounds(shape: object, grow: float, field: str) -> list[Box]:
    if type(shape) is Disc:
        return _disc_bounds(shape, grow, field)
    if type(shape) is Corridor:
        return _corridor_bounds(shape, grow, field)
    if type(shape) is Area:
        return _area_bounds(shape, grow, field)
    raise InvalidInput(field, "must be a Disc, Corridor or Area")


def bounds(shape: Shape, grow_m: float = 0.0) -> list[Box]:
    """Lon/lat boxes ``(west, south, east, north)``, split at the antimeridian, that together
    contain every point within ``grow_m`` metres (geodesic, WGS84) of ``shape``."""
    return _bounds(shape, _check_grow(grow_m, "grow_m"), "shape")


# --------------------------------------------------------------------------------------------------
# the index


class _Level:
    __slots__ = ("h", "inv_h", "max_scale", "ncols", "ncols_array", "nrows", "scale", "scale_array")

    def __init__(self, h: float) -> None:
        self.h = h
        self.inv_h = 1.0 / h
        self.nrows = max(1, math.ceil(180.0 / h - 1e-9))
        ncols: list[int] = []
        for r in range(self.nrows):
            south = -90.0 + r * h
            north = min(90.0, south + h)
            phi = max(abs(south), abs(north))
            n = int(360.0 * math.cos(math.radians(phi)) / h) if phi < 90.0 else 1
            ncols.append(min(max(1, n), (1 << _COL_BITS) - 1))
        self.ncols = ncols
        self.scale = [n / 360.0 for n in ncols]
        self.max_scale = max(self.scale)
        self.scale_array = np.asarray(self.scale, dtype=np.float64)
        self.ncols_array = np.asarray(ncols, dtype=np.int64)


@cache
def _level(h: float) -> _Level:
    """Levels are immutable once built: indexes with the same cell size share them."""
    return _Level(h)


def _box_union(a: Box, b: Box) -> Box:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


class SpatialIndex:
    """Keys (strings) with shapes, updated in place, queried by distance. See the module docstring.

    ``query(shape, d)`` returns a superset of the keys whose shape, grown by the ``reach_m`` it was
    inserted with, may lie within ``d`` metres of ``shape``; the caller does the exact test.
    """

    __slots__ = (
        "_cells",
        "_codes",
        "_crowd",
        "_entries",
        "_halo",
        "_halo_m",
        "_halo_of",
        "_halo_wide",
        "_level_count",
        "_levels",
        "_max_cells",
        "_packed",
    )

    def __init__(
        self, cell_deg: float = 0.03, max_cells: int = 16, halo_m: float = 0.0, crowd: int = 128
    ) -> None:
        if not 0.001 <= cell_deg <= 10.0:
            raise InvalidInput("cell_deg", "cell size must be between 0.001 and 10 degrees")
        if max_cells < 4:
            raise InvalidInput("max_cells", "max_cells must be at least 4")
        if not 0.0 <= halo_m <= 100_000.0:
            raise InvalidInput("halo_m", "halo_m must be between 0 and 100,000 metres")
        if crowd < 1:
            raise InvalidInput("crowd", "crowd must be at least 1")
        levels: list[_Level] = []
        h = float(cell_deg)
        while True:
            levels.append(_level(h))
            if levels[-1].nrows == 1 and levels[-1].ncols[0] == 1:
                break
            h *= 4.0
        self._levels = levels
        self._max_cells = max_cells
        # per level: cell code -> {key: box of that key meeting this cell}
        self._cells: list[dict[int, dict[str, Box]]] = [{} for _ in levels]
        # key -> cell code (one cell) or tuple of cell codes
        self._entries: dict[str, int | tuple[int, ...]] = {}
        # level-0 cell code -> the same int, so that the entries of one cell share one int object
        self._codes: dict[int, int] = {}
        self._level_count = [0] * len(levels)
        self._halo_m = float(halo_m)
        self._halo: dict[int, int] = {}  # level-0 cell code -> entries whose halo covers it
        self._halo_of: dict[str, tuple[int, ...] | None] = {}  # None: too wide, counted below
        self._halo_wide = 0
        # a crowded cell (``crowd`` entries or more) that queries tested: None after one query,
        # then its keys and its boxes as four packed columns (west, south, east, north); dropped
        # when the cell changes
        self._crowd = crowd
        self._packed: dict[int, tuple[list[str], np.ndarray] | None] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    # -- placement ---------------------------------------------------------------------------------

    def _cover(self, level: int, boxes: list[Box]) -> dict[int, Box] | None:
        """The cells of ``level`` the boxes meet, each with the box (union) meeting it; None if that
        is more than max_cells (except at the top level, one cell)."""
        lv = self._levels[level]
        limit = self._max_cells
        nrows = lv.nrows
        inv_h = lv.inv_h
        regs: dict[int, Box] = {}
        base_level = level << _LEVEL_SHIFT
        for box in boxes:
            w, s, e, n = box
            r0 = int((s + 90.0) * inv_h)
            r1 = int((n + 90.0) * inv_h)
            if r0 >= nrows:
                r0 = nrows - 1
            if r1 >= nrows:
                r1 = nrows - 1
            if r1 - r0 >= limit:
                return None
            for r in range(r0, r1 + 1):
                sc = lv.scale[r]
                nc = lv.ncols[r]
                c0 = int((w + 180.0) * sc)
                c1 = int((e + 180.0) * sc)
                if c0 >= nc:
                    c0 = nc - 1
                if c1 >= nc:
                    c1 = nc - 1
                if len(regs) + c1 - c0 >= limit:
                    return None
                row_code = base_level | (r << _COL_BITS)
                for c in range(c0, c1 + 1):
                    code = row_code | c
                    prev = regs.get(code)
                    regs[code] = box if prev is None else _box_union(prev, box)
        return regs

    def _place(self, boxes: list[Box]) -> dict[int, Box]:
        top = len(self._levels) - 1
        for level in range(top):
            regs = self._cover(level, boxes)
            if regs is not None:
                return regs
        world = boxes[0]
        for b in boxes[1:]:
            world = _box_union(world, b)
        return {top << _LEVEL_SHIFT: world}

    def _single_cell(self, box: Box) -> int:
        """The level-0 cell code if ``box`` lies in one level-0 cell, else -1 (hot path)."""
        lv = self._levels[0]
        w, s, e, n = box
        inv_h = lv.inv_h
        r = int((s + 90.0) * inv_h)
        if r != int((n + 90.0) * inv_h) or r >= lv.nrows:
            return -1
        sc = lv.scale[r]
        c = int((w + 180.0) * sc)
        if c != int((e + 180.0) * sc) or c >= lv.ncols[r]:
            return -1
        return (r << _COL_BITS) | c

    def _unregister(self, key: str, old: int | tuple[int, ...]) -> None:
        codes = (old,) if isinstance(old, int) else old
        level = codes[0] >> _LEVEL_SHIFT
        cells = self._cells[level]
        packed = self._packed
        for code in codes:
            cell = cells[code]
            del cell[key]
            if packed:
                packed.pop(code, None)
            if not cell:
                del cells[code]
                if level == 0:
                    del self._codes[code]
        self._level_count[level] -= 1

    def _set(self, key: str, boxes: list[Box]) -> None:
        if self._halo_m > 0.0:
            self._set_halo(key, self._place_entry(key, boxes))
        else:
            self._place_entry(key, boxes)

    def _place_entry(self, key: str, boxes: list[Box]) -> list[Box]:
        """Store ``key`` with ``boxes``; returns the boxes stored (per cell: a union)."""
        entries = self._entries
        old = entries.get(key)
        if len(boxes) == 1:
            code = self._single_cell(boxes[0])
            if code >= 0:
                self._place_in_cell(key, boxes[0], code, old)
                return boxes
        regs = self._place(boxes)
        codes = tuple(regs)
        new: int | tuple[int, ...] = codes[0] if len(codes) == 1 else codes
        level = codes[0] >> _LEVEL_SHIFT
        cells = self._cells[level]
        if self._packed:
            for code in regs:
                self._packed.pop(code, None)
        if old is not None:
            if old == new:
                for code, box in regs.items():
                    cells[code][key] = box
                return list(set(regs.values()))
            self._unregister(key, old)
        for code, box in regs.items():
            cell = cells.get(code)
            if cell is None:
                cells[code] = {key: box}
                if level == 0:
                    self._codes[code] = code
            else:
                cell[key] = box
        entries[key] = new
        self._level_count[level] += 1
        return list(set(regs.values()))

    def _place_in_cell(
        self, key: str, box: Box, code: int, old: int | tuple[int, ...] | None
    ) -> None:
        """Store ``key`` with ``box``, which lies in the level-0 cell ``code``; ``old``: where
        the key is stored now (None: nowhere)."""
        cells = self._cells[0]
        if self._packed:
            self._packed.pop(code, None)
        if old == code:
            cells[code][key] = box
            return
        if old is not None:
            self._unregister(key, old)
        cell = cells.get(code)
        if cell is None:
            cells[code] = {key: box}
            self._codes[code] = code
        else:
            cell[key] = box
            code = self._codes[code]
        self._entries[key] = code
        self._level_count[0] += 1

    # -- the halo ----------------------------------------------------------------------------------

    def _set_halo(self, key: str, boxes: list[Box]) -> None:
        self._drop_halo(key)
        codes = self._halo_cells(boxes)
        self._halo_of[key] = codes
        if codes is None:
            self._halo_wide += 1
            return
        halo = self._halo
        for code in codes:
            halo[code] = halo.get(code, 0) + 1

    def _drop_halo(self, key: str) -> None:
        if key not in self._halo_of:
            return
        codes = self._halo_of.pop(key)
        if codes is None:
            self._halo_wide -= 1
            return
        halo = self._halo
        for code in codes:
            n = halo[code] - 1
            if n:
                halo[code] = n
            else:
                del halo[code]

    def _halo_cells(self, boxes: list[Box]) -> tuple[int, ...] | None:
        """The level-0 cells C such that C grown by ``halo_m`` (as :func:`_grow` grows a set) may
        meet one of ``boxes``; None if that is more than _HALO_MAX_CELLS cells.

        Why a query it declines would have found nothing: a query disc of radius r at point P in
        cell C, with ``r + d <= halo_m``, has the boxes ``_grow(P, r + d)``. Their latitude band
        lies within C's row's band grown by ``halo_m``, so their poleward-most latitude is at most
        that band's, and their longitude growth at most the row's (``_grow`` divides by the
        cosine of that latitude). So every point of the query's boxes is within the row's growth
        (``dlat``, ``dlon`` below) of P. A stored box meeting them contains such a point, which
        puts P's row and column in the ranges marked here (widened by _HALO_MARGIN_DEG against
        rounding)."""
        lv = self._levels[0]
        g = self._halo_m * _SLACK
        dlat = g / _M_PER_DEG + _EPS_DEG + _HALO_MARGIN_DEG
        h = lv.h
        inv_h = lv.inv_h
        last_row = lv.nrows - 1
        out: set[int] = set()
        for w, s, e, n in boxes:
            r0 = max(0, int((s - dlat + 90.0) * inv_h))
            r1 = min(last_row, int((n + dlat + 90.0) * inv_h))
            for r in range(r0, r1 + 1):
                nc = lv.ncols[r]
                south = -90.0 + r * h - dlat
                north = -90.0 + (r + 1) * h + dlat
                full = south <= -90.0 or north >= 90.0
                if not full:
                    phi = -south if -south > north else north
                    dlon = g / (_M_PER_DEG * math.cos(math.radians(phi)))
                    dlon += _EPS_DEG + _HALO_MARGIN_DEG
                    full = 2.0 * dlon + (e - w) >= 360.0
                if full:
                    c0, c1 = 0, nc - 1
                else:
                    sc = lv.scale[r]
                    c0 = math.floor((w - dlon + 180.0) * sc)
                    c1 = math.floor((e + dlon + 180.0) * sc)
                    if c1 - c0 + 1 >= nc:
                        c0, c1 = 0, nc - 1
                if len(out) + c1 - c0 + 1 > _HALO_MAX_CELLS:
                    return None
                row_code = r << _COL_BITS
                if c0 >= 0 and c1 < nc:  # (row_code | c is row_code + c: c < 2**_COL_BITS)
                    out.update(range(row_code + c0, row_code + c1 + 1))
                else:  # across the antimeridian
                    out.update(row_code | (c % nc) for c in range(c0, c1 + 1))
        return tuple(out)

    def declines(self, lon: float, lat: float, radius_m: float, d: float) -> bool:
        """Whether the halo answers ``query(Disc(lon, lat, radius_m), d)``: True when that query
        is valid (what :func:`_bounds` checks) and is known to find nothing, from one lookup;
        False when the query must look (or would refuse its arguments)."""
        return (
            self._halo_m > 0.0
            and type(d) is float
            and 0.0 <= d < _INF
            and 0.0 <= radius_m < _INF
            and -90.0 <= lat <= 90.0
            and -_INF < lon < _INF
            and self._outside_halo(lon, lat, radius_m + d)
        )

    def declines_points(
        self, lons: Sequence[float], lats: Sequence[float], d: Sequence[float]
    ) -> list[bool]:
        """``[declines(lons[i], lats[i], 0.0, d[i]) for each i]`` for floats, with the cells of
        :meth:`_outside_halo` computed in arrays, by the same floating-point operations (numpy's
        ``mod`` is Python's ``%``)."""
        n = len(lons)
        if not self._halo_m > 0.0 or self._halo_wide or not n:
            return [False] * n
        x = np.array(lons, dtype=np.float64)
        y = np.array(lats, dtype=np.float64)
        g = np.array(d, dtype=np.float64)
        ok = (g >= 0.0) & (g <= self._halo_m) & (y >= -90.0) & (y <= 90.0) & np.isfinite(x)
        lv = self._levels[0]
        r = np.minimum(((np.where(ok, y, 0.0) + 90.0) * lv.inv_h).astype(np.int64), lv.nrows - 1)
        c = (np.mod(np.where(ok, x, 0.0) + 180.0, 360.0) * lv.scale_array[r]).astype(np.int64)
        codes = (r << _COL_BITS) | np.minimum(c, lv.ncols_array[r] - 1)
        halo = self._halo
        return [o and code not in halo for o, code in zip(ok.tolist(), codes.tolist(), strict=True)]

    def _outside_halo(self, lon: float, lat: float, g: float) -> bool:
        """Whether a query disc at (lon, lat) with radius + d = ``g`` is known to find nothing."""
        if g > self._halo_m or self._halo_wide:
            return False
        lv = self._levels[0]
        r = int((lat + 90.0) * lv.inv_h)
        if r >= lv.nrows:
            r = lv.nrows - 1
        nc = lv.ncols[r]
        c = int(((lon + 180.0) % 360.0) * lv.scale[r])
        if c >= nc:
            c = nc - 1
        return ((r << _COL_BITS) | c) not in self._halo

    # -- public API --------------------------------------------------------------------------------

    def insert(self, key: str, shape: Shape, reach_m: float = 0.0) -> None:
        """Add ``key`` with ``shape`` grown by ``reach_m`` metres; replaces a previous entry."""
        self._set(key, _bounds(shape, _check_grow(reach_m, "reach_m"), "shape"))

    def move(self, key: str, shape: Shape, reach_m: float = 0.0) -> None:
        """Same as :meth:`insert`; a Disc that stays in its cell costs a few dict operations."""
        if type(shape) is Disc:
            self.move_disc(key, shape.lon, shape.lat, shape.radius_m, reach_m)
        else:
            self.insert(key, shape, reach_m)

    def move_disc(self, key: str, lon: float, lat: float, radius_m: float, reach_m: float) -> None:
        """Exactly ``insert(key, Disc(lon, lat, radius_m), reach_m)`` (the same structure, the
        same errors), without building the Disc when it need not be built: in an index without a
        halo, a point whose box (:func:`_grow`'s) lies in one level-0 cell is stored there as
        :meth:`_place_entry` stores it (if it was in that cell already, only its box is
        replaced)."""
        if (
            not self._halo_m
            and type(reach_m) is float
            and 0.0 <= reach_m < _INF
            and 0.0 <= radius_m < _INF
            and -90.0 <= lat <= 90.0
            and -_INF < lon < _INF
        ):
            boxes = _grow(lon, lon, lat, lat, radius_m + reach_m)
            if len(boxes) == 1:
                code = self._single_cell(boxes[0])
                if code >= 0:
                    old = self._entries.get(key)
                    if old == code:  # (the common step: within its cell)
                        self._cells[0][code][key] = boxes[0]
                        if self._packed:
                            self._packed.pop(code, None)
                    else:
                        self._place_in_cell(key, boxes[0], code, old)
                    return
        self.insert(key, Disc(lon, lat, radius_m), reach_m)

    def insert_points(
        self, keys: Sequence[str], lons: np.ndarray, lats: np.ndarray, reach_m: np.ndarray
    ) -> None:
        """Exactly ``insert(keys[i], Disc(lons[i], lats[i], 0.0), reach_m[i])`` for each i in
        turn (the same boxes, cells and errors), for building an index in bulk: the boxes and
        cells of points that sit in one level-0 cell are computed in arrays, with the same
        floating-point operations as :func:`_grow`; the other points go through :meth:`insert`."""
        lons = np.asarray(lons, dtype=np.float64)
        lats = np.asarray(lats, dtype=np.float64)
        reach = np.asarray(reach_m, dtype=np.float64)
        if not len(keys) == lons.shape[0] == lats.shape[0] == reach.shape[0]:
            raise InvalidInput("keys", "keys, lons, lats and reach_m must have one length")
        valid = (lats >= -90.0) & (lats <= 90.0) & np.isfinite(lons)
        valid &= (reach >= 0.0) & (reach < _INF)
        if not bool(np.all(valid)):
            rows = zip(keys, lons.tolist(), lats.tolist(), reach.tolist(), strict=True)
            for key, lon, lat, r in rows:
                self.insert(key, Disc(lon, lat, 0.0), r)  # raises as insert does, in turn
            return
        # _grow(lon, lon, lat, lat, 0.0 + reach), with its special cases left to insert
        g = (0.0 + reach) * _SLACK
        dlat = g / _M_PER_DEG + _EPS_DEG
        s = lats - dlat
        n = lats + dlat
        phi = np.where(-s > n, -s, n)
        # math.cos and math.radians, as in _grow (numpy's cos may differ in the last bit)
        cos = np.fromiter(map(math.cos, map(math.radians, phi.tolist())), np.float64, len(phi))
        with np.errstate(divide="ignore"):
            dlon = g / (_M_PER_DEG * cos) + _EPS_DEG
        w = lons - dlon
        e = lons + dlon
        fast = (s > -90.0) & (n < 90.0) & (e - w < 360.0) & (w >= -180.0) & (w < 180.0)
        fast &= e <= 180.0
        # _single_cell on those boxes
        lv = self._levels[0]
        r = np.where(fast, (s + 90.0) * lv.inv_h, 0.0).astype(np.int64)
        fast &= (r == np.where(fast, (n + 90.0) * lv.inv_h, 0.0).astype(np.int64)) & (r < lv.nrows)
        r = np.where(fast, r, 0)
        sc = np.asarray(lv.scale, dtype=np.float64)[r]
        c = np.where(fast, (w + 180.0) * sc, 0.0).astype(np.int64)
        fast &= (c == np.where(fast, (e + 180.0) * sc, 0.0).astype(np.int64)) & (
            c < np.asarray(lv.ncols, dtype=np.int64)[r]
        )
        codes = (r << _COL_BITS) | c
        keys = list(keys)
        entries = self._entries
        if self._halo_m > 0.0 or len(set(keys)) != len(keys) or not entries.keys().isdisjoint(keys):
            # a halo to keep, or a key that comes twice or is indexed already: in turn, each
            # replacing the one before
            rows = zip(keys, lons.tolist(), lats.tolist(), reach.tolist(), strict=True)
            for key, lon, lat, rm in rows:
                self.insert(key, Disc(lon, lat, 0.0), rm)
            return
        # new and distinct keys: the order of insertion changes nothing; fill cell by cell
        cells = self._cells[0]
        shared = self._codes
        order = np.flatnonzero(fast)
        order = order[np.argsort(codes[order], kind="stable")]
        in_order = codes[order]
        starts = (
            [0, *(np.flatnonzero(np.diff(in_order)) + 1).tolist(), len(order)]
            if len(order)
            else [0]
        )
        boxes = list(
            zip(
                w[order].tolist(),
                s[order].tolist(),
                e[order].tolist(),
                n[order].tolist(),
                strict=True,
            )
        )
        ordered_keys = [keys[i] for i in order.tolist()]
        group_codes = in_order[starts[:-1]].tolist()
        for code, lo, hi in zip(group_codes, starts[:-1], starts[1:], strict=True):
            self._packed.pop(code, None)
            cell = cells.get(code)
            members = ordered_keys[lo:hi]
            if cell is None:
                cells[code] = dict(zip(members, boxes[lo:hi], strict=True))
                shared[code] = code
                one = code
            else:
                cell.update(zip(members, boxes[lo:hi], strict=True))
                one = shared[code]
            entries.update(zip(members, itertools.repeat(one, hi - lo), strict=True))
        self._level_count[0] += len(order)
        for i in np.flatnonzero(~fast).tolist():
            self.insert(keys[i], Disc(float(lons[i]), float(lats[i]), 0.0), float(reach[i]))

    def remove(self, key: str) -> None:
        """Remove ``key``; nothing happens if it is absent."""
        old = self._entries.pop(key, None)
        if old is not None:
            self._unregister(key, old)
            if self._halo_m > 0.0:
                self._drop_halo(key)

    def query(self, shape: Shape, d: float) -> set[str]:
        """A superset of the keys whose shape grown by its reach may lie within ``d`` metres of
        ``shape``: every key whose box meets a box of ``shape`` grown by ``d``."""
        out: set[str] = set()
        if (
            self._halo_m > 0.0  # (no call at all for an index without a halo)
            and type(shape) is Disc
            and self.declines(shape.lon, shape.lat, shape.radius_m, d)
        ):
            return out
        boxes = _bounds(shape, _check_grow(d, "d"), "shape")
        update = out.update
        crowd = self._crowd
        for level, count in enumerate(self._level_count):
            if count == 0:
                continue
            cells = self._cells[level]
            get = cells.get
            lv = self._levels[level]
            base_level = level << _LEVEL_SHIFT
            inv_h = lv.inv_h
            nrows = lv.nrows
            for qw, qs, qe, qn in boxes:
                r0 = int((qs + 90.0) * inv_h)
                r1 = int((qn + 90.0) * inv_h)
                if r0 >= nrows:
                    r0 = nrows - 1
                if r1 >= nrows:
                    r1 = nrows - 1
                # visiting cells costs ~ their number; scanning the level ~ its cells + entries
                estimate = (r1 - r0 + 1) * ((qe - qw) * lv.max_scale + 2.0)
                if estimate > len(cells) + count + 64.0:
                    self._scan(cells, (qw, qs, qe, qn), out)
                    continue
                scale = lv.scale
                ncols = lv.ncols
                for r in range(r0, r1 + 1):
                    sc = scale[r]
                    nc = ncols[r]
                    c0 = int((qw + 180.0) * sc)
                    c1 = int((qe + 180.0) * sc)
                    if c0 >= nc:
                        c0 = nc - 1
                    if c1 >= nc:
                        c1 = nc - 1
                    row_code = base_level | (r << _COL_BITS)
                    if c0 == c1:
                        cell = get(row_code | c0)
                        if cell is None:
                            pass
                        elif len(cell) >= crowd:
                            update(self._crowded(row_code | c0, cell, (qw, qs, qe, qn)))
                        else:
                            update(
                                [
                                    k
                                    for k, b in cell.items()
                                    if b[0] <= qe and b[2] >= qw and b[1] <= qn and b[3] >= qs
                                ]
                            )
                        continue
                    # Which sides of the query box can cut a cell's entries: an entry stored in
                    # column c starts at or before c, so if c < c1 its west edge is west of qe
                    # (and likewise for the other three sides); only the edge rows/columns need
                    # tests (a query of one column tests all four). A crowded cell is tested on
                    # all four sides at once, in its packed boxes.
                    south = r == r0
                    north = r == r1
                    cell = get(row_code | c0)
                    if cell is None:
                        pass
                    elif len(cell) >= crowd:
                        update(self._crowded(row_code | c0, cell, (qw, qs, qe, qn)))
                    elif south and north:
                        update(
                            [k for k, b in cell.items() if b[2] >= qw and b[3] >= qs and b[1] <= qn]
                        )
                    elif south:
                        update([k for k, b in cell.items() if b[2] >= qw and b[3] >= qs])
                    elif north:
                        update([k for k, b in cell.items() if b[2] >= qw and b[1] <= qn])
                    else:
                        update([k for k, b in cell.items() if b[2] >= qw])
                    for c in range(c0 + 1, c1):
                        cell = get(row_code | c)
                        if cell is None:
                            pass
                        elif not (south or north):
                            update(cell)
                        elif len(cell) >= crowd:
                            update(self._crowded(row_code | c, cell, (qw, qs, qe, qn)))
                        elif south and north:
                            update([k for k, b in cell.items() if b[3] >= qs and b[1] <= qn])
                        elif south:
                            update([k for k, b in cell.items() if b[3] >= qs])
                        else:
                            update([k for k, b in cell.items() if b[1] <= qn])
                    cell = get(row_code | c1)
                    if cell is None:
                        pass
                    elif len(cell) >= crowd:
                        update(self._crowded(row_code | c1, cell, (qw, qs, qe, qn)))
                    elif south and north:
                        update(
                            [k for k, b in cell.items() if b[0] <= qe and b[3] >= qs and b[1] <= qn]
                        )
                    elif south:
                        update([k for k, b in cell.items() if b[0] <= qe and b[3] >= qs])
                    elif north:
                        update([k for k, b in cell.items() if b[0] <= qe and b[1] <= qn])
                    else:
                        update([k for k, b in cell.items() if b[0] <= qe])
        return out

    def _crowded(self, code: int, cell: dict[str, Box], qbox: Box) -> list[str]:
        """The keys of a crowded cell whose boxes meet the query box ``qbox``. A cell's entries,
        each a tuple of four floats, lie all over the heap, and testing them one by one goes to
        memory for each: from its second query with no change in between, a cell is tested on
        its boxes packed in four arrays, kept until it changes (a cell of moving units, which
        changes between most queries, is not packed again and again)."""
        qw, qs, qe, qn = qbox
        packed = self._packed.get(code)
        if packed is None:
            if code not in self._packed:  # queried once since it changed: pack at the next query
                self._packed[code] = None
                return self._meeting(cell, qbox)
            packed = (list(cell), np.array(list(cell.values()), dtype=np.float64).T.copy())
            self._packed[code] = packed
        keys, b = packed
        meets = (b[0] <= qe) & (b[2] >= qw) & (b[1] <= qn) & (b[3] >= qs)
        return [keys[i] for i in np.flatnonzero(meets).tolist()]

    @staticmethod
    def _meeting(cell: dict[str, Box], qbox: Box) -> list[str]:
        """The keys of ``cell`` whose boxes meet ``qbox``, each tested on all four sides."""
        qw, qs, qe, qn = qbox
        return [
            k for k, b in cell.items() if b[0] <= qe and b[2] >= qw and b[1] <= qn and b[3] >= qs
        ]

    @staticmethod
    def _scan(cells: dict[int, dict[str, Box]], qbox: Box, out: set[str]) -> None:
        """Test every entry of one level (when the query covers more cells than are filled)."""
        for cell in cells.values():
            out.update(SpatialIndex._meeting(cell, qbox))

    def stats(self) -> dict[str, Any]:
        """Counts for benchmarks and tests: entries, filled cells, registrations, per level."""
        return {
            "entries": len(self._entries),
            "cells": sum(len(cells) for cells in self._cells),
            "registrations": sum(len(c) for cells in self._cells for c in cells.values()),
            "level_entries": list(self._level_count),
            "level_cell_deg": [lv.h for lv in self._levels],
        }
