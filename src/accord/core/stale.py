"""The units whose reach has outgrown the unit index's query (R1, R6, R10), in bands of growth.

A unit's reach at ``t`` is ``unc + speed * (t - fix)``: the uncertainty of its last fix plus its
*growth*, which has no bound while the unit does not report. ``State.units`` holds each unit at its
last point with reach ``unc``, and a verdict queries it within ``hazard + UNIT_HORIZON_M +
TRACK_MAX_UNCERTAINTY_M``. That finds every unit whose growth is at most ``G0 =
TRACK_MAX_UNCERTAINTY_M`` and which may matter to the verdict: one that may give a reason is within
``hazard + unc + growth``, and one that may bound a clear verdict's valid_until is within ``hazard
+ unc + growth + UNIT_HORIZON_M`` (a unit further away arrives after ``t + UNIT_HORIZON_M /
speed``, later than the fastest unit's horizon, which every verdict counts anyway).

:class:`StaleBands` holds the units that have grown further, each on one *level*:

- level 0: growth at most ``CAP[0] = G0``; nowhere here (the unit index finds them);
- level L = 1 .. BANDS: growth at most ``CAP[L] = G0 * 2**L`` (10 km, 20 km, ... 10,240 km), in
  the spatial index ``bands[L - 1]`` at its point (or area) with reach ``unc + CAP[L]``;
- level BANDS + 1: a growth past 10,240 km reaches most of the globe; such units are in a plain set
  that every query returns (the verdict's box test then drops the few it could not reach).

A unit leaves level L at ``due(L) = fix + CAP[L] * (1 - 1e-4) / speed``, a little early: the
margin (0.5 m or more) is larger than the rounding of a time (4.8e-7 s near 2100) times the speed
(units faster than ``FAST_MPS`` go straight to the top level). A heap of ``(time, key)`` entries
schedules these moves, lazily: each unit below the top level that has a speed has exactly one
*valid* entry (its time is ``queued[key]``), at or before its due time; other entries are skipped
when popped. A unit that reports again starts over on level 0 (:meth:`track`). Its entry stays
valid when it is earlier than the new due time; when it pops, it is pushed again at the real one.
So a stream of moves pushes nothing, and the heap holds about one entry per moving unit.

:meth:`advance` pops every entry due by ``time = max(now, time)`` and puts each unit on the level
its growth has reached by then; every entry left is due after ``time``. So, after it, a unit on
level L is not yet due to leave it: its growth is at most ``CAP[L]`` at any ``t <= time``, and at
most ``CAP[L] + speed * (t - time)`` later. A verdict at ``t > time`` (a window that starts later)
widens its queries, of the unit index too, by the fastest speed times ``t - time``, and then
misses nothing either. Levels only go up between fixes, so a verdict at an earlier time than one
before it gets a superset. The verdict tests each candidate exactly, so a superset gives the same
answer: a unit too far to matter gives no reason, and its disc would arrive after the fastest
unit's horizon, which bounds valid_until anyway.

Cost: a verdict queries each band that holds units (the few levels in use), so it pays for the
units near it, not for every stale one. A unit changes level about log2(growth / 5 km) times
between two fixes, one index insert each; the first verdict after a long silence of many units
(or after a restore) pays for all of theirs at once.

Threads: :meth:`advance` changes the structure while a verdict reads the state. That is safe
because nothing reads a State concurrently with anything else: ``Service`` holds its lock around
every ``decide``, ``tick``, ``evolve`` and ``read`` (``Service._write``, ``Service.read``,
``Service._follow``), as it must for ``evolve`` anyway.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from accord.core.model import TRACK_MAX_UNCERTAINTY_M
from accord.geo.index import SpatialIndex
from accord.geo.shapes import Disc, Shape

if TYPE_CHECKING:
    from accord.core.state import PresenceRec

__all__ = ["BANDS", "CAP", "FAST_MPS", "GLOBE_M", "StaleBands"]

BANDS = 11
"""Band indexes: levels 1..BANDS, caps 10 km .. 10,240 km (G0 * 2**L)."""
CAP: tuple[float, ...] = tuple(TRACK_MAX_UNCERTAINTY_M * 2.0**level for level in range(BANDS + 1))
"""The largest growth of a unit on each level below the top (level 0: the unit index)."""
_DUE: tuple[float, ...] = tuple(cap * (1.0 - 1e-4) for cap in CAP)
FAST_MPS = 100_000.0
"""Units faster than this go to the top level at once (see the module docstring)."""
GLOBE_M = 21_000_000.0
"""Longer than any geodesic on WGS84 (20,004 km): a reach or a distance of this covers the globe."""
TOP = BANDS + 1


class StaleBands:
    """The units whose growth exceeds G0, by level (see the module docstring)."""

    __slots__ = ("_bands", "_everywhere", "_heap", "_level", "_queued", "time")

    def __init__(self) -> None:
        self._bands: list[SpatialIndex[str]] = [SpatialIndex() for _ in range(BANDS)]
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

    def track_all(self, recs: Iterable[PresenceRec]) -> None:
        """:meth:`track` of each unit of ``recs``, for a state being built (one heapify)."""
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
                queued.pop(p.key, None)
                self._everywhere.add(p.key)
                self._level[p.key] = TOP
                continue
            self._level.pop(p.key, None)
            self._everywhere.discard(p.key)
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
        else:
            self._bands[level - 1].remove(key)

    def _place(self, p: PresenceRec, level: int) -> None:
        key = p.key
        if key in self._level:
            self._leave(key)
        self._level[key] = level
        if level == TOP:
            self._everywhere.add(key)
            return
        reach = min(p.unc + CAP[level], GLOBE_M)
        if p.area is None:
            self._bands[level - 1].move(key, Disc(p.lon, p.lat, 0.0), reach)
        else:
            self._bands[level - 1].insert(key, p.area, reach)

    # -- reading (verdicts) -----------------------------------------------------------------------

    def advance(self, now: float, presences: Mapping[str, PresenceRec]) -> None:
        """Put every unit due by ``max(now, self.time)`` on the level its growth has reached
        then (a derived cache, updated on read: see the module docstring)."""
        self.time = max(self.time, now)
        heap = self._heap
        until = self.time
        if not heap or heap[0][0] > until:
            return
        queued = self._queued
        levels = self._level
        pop = heapq.heappop
        push = heapq.heappush
        while heap and heap[0][0] <= until:
            q, key = pop(heap)
            if queued.get(key) != q:
                continue  # replaced by an earlier entry, or no longer tracked
            p = presences[key]
            s = p.speed
            fix = p.fix
            old = levels.get(key, 0)
            level = old
            due = fix + _DUE[level] / s
            while due <= until and level < TOP:
                level += 1
                if level < TOP:
                    due = fix + _DUE[level] / s
            if level == TOP:
                del queued[key]
            else:
                queued[key] = due
                push(heap, (due, key))
            if level != old:
                self._place(p, level)

    def query(self, shape: Shape, d: float) -> set[str]:
        """A superset of the units above level 0 whose point (or area), grown by ``unc`` and
        their level's cap, may lie within ``d`` metres of ``shape``; and every unit of the top
        level."""
        out = set(self._everywhere)
        if len(out) < len(self._level):
            d = min(d, GLOBE_M)
            for band in self._bands:
                if len(band):
                    out.update(band.query(shape, d))
        return out

    def view(self, presences: Mapping[str, PresenceRec]) -> dict[str, Any]:
        """What the structure holds, independent of the order it was built in (for tests): each
        tracked unit's level and the time it is due to leave it, the top level, the time."""
        levels: dict[str, tuple[int, float | None]] = {}
        for key in self._queued.keys() | self._level.keys():
            level = self._level.get(key, 0)
            p = presences[key]
            levels[key] = (level, None if level == TOP else p.fix + _DUE[level] / p.speed)
        return {"levels": levels, "everywhere": set(self._everywhere), "time": self.time}
