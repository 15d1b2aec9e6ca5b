"""The units whose reach has outgrown the unit index's query (R1, R6, R10), in bands of reach.

A unit's reach at ``t`` is ``unc + speed * (t - fix)``: the uncertainty of its last fix plus its
*growth*, which has no bound while the unit does not report. ``State.units`` holds each unit at its
last point with reach ``unc``, and a verdict queries it within ``hazard + UNIT_HORIZON_M +
TRACK_MAX_UNCERTAINTY_M``. That finds every unit whose growth is at most ``G0 =
TRACK_MAX_UNCERTAINTY_M`` and which may matter to the verdict: one that may give a reason is within
``hazard + reach``, and one that may bound a clear verdict's valid_until is within ``hazard +
reach + UNIT_HORIZON_M`` (a unit further away arrives after ``t + UNIT_HORIZON_M / speed``, later
than the fastest unit's horizon, which every verdict counts anyway).

:class:`StaleBands` holds the units that have grown further, each on one *level*:

- level 0: growth at most G0; nowhere here (the unit index finds them);
- level L = 1 .. BANDS: reach at most ``CAP[L] = G0 * 2**L`` (10 km, 20 km, ... 10,240 km). Point
  units are in a plain lon/lat grid of about ``CAP[L]`` (:class:`_Grid`), area units in a spatial
  index with no reach; both are queried ``CAP[L]`` further than asked. An entry does not depend on
  the level: moving up one is a removal from one dict and an insert into another;
- level BANDS + 1 (TOP): a reach past 10,240 km covers most of the globe; such units are in a plain
  set that every query returns (the verdict's box test then drops the few it could not reach).

A unit leaves level 0 when its growth reaches ``G0 * (1 - 1e-4)`` and level L when its reach
reaches ``CAP[L] * (1 - 1e-4)``: a little early, by a margin (0.5 m or more) larger than the
rounding of a time (4.8e-7 s near 2100) times the speed (units faster than ``FAST_MPS`` go straight
to TOP). A heap of ``(time, key)`` entries schedules these moves, lazily: each unit below TOP that
has a speed has exactly one *valid* entry (its time is ``queued[key]``), at or before its due time;
other entries are skipped when popped. A unit that reports again starts over on level 0
(:meth:`StaleBands.track`). Its entry stays valid when it is earlier than the new due time; when it
pops, it is pushed again at the real one. So a stream of moves pushes nothing, and the heap holds
about one entry per moving unit.

:meth:`StaleBands.advance` pops every entry due by ``time = max(now, time)`` and puts each unit on
the level its reach has reached by then; every entry left is due after ``time``. So, after it, a
unit on level L >= 1 has a reach of at most ``CAP[L]`` at any ``t <= time``, and at most ``CAP[L] +
speed * (t - time)`` later (on level 0, a growth of at most G0, likewise). A verdict at ``t >
time`` (a window that starts later) widens its queries, of the unit index too, by the fastest speed
times ``t - time``, and then misses nothing either. Levels only go up between fixes, so a verdict at
an earlier time than one before it gets a superset. The verdict tests each candidate exactly, so a
superset gives the same answer: a unit too far to matter gives no reason, and its disc would arrive
after the fastest unit's horizon, which bounds valid_until anyway.

Cost: a verdict looks at the cells near it in each level in use (a few), so it pays for the units
near it, not for every stale one. A unit changes level about log2(reach / 5 km) times between two
fixes, a few dict operations each; the first verdict after many units went silent at once (or
after a restore) pays for all of theirs at once (~1 s per 10^5 units on the bench machine,
docs/PERF-core.md).

Threads: :meth:`StaleBands.advance` changes the structure while a verdict reads the state. That is
safe because nothing reads a State concurrently with anything else: ``Service`` holds its lock
around every ``decide``, ``tick``, ``evolve`` and ``read`` (``Service._write``, ``Service.read``,
``Service._follow``), as it must for ``evolve`` anyway.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from accord.core.model import TRACK_MAX_UNCERTAINTY_M
from accord.geo.index import Box, SpatialIndex, bounds
from accord.geo.shapes import Shape

if TYPE_CHECKING:
    from accord.core.state import PresenceRec

__all__ = ["BANDS", "CAP", "FAST_MPS", "GLOBE_M", "StaleBands"]

BANDS = 11
"""Levels 1..BANDS hold reaches up to CAP[L] = G0 * 2**L: 10 km .. 10,240 km."""
CAP: tuple[float, ...] = tuple(TRACK_MAX_UNCERTAINTY_M * 2.0**level for level in range(BANDS + 1))
"""CAP[0]: the largest growth on level 0 (the unit index); CAP[L]: the largest reach on level L."""
_DUE: tuple[float, ...] = tuple(cap * (1.0 - 1e-4) for cap in CAP)
_M_PER_DEG = 110_574.0  # the shortest degree of latitude (at the equator), metres
_POPS = 1024  # due entries popped one by one, at least (see advance)
FAST_MPS = 100_000.0
"""Units faster than this go to the top level at once (see the module docstring)."""
GLOBE_M = 21_000_000.0
"""Longer than any geodesic on WGS84 (20,004 km): a reach or a distance of this covers the globe."""
TOP = BANDS + 1


def _due(p: PresenceRec, level: int) -> float:
    """When unit ``p`` (with a speed) is due to leave ``level`` (below TOP)."""
    if level == 0:
        return p.fix + _DUE[0] / p.speed
    return p.fix + (_DUE[level] - p.unc) / p.speed


class _Grid:
    """Points in the cells of a plain lon/lat grid of ``cell_deg`` degrees.

    :meth:`query` returns every key whose point lies in one of the boxes: a point within ``g``
    metres of a shape is in one of ``bounds(shape, g)`` (geo.index), whose boxes lie within
    [-180, 180] x [-90, 90], are split at the antimeridian and carry a margin; so points are kept
    with their longitude in [-180, 180), and a box's cells are those its corners fall in."""

    __slots__ = ("_cells", "_inv", "_ncols", "_nrows", "_where")

    def __init__(self, cell_deg: float) -> None:
        self._inv = 1.0 / cell_deg
        self._nrows = math.ceil(180.0 * self._inv)
        self._ncols = math.ceil(360.0 * self._inv)
        self._cells: dict[int, dict[str, tuple[float, float]]] = {}
        self._where: dict[str, int] = {}  # key -> its cell

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, key: object) -> bool:
        return key in self._where

    def add(self, key: str, lon: float, lat: float) -> None:
        """Add ``key`` (not in the grid) at (lon, lat), lat in [-90, 90]."""
        if not -180.0 <= lon < 180.0:
            lon = (lon + 180.0) % 360.0 - 180.0
        r = int((lat + 90.0) * self._inv)
        if r >= self._nrows:
            r = self._nrows - 1
        c = int((lon + 180.0) * self._inv)
        if c >= self._ncols:
            c = self._ncols - 1
        code = r * self._ncols + c
        cell = self._cells.get(code)
        if cell is None:
            self._cells[code] = {key: (lon, lat)}
        else:
            cell[key] = (lon, lat)
        self._where[key] = code

    def remove(self, key: str) -> None:
        code = self._where.pop(key)
        cell = self._cells[code]
        del cell[key]
        if not cell:
            del self._cells[code]

    def query(self, boxes: list[Box], out: set[str]) -> None:
        """Add to ``out`` the keys whose point lies in one of ``boxes``."""
        cells = self._cells
        inv = self._inv
        last_row = self._nrows - 1
        last_col = self._ncols - 1
        ncols = self._ncols
        for w, s, e, n in boxes:
            r0 = min(int((s + 90.0) * inv), last_row)
            r1 = min(int((n + 90.0) * inv), last_row)
            c0 = min(int((w + 180.0) * inv), last_col)
            c1 = min(int((e + 180.0) * inv), last_col)
            if (r1 - r0 + 1) * (c1 - c0 + 1) > len(cells):  # fewer cells filled than to look at
                for filled in cells.values():
                    out.update([k for k, (x, y) in filled.items() if w <= x <= e and s <= y <= n])
                continue
            for r in range(r0, r1 + 1):
                base = r * ncols
                for c in range(c0, c1 + 1):
                    cell = cells.get(base + c)
                    if cell:
                        out.update([k for k, (x, y) in cell.items() if w <= x <= e and s <= y <= n])

    def contents(self) -> dict[str, tuple[float, float]]:
        return {k: v for cell in self._cells.values() for k, v in cell.items()}


class StaleBands:
    """The units whose growth exceeds G0, by level (see the module docstring)."""

    __slots__ = ("_areas", "_everywhere", "_grids", "_heap", "_level", "_queued", "time")

    def __init__(self) -> None:
        # level L's point units; a grid of cells about CAP[L] across, in degrees
        self._grids = [_Grid(min(10.0, cap / _M_PER_DEG)) for cap in CAP[1:]]
        self._areas: dict[int, SpatialIndex] = {}  # level -> its area units, if any
        self._everywhere: set[str] = set()
        self._heap: list[tuple[float, str]] = []
        self._queued: dict[str, float] = {}  # key -> the time of its one valid heap entry
        self._level: dict[str, int] = {}  # key -> level, for units above level 0
        self.time = -math.inf  # the latest time advanced to

    def __len__(self) -> int:
        """How many units are above level 0 (in a band or everywhere)."""
        return len(self._level)

    # -- maintenance (evolve: State.index_presence, unindex_presence, index_presences) ------------

    def track(self, p: PresenceRec) -> None:
        """Unit ``p`` was indexed with a (new) fix: back to level 0, due to leave it when its
        growth reaches G0 (never, without a speed)."""
        key = p.key
        if key in self._level:
            self._leave(key)
        s = p.speed
        if not s > 0.0:
            self._queued.pop(key, None)
            return
        if s > FAST_MPS:
            self._queued.pop(key, None)
            self._everywhere.add(key)
            self._level[key] = TOP
            return
        due = p.fix + _DUE[0] / s
        q = self._queued.get(key)
        if q is None or q > due:
            self._queued[key] = due
            heapq.heappush(self._heap, (due, key))

    def moved(self, p: PresenceRec, old_fix: float) -> None:
        """:meth:`track` of unit ``p`` after a move from its fix at ``old_fix`` (positions_updated),
        without looking up its heap entry when track would leave it as it is: the unit is on
        level 0 and its fix did not go back. Such a unit with a speed up to FAST_MPS has its one
        valid entry at or before its due time ``fix + _DUE[0] / speed``, which a later fix only
        makes later; one without a speed has no entry, and none faster is on level 0 (track and
        track_all put it on TOP). A move does not change the speed."""
        if p.fix >= old_fix and p.key not in self._level:
            return
        self.track(p)

    def track_all(self, recs: Iterable[PresenceRec]) -> None:
        """:meth:`track` of each unit of ``recs`` (distinct), for a state being built."""
        if self._queued or self._level or self._heap:
            for p in recs:
                self.track(p)
            return
        queued = self._queued
        for p in recs:
            s = p.speed
            if not s > 0.0:
                continue
            if s > FAST_MPS:
                self._everywhere.add(p.key)
                self._level[p.key] = TOP
                continue
            queued[p.key] = p.fix + _DUE[0] / s
        self._heap = [(due, key) for key, due in queued.items()]
        heapq.heapify(self._heap)

    def untrack(self, key: str) -> None:
        """The presence ``key`` is no longer indexed (removed, or about to be indexed anew)."""
        if key in self._level:
            self._leave(key)
        self._queued.pop(key, None)  # its heap entry is no longer valid

    def _leave(self, key: str) -> None:
        level = self._level.pop(key)
        if level == TOP:
            self._everywhere.discard(key)
            return
        grid = self._grids[level - 1]
        if key in grid:
            grid.remove(key)
            return
        areas = self._areas[level]
        areas.remove(key)
        if not len(areas):
            del self._areas[level]

    def _move_up(self, moving: list[tuple[PresenceRec, int]]) -> None:
        """Put each ``(unit, level)`` (distinct units, each going up) on its new level."""
        levels = self._level
        everywhere = self._everywhere
        grids = self._grids
        for p, level in moving:
            key = p.key
            if key in levels:
                self._leave(key)
            levels[key] = level
            if level == TOP:
                everywhere.add(key)
            elif p.area is None:
                grids[level - 1].add(key, p.lon, p.lat)
            else:
                areas = self._areas.get(level)
                if areas is None:
                    areas = self._areas[level] = SpatialIndex()
                areas.insert(key, p.area, 0.0)

    # -- reading (verdicts) -----------------------------------------------------------------------

    def advance(self, now: float, presences: Mapping[str, PresenceRec]) -> None:
        """Put every unit due by ``max(now, self.time)`` on the level its reach has reached
        then (a derived cache, updated on read: see the module docstring)."""
        self.time = max(self.time, now)
        heap = self._heap
        until = self.time
        if not heap or heap[0][0] > until:
            return
        # The due entries, popped while they are few; when many are due at once (units silent
        # since one moment, a restore), the rest are split off the heap in one pass.
        due: list[tuple[float, str]] = []
        most = max(_POPS, len(heap) // 16)
        pop = heapq.heappop
        while heap and heap[0][0] <= until:
            if len(due) == most:
                due.extend(e for e in heap if e[0] <= until)
                heap = self._heap = [e for e in heap if e[0] > until]
                heapq.heapify(heap)
                break
            due.append(pop(heap))
        queued = self._queued
        levels = self._level
        pushed: list[tuple[float, str]] = []
        moving: list[tuple[PresenceRec, int]] = []
        for q, key in due:
            if queued.get(key) != q:
                continue  # replaced by an earlier entry, or no longer tracked
            p = presences[key]
            old = levels.get(key, 0)
            level = old
            fix = p.fix
            speed = p.speed
            unc = p.unc
            # _due(p, level), inlined
            t = fix + (_DUE[0] if level == 0 else _DUE[level] - unc) / speed
            while t <= until:
                level += 1
                if level == TOP:
                    break
                t = fix + (_DUE[level] - unc) / speed
            if level == TOP:
                del queued[key]
            else:
                queued[key] = t
                pushed.append((t, key))
            if level != old:
                moving.append((p, level))
        if len(pushed) > len(heap) // 4:
            heap.extend(pushed)
            heapq.heapify(heap)
        else:
            for e in pushed:
                heapq.heappush(heap, e)
        if moving:
            self._move_up(moving)

    def query(self, shape: Shape, d: float) -> set[str]:
        """A superset of the units above level 0 whose point (or area), grown by their level's
        cap, may lie within ``d`` metres of ``shape``; and every unit of the top level."""
        out = set(self._everywhere)
        if len(out) < len(self._level):
            for level, grid in enumerate(self._grids, start=1):
                if len(grid):
                    grid.query(bounds(shape, min(d + CAP[level], GLOBE_M)), out)
            for level, areas in self._areas.items():
                out.update(areas.query(shape, min(d + CAP[level], GLOBE_M)))
        return out

    def view(self, presences: Mapping[str, PresenceRec]) -> dict[str, Any]:
        """What the structure holds, independent of the order it was built in (for tests): each
        tracked unit's level and the time it is due to leave it, the points of each level, the
        top level, the time."""
        levels: dict[str, tuple[int, float | None]] = {}
        for key in self._queued.keys() | self._level.keys():
            level = self._level.get(key, 0)
            levels[key] = (level, None if level == TOP else _due(presences[key], level))
        return {
            "levels": levels,
            "points": [grid.contents() for grid in self._grids],
            "areas": {level: set(areas._entries) for level, areas in self._areas.items()},
            "everywhere": set(self._everywhere),
            "time": self.time,
        }
