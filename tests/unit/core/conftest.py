"""Builders for core tests: a small World that decides, logs and evolves like the service does
(events get a log_index and go through RFC 8785 JSON before a replay), with a hand-moved clock."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import rfc8785
from pyproj import Geod

from accord.core import commands as cmd
from accord.core.decide import decide, evolve, tick
from accord.core.model import Disclosure, Level
from accord.core.state import State, fingerprint, from_snapshot, to_snapshot
from accord.geo.index import SpatialIndex
from accord.geo.location import parse_location
from accord.geo.shapes import Area, Disc, Shape

T0 = datetime(2026, 11, 26, 22, 0, tzinfo=UTC)
LON0, LAT0 = 71.0, 34.9  # the reference region (Khyber border area)


def point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


def rect(w: float, s: float, e: float, n: float) -> tuple[Area, dict[str, Any]]:
    ring = [[w, s], [e, s], [e, n], [w, n], [w, s]]
    return (
        Area(((tuple((x, y) for x, y in ring),),)),
        {"type": "Polygon", "coordinates": [ring]},
    )


def offset(lon: float, lat: float, east_m: float, north_m: float) -> tuple[float, float]:
    """A point ``east_m`` / ``north_m`` away (good to a few cm over a few km)."""
    g = Geod(ellps="WGS84")
    lon1, lat1, _ = g.fwd(lon, lat, 90.0, east_m) if east_m else (lon, lat, 0.0)
    lon2, lat2, _ = g.fwd(lon1, lat1, 0.0, north_m) if north_m else (lon1, lat1, 0.0)
    return float(lon2), float(lat2)


@dataclass
class World:
    """Runs commands like the service: decide, stamp log_index, evolve; keeps the log."""

    now: datetime = T0
    state: State = field(default_factory=State.empty)
    log: list[dict[str, Any]] = field(default_factory=list)

    # -- running ----------------------------------------------------------------------------------

    def apply(self, events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        for e in events:
            e["log_index"] = len(self.log)
            # what the log stores is the canonical JSON; keep that form
            self.log.append(json.loads(rfc8785.dumps(e)))
            self.state = evolve(self.state, e)
        return list(events)

    def run(self, command: cmd.Command) -> list[dict[str, Any]]:
        before = fingerprint(self.state)
        events = decide(self.state, command, self.now)
        assert fingerprint(self.state) == before, "decide mutated the state"
        return self.apply(events)

    def advance(self, seconds: float) -> list[dict[str, Any]]:
        """Move the clock and run tick, like the shell's timer."""
        self.now += timedelta(seconds=seconds)
        return self.apply(tick(self.state, self.now))

    def replayed(self) -> State:
        s = State.empty()
        for e in self.log:
            s = evolve(s, e)
        return s

    def restored(self) -> State:
        """The state from a snapshot of the current one."""
        return from_snapshot(to_snapshot(self.state))

    # -- builders ---------------------------------------------------------------------------------

    def party(
        self, pid: str, *, aor: tuple[Area, dict[str, Any]] | None = None, staleness: int = 600
    ) -> None:
        self.run(cmd.RegisterParty("admin", pid, pid.upper()))
        if aor is not None:
            self.run(cmd.SetAor(pid, aor[0], aor[1], staleness))
            self.run(cmd.Heartbeat(pid))

    def site(
        self,
        owner: str,
        pid: str,
        lon: float,
        lat: float,
        unc: float = 10.0,
        *,
        disclosure: Disclosure | None = None,
        default: Level = "conflict-only",
        valid_from: datetime | None = None,
        valid_until: datetime | None = None,
    ) -> list[dict[str, Any]]:
        return self.run(
            presence_cmd(
                owner,
                pid,
                lon,
                lat,
                unc,
                disclosure=disclosure or Disclosure(default, {}),
                valid_from=valid_from,
                valid_until=valid_until,
            )
        )

    def unit(
        self,
        owner: str,
        pid: str,
        lon: float,
        lat: float,
        unc: float = 10.0,
        speed: float | None = 10.0,
        *,
        disclosure: Disclosure | None = None,
    ) -> list[dict[str, Any]]:
        return self.run(
            presence_cmd(
                owner,
                pid,
                lon,
                lat,
                unc,
                kind="unit",
                speed=speed,
                disclosure=disclosure or Disclosure("conflict-only", {}),
            )
        )

    def move(
        self,
        owner: str,
        pid: str,
        lon: float,
        lat: float,
        unc: float = 10.0,
        at: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """A position fix taken ``at`` (default: now)."""
        upd = cmd.PositionUpdate(pid, parse_location(point(lon, lat)), unc, at or self.now)
        return self.run(cmd.UpdatePositions(owner, (upd,)))

    def request(
        self,
        requester: str,
        lon: float,
        lat: float,
        radius: float = 100.0,
        hazard: float = 500.0,
        *,
        cid: str | None = None,
        confirm: tuple[str, ...] = (),
        start: float = 0.0,
        minutes: float = 60.0,
        area: tuple[Shape, dict[str, Any]] | None = None,
    ) -> list[dict[str, Any]]:
        shape, js = area if area is not None else (Disc(lon, lat, radius), point(lon, lat))
        return self.run(
            cmd.RequestClearance(
                requester,
                cid,
                shape,
                js,
                None if area is not None else radius,
                None,
                hazard,
                self.now + timedelta(seconds=start),
                self.now + timedelta(seconds=start + minutes * 60),
                "test",
                confirm,
            )
        )

    def status(self, cid: str) -> str:
        return self.state.clearances[cid].status

    def codes(self, cid: str) -> list[str]:
        return [r.code for r in self.state.clearances[cid].reasons]


def presence_cmd(
    owner: str,
    pid: str,
    lon: float,
    lat: float,
    unc: float = 10.0,
    *,
    kind: str = "site",
    speed: float | None = None,
    disclosure: Disclosure | None = None,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
) -> cmd.UpsertPresence:
    return cmd.UpsertPresence(
        party=owner,
        id=pid,
        kind=kind,  # type: ignore[arg-type]
        label=f"{pid} label",
        position=parse_location(point(lon, lat)),
        uncertainty_m=unc,
        area=None,
        area_json=None,
        valid_from=valid_from,
        valid_until=valid_until,
        max_speed_mps=speed,
        disclosure=disclosure or Disclosure("conflict-only", {}),
    )


def reasons_text(state: State) -> str:
    """The clearances' reasons as JSON that tells ``71`` from ``71.0`` (a fingerprint does not)."""
    return json.dumps(
        {k: [r.to_json() for r in c.reasons] for k, c in state.clearances.items()},
        sort_keys=True,
    )


def types(events: Sequence[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


@pytest.fixture
def world() -> World:
    w = World()
    for pid in ("alpha", "bravo", "charlie"):
        w.party(pid)
    return w


@pytest.fixture
def make_world() -> Callable[[], World]:
    return World


def _index(index: SpatialIndex) -> tuple[Any, ...]:
    # the index's own structure: a bulk build must give the very one inserting in turn gives
    return (index._cells, index._entries, index._level_count, index._codes)


def derived(state: State) -> dict[str, Any]:
    """The presences' derived structures (indexes, stale bands, speeds), to compare a state
    rebuilt one way with one rebuilt another way. The stale bands' heap is read as what it
    schedules (each unit's level and when it is due to leave it), after checking that it holds
    the one valid entry of each unit, no later than that."""
    bands = state.stale_bands
    view = bands.view(state.presences)
    entries = set(bands._heap)
    for key, (_level, due) in view["levels"].items():
        if due is None:
            assert key not in bands._queued
        else:
            q = bands._queued[key]
            assert (q, key) in entries and q <= due
    return {
        "sites": _index(state.sites),
        "units": _index(state.units),
        "stale_bands": view,
        "band_areas": {level: _index(b) for level, b in bands._areas.items()},
        "speed_counts": state.speed_counts,
        "max_speed": state.max_speed(),
    }
