"""The verdict rules R1-R9 (docs/RULES.md) and the valid_until computation (R10).

A clearance with window ``[ws, we]`` is judged at ``t = max(now, ws)``. Every input is read through
a :class:`Scratch`: the state plus not-yet-applied changes (the presences, parties, alerts, zones a
command is about to change), so ``decide`` can judge the world *after* a command without mutating
the state. Cheap tests come first (time overlap), then index candidates, then the exact geodesic
predicate (a distance from :mod:`accord.geo.distance` less its error bound, as
:func:`~accord.geo.distance.within` defines it: a near-miss within the bound is a conflict,
invariant 7).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from mypy_extensions import mypyc_attr

from accord.core.model import (
    CONFLICT_CODES,
    TRACK_MAX_UNCERTAINTY_M,
    UNIT_HORIZON_M,
    PointGeometry,
    Reason,
    Verdict,
    freeze_json,
)
from accord.core.stale import GLOBE_M
from accord.core.state import (
    AlertRec,
    ClearanceRec,
    PartyRec,
    PresenceRec,
    State,
    presence_key,
)
from accord.errors import NotFound
from accord.geo.distance import EPS_M, Chord, disc_metres, distance, point_distance, within
from accord.geo.index import bounds
from accord.geo.shapes import Disc, Shape

__all__ = ["Evaluation", "Scratch", "evaluate", "verdict"]

_EPS_M = 1e-6
_CODE_ORDER = {
    "conflict": 0,
    "confirmed_present": 1,
    "alert": 2,
    "stale_track": 3,
    "awaiting_confirmation": 4,
    "checking": 5,
    "stale": 6,
    "boundary_discrepancy": 7,
}


_CELL_DEG = 0.1  # the grid of pending points (a verdict's boxes span a few tenths of a degree)


@mypyc_attr(native_class=False)  # see accord.compiled: natively it would take weakrefs
class Pending(dict[str, PresenceRec | None]):
    """The presences a command is about to change: key -> new record, or None (removed).

    A batch of moves may hold thousands, and every clearance it affects is judged against all of
    them; :meth:`near` finds those that may reach a verdict's boxes through a grid of their
    points, built on first use and dropped whenever an entry changes."""

    __slots__ = ("_grids",)

    def __init__(self) -> None:
        super().__init__()
        self._grids: dict[bool, _Grid] = {}

    def __setitem__(self, key: str, value: PresenceRec | None) -> None:
        self._grids.clear()
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self._grids.clear()
        super().__delitem__(key)

    def clear(self) -> None:
        self._grids.clear()
        super().clear()

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._grids.clear()
        super().update(*args, **kwargs)

    def pop(self, *args: Any) -> Any:
        self._grids.clear()
        return super().pop(*args)

    def popitem(self) -> tuple[str, PresenceRec | None]:
        self._grids.clear()
        return super().popitem()

    def setdefault(self, key: str, default: PresenceRec | None = None) -> PresenceRec | None:
        self._grids.clear()
        return super().setdefault(key, default)

    def _grid(self, units: bool) -> _Grid:
        grid = self._grids.get(units)
        if grid is None:
            grid = self._grids[units] = _Grid(
                [p for p in self.values() if p is not None and p.is_unit == units]
            )
        return grid

    def near(
        self, boxes: list[tuple[float, float, float, float]], units: bool, t: float
    ) -> list[PresenceRec]:
        """The pending units (or sites) that may reach ``boxes`` at ``t``: a superset of those
        for which :func:`_may_reach` holds with their reach (:func:`_reach`), in no order."""
        return self._grid(units).near(boxes, t)

    def max_unit_speed(self) -> float:
        return self._grid(True).max_speed


def _reach(p: PresenceRec, t: float) -> float:
    """How far a pending presence may reach at ``t`` (a unit: its index reach, or its grown
    uncertainty if larger; a site: its uncertainty)."""
    if p.is_unit:
        return max(p.index_reach(), p.unc + p.speed * max(0.0, t - p.fix))
    return p.unc


class _Grid:
    """Pending point presences by 0.1° cell, and the bounds of their reach; areas always match."""

    __slots__ = (
        "always",
        "cells",
        "max_abs_lat",
        "max_index_reach",
        "max_speed",
        "max_unc",
        "min_fix",
        "records",
    )

    def __init__(self, records: list[PresenceRec]) -> None:
        self.records = records
        self.cells: dict[tuple[int, int], list[PresenceRec]] = {}
        self.always = [p for p in records if p.area is not None]
        points = [p for p in records if p.area is None]
        self.max_abs_lat = max((abs(p.lat) for p in points), default=0.0)
        self.max_index_reach = max((p.index_reach() for p in records), default=0.0)
        self.max_unc = max((p.unc for p in records), default=0.0)
        self.max_speed = max((p.speed for p in records), default=0.0)
        self.min_fix = min((p.fix for p in records), default=0.0)
        for p in points:
            self.cells.setdefault(_cell(p.lon, p.lat), []).append(p)

    def near(self, boxes: list[tuple[float, float, float, float]], t: float) -> list[PresenceRec]:
        # Every record's reach at t is at most g, so by _may_reach's own arithmetic a point that
        # may reach a box lies within dlat of its latitudes and dlon of its longitudes (or of
        # theirs 360° away); the bounds carry margins over that arithmetic, and the cells looked
        # at one more on each side. Where _may_reach answers yes whatever the box (near a pole,
        # a reach of half the globe), every record is returned.
        g = max(self.max_index_reach, self.max_unc + self.max_speed * max(0.0, t - self.min_fix))
        dlat = (g * 1.000001 / _M_PER_DEG + 1e-9) * 1.0001 + 1e-9
        if self.max_abs_lat + dlat >= 89.0:
            return self.records
        dlon = dlat / math.cos(math.radians(self.max_abs_lat + dlat)) * 1.0001 + 1e-9
        if dlon >= 90.0:
            return self.records
        out = list(self.always)
        looked = 0
        for w, s, e, n in boxes:
            rows = range(
                math.floor((s - dlat) / _CELL_DEG) - 1, math.floor((n + dlat) / _CELL_DEG) + 2
            )
            cols = range(
                math.floor((w - dlon) / _CELL_DEG) - 1, math.floor((e + dlon) / _CELL_DEG) + 2
            )
            looked += len(rows) * min(len(cols), _COLS)
            if looked > len(self.records):
                return self.records  # a scan is cheaper than that many cells
            for r in rows:
                for c in cols:
                    found = self.cells.get((r, _wrap(c)))
                    if found:
                        out.extend(found)
        return out


_COLS = round(360.0 / _CELL_DEG)


def _wrap(col: int) -> int:
    """A column of the grid as the column of the same meridian within [-180°, 180°)."""
    half = _COLS // 2
    return (col + half) % _COLS - half


def _cell(lon: float, lat: float) -> tuple[int, int]:
    return math.floor(lat / _CELL_DEG), _wrap(math.floor(lon / _CELL_DEG))


class Scratch:
    """The state seen through pending changes (nothing here mutates ``state``)."""

    __slots__ = ("alerts", "layer_owners", "parties", "presences", "state", "zones")

    def __init__(self, state: State) -> None:
        self.state = state
        self.presences = Pending()  # key -> new record, or None (removed)
        self.parties: dict[str, PartyRec] = {}
        self.alerts: list[AlertRec] = []
        self.zones: list[Any] | None = None  # replaces state.zones when set
        # layers are public facts; owners of new layers come with the zones' layer ids
        self.layer_owners: dict[str, str] = {}

    def presence(self, key: str) -> PresenceRec | None:
        if key in self.presences:
            return self.presences[key]
        return self.state.presences.get(key)

    def party(self, pid: str) -> PartyRec | None:
        p = self.parties.get(pid)
        return p if p is not None else self.state.parties.get(pid)

    def layer_owner(self, lid: str) -> str | None:
        ly = self.state.layers.get(lid)
        return ly.owner if ly is not None else self.layer_owners.get(lid)


@dataclass(init=False, unsafe_hash=True, slots=True)
class Evaluation:
    """A verdict as computed (its own compiled __init__, read-only: see accord.compiled)."""

    status: Final[str]  # clear | conflict | unresolved
    reasons: Final[tuple[Reason, ...]]
    valid_until: Final[float | None]  # only for clear

    def __init__(self, status: str, reasons: tuple[Reason, ...], valid_until: float | None) -> None:
        self.status = status
        self.reasons = reasons
        self.valid_until = valid_until


def _overlaps(p: PresenceRec, ws: float, we: float) -> bool:
    vf = p.valid_from
    vu = p.valid_until
    return (vf is None or vf <= we) and (vu is None or vu >= ws)


def _geometry(p: PresenceRec) -> Mapping[str, Any]:
    if p.area is not None:
        # as a replay reads it back (every number a float): the state is the same either way
        frozen: Mapping[str, Any] = freeze_json(
            p.area_json if isinstance(p.area_json, dict) else {"type": "Polygon"}
        )
        return frozen
    return PointGeometry(p.lon, p.lat)


def _measure(p: PresenceRec, area: Shape) -> tuple[float, float]:
    """The distance from a presence to ``area`` and its lower bound (less the error): from a point
    to a disc, one geodesic to within EPS_M (:func:`disc_metres`), else :func:`distance`'s."""
    if p.area is not None:
        d = distance(p.area, area)
    else:
        if type(area) is Disc:
            m = disc_metres(p.lon, p.lat, 0.0, area)
            if m == m:  # noqa: PLR0124 (not NaN)
                return m, m - EPS_M
        d = point_distance(p.lon, p.lat, area)
    return d.metres, d.metres - d.error_m


def _presence_reason(code: str, p: PresenceRec, metres: float) -> Reason:
    d = _tenths(max(metres, 0.0))
    return Reason(code, party=p.owner, presence=p.id, distance_m=d, geometry=_geometry(p))


def _tenths(x: float) -> float:
    """``round(x, 1)``, the same float, by integer arithmetic where that gives it (``round`` goes
    through a decimal string). Below 1e9, ``y = x * 10`` is within 6e-8 of the true 10x (its
    rounding error), so when ``y`` is more than 1e-6 from a half, the true 10x rounds to the same
    integer ``k`` as ``y`` does, and ``k / 10`` is the nearest float to the decimal that ``round``
    converts back."""
    y = x * 10.0
    if 0.0 < y < 1e9:
        k = math.floor(y)
        f = y - k  # exact (Sterbenz, or k = 0)
        if abs(f - 0.5) > 1e-6:
            return (k + (f > 0.5)) / 10.0
    return round(x, 1)


def aor_parties(sc: Scratch, c: ClearanceRec, known: bool) -> set[str]:
    """Parties whose AOR touches the clearance's area + hazard (R5)."""
    if known:
        out = set(c.aor_parties)
        for pid, rec in sc.parties.items():
            out.discard(pid)
            if rec.aor is not None and within(rec.aor, c.area, c.hazard_m):
                out.add(pid)
        return out
    out = set()
    over = sc.parties
    for pid, rec in sc.state.parties.items():
        if rec.aor is not None and pid not in over and within(rec.aor, c.area, c.hazard_m):
            out.add(pid)
    for pid, rec in over.items():
        if rec.aor is not None and within(rec.aor, c.area, c.hazard_m):
            out.add(pid)
    return out


def evaluate(
    sc: Scratch,
    c: ClearanceRec,
    now: float,
    answers: dict[str, tuple[str, str | None, float]] | None = None,
) -> Evaluation:
    """Apply the rules to clearance ``c`` at ``t = max(now, window_start)``."""
    st = sc.state
    t = max(now, c.window_start)
    ws = c.window_start
    we = c.window_end
    hz = c.hazard_m
    area = c.area
    reasons: list[Reason] = []
    flips: list[float] = [we]
    over = sc.presences

    # R1: sites (static presences) within hazard + uncertainty
    presences = st.presences
    cands = st.sites.query(area, hz)
    if over:
        cands.difference_update(over)
        site_boxes = bounds(area, hz)
        cands.update(
            p.key for p in over.near(site_boxes, False, t) if _may_reach(site_boxes, p, p.unc)
        )
    # a site at a point the chord already puts further than hz + unc from a disc area gives no
    # reason: only the others are measured
    chord: Chord | None = None
    beyond = 0.0  # the disc's radius and the distance's error
    if type(area) is Disc and cands:
        chord = Chord(area.lon, area.lat)
        beyond = area.radius_m + EPS_M
    for key in cands:
        p = over[key] if key in over else presences[key]
        if p is None or not _overlaps(p, ws, we):
            continue
        if (
            chord is not None
            and p.area is None
            and chord.lower_m(p.lon, p.lat) - beyond > hz + p.unc
        ):
            continue
        # within(shape, area, hz + unc), by its definition, with the distance the reason states
        metres, lower = _measure(p, area)
        if lower <= hz + p.unc:
            reasons.append(_presence_reason("conflict", p, metres))

    # R1 + R6: units, their uncertainty grown by max speed x track age. Once a site has made the
    # verdict not clear, only the units that may give a reason are asked for, not those that may
    # only bound a clear verdict's valid_until (R10)
    ucands = _unit_candidates(st, area, hz, now, t, reasons_only=bool(reasons))
    if over:
        ucands.difference_update(over)
        unit_boxes = bounds(area, hz + UNIT_HORIZON_M)
        ucands.update(
            p.key for p in over.near(unit_boxes, True, t) if _may_reach(unit_boxes, p, _reach(p, t))
        )
    # Units further than hz + their reach only move a clear verdict's valid_until (R10). About
    # a disc area, a fresh unit whose own uncertainty is under TRACK_MAX_UNCERTAINTY_M, at a point
    # outside the box of hz + TRACK_MAX_UNCERTAINTY_M (+1 m), is further than its fresh disc
    # reaches (that disc grows to TRACK_MAX_UNCERTAINTY_M at most), and any other whose point
    # grown by its reach (+1 m) misses the box of hz is further than its disc reaches (the
    # distance's error is 1 µm), so neither gives a reason: such units are judged last, and only
    # if nothing has made the verdict not clear by then. (A unit reported with a larger
    # uncertainty is stale from its fix on, but a window judged before the fix, which may be
    # stamped a little in the future, still sees its whole disc.)
    near: list[PresenceRec] = []
    far: list[PresenceRec] = []
    reach_boxes = None
    hz_boxes = None
    if ucands and type(area) is Disc:
        reach_boxes = bounds(area, hz + TRACK_MAX_UNCERTAINTY_M + 1.0)
    for key in ucands:
        p = over[key] if key in over else presences[key]
        if p is None or not p.is_unit or not _overlaps(p, ws, we):
            continue
        if reach_boxes is not None and not _may_reach(reach_boxes, p, 0.0):
            if t < p.stale_time() and p.unc < TRACK_MAX_UNCERTAINTY_M:
                far.append(p)
                continue
            if hz_boxes is None:
                hz_boxes = bounds(area, hz)
            if not _may_reach(hz_boxes, p, _grown(p, t) + 1.0):
                far.append(p)
                continue
        near.append(p)
    # A unit (a point) whose disc grown by UNIT_HORIZON_M (+1 m) misses the box of hz is further
    # than its disc reaches, and it arrives after the fastest unit's horizon below, so it cannot
    # move valid_until either: it is skipped without a geodesic. Tested on the far units, and on
    # all of them about an area that is not a disc (whose distances cost the most).
    horizon_boxes = bounds(area, hz + UNIT_HORIZON_M) if near and reach_boxes is None else None
    for group in (near, far):
        if group is far:
            if reasons:
                break
            if far and horizon_boxes is None:
                horizon_boxes = bounds(area, hz + UNIT_HORIZON_M)
        for p in group:
            unc = p.unc
            s = p.speed
            grown = unc + s * max(0.0, t - p.fix)
            if horizon_boxes is not None and not _may_reach(horizon_boxes, p, grown + 1.0):
                continue
            metres, lower = _measure(p, area)
            if t >= p.stale_time():
                if lower <= hz + unc + _EPS_M:
                    reasons.append(_presence_reason("conflict", p, metres))
                elif lower <= hz + grown + _EPS_M:
                    reasons.append(_presence_reason("stale_track", p, metres))
                elif s > 0.0:
                    flips.append(p.fix + (lower - hz - unc) / s)
            elif lower <= hz + grown + _EPS_M:
                reasons.append(_presence_reason("conflict", p, metres))
            elif s > 0.0:
                # the grown disc reaches the hazard area at this time (R10)
                flips.append(p.fix + (lower - hz - unc) / s)
    vmax = max(st.speed_counts) if st.speed_counts else 0.0
    if over:
        vmax = max(vmax, over.max_unit_speed())
    if vmax > 0.0:
        flips.append(t + UNIT_HORIZON_M / vmax)

    # R2 / R3 / R4: asked parties
    ans = c.answers if answers is None else answers
    for asked in c.confirm:
        answer = ans.get(asked)
        if answer is None:
            reasons.append(Reason("awaiting_confirmation", party=asked))
        elif answer[0] == "present":
            reasons.append(Reason("confirmed_present", party=asked))
        elif answer[0] == "checking":
            reasons.append(Reason("checking", party=asked))
        # only "absent" adds no reason

    # R5: stale AOR heartbeats
    for pid in sorted(aor_parties(sc, c, c.id in st.clearances)):
        holder = sc.party(pid)
        if holder is None or holder.aor is None or holder.max_staleness_s is None:
            continue
        hb = holder.last_heartbeat
        if hb is None or t >= hb + holder.max_staleness_s:
            reasons.append(Reason("stale", party=pid))
        else:
            flips.append(hb + holder.max_staleness_s)

    # R7: boundary discrepancy zones
    zones = st.zones if sc.zones is None else sc.zones
    for z in zones:
        if not within(z.area, area, hz):
            continue
        owners = {sc.layer_owner(lid) for lid in z.layers}
        concerned = {o for o in owners if o is not None and o != c.requester}
        if concerned and all((ans.get(o) or ("",))[0] == "absent" for o in concerned):
            continue
        reasons.append(
            Reason(
                "boundary_discrepancy",
                layers=tuple(sorted(z.layers)),
                distance_m=round(float(z.max_separation_m), 1),
            )
        )

    # R8: active under-fire / troops-in-contact alerts whose radius reaches area + hazard
    for al in _active_alerts(sc, now):
        if al.raised <= t < al.expires and within(Disc(al.lon, al.lat, al.radius_m), area, hz):
            reasons.append(Reason("alert", party=al.party, alert=al.id))

    # R9: combine
    reasons.sort(key=_reason_order)
    if any(r.code in CONFLICT_CODES for r in reasons):
        return Evaluation("conflict", tuple(reasons), None)
    if reasons:
        return Evaluation("unresolved", tuple(reasons), None)
    return Evaluation("clear", (), min(flips))


def _unit_candidates(
    st: State, area: Shape, hz: float, now: float, t: float, *, reasons_only: bool = False
) -> set[str]:
    """A superset of the state's units that may give a reason at ``t`` or bound a clear
    verdict's valid_until (R1, R6, R10): those within ``hz`` + ``UNIT_HORIZON_M`` + their reach at
    ``t``. The unit index finds those whose growth is at most TRACK_MAX_UNCERTAINTY_M, the stale
    bands the others (:mod:`accord.core.stale`, which is brought to ``now`` first); a unit
    further away arrives after the fastest unit's horizon.

    With ``reasons_only``, a superset of those that may give a reason only: the unit index is
    then asked within ``hz`` + that growth (+1 m), since such a unit is within ``hz`` + its reach
    of the area, and so its disc in the index (its point grown by ``unc``) within ``hz`` + its
    growth."""
    bands = st.stale_bands
    presences = st.presences
    bands.advance(now, presences)
    d = hz + UNIT_HORIZON_M
    # a verdict ahead of the bands (a window that starts later): any unit may have grown by up
    # to the fastest speed x that lag more than the unit index and the bands allow for
    ahead = 0.0
    vmax = st.max_speed()
    if t > bands.time and vmax > 0.0:
        ahead = min((t - bands.time) * vmax, GLOBE_M)
    boxes = None
    if not len(st.units):
        out: set[str] = set()
    elif ahead > TRACK_MAX_UNCERTAINTY_M:
        # far ahead (a window hours later): the query reaches much further than most units
        # grow, so each is tested by its own speed
        boxes = bounds(area, d)
        out = {
            key
            for key in st.units.query(area, min(d + TRACK_MAX_UNCERTAINTY_M + ahead, GLOBE_M))
            if _may_reach(boxes, presences[key], _grown(presences[key], t))
        }
    else:
        # a unit found here but further than it can reach gives no reason, and its time to
        # arrive is after the fastest unit's horizon: the verdict is the same without a filter
        reach = (hz + 1.0 if reasons_only else d) + TRACK_MAX_UNCERTAINTY_M + ahead
        out = st.units.query(area, reach)
    if len(bands):
        if boxes is None:
            boxes = bounds(area, d)
        for key in bands.query(area, d + ahead):
            if key not in out and _may_reach(boxes, p := presences[key], _grown(p, t)):
                out.add(key)
    return out


def _grown(p: PresenceRec, t: float) -> float:
    """A unit's reach at ``t``: the uncertainty of its last fix grown by its speed (R1)."""
    return p.unc + p.speed * max(0.0, t - p.fix)


_M_PER_DEG = 110_574.0  # the shortest degree of latitude (at the equator), metres


def _may_reach(boxes: list[tuple[float, float, float, float]], p: PresenceRec, g: float) -> bool:
    """Whether the presence's point grown by ``g`` metres may meet one of ``boxes`` (a cheap,
    conservative test in degrees, as accord.geo.index grows boxes; areas always pass)."""
    if p.area is not None:
        return True
    dlat = g * 1.000001 / _M_PER_DEG + 1e-9
    lat = p.lat
    if abs(lat) + dlat >= 89.0:
        return True
    dlon = dlat / math.cos(math.radians(abs(lat) + dlat))
    if dlon >= 180.0:
        return True
    lon = p.lon
    for w, s, e, n in boxes:
        if lat + dlat < s or lat - dlat > n:
            continue
        for shift in (0.0, 360.0, -360.0):
            x = lon + shift
            if x + dlon >= w and x - dlon <= e:
                return True
    return False


def _active_alerts(sc: Scratch, now: float) -> list[AlertRec]:
    out: list[AlertRec] = []
    for a in reversed(sc.state.alerts.values()):
        if a.expires <= now:
            break  # alerts last equally long: earlier ones expired too
        out.append(a)
    out.extend(sc.alerts)
    return out


def _reason_order(r: Reason) -> tuple[object, ...]:
    return (
        _CODE_ORDER.get(r.code, 99),
        r.party or "",
        r.presence or "",
        r.layers,
        r.alert or "",
    )


def verdict(state: State, clearance_id: str, now: datetime) -> Verdict:
    """The verdict the rules give now for a stored clearance (it does not change the state)."""
    c = state.clearances.get(clearance_id)
    if c is None:
        raise NotFound(f"clearance {clearance_id} not found")
    if c.status == "closed":
        return Verdict("closed", c.reasons, None)
    ev = evaluate(Scratch(state), c, now.timestamp())
    vu = None
    if ev.valid_until is not None and math.isfinite(ev.valid_until):
        vu = datetime.fromtimestamp(ev.valid_until, UTC)
    return Verdict(ev.status, ev.reasons, vu)


def reason_presence_key(r: Reason) -> str | None:
    if r.presence is None or r.party is None:
        return None
    return presence_key(r.party, r.presence)
