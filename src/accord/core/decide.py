"""decide / evolve / tick: the event-sourced heart of the core.

- ``decide(state, command, now) -> events``: checks the command against the state, raises a precise
  :mod:`accord.errors` exception if it is rejected (nothing changes), and otherwise returns the
  events it causes, including the verdict changes of the clearances it affects. It never mutates
  ``state``: it judges the world after the command through a :class:`~accord.core.verdict.Scratch`.
- ``evolve(state, event) -> state``: applies one event IN PLACE and returns the same object (see
  :mod:`accord.core.state`). It accepts the ``log_index`` the service adds, and reads every value
  from the event itself (times from their RFC 3339 strings, numbers with ``float``), so that an
  event applied live and the same event read back from the log (RFC 8785 JSON) give equal states.
- ``tick(state, now) -> events``: what the passing of time causes: clear verdicts reaching their
  valid_until (re-judged: revoked, or renewed), alert expiry, and acknowledgement escalations.
- ``next_deadline(state)``: when ``tick`` must next run.

Event ``party`` is the acting party for events caused by a command, and the addressee for the
events the core derives (verdict_changed, clearance_revoked, check_fire, alert_unacknowledged,
probe_warning).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from mypy_extensions import mypyc_attr

from accord.core import commands as cmd
from accord.core.model import (
    ACK_TIMEOUT_S,
    ALERT_ACTIVE_S,
    MAX_CLOCK_SKEW_S,
    PROBE_WINDOW_S,
    UNIT_HORIZON_M,
    Disclosure,
    ReasonList,
    fmt_time,
    parse_time,
    reasons_of,
    shape_from_json,
    shape_to_json,
    to_epoch,
)
from accord.core.probing import check_budget, probe_used, revealing
from accord.core.state import (
    AlertRec,
    ClearanceRec,
    LayerRec,
    NotifiedRec,
    PartyRec,
    PresenceRec,
    State,
    compact_input,
    compute_zones,
    presence_key,
    recheck_time,
    share_disclosure,
    share_transformation,
)
from accord.core.verdict import Evaluation, Scratch, evaluate
from accord.errors import Conflict, Forbidden, InvalidInput, NotFound
from accord.geo.discrepancy import parse_boundary_features
from accord.geo.distance import distance, within
from accord.geo.location import Position
from accord.geo.shapes import Area, Disc, Shape
from accord.ledger.commitment import PlainList, plain_number

__all__ = ["Event", "decide", "evolve", "next_deadline", "tick"]

Event = dict[str, Any]


# ==================================================================================================
# helpers


def _finite(x: float, field: str, *, minimum: float = 0.0) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        raise InvalidInput(field, "must be a finite number")
    if x < minimum:
        raise InvalidInput(field, f"must be >= {minimum:g}")
    return float(x)


def _party(state: State, pid: str) -> PartyRec:
    p = state.parties.get(pid)
    if p is None:
        raise Forbidden(f"party {pid} is not registered")
    return p


def _transformation(pos: Position) -> dict[str, Any]:
    tr = pos.transformation
    return {"description": tr.description, "accuracy_m": tr.accuracy_m, "ballpark": tr.ballpark}


def _position_json(pos: Position, uncertainty_m: float) -> dict[str, Any]:
    return {
        "input": dict(pos.input),
        "wgs84": pos.wgs84(),
        "transformation": _transformation(pos),
        "added_uncertainty_m": float(pos.added_uncertainty_m),
        "uncertainty_m": uncertainty_m,
        "datum_warning": pos.datum_warning,
    }


def _ev(type_: str, now: float, party: str, /, **fields: Any) -> Event:
    e: Event = {"type": type_, "time": fmt_time(now), "party": party}
    e.update(fields)
    return e


def _clearances_near(state: State, shape: Shape, d: float) -> set[str]:
    """Open clearances whose area + hazard may lie within ``d`` of ``shape`` (through the index)."""
    if not len(state.open_clearances):
        return set()
    return state.open_clearances.query(shape, d)


def _affected_by_presence(
    state: State, p: PresenceRec | None, now: float, future: _Future
) -> set[str]:
    """Open clearances whose verdict a presence at ``p``'s position may change (R11).

    - clearances naming the presence (at its old position) in a reason: leaving can clear them;
    - clearances it may reach: a site within its uncertainty; a unit within :func:`_unit_reach`
      at the clearance's judgement time (now, or a later window start);
    - every clear clearance when the unit is faster than any unit before: the horizon of each
      clear verdict's valid_until shrinks (R10).
    Anything else about the old position can only move a clear verdict's valid_until later,
    which needs no new version. ``future`` is :func:`_future` (the same for every unit of a
    command).
    """
    if p is None:
        return set()
    if p.is_unit:
        out = _affected_by_unit(
            state, p.key, p.shape(), unc=p.unc, speed=p.speed, fix=p.fix, now=now, future=future
        )
        if p.speed > state.max_speed():
            clearances = state.clearances
            out.update(cid for cid in state.open_clearances if clearances[cid].basis == "clear")
        return out
    out = _clearances_near(state, p.shape(), p.unc)
    linked = state.presence_clearances.get(p.key)
    if linked:
        out |= linked
    return out


def _unit_reach(unc: float, speed: float, fix: float, t: float) -> float:
    """How near a clearance judged at ``t`` a unit must be for its position to matter (R10/R11):
    its uncertainty grown to ``t`` (a reason) plus UNIT_HORIZON_M (a clear verdict's valid_until
    is at most t + UNIT_HORIZON_M / the fastest speed, and no unit is faster than that)."""
    return unc + speed * max(0.0, t - fix) + UNIT_HORIZON_M


#: future clearances are grouped by how far ahead their window starts (seconds), so that a unit
#: reaching far by a late start does not make every sooner one a candidate
_FUTURE_GROUPS_S = (600.0, 3600.0, 6 * 3600.0)

_Future = list[tuple[float, float]]
"""Ranges (after, until] of the window starts of open clearances that start after now."""


def _future(state: State, now: float) -> _Future:
    """The ranges of future window starts a unit's move is checked against, latest included."""
    fc = state.future_clearances
    latest = state.future_latest
    if not fc or latest <= now:
        return []
    first = state.future_starts[0][0] if state.future_starts else now  # a lower bound
    out: _Future = []
    lo = now
    for span in (*_FUTURE_GROUPS_S, math.inf):
        hi = min(now + span, latest)
        if hi >= first:
            out.append((lo, hi))
        if hi >= latest:
            break
        lo = hi
    return out


def _affected_by_unit(
    state: State,
    key: str,
    shape: Shape,
    *,
    unc: float,
    speed: float,
    fix: float,
    now: float,
    future: _Future,
) -> set[str]:
    """:func:`_affected_by_presence` for a unit at ``shape`` with uncertainty ``unc``, its
    speed and the time of its fix, short of the horizon rule."""
    out = _clearances_near(state, shape, _unit_reach(unc, speed, fix, now))
    linked = state.presence_clearances.get(key)
    if linked:
        out |= linked
    if speed > 0.0:  # (a still unit reaches as far at every start as now)
        fc = state.future_clearances
        for lo, hi in future:
            for cid in _clearances_near(state, shape, _unit_reach(unc, speed, fix, hi)):
                if lo < fc.get(cid, -math.inf) <= hi:
                    out.add(cid)
    return out


def _verdict_fields(ev: Evaluation) -> dict[str, Any]:
    return {
        "reasons": ReasonList(ev.reasons),
        "valid_until": None if ev.valid_until is None else fmt_time(ev.valid_until),
    }


def _transition(c: ClearanceRec, ev: Evaluation, now: float, *, renew: bool = False) -> list[Event]:
    """The verdict event for ``c`` if ``ev`` is a real change (R11), else nothing.

    A real change: the computed status or the set of reasons differs, or a clear verdict's
    valid_until comes earlier, or (``renew``, from tick) the stored valid_until has passed.
    """
    same_reasons = [r.key() for r in c.reasons] == [r.key() for r in ev.reasons]
    changed = ev.status != c.basis or not same_reasons
    if not changed and ev.status == "clear":
        assert ev.valid_until is not None
        if c.valid_until is None or ev.valid_until < c.valid_until:
            changed = True  # shortened
        else:
            changed = (renew or now >= c.valid_until) and ev.valid_until != c.valid_until
    if not changed:
        return []
    if ev.status == "clear":
        status = "clear"
    elif c.status in ("clear", "revoked"):
        status = "revoked"
    else:
        status = ev.status
    kind = "clearance_revoked" if c.status == "clear" and status == "revoked" else "verdict_changed"
    extra: dict[str, Any] = {"attempt": 1} if kind == "clearance_revoked" else {}
    return [
        _ev(
            kind,
            now,
            c.requester,
            clearance=c.id,
            status=status,
            basis=ev.status,
            version=c.version + 1,
            previous=c.status,
            **_verdict_fields(ev),
            **extra,
        )
    ]


def _recompute(sc: Scratch, cids: Iterable[str], now: float, *, renew: bool = False) -> list[Event]:
    out: list[Event] = []
    st = sc.state
    for cid in sorted(cids):
        c = st.clearances.get(cid)
        if c is None or c.status == "closed" or now >= c.window_end:
            continue
        out.extend(_transition(c, evaluate(sc, c, now), now, renew=renew))
    return out


# ==================================================================================================
# decide


def decide(state: State, command: cmd.Command, now: datetime) -> list[Event]:
    """The events ``command`` causes at ``now``; raises (changing nothing) if it is rejected."""
    t = to_epoch(now, "now")
    handler = _HANDLERS.get(type(command))
    if handler is None:
        raise InvalidInput("command", f"unknown command {type(command).__name__}")
    events: list[Event] = handler(state, command, t)
    return events


def _register_party(state: State, c: cmd.RegisterParty, now: float) -> list[Event]:
    if c.party != "admin":
        raise Forbidden("only the administrator registers parties")
    if not c.id or ":" in c.id:
        raise InvalidInput("id", "must be a non-empty id without ':'")
    if c.id == "admin":
        raise InvalidInput("id", "'admin' is reserved")
    if c.id in state.parties:
        raise Conflict(f"party {c.id} already exists")
    if not c.name:
        raise InvalidInput("name", "must not be empty")
    return [_ev("party_registered", now, "admin", id=c.id, name=c.name)]


def _set_aor(state: State, c: cmd.SetAor, now: float) -> list[Event]:
    party = _party(state, c.party)
    if not isinstance(c.area, Area):
        raise InvalidInput("area", "an area of responsibility must be a Polygon or MultiPolygon")
    if isinstance(c.max_staleness_s, bool) or not isinstance(c.max_staleness_s, int):
        raise InvalidInput("max_staleness_s", "must be an integer number of seconds")
    if c.max_staleness_s < 1:
        raise InvalidInput("max_staleness_s", "must be at least 1 second")
    events = [
        _ev(
            "aor_set",
            now,
            c.party,
            area=dict(c.area_json),
            shape=shape_to_json(c.area),
            max_staleness_s=c.max_staleness_s,
        )
    ]
    sc = Scratch(state)
    sc.parties[c.party] = PartyRec(
        party.id,
        party.name,
        party.registered,
        c.area,
        c.area_json,
        float(c.max_staleness_s),
        party.last_heartbeat,
    )
    affected = set(state.aor_clearances.get(c.party, ())) | _clearances_near(state, c.area, 0.0)
    return events + _recompute(sc, affected, now)


def _heartbeat(state: State, c: cmd.Heartbeat, now: float) -> list[Event]:
    party = _party(state, c.party)
    events = [_ev("heartbeat", now, c.party)]
    sc = Scratch(state)
    sc.parties[c.party] = PartyRec(
        party.id,
        party.name,
        party.registered,
        party.aor,
        party.aor_json,
        party.max_staleness_s,
        parse_time(events[0]["time"]),
    )
    return events + _recompute(sc, state.aor_clearances.get(c.party, ()), now)


def _check_presence(state: State, c: cmd.UpsertPresence, now: float, field: str) -> None:
    pre = f"{field}." if field else ""
    if c.kind not in ("site", "unit"):
        raise InvalidInput(f"{pre}kind", "must be 'site' or 'unit'")
    if not c.id or ":" in c.id:
        raise InvalidInput(f"{pre}id", "must be a non-empty id without ':'")
    if (c.position is None) == (c.area is None):
        raise InvalidInput(f"{pre}location", "give exactly one of location or area")
    if c.area is not None and not isinstance(c.area, Area):
        raise InvalidInput(f"{pre}area", "must be a Polygon or MultiPolygon")
    _finite(c.uncertainty_m, f"{pre}uncertainty_m")
    if c.max_speed_mps is not None:
        _finite(c.max_speed_mps, f"{pre}max_speed_mps")
        if c.kind != "unit":
            raise InvalidInput(f"{pre}max_speed_mps", "only units have a maximum speed")
    vf = None if c.valid_from is None else to_epoch(c.valid_from, f"{pre}valid_from")
    vu = None if c.valid_until is None else to_epoch(c.valid_until, f"{pre}valid_until")
    if vf is not None and vu is not None and vu <= vf:
        raise InvalidInput(f"{pre}valid_until", "must be after valid_from")
    if not isinstance(c.disclosure, Disclosure):
        raise InvalidInput(f"{pre}disclosure", "must be a disclosure")
    Disclosure.from_json(c.disclosure.to_json())  # validates the levels


def _presence_event(state: State, c: cmd.UpsertPresence, now: float) -> Event:
    key = presence_key(c.party, c.id)
    old = state.presences.get(key)
    fields: dict[str, Any] = {
        "id": c.id,
        "kind": c.kind,
        "label": c.label,
        "position": None
        if c.position is None
        else _position_json(c.position, float(c.uncertainty_m)),
        "uncertainty_m": float(c.uncertainty_m),
        "area": None if c.area_json is None else dict(c.area_json),
        "shape": None if c.area is None else shape_to_json(c.area),
        "valid_from": None if c.valid_from is None else fmt_time(to_epoch(c.valid_from)),
        "valid_until": None if c.valid_until is None else fmt_time(to_epoch(c.valid_until)),
        "max_speed_mps": None if c.max_speed_mps is None else float(c.max_speed_mps),
        "disclosure": c.disclosure.to_json(),
        "version": 1 if old is None else old.version + 1,
    }
    return _ev("presence_upserted", now, c.party, **fields)


def _presence_from_event(e: Mapping[str, Any]) -> PresenceRec:
    pos = e.get("position")
    shape = e.get("shape")
    owner = e["party"]
    vf = e.get("valid_from")
    vu = e.get("valid_until")
    speed = e.get("max_speed_mps")
    if pos is not None:
        lon, lat = pos["wgs84"]["coordinates"]
        lon = float(lon)
        lat = float(lat)
        added = float(pos["added_uncertainty_m"])
        if added == 0.0 and math.copysign(1.0, added) > 0.0:
            added = 0.0  # one shared float
        inp = compact_input(pos["input"], lon, lat)
        tr = share_transformation(pos["transformation"])
        warning = pos.get("datum_warning")
    else:
        lon = lat = math.nan
        added = 0.0
        inp = tr = warning = None
    area = None
    if shape is not None:
        s = shape_from_json(shape)
        assert isinstance(s, Area)
        area = s
    return PresenceRec(
        key=presence_key(owner, e["id"]),
        owner=sys.intern(owner),
        id=e["id"],
        kind=sys.intern(e["kind"]),
        label=e["label"],
        lon=lon,
        lat=lat,
        area=area,
        area_json=e.get("area"),
        uncertainty_m=float(e["uncertainty_m"]),
        added_m=added,
        fix=parse_time(e["time"]),
        valid_from=None if vf is None else parse_time(vf),
        valid_until=None if vu is None else parse_time(vu),
        max_speed_mps=None if speed is None else float(speed),
        disclosure=share_disclosure(Disclosure.from_json(e["disclosure"])),
        sent=inp,
        transformation=tr,
        datum_warning=warning,
        version=int(e["version"]),
        log_index=e.get("log_index"),
    )


def _upsert_many(
    state: State, party: str, items: tuple[cmd.UpsertPresence, ...], now: float, batch: bool
) -> list[Event]:
    _party(state, party)
    events: list[Event] = []
    sc = Scratch(state)
    affected: set[str] = set()
    seen: set[str] = set()
    future = _future(state, now)
    for i, item in enumerate(items):
        field = f"items.{i}" if batch else ""
        if item.party != party:
            raise Forbidden("a party upserts only its own presences")
        _check_presence(state, item, now, field)
        if item.id in seen:
            raise InvalidInput(f"{field}.id", f"duplicate presence id {item.id}")
        seen.add(item.id)
        e = _presence_event(state, item, now)
        events.append(e)
        rec = _presence_from_event(e)
        old = state.presences.get(rec.key)
        if old is not None:
            affected |= state.presence_clearances.get(old.key, set())
        affected |= _affected_by_presence(state, rec, now, future)
        sc.presences[rec.key] = rec
    return events + _recompute(sc, affected, now)


def _upsert_presence(state: State, c: cmd.UpsertPresence, now: float) -> list[Event]:
    return _upsert_many(state, c.party, (c,), now, batch=False)


def _upsert_presences(state: State, c: cmd.UpsertPresences, now: float) -> list[Event]:
    if not c.items:
        raise InvalidInput("items", "must not be empty")
    return _upsert_many(state, c.party, c.items, now, batch=True)


def _remove_presence(state: State, c: cmd.RemovePresence, now: float) -> list[Event]:
    _party(state, c.party)
    key = presence_key(c.party, c.id)
    p = state.presences.get(key)
    if p is None:
        # the same answer whether another party has such a presence or not
        raise NotFound(f"presence {c.id} not found")
    sc = Scratch(state)
    sc.presences[key] = None
    events = [_ev("presence_removed", now, c.party, id=c.id)]
    return events + _recompute(sc, set(state.presence_clearances.get(key, ())), now)


def _update_positions(state: State, c: cmd.UpdatePositions, now: float) -> list[Event]:
    _party(state, c.party)
    if not c.updates:
        raise InvalidInput("updates", "must not be empty")
    presences = state.presences
    prefix = c.party + ":"
    # First every update is checked and becomes its item, in turn; per item, its key, the unit as
    # stored and the time of its fix (key -> the index of its latest item)
    seen: dict[str, int] = {}
    repeated: set[str] = set()
    items: list[list[Any]] = []
    keys: list[str] = []
    recs: list[PresenceRec] = []
    times: list[float] = []
    limit = now + MAX_CLOCK_SKEW_S
    last_time: datetime | None = None  # the times of a batch are often one instant: convert once
    ts = 0.0
    ts_s = ""
    for i, u in enumerate(c.updates):
        key = prefix + u.id
        j = seen.get(key)
        if j is None:
            p = presences.get(key)
            if p is None:
                raise NotFound(f"presence {u.id} not found (updates.{i}.id)")
            if p.kind != "unit" or p.area is not None:
                raise InvalidInput(
                    f"updates.{i}.id", f"presence {u.id} is not a unit with a position"
                )
            fix = p.fix
        else:
            p = recs[j]
            fix = parse_time(items[j][5])
            repeated.add(key)
        unc = u.uncertainty_m
        if not (isinstance(unc, (int, float)) and 0.0 <= unc < math.inf):
            raise InvalidInput(f"updates.{i}.uncertainty_m", "must be a finite number >= 0")
        if last_time is None or u.time != last_time:
            ts = to_epoch(u.time, f"updates.{i}.time")
            ts_s = fmt_time(ts)
            last_time = u.time
        if ts > limit:
            raise InvalidInput(f"updates.{i}.time", "is in the future of the server's clock")
        if ts < fix:
            raise InvalidInput(f"updates.{i}.time", "is older than the unit's last position")
        pos = u.position
        tr = pos.transformation
        added = float(pos.added_uncertainty_m)
        item: list[Any] = [u.id, pos.lon, pos.lat, float(unc), added, ts_s]
        item.append(pos.input if type(pos.input) is dict else dict(pos.input))
        if tr.description not in ("", "none") or pos.datum_warning is not None:
            item.append(
                {
                    "description": tr.description,
                    "accuracy_m": tr.accuracy_m,
                    "ballpark": tr.ballpark,
                    "datum_warning": pos.datum_warning,
                }
            )
        seen[key] = len(items)
        items.append(item)
        keys.append(key)
        recs.append(p)
        times.append(ts)
    events = [_ev("positions_updated", now, c.party, updates=PositionItems(items))]
    open_index = state.open_clearances
    if not len(open_index):
        return events
    # Then the clearances the moves may change, in turn. A move can change none when the
    # open-clearance index's halo declines it, no clearance names the unit, and no later window
    # matters (none starts later, or the unit is still): _affected_by_unit would find nothing.
    # Only the other moves are looked at, and every move of a unit that moves more than once
    # (its record is built from all of them).
    future = _future(state, now)
    linked = state.presence_clearances
    reaches = [
        _unit_reach(item[3] + item[4], p.speed, ts, now)
        for item, p, ts in zip(items, recs, times, strict=True)
    ]
    declined = open_index.declines_points(
        [float(item[1]) for item in items], [float(item[2]) for item in items], reaches
    )
    looks = [
        not declined[i] or bool(linked.get(key)) or (bool(future) and recs[i].speed > 0.0)
        for i, key in enumerate(keys)
    ]
    visit = [i for i, key in enumerate(keys) if looks[i] or key in repeated]
    # key -> [the unit as of its last built record, the items after it]: a moved record is built
    # only for a unit that a clearance may care about (it then goes into the scratch)
    moves: dict[str, list[Any]] = {}
    sc = Scratch(state)
    scratch = sc.presences
    affected: set[str] = set()
    for i in visit:
        key = keys[i]
        item = items[i]
        move = moves.get(key)
        if move is None:
            move = moves[key] = [recs[i], [item]]
        else:
            move[1].append(item)
        if not looks[i]:
            hit: set[str] = set()  # what _affected_by_unit finds
        else:
            hit = _affected_by_unit(
                state,
                key,
                Disc(float(item[1]), float(item[2]), 0.0),
                unc=item[3] + item[4],
                speed=recs[i].speed,
                fix=times[i],
                now=now,
                future=future,
            )
        if hit:
            new = scratch[key] = _built(move)
            affected |= _may_change(state, new, hit, now)
        elif key in scratch:
            scratch[key] = _built(move)
    if affected:
        # a unit neither near an affected clearance before nor after its move is not in the
        # scratch: the index's old position is as far from every clearance as the new one
        events.extend(_recompute(sc, affected, now))
    return events


@mypyc_attr(native_class=False)  # a list's subclass stays a Python class
class PositionItems(PlainList):
    """The ``updates`` of a positions_updated event (see _update_positions): each item is
    ``[id, lon, lat, uncertainty_m, added_m, time, input]`` and, for a transformed position, its
    transformation. Canonical JSON asks for them plain (:meth:`PlainList.plain_items`), and only
    then are they made so: the state is built from the items as they are. Items of the common
    shape (:func:`_plain_point_item`) are made plain for 0.39 of what the general walk costs
    (timeit, 500 items); a batch with any other item is walked."""

    __slots__ = ()

    def plain_items(self) -> list[Any]:
        try:
            return [_plain_point_item(item) for item in self]
        except ValueError:  # another shape, or a number JCS writes with an exponent
            return super().plain_items()  # the walk: raises as it raises


def _plain_point_item(item: list[Any]) -> list[Any]:
    """The item of an update to a GeoJSON point of fractional degrees, equal to the unit's
    lon/lat, as the walk makes it plain (those degrees stay the floats they are, the
    uncertainties as ``plain_number`` makes them); ValueError for any other item."""
    if len(item) != 7:
        raise ValueError("transformed")
    ident, lon, lat, unc, added, ts_s, sent = item
    if not (
        type(ident) is str
        and type(ts_s) is str
        and type(sent) is dict
        and len(sent) == 2
        and sent.get("type") == "Point"
        and type(xy := sent.get("coordinates")) is list
        and len(xy) == 2
        and type(x := xy[0]) is float
        and type(y := xy[1]) is float
        and x == lon
        and y == lat
        and type(plain_number(x)) is float  # (an integral one becomes an int)
        and type(plain_number(y)) is float
    ):
        raise ValueError(ident)
    return [ident, lon, lat, plain_number(unc), plain_number(added), ts_s, sent]


def _built(move: list[Any]) -> PresenceRec:
    """The unit after the items of ``move`` (see _update_positions), built now."""
    rec: PresenceRec = move[0]
    for item in move[1]:
        rec = _moved(rec, item)
    move[0] = rec
    move[1] = []
    return rec


def _may_change(state: State, p: PresenceRec, cids: set[str], now: float) -> set[str]:
    """Those of ``cids`` whose verdict a move of unit ``p`` to its new position may change: the
    clearances naming it in a reason, those it now reaches (R1/R6), and clear ones whose
    valid_until its new position brings earlier (R10). Moving away from a clear clearance can only
    make its valid_until later, which needs no new version; every other rule is untouched."""
    linked = state.presence_clearances.get(p.key, ())
    out: set[str] = set()
    shape = p.shape()
    s = p.speed
    for cid in cids:
        if cid in linked:
            out.add(cid)
            continue
        c = state.clearances[cid]
        d = distance(shape, c.area)
        lower = d.metres - d.error_m
        t = max(now, c.window_start)
        grown = p.unc + s * max(0.0, t - p.fix)
        if lower <= c.hazard_m + grown + 1e-6:
            out.add(cid)
        elif c.basis == "clear" and s > 0.0:
            reach_at = p.fix + (lower - c.hazard_m - p.unc) / s
            if c.valid_until is None or reach_at < c.valid_until:
                out.add(cid)
    return out


def _moved(p: PresenceRec, item: list[Any]) -> PresenceRec:
    tr = item[7] if len(item) > 7 else None
    return PresenceRec(
        key=p.key,
        owner=p.owner,
        id=p.id,
        kind=p.kind,
        label=p.label,
        lon=float(item[1]),
        lat=float(item[2]),
        area=None,
        area_json=None,
        uncertainty_m=float(item[3]),
        added_m=float(item[4]),
        fix=parse_time(item[5]),
        valid_from=p.valid_from,
        valid_until=p.valid_until,
        max_speed_mps=p.max_speed_mps,
        disclosure=p.disclosure,
        sent=item[6],
        transformation=p.transformation if tr is None else tr,
        datum_warning=p.datum_warning if tr is None else tr.get("datum_warning"),
        version=p.version,
        log_index=p.log_index,
    )


def _add_layer(state: State, c: cmd.AddLayer, now: float) -> list[Event]:
    _party(state, c.party)
    if c.role != "boundary":
        raise InvalidInput("role", "must be 'boundary'")
    if not c.name:
        raise InvalidInput("name", "must not be empty")
    lid = c.id
    if lid is None:
        n = state.seq["layer"] + 1
        while f"l-{n}" in state.layers:
            n += 1
        lid = f"l-{n}"
    elif lid in state.layers:
        raise Conflict(f"layer {lid} already exists")
    if c.geometry is None:
        raise InvalidInput("features", "no boundary geometry")
    rec = LayerRec(lid, c.party, c.name, c.role, dict(c.features), c.geometry)
    zones = compute_zones(state, (rec,))
    sc = Scratch(state)
    sc.zones = zones
    sc.layer_owners[lid] = c.party
    affected: set[str] = set()
    for z in [*state.zones, *zones]:
        affected |= _clearances_near(state, z.area, 0.0)
    events = [
        _ev(
            "layer_added",
            now,
            c.party,
            id=lid,
            name=c.name,
            role=c.role,
            features=dict(c.features),
            zones=len(zones),
        )
    ]
    return events + _recompute(sc, affected, now)


def _request_clearance(state: State, c: cmd.RequestClearance, now: float) -> list[Event]:
    _party(state, c.party)
    hz = _finite(c.hazard_m, "hazard_m")
    ws = to_epoch(c.window_start, "window.start")
    we = to_epoch(c.window_end, "window.end")
    if we <= ws:
        raise InvalidInput("window.end", "must be after window.start")
    if we <= now:
        raise InvalidInput("window.end", "is already past")
    confirm = tuple(c.confirm)
    for i, pid in enumerate(confirm):
        if pid not in state.parties:
            raise InvalidInput(f"confirm.{i}", f"unknown party {pid}")
        if pid == c.party:
            raise InvalidInput(f"confirm.{i}", "the requester cannot confirm its own request")
        if pid in confirm[:i]:
            raise InvalidInput(f"confirm.{i}", f"party {pid} is listed twice")
    cid = c.id
    if cid is None:
        n = state.seq["clearance"] + 1
        while f"c-{n}" in state.clearances:
            n += 1
        cid = f"c-{n}"
    elif cid in state.clearances:
        raise Conflict(f"clearance {cid} already exists")
    # R14: a party that used up its probing budget gets no verdict at all this hour (refusing
    # only the revealing requests would itself reveal).
    check_budget(state, c.party, now)
    rec = _clearance_rec(c, cid, hz=hz, ws=ws, we=we, now=now)
    sc = Scratch(state)
    ev = evaluate(sc, rec, now)
    revealed = revealing(state, c.party, ev.reasons)
    events = [
        _ev(
            "clearance_requested",
            now,
            c.party,
            id=cid,
            area=dict(c.area_json),
            shape=shape_to_json(c.area),
            radius_m=c.radius_m,
            width_m=c.width_m,
            hazard_m=hz,
            window={"start": fmt_time(ws), "end": fmt_time(we)},
            purpose=c.purpose,
            confirm=list(confirm),
            status=ev.status,
            basis=ev.status,
            version=1,
            probe=bool(revealed),
            **_verdict_fields(ev),
        )
    ]
    for owner in sorted(revealed):
        events.append(
            _ev(
                "probe_warning",
                now,
                owner,
                asker=c.party,
                clearance=cid,
                presences=sorted(revealed[owner]),
                used=probe_used(state, c.party, now) + 1,
                budget=state.policy.probes_per_hour,
            )
        )
    return events


def _clearance_rec(
    c: cmd.RequestClearance, cid: str, *, hz: float, ws: float, we: float, now: float
) -> ClearanceRec:
    return ClearanceRec(
        id=cid,
        requester=c.party,
        area=c.area,
        area_json=dict(c.area_json),
        radius_m=c.radius_m,
        width_m=c.width_m,
        hazard_m=hz,
        window_start=ws,
        window_end=we,
        purpose=c.purpose,
        confirm=tuple(c.confirm),
        requested=now,
    )


def _visible_clearance(state: State, cid: str, party: str) -> ClearanceRec:
    c = state.clearances.get(cid)
    if c is None or (party != c.requester and party not in c.confirm):
        raise NotFound(f"clearance {cid} not found")
    return c


def _answer(state: State, c: cmd.AnswerClearance, now: float) -> list[Event]:
    rec = _visible_clearance(state, c.id, c.party)
    if c.party not in rec.confirm:
        raise Forbidden("only the parties asked to confirm may answer")
    if rec.status == "closed":
        raise Conflict(f"clearance {c.id} is closed")
    if c.answer not in ("absent", "present", "checking"):
        raise InvalidInput("answer", "must be 'absent', 'present' or 'checking'")
    events = [_ev("clearance_answered", now, c.party, clearance=c.id, answer=c.answer, note=c.note)]
    answers = dict(rec.answers)
    answers[c.party] = (c.answer, c.note, now)
    if now < rec.window_end:
        ev = evaluate(Scratch(state), rec, now, answers=answers)
        events.extend(_transition(rec, ev, now))
    return events


def _close(state: State, c: cmd.CloseClearance, now: float) -> list[Event]:
    rec = _visible_clearance(state, c.id, c.party)
    if c.party != rec.requester:
        raise Forbidden("only the requester closes a clearance")
    if rec.status == "closed":
        raise Conflict(f"clearance {c.id} is already closed")
    return [
        _ev(
            "clearance_closed",
            now,
            c.party,
            clearance=c.id,
            status="closed",
            version=rec.version + 1,
            previous=rec.status,
        )
    ]


def _ack_clearance(state: State, c: cmd.AckClearance, now: float) -> list[Event]:
    rec = _visible_clearance(state, c.id, c.party)
    if c.party != rec.requester:
        raise Forbidden("only the requester acknowledges a verdict")
    if isinstance(c.version, bool) or not isinstance(c.version, int):
        raise InvalidInput("version", "must be an integer")
    if not 1 <= c.version <= rec.version:
        raise InvalidInput(
            "version", f"no version {c.version}: the current version is {rec.version}"
        )
    if c.version <= rec.acked_version:
        return []
    return [_ev("clearance_acknowledged", now, c.party, clearance=c.id, version=c.version)]


def _raise_alert(state: State, c: cmd.RaiseAlert, now: float) -> list[Event]:
    _party(state, c.party)
    if c.kind not in ("under_fire", "troops_in_contact"):
        raise InvalidInput("kind", "must be 'under_fire' or 'troops_in_contact'")
    radius = _finite(c.radius_m, "radius_m")
    if radius <= 0.0:
        raise InvalidInput("radius_m", "must be > 0")
    n = state.seq["alert"] + 1
    while f"a-{n}" in state.alerts:
        n += 1
    aid = f"a-{n}"
    pos = c.position
    disc = Disc(pos.lon, pos.lat, radius)
    notified: list[tuple[str, str]] = []
    for cid in sorted(_clearances_near(state, disc, 0.0)):
        cl = state.clearances[cid]
        if cl.status != "closed" and now < cl.window_end and within(disc, cl.area, cl.hazard_m):
            notified.append((cl.requester, cid))
    events = [
        _ev(
            "alert_raised",
            now,
            c.party,
            id=aid,
            kind=c.kind,
            position=_position_json(pos, 0.0),
            radius_m=radius,
            expires=fmt_time(now + ALERT_ACTIVE_S),
            notified=[{"party": p, "clearance": cid} for p, cid in notified],
        )
    ]
    for p, cid in notified:
        events.append(
            _ev("check_fire", now, p, alert=aid, clearance=cid, kind=c.kind, by=c.party, attempt=1)
        )
    sc = Scratch(state)
    sc.alerts.append(
        AlertRec(aid, c.party, c.kind, pos.lon, pos.lat, radius, None, now, now + ALERT_ACTIVE_S)
    )
    return events + _recompute(sc, {cid for _, cid in notified}, now)


def _ack_alert(state: State, c: cmd.AckAlert, now: float) -> list[Event]:
    a = state.alerts.get(c.id)
    mine = [] if a is None else sorted(cid for (p, cid) in a.notified if p == c.party)
    if a is None or not mine:
        raise NotFound(f"alert {c.id} not found")
    todo = [cid for cid in mine if a.notified[(c.party, cid)].acknowledged_at is None]
    if not todo:
        return []
    return [_ev("alert_acknowledged", now, c.party, alert=c.id, clearances=todo)]


def _mark_delivered(state: State, c: cmd.MarkDelivered, now: float) -> list[Event]:
    a = state.alerts.get(c.alert)
    n = None if a is None else a.notified.get((c.party, c.clearance))
    if n is None:
        raise NotFound(f"no check_fire of alert {c.alert} for clearance {c.clearance}")
    if n.delivered_at is not None:
        return []
    return [_ev("check_fire_delivered", now, c.party, alert=c.alert, clearance=c.clearance)]


_HANDLERS: dict[type, Any] = {
    cmd.RegisterParty: _register_party,
    cmd.SetAor: _set_aor,
    cmd.Heartbeat: _heartbeat,
    cmd.UpsertPresence: _upsert_presence,
    cmd.UpsertPresences: _upsert_presences,
    cmd.RemovePresence: _remove_presence,
    cmd.UpdatePositions: _update_positions,
    cmd.AddLayer: _add_layer,
    cmd.RequestClearance: _request_clearance,
    cmd.AnswerClearance: _answer,
    cmd.CloseClearance: _close,
    cmd.AckClearance: _ack_clearance,
    cmd.RaiseAlert: _raise_alert,
    cmd.AckAlert: _ack_alert,
    cmd.MarkDelivered: _mark_delivered,
}


# ==================================================================================================
# evolve


def evolve(state: State, event: Mapping[str, Any]) -> State:
    """Apply one event to ``state`` IN PLACE and return it (unknown types are ignored)."""
    apply = _APPLY.get(event["type"])
    if apply is not None:
        apply(state, event)
    li = event.get("log_index")
    if li is not None:
        state.last_index = int(li)
    return state


def _e_party(s: State, e: Mapping[str, Any]) -> None:
    s.parties[e["id"]] = PartyRec(e["id"], e["name"], parse_time(e["time"]))


def _e_aor(s: State, e: Mapping[str, Any]) -> None:
    p = s.parties[e["party"]]
    area = shape_from_json(e["shape"])
    assert isinstance(area, Area)
    p.aor = area
    p.aor_json = e["area"]
    p.max_staleness_s = float(e["max_staleness_s"])
    s.relink_party_aor(p)


def _e_heartbeat(s: State, e: Mapping[str, Any]) -> None:
    s.parties[e["party"]].last_heartbeat = parse_time(e["time"])


def _e_presence(s: State, e: Mapping[str, Any]) -> None:
    rec = _presence_from_event(e)
    rec.log_index = e.get("log_index")
    old = s.presences.get(rec.key)
    if old is not None:
        s.unindex_presence(old)
        s.drop_speed(old)
    s.tombstones.pop(rec.key, None)
    s.presences[rec.key] = rec
    s.index_presence(rec)
    s.add_speed(rec)


def _e_removed(s: State, e: Mapping[str, Any]) -> None:
    key = presence_key(e["party"], e["id"])
    old = s.presences.pop(key, None)
    if old is not None:
        s.unindex_presence(old)
        s.drop_speed(old)
        s.tombstones[key] = (old.owner, old.disclosure)


def _e_positions(s: State, e: Mapping[str, Any]) -> None:
    prefix = e["party"] + ":"
    presences = s.presences
    last_s = ""
    fix = 0.0
    index = s.index_presence
    for item in e["updates"]:
        p = presences[prefix + item[0]]
        old_fix = p.fix
        p.lon = float(item[1])
        p.lat = float(item[2])
        p.uncertainty_m = float(item[3])
        p.added_m = float(item[4])
        if item[5] != last_s:  # a batch's fixes are often one instant: parse it once
            last_s = item[5]
            fix = parse_time(last_s)
        p.fix = fix
        p.input = item[6]
        if len(item) > 7:
            tr = item[7]
            p.transformation = share_transformation(
                {k: tr[k] for k in ("description", "accuracy_m", "ballpark")}
            )
            p.datum_warning = tr.get("datum_warning")
        index(p, old_fix)


def _e_layer(s: State, e: Mapping[str, Any]) -> None:
    features = e["features"]
    geometry = parse_boundary_features(features, "features")
    s.layers[e["id"]] = LayerRec(e["id"], e["party"], e["name"], e["role"], features, geometry)
    _bump_seq(s, "layer", e["id"], "l-")
    s.zones = compute_zones(s)


def _bump_seq(s: State, kind: str, ident: str, prefix: str) -> None:
    if ident.startswith(prefix) and ident[len(prefix) :].isdigit():
        s.seq[kind] = max(s.seq[kind], int(ident[len(prefix) :]))


def _set_verdict(s: State, c: ClearanceRec, e: Mapping[str, Any]) -> None:
    old = c.reasons
    c.status = e["status"]
    c.basis = e["basis"]
    c.reasons = reasons_of(e["reasons"])
    vu = e.get("valid_until")
    c.valid_until = None if vu is None else parse_time(vu)
    c.version = int(e["version"])
    c.log_index = e.get("log_index")
    s.set_reason_links(c, old)
    s.schedule(c)


def _e_requested(s: State, e: Mapping[str, Any]) -> None:
    t = parse_time(e["time"])
    c = ClearanceRec(
        id=e["id"],
        requester=e["party"],
        area=shape_from_json(e["shape"]),
        area_json=e["area"],
        radius_m=None if e.get("radius_m") is None else float(e["radius_m"]),
        width_m=None if e.get("width_m") is None else float(e["width_m"]),
        hazard_m=float(e["hazard_m"]),
        window_start=parse_time(e["window"]["start"]),
        window_end=parse_time(e["window"]["end"]),
        purpose=e["purpose"],
        confirm=tuple(e["confirm"]),
        requested=t,
        probe=bool(e.get("probe", False)),
    )
    s.clearances[c.id] = c
    s.open_clearances.insert(c.id, c.area, c.hazard_m)
    s.prune_future(t)
    if c.window_start > t:
        s.add_future(c.id, c.window_start)
    s.link_aor(c)
    _bump_seq(s, "clearance", c.id, "c-")
    if s.policy.requests_per_hour:  # without a request budget there is nothing to count
        recent = [x for x in s.requests.get(c.requester, []) if x > t - PROBE_WINDOW_S]
        recent.append(t)
        s.requests[c.requester] = recent
    if c.probe:
        window = [x for x in s.probes.get(c.requester, []) if x > t - PROBE_WINDOW_S]
        window.append(t)
        s.probes[c.requester] = window
    _set_verdict(s, c, e)


def _e_answered(s: State, e: Mapping[str, Any]) -> None:
    c = s.clearances[e["clearance"]]
    c.answers[e["party"]] = (e["answer"], e.get("note"), parse_time(e["time"]))


def _e_verdict(s: State, e: Mapping[str, Any]) -> None:
    c = s.clearances[e["clearance"]]
    if e["type"] == "clearance_revoked" and int(e.get("attempt", 1)) > 1:
        # a re-sent revocation (R13): same version, new deadline
        if c.revoke_pending is None:
            return
        c.revoke_pending = (
            c.revoke_pending[0],
            parse_time(e["time"]) + ACK_TIMEOUT_S,
            int(e["attempt"]),
        )
        return
    _set_verdict(s, c, e)
    if e["type"] == "clearance_revoked":
        c.revoke_pending = (c.version, parse_time(e["time"]) + ACK_TIMEOUT_S, 1)
        s.pending.add(("c", c.id))
    elif c.status == "clear" and c.revoke_pending is not None:
        c.revoke_pending = None  # cleared again: the revocation is superseded
        s.pending.discard(("c", c.id))


def _e_closed(s: State, e: Mapping[str, Any]) -> None:
    c = s.clearances[e["clearance"]]
    old = c.reasons
    c.status = "closed"
    c.version = int(e["version"])
    c.log_index = e.get("log_index")
    c.revoke_pending = None
    s.pending.discard(("c", c.id))
    s.open_clearances.remove(c.id)
    s.drop_future(c.id)
    for pid in c.aor_parties:
        linked = s.aor_clearances.get(pid)
        if linked is not None:
            linked.discard(c.id)
    c.aor_parties = set()
    s.set_reason_links(c, old)


def _e_acked(s: State, e: Mapping[str, Any]) -> None:
    c = s.clearances[e["clearance"]]
    v = int(e["version"])
    c.acked_version = max(c.acked_version, v)
    if c.revoke_pending is not None and v >= c.revoke_pending[0]:
        c.revoke_pending = None
        s.pending.discard(("c", c.id))


def _e_alert(s: State, e: Mapping[str, Any]) -> None:
    pos = e["position"]
    lon, lat = pos["wgs84"]["coordinates"]
    a = AlertRec(
        e["id"],
        e["party"],
        e["kind"],
        float(lon),
        float(lat),
        float(e["radius_m"]),
        pos,
        parse_time(e["time"]),
        parse_time(e["expires"]),
    )
    s.alerts[a.id] = a
    _bump_seq(s, "alert", a.id, "a-")


def _e_check_fire(s: State, e: Mapping[str, Any]) -> None:
    a = s.alerts[e["alert"]]
    k = (e["party"], e["clearance"])
    deadline = parse_time(e["time"]) + ACK_TIMEOUT_S
    n = a.notified.get(k)
    if n is None:
        a.notified[k] = NotifiedRec(int(e.get("attempt", 1)), deadline)
    else:
        n.attempt = int(e.get("attempt", n.attempt + 1))
        n.deadline = deadline
    s.pending.add(("a", a.id, k[0], k[1]))


def _e_alert_acked(s: State, e: Mapping[str, Any]) -> None:
    a = s.alerts[e["alert"]]
    t = parse_time(e["time"])
    for cid in e["clearances"]:
        n = a.notified[(e["party"], cid)]
        if n.acknowledged_at is None:
            n.acknowledged_at = t
        s.pending.discard(("a", a.id, e["party"], cid))


def _e_delivered(s: State, e: Mapping[str, Any]) -> None:
    n = s.alerts[e["alert"]].notified[(e["party"], e["clearance"])]
    if n.delivered_at is None:
        n.delivered_at = parse_time(e["time"])


_APPLY: dict[str, Any] = {
    "party_registered": _e_party,
    "aor_set": _e_aor,
    "heartbeat": _e_heartbeat,
    "presence_upserted": _e_presence,
    "presence_removed": _e_removed,
    "positions_updated": _e_positions,
    "layer_added": _e_layer,
    "clearance_requested": _e_requested,
    "clearance_answered": _e_answered,
    "verdict_changed": _e_verdict,
    "clearance_revoked": _e_verdict,
    "clearance_closed": _e_closed,
    "clearance_acknowledged": _e_acked,
    "alert_raised": _e_alert,
    "check_fire": _e_check_fire,
    "alert_acknowledged": _e_alert_acked,
    "check_fire_delivered": _e_delivered,
    # alert_unacknowledged and probe_warning change nothing: the facts are in the events above
}


# ==================================================================================================
# time


def _escalations_due(state: State, now: float | None) -> list[tuple[float, tuple[str, ...]]]:
    """Pending acknowledgements still worth escalating, with their deadlines (due ones only when
    ``now`` is given)."""
    out: list[tuple[float, tuple[str, ...]]] = []
    for key in state.pending:
        if key[0] == "c":
            c = state.clearances.get(key[1])
            if c is None or c.revoke_pending is None or c.status == "closed":
                continue
            deadline = c.revoke_pending[1]
            if deadline >= c.window_end:
                continue
        else:
            a = state.alerts.get(key[1])
            n = None if a is None else a.notified.get((key[2], key[3]))
            if a is None or n is None or n.acknowledged_at is not None:
                continue
            deadline = n.deadline
            if deadline >= a.expires:
                continue
        if now is None or deadline <= now:
            out.append((deadline, key))
    out.sort()
    return out


def tick(state: State, now: datetime) -> list[Event]:
    """Events caused by time passing up to ``now`` (never mutates ``state``)."""
    t = to_epoch(now, "now")
    events: list[Event] = []
    valid = set()
    for at, cid, version in state.recheck:
        if at > t:
            continue
        c = state.clearances.get(cid)
        if c is None or c.version != version or recheck_time(state, c) != at:
            continue  # superseded entry
        if c.status != "closed" and t < c.window_end:
            valid.add(cid)
    events.extend(_recompute(Scratch(state), valid, t, renew=True))
    changed = {e["clearance"] for e in events}
    for _deadline, key in _escalations_due(state, t):
        if key[0] == "c" and key[1] in changed:
            continue  # a new verdict for it was just emitted: that is what it must acknowledge
        if key[0] == "c":
            c = state.clearances[key[1]]
            assert c.revoke_pending is not None
            version, _, attempt = c.revoke_pending
            events.append(
                _ev(
                    "clearance_revoked",
                    t,
                    c.requester,
                    clearance=c.id,
                    status=c.status,
                    basis=c.basis,
                    version=version,
                    reasons=[r.to_json() for r in c.reasons],
                    valid_until=None,
                    attempt=attempt + 1,
                )
            )
            events.append(
                _ev(
                    "alert_unacknowledged",
                    t,
                    c.requester,
                    clearance=c.id,
                    version=version,
                    attempt=attempt + 1,
                )
            )
        else:
            a = state.alerts[key[1]]
            n = a.notified[(key[2], key[3])]
            events.append(
                _ev(
                    "check_fire",
                    t,
                    key[2],
                    alert=a.id,
                    clearance=key[3],
                    kind=a.kind,
                    by=a.party,
                    attempt=n.attempt + 1,
                )
            )
            events.append(
                _ev(
                    "alert_unacknowledged",
                    t,
                    a.party,
                    alert=a.id,
                    notified=key[2],
                    clearance=key[3],
                    delivered=n.delivered_at is not None,
                    attempt=n.attempt + 1,
                )
            )
    return events


def next_deadline(state: State) -> datetime | None:
    """When :func:`tick` must next run, or None if nothing is waiting on time."""
    best: float | None = None
    due = state.due_recheck()
    if due is not None:
        best = due[0]
    esc = _escalations_due(state, None)
    if esc and (best is None or esc[0][0] < best):
        best = esc[0][0]
    if best is None:
        return None
    return datetime.fromtimestamp(best, UTC)
