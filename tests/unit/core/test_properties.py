"""Safety invariants (DESIGN.md) under random command sequences, against a brute-force oracle.

The oracle below is written from SPEC.md/RULES.md only: it keeps its own shadow of what was sent
(never the core's state), scans every presence with pyproj's geodesic distance, and recomputes the
reasons. Near a threshold (within 0.5 m or 1 ms) it abstains, since the core's geometry counts a
near-miss within its error bound as a conflict (invariant 7).

Properties (rule ids in docs/RULES.md):
- S1 (R1-R9): a stored verdict is never clear while the oracle finds a conflict or an unknown
  (unanswered, checking, stale AOR, stale track, alert); and it is clear when the oracle finds
  nothing with margin (the recomputation is not stuck).
- S2 (R10): a clear verdict that stops being true is revoked by the same command / tick, with a
  clearance_revoked event.
- S3: adding a presence never turns a not-clear verdict clear.
- S4 (R4): checking never counts as absent (part of the oracle: checking is a reason).
- S5 (R12): disclosure never changes a verdict; nothing sent to a party reveals a position or a
  distance it may not see exactly.
- S6 (R15): decide never mutates the state (World.run checks it on every command), a rejected
  command changes nothing, and replaying the log or loading a snapshot rebuilds an equal state
  (and equal derived structures).
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pyproj import Geod

from accord.core import commands as cmd
from accord.core.decide import decide
from accord.core.disclosure import (
    clearance_view,
    event_view,
    presence_features,
    presence_view,
    timeline,
)
from accord.core.model import Disclosure
from accord.core.state import fingerprint
from accord.errors import AccordError
from accord.geo.cells import coarse_cell
from accord.geo.location import parse_location

from .conftest import LAT0, LON0, World, derived, offset, point, reasons_text, rect

GEOD = Geod(ellps="WGS84")
PARTIES = ("alpha", "bravo", "charlie")
LEVEL_NAMES = ("exact", "coarse", "conflict-only")
MARGIN_M = 0.5
MARGIN_S = 1e-3


def geo_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(GEOD.inv(a[0], a[1], b[0], b[1])[2])


# -- the shadow and the oracle ---------------------------------------------------------------------


@dataclass
class SPresence:
    owner: str
    id: str
    lon: float
    lat: float
    unc: float
    unit: bool
    speed: float | None
    fix: float
    history: list[tuple[float, float]] = field(default_factory=list)
    removed: bool = False


@dataclass
class SClearance:
    id: str
    requester: str
    lon: float
    lat: float
    radius: float
    hazard: float
    ws: float
    we: float
    confirm: tuple[str, ...]
    answers: dict[str, str] = field(default_factory=dict)
    closed: bool = False


@dataclass
class Shadow:
    presences: dict[str, SPresence] = field(default_factory=dict)
    clearances: dict[str, SClearance] = field(default_factory=dict)
    aor: dict[str, int] = field(default_factory=dict)  # party -> max staleness
    heartbeat: dict[str, float] = field(default_factory=dict)
    alerts: list[tuple[float, float, float, float, str]] = field(default_factory=list)


def oracle(sh: Shadow, c: SClearance, now: float) -> tuple[str, bool]:
    """(status, ambiguous): the verdict from first principles at t = max(now, ws)."""
    t = max(now, c.ws)
    conflict = unknown = ambiguous = False
    centre = (c.lon, c.lat)

    def near(d: float, thr: float) -> bool:
        nonlocal ambiguous
        if abs(d - thr) <= MARGIN_M:
            ambiguous = True
        return d <= thr

    for p in sh.presences.values():
        if p.removed:
            continue
        d = max(0.0, geo_m(centre, (p.lon, p.lat)) - c.radius)
        if not p.unit:
            conflict |= near(d, c.hazard + p.unc)
            continue
        age = max(0.0, t - p.fix)
        grown = p.unc + (p.speed or 0.0) * age
        stale = age >= 3600.0 or grown >= 5000.0
        if abs(age - 3600.0) < MARGIN_S or abs(grown - 5000.0) < MARGIN_M:
            ambiguous = True
        if stale:
            if near(d, c.hazard + p.unc):
                conflict = True
            elif near(d, c.hazard + grown):
                unknown = True
        else:
            conflict |= near(d, c.hazard + grown)
    for party in c.confirm:
        a = c.answers.get(party)
        if a == "present":
            conflict = True
        elif a != "absent":
            unknown = True  # not answered, or checking: never absent (R3, R4)
    for party, staleness in sh.aor.items():  # every AOR covers the whole test region
        hb = sh.heartbeat.get(party)
        if hb is None or t >= hb + staleness:
            unknown = True
        if hb is not None and abs(t - (hb + staleness)) < MARGIN_S:
            ambiguous = True
    for alon, alat, radius, raised, _party in sh.alerts:
        if raised <= t < raised + 3600.0:
            d = max(0.0, geo_m(centre, (alon, alat)) - radius - c.radius)
            conflict |= near(d, c.hazard)
        if abs(t - (raised + 3600.0)) < MARGIN_S:
            ambiguous = True
    if conflict:
        return "conflict", ambiguous
    return ("unresolved" if unknown else "clear"), ambiguous


# -- commands --------------------------------------------------------------------------------------

metres = st.one_of(st.integers(-1200, 1200), st.sampled_from([0, 150, -150, 600]))
# units also far out: a fast unit tens of km away may still reach a clearance before its
# valid_until (R10), and one with a late fix may be stale and reach far at once (R6)
unit_metres = st.one_of(metres, st.sampled_from([12_000, 25_000, -60_000, 150_000]))
level = st.sampled_from(LEVEL_NAMES)
party = st.sampled_from(PARTIES)
ops = st.one_of(
    st.tuples(st.just("site"), party, metres, metres, st.sampled_from([5.0, 50.0]), level),
    st.tuples(
        st.just("unit"),
        party,
        unit_metres,
        unit_metres,
        st.sampled_from([5.0, 30.0]),
        st.sampled_from([None, 0.0, 5.0, 20.0, 300.0]),
        level,
    ),
    # a move, its fix taken some seconds before now (but not before the unit's last fix)
    st.tuples(
        st.just("move"),
        st.integers(0, 9),
        unit_metres,
        unit_metres,
        st.sampled_from([0.0, 0.0, 300.0, 4000.0]),
    ),
    st.tuples(st.just("remove"), st.integers(0, 9)),
    # a unit registered again where it is, with another maximum speed (its fix is now)
    st.tuples(st.just("respeed"), st.integers(0, 9), st.sampled_from([None, 1.0, 20.0, 300.0])),
    st.tuples(
        st.just("request"),
        party,
        metres,
        metres,
        st.sampled_from([0.0, 200.0]),
        st.sampled_from([100.0, 800.0]),
        st.sets(party, max_size=2),
        st.sampled_from([0.0, 0.0, 900.0, 5000.0, 30_000.0]),
    ),
    st.tuples(
        st.just("answer"),
        st.integers(0, 5),
        party,
        st.sampled_from(["absent", "absent", "checking", "present"]),
    ),
    st.tuples(st.just("heartbeat"), party),
    st.tuples(st.just("aor"), party),
    st.tuples(st.just("advance"), st.sampled_from([1.0, 30.0, 119.0, 600.0, 2000.0])),
    st.tuples(st.just("alert"), party, metres, metres, st.sampled_from([300.0, 1500.0])),
    st.tuples(st.just("close"), st.integers(0, 5)),
)
scenarios = st.lists(ops, min_size=8, max_size=30)


class Runner:
    """Plays a scenario on a World and on the shadow, checking S1-S3 and S6 after every step."""

    def __init__(self, levels: dict[tuple[str, int], str] | None = None) -> None:
        self.w = World()
        for p in PARTIES:
            self.w.party(p)
        self.sh = Shadow()
        self.n = 0
        self.requests = 0
        self.levels = levels
        self.ids: list[str] = []  # presence keys in creation order

    def level_for(self, owner: str, k: int, default: str) -> Disclosure:
        if self.levels is None:
            return Disclosure(default, {})  # type: ignore[arg-type]
        per = {p: self.levels.get((p, k), "conflict-only") for p in PARTIES if p != owner}
        return Disclosure("conflict-only", per)  # type: ignore[arg-type]

    def now(self) -> float:
        return self.w.now.timestamp()

    def xy(self, x: int, y: int, jitter: float) -> tuple[float, float]:
        return offset(LON0, LAT0, x + jitter, y + 0.7 * jitter)

    def live_unit(self, i: int) -> SPresence | None:
        """The ``i``-th (modulo) unit not removed, in creation order; None if there is none."""
        units = [
            k for k in self.ids if self.sh.presences[k].unit and not self.sh.presences[k].removed
        ]
        return self.sh.presences[units[i % len(units)]] if units else None

    def step(self, op: tuple[Any, ...]) -> None:
        before = {cid: c.basis for cid, c in self.w.state.clearances.items()}
        events = self.apply(op)
        if events is None:
            return
        self.check(op, before, events)

    def apply(self, op: tuple[Any, ...]) -> list[dict[str, Any]] | None:
        kind = op[0]
        self.n += 1
        n = self.n
        if kind in ("site", "unit"):
            owner, x, y, unc = op[1], op[2], op[3], op[4]
            lon, lat = self.xy(x, y, 0.1234567 * n)
            speed = op[5] if kind == "unit" else None
            lvl = self.level_for(owner, n, op[-1])
            pid = f"p{n}"
            if kind == "site":
                ev = self.w.site(owner, pid, lon, lat, unc, disclosure=lvl)
            else:
                ev = self.w.unit(owner, pid, lon, lat, unc, speed, disclosure=lvl)
            self.sh.presences[f"{owner}:{pid}"] = SPresence(
                owner, pid, lon, lat, unc, kind == "unit", speed, self.now(), [(lon, lat)]
            )
            self.ids.append(f"{owner}:{pid}")
            return ev
        if kind == "move":
            p = self.live_unit(op[1])
            if p is None:
                return None
            lon, lat = self.xy(op[2], op[3], 0.3456789 * n)
            fix = max(p.fix, self.now() - op[4])
            at = datetime.fromtimestamp(fix, UTC)
            ev = self.w.move(p.owner, p.id, lon, lat, p.unc, at=at)
            p.lon, p.lat, p.fix = lon, lat, fix
            p.history.append((lon, lat))
            return ev
        if kind == "respeed":
            p = self.live_unit(op[1])
            if p is None:
                return None
            lvl = self.level_for(p.owner, int(p.id[1:]), "exact")
            ev = self.w.unit(p.owner, p.id, p.lon, p.lat, p.unc, op[2], disclosure=lvl)
            p.speed, p.fix = op[2], self.now()
            p.history.append((p.lon, p.lat))
            return ev
        if kind == "remove":
            live = [k for k in self.ids if not self.sh.presences[k].removed]
            if not live:
                return None
            p = self.sh.presences[live[op[1] % len(live)]]
            p.removed = True
            return self.w.run(cmd.RemovePresence(p.owner, p.id))
        if kind == "request":
            if self.requests >= 5:  # stay inside the probing budget (R14): same history always
                return None
            self.requests += 1
            requester, x, y, radius, hazard, confirm, start = op[1:]
            lon, lat = self.xy(x, y, 0.9876543 * n)
            confirm = tuple(sorted(confirm - {requester}))
            cid = f"c{n}"
            ev = self.w.request(
                requester,
                lon,
                lat,
                radius,
                hazard,
                cid=cid,
                confirm=confirm,
                start=start,
                minutes=180,
            )
            ws = self.now() + start
            self.sh.clearances[cid] = SClearance(
                cid, requester, lon, lat, radius, hazard, ws, ws + 180 * 60, confirm
            )
            return ev
        if kind == "answer":
            open_ = [c for c in self.sh.clearances.values() if c.confirm and not c.closed]
            if not open_:
                return None
            c = open_[op[1] % len(open_)]
            who = c.confirm[PARTIES.index(op[2]) % len(c.confirm)]
            ev = self.w.run(cmd.AnswerClearance(who, c.id, op[3]))
            c.answers[who] = op[3]
            return ev
        if kind == "heartbeat":
            ev = self.w.run(cmd.Heartbeat(op[1]))
            self.sh.heartbeat[op[1]] = self.now()
            return ev
        if kind == "aor":
            area = rect(LON0 - 0.3, LAT0 - 0.3, LON0 + 0.3, LAT0 + 0.3)
            ev = self.w.run(cmd.SetAor(op[1], area[0], area[1], 120))
            self.sh.aor[op[1]] = 120
            return ev
        if kind == "advance":
            return self.w.advance(op[1])
        if kind == "alert":
            lon, lat = self.xy(op[2], op[3], 0.5678901 * n)
            ev = self.w.run(
                cmd.RaiseAlert(op[1], "under_fire", parse_location(point(lon, lat)), op[4])
            )
            self.sh.alerts.append((lon, lat, op[4], self.now(), op[1]))
            return ev
        if kind == "close":
            open_ = [c for c in self.sh.clearances.values() if not c.closed]
            if not open_:
                return None
            c = open_[op[1] % len(open_)]
            ev = self.w.run(cmd.CloseClearance(c.requester, c.id))
            c.closed = True
            return ev
        raise AssertionError(kind)

    def check(
        self, op: tuple[Any, ...], before: dict[str, str], events: list[dict[str, Any]]
    ) -> None:
        now = self.now()
        revoked = {e["clearance"] for e in events if e["type"] == "clearance_revoked"}
        touched = {
            e.get("clearance") or e.get("id")
            for e in events
            if "reasons" in e and e.get("attempt", 1) == 1
        }
        for cid, sc in self.sh.clearances.items():
            c = self.w.state.clearances[cid]
            if sc.closed:
                assert c.status == "closed"
                continue
            if now >= sc.we:
                continue
            want, ambiguous = oracle(self.sh, sc, now)
            assert (c.status == "clear") == (c.basis == "clear"), (cid, c.status, c.basis)
            if want != "clear":
                # S1: never clear while something is in conflict or unknown
                assert c.basis != "clear", (op, cid, want, c.reasons)
                # S2: a clear verdict that stopped being true is revoked now, with an event
                if before.get(cid) == "clear":
                    assert c.status == "revoked"
                    assert cid in revoked
            v = c.valid_until
            if c.basis == "clear" and v is not None and v > now + 2 * MARGIN_S:
                # S2 (R10): with no new input, a clear verdict stays true until its valid_until
                later, unsure = oracle(self.sh, sc, v - MARGIN_S)
                assert unsure or later == "clear", (op, cid, later, v - now)
            if not ambiguous and want == "clear":
                # ... and clear when nothing is there (the recomputation is not stuck)
                assert c.basis == "clear", (op, cid, want, c.basis, c.reasons)
            if not ambiguous and want == "conflict" and cid in touched:
                # a recomputed verdict reports a conflict as a conflict (time alone may turn an
                # unresolved verdict into a conflict before the next input; see RULES.md R10)
                assert c.basis == "conflict", (op, cid, want, c.basis, c.reasons)
            if op[0] in ("site", "unit") and before.get(cid) not in (None, "clear"):
                # S3: adding a presence never turns a not-clear verdict clear
                assert c.basis != "clear"

    def try_rejected(self) -> None:
        """S6: a rejected command changes nothing."""
        fp = fingerprint(self.w.state)
        for command in (
            cmd.RemovePresence("alpha", "nope"),
            cmd.AnswerClearance("alpha", "nope", "absent"),
            cmd.CloseClearance("bravo", next(iter(self.sh.clearances), "x")),
        ):
            with contextlib.suppress(AccordError):
                decide(self.w.state, command, self.w.now)
            assert fingerprint(self.w.state) == fp


SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@SETTINGS
@given(scenarios)
@example(
    [
        ("unit", "alpha", 0, 0, 5.0, 5.0, "exact"),
        ("request", "bravo", 0, 0, 0.0, 100.0, set(), 0.0),
        ("move", 0, 2000, 2000, 0.0),
        ("move", 0, 0, 0, 0.0),
    ]
)
@example(
    [  # a unit's late fix: stale at once, its grown disc reaches 12 km (R6, R11)
        ("unit", "alpha", 150_000, 0, 5.0, 5.0, "exact"),
        ("request", "bravo", 0, 0, 0.0, 100.0, set(), 0.0),
        ("advance", 2000.0),
        ("advance", 2000.0),
        ("move", 0, 0, 12_000, 4000.0),
    ]
)
@example(
    [  # a clearance starting later: a unit 25 km away reaches it by its start (R6, R11)
        ("unit", "alpha", 150_000, 0, 5.0, 5.0, "exact"),
        ("request", "bravo", 0, 0, 0.0, 100.0, set(), 5000.0),
        ("unit", "charlie", 0, 25_000, 5.0, 5.0, "exact"),
    ]
)
@example(
    [  # the same through a move
        ("unit", "alpha", 150_000, 0, 5.0, 5.0, "exact"),
        ("request", "bravo", 0, 0, 0.0, 100.0, set(), 5000.0),
        ("move", 0, 0, 25_000, 0.0),
    ]
)
def test_s1_s2_s3_s6_random_sequences_against_the_oracle(scenario: list[tuple[Any, ...]]) -> None:
    """S1, S2, S3, S4 (via the oracle), S6: see the module docstring."""
    r = Runner()
    for op in scenario:
        r.step(op)
    r.try_rejected()
    replayed = r.w.replayed()
    assert fingerprint(replayed) == fingerprint(r.w.state)
    # the reasons applied as decided are those a replay reads back, number types included
    assert reasons_text(replayed) == reasons_text(r.w.state)
    # R15: a snapshot holds the same facts, and rebuilds the same derived structures
    restored = r.w.restored()
    assert fingerprint(restored) == fingerprint(r.w.state)
    assert derived(restored) == derived(replayed)


# -- S5: disclosure --------------------------------------------------------------------------------


def _verdicts(r: Runner) -> dict[str, tuple[object, ...]]:
    return {
        cid: (c.status, c.basis, tuple(x.key() for x in c.reasons), c.valid_until, c.version)
        for cid, c in r.w.state.clearances.items()
    }


def _formats(lon: float, lat: float) -> set[str]:
    out = set()
    for v in (lon, lat):
        out |= {repr(v), f"{v:.6f}", f"{v:.5f}", json.dumps(v)}
    return out


def _outputs(r: Runner, viewer: str) -> str:
    """Everything the core would send ``viewer``: events, presences, features, clearances,
    timeline, and the messages of errors it could provoke about others' presences."""
    s = r.w.state
    out: list[Any] = [event_view(s, e, viewer) for e in r.w.log]
    box = (LON0 - 0.05, LAT0 - 0.05, LON0 + 0.05, LAT0 + 0.05)
    out.append(presence_features(s, viewer, None))
    out.append(presence_features(s, viewer, box))
    out.append(timeline(s, r.w.log, viewer, None, None, box))
    for key in r.ids:
        pid = key.split(":")[1]
        out.append(presence_view(s, pid, viewer))
        for command in (
            cmd.RemovePresence(viewer, pid),
            cmd.UpdatePositions(
                viewer, (cmd.PositionUpdate(pid, parse_location(point(LON0, LAT0)), 1.0, r.w.now),)
            ),
        ):
            try:
                decide(s, command, r.w.now)
            except AccordError as exc:
                out.append(str(exc))
    for cid in s.clearances:
        out.append(clearance_view(s, cid, viewer))
    return json.dumps(out, default=str)


def _walk(obj: Any, visit: Any) -> None:
    if isinstance(obj, dict):
        visit(obj)
        for v in obj.values():
            _walk(v, visit)
    elif isinstance(obj, list):
        for v in obj:
            _walk(v, visit)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scenarios,
    st.dictionaries(st.tuples(party, st.integers(1, 30)), level, max_size=40),
    st.dictionaries(st.tuples(party, st.integers(1, 30)), level, max_size=40),
)
def test_s5_disclosure_never_changes_a_verdict_and_never_leaks(
    scenario: list[tuple[Any, ...]],
    levels_a: dict[tuple[str, int], str],
    levels_b: dict[tuple[str, int], str],
) -> None:
    """S5 (R12): the same scenario under two disclosure settings gives identical verdicts; and
    no output to a party holds a coordinate of, or a distance to, a presence it may not see
    exactly (coordinates searched as repr, JSON and 5-6 decimal roundings)."""
    ra, rb = Runner(levels_a), Runner(levels_b)
    for op in scenario:
        ra.apply(op)
        rb.apply(op)
    assert _verdicts(ra) == _verdicts(rb)
    r = ra
    s = r.w.state
    for viewer in PARTIES:
        text = _outputs(r, viewer)
        allowed: set[str] = set()
        forbidden: set[str] = set()
        hidden_ids: set[tuple[str, str]] = set()
        for key, sp in r.sh.presences.items():
            rec = s.presences.get(key)
            disc = rec.disclosure if rec is not None else s.tombstones[key][1]
            visible = sp.owner == viewer or disc.level(viewer) == "exact"
            for lon, lat in sp.history:
                (allowed if visible else forbidden).update(_formats(lon, lat))
            if not visible:
                hidden_ids.add((sp.owner, sp.id))
        for c in r.sh.clearances.values():
            allowed |= _formats(c.lon, c.lat)
        for lon, lat, _r, _t, who in r.sh.alerts:
            (allowed if who == viewer else forbidden).update(_formats(lon, lat))
        leaked = {
            f
            for f in forbidden - allowed
            if re.search(r"(?<![\d.])" + re.escape(f) + r"(?!\d)", text)
        }
        assert not leaked, (viewer, leaked)

        coarse_cells = set()
        for key, sp in r.sh.presences.items():
            rec = s.presences.get(key)
            disc = rec.disclosure if rec is not None else s.tombstones[key][1]
            if sp.owner != viewer and disc.level(viewer) == "coarse":
                coarse_cells |= {(sp.owner, coarse_cell(lon, lat).id) for lon, lat in sp.history}

        def visit(
            d: dict[str, Any],
            viewer: str = viewer,
            coarse_cells: set[tuple[str, str]] = coarse_cells,
            hidden_ids: set[tuple[str, str]] = hidden_ids,
        ) -> None:
            if "code" in d and "cell" in d:
                # a cell in a reason only for a presence shown coarse to this viewer
                assert (d.get("party"), d["cell"]["id"]) in coarse_cells, (viewer, d)
            if ("distance_m" in d or "geometry" in d or "presence" in d) and "code" in d:
                if "presence" not in d:
                    assert d["code"] == "boundary_discrepancy" or "distance_m" not in d, d
                else:
                    assert (d.get("party"), d["presence"]) not in hidden_ids, (viewer, d)

        _walk(json.loads(text), visit)
