"""A service restarts from its store (R15): from the latest snapshot plus the log's tail, or, when
the snapshot cannot be used, from the whole log; either way to the state a full replay gives.
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.unit.core.conftest import LAT0, LON0, derived, offset, point, rect

from accord.core import commands as cmd
from accord.core.decide import evolve
from accord.core.model import Disclosure, ProbePolicy
from accord.core.state import State, fingerprint, to_snapshot
from accord.errors import StorageError
from accord.geo.location import parse_location
from accord.geo.shapes import Disc
from accord.service import Service
from accord.store import Snapshot, open_store

T0 = datetime(2026, 11, 26, 22, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=250)
        return self.now


def _presence(owner: str, pid: str, lon: float, lat: float, **kw: object) -> cmd.UpsertPresence:
    fields: dict[str, object] = {
        "party": owner,
        "id": pid,
        "kind": "site",
        "label": f"{pid} label",
        "position": parse_location(point(lon, lat)),
        "uncertainty_m": 20.0,
        "area": None,
        "area_json": None,
        "valid_from": None,
        "valid_until": None,
        "max_speed_mps": None,
        "disclosure": Disclosure("conflict-only", {}),
    }
    fields.update(kw)
    return cmd.UpsertPresence(**fields)  # type: ignore[arg-type]


def _first_part(service: Service, clock: Clock) -> str:
    for pid in ("alpha", "bravo", "charlie"):
        service.execute(cmd.RegisterParty("admin", pid, pid.upper()))
    items = tuple(
        _presence("bravo", f"s{i}", *offset(LON0, LAT0, 150.0 * i, 40.0 * i)) for i in range(40)
    )
    service.execute(cmd.UpsertPresences("bravo", items))
    area, area_json = rect(LON0 + 0.05, LAT0, LON0 + 0.06, LAT0 + 0.01)
    service.execute(
        cmd.UpsertPresences(
            "charlie",
            (
                _presence("charlie", "u1", LON0 + 0.02, LAT0, kind="unit", max_speed_mps=12.0),
                _presence(
                    "charlie",
                    "a1",
                    0.0,
                    0.0,
                    position=None,
                    area=area,
                    area_json=area_json,
                    disclosure=Disclosure("coarse", {"alpha": "exact"}),
                ),
                _presence(
                    "charlie",
                    "x1",
                    0.0,
                    0.0,
                    position=parse_location({"mgrs": "42SXD 12345 67890"}),
                ),
            ),
        )
    )
    service.execute(
        cmd.RequestClearance(
            "alpha",
            None,
            Disc(LON0, LAT0, 100.0),
            point(LON0, LAT0),
            100.0,
            None,
            500.0,
            clock.now,
            clock.now + timedelta(hours=1),
            "test",
            ("bravo",),
        )
    )
    (cid,) = service.state.clearances
    return cid


def _tail(service: Service, clock: Clock, cid: str) -> None:
    service.execute(cmd.RemovePresence("bravo", "s3"))
    service.execute(_presence("bravo", "s4", *offset(LON0, LAT0, 5000.0, 0.0)))
    move = cmd.PositionUpdate(
        "u1", parse_location(point(LON0 + 0.021, LAT0)), 8.0, clock.now + timedelta(seconds=1)
    )
    clock.now += timedelta(seconds=2)
    service.execute(cmd.UpdatePositions("charlie", (move,)))
    service.execute(cmd.AnswerClearance("bravo", cid, "absent"))
    service.run_timers()


def _replayed(data: Path) -> State:
    store = open_store("sqlite://", data)
    s = State.empty()
    for rec in store.read(0):
        s = evolve(s, json.loads(rec.event))
    store.close()
    return s


def _drop_snapshots(data: Path) -> None:
    db = sqlite3.connect(data / "accord.db")
    db.execute("DELETE FROM snapshots")
    db.commit()
    db.close()


@pytest.fixture
def stored(tmp_path: Path) -> tuple[Path, int, int]:
    """A store with a snapshot after the first part, and a tail after it."""
    data = tmp_path / "data"
    data.mkdir()
    clock = Clock()
    service = Service(open_store("sqlite://", data), clock)
    cid = _first_part(service, clock)
    service.snapshot()
    upto = service.tree.size
    _tail(service, clock, cid)
    size = service.tree.size
    service.close()
    assert size > upto
    return data, upto, size


def test_r15_a_restart_from_a_snapshot_and_the_tail_equals_a_full_replay(
    stored: tuple[Path, int, int], tmp_path: Path
) -> None:
    data, upto, size = stored
    full = tmp_path / "full"
    shutil.copytree(data, full)
    _drop_snapshots(full)
    reference = _replayed(full)

    from_snap = Service(open_store("sqlite://", data), Clock())
    replayed = Service(open_store("sqlite://", full), Clock())
    try:
        assert from_snap.restored == size - upto  # only the tail was replayed
        assert replayed.restored == size
        for service in (from_snap, replayed):
            assert fingerprint(service.state) == fingerprint(reference)
            assert derived(service.state) == derived(reference)
            assert service.tree.size == size
        assert from_snap.tree.root(size) == replayed.tree.root(size)
        # and both go on deciding alike
        later = from_snap.clock() + timedelta(minutes=30)
        for service in (from_snap, replayed):
            service.clock = lambda: later
            service.run_timers()
        assert fingerprint(from_snap.state) == fingerprint(replayed.state)
    finally:
        from_snap.close()
        replayed.close()


@pytest.mark.parametrize(
    "data_of",
    [
        pytest.param(lambda state: b'{"format":1,"parties":[]}', id="format-1"),
        pytest.param(lambda state: b"accord snapshot\n\x00\x00\x00\x02garbage", id="damaged"),
        pytest.param(lambda state: to_snapshot(State.empty()), id="not-at-its-index"),
    ],
)
def test_r15_an_unusable_snapshot_is_refused_and_the_whole_log_replayed(
    stored: tuple[Path, int, int],
    caplog: pytest.LogCaptureFixture,
    data_of: object,
) -> None:
    data, _, size = stored
    store = open_store("sqlite://", data)
    snap = store.latest_snapshot()
    assert snap is not None
    # a newer snapshot that this version cannot use (stored intact: its checksum is right)
    store.put_snapshot(Snapshot(size, data_of(None)))  # type: ignore[operator]
    store.close()
    reference = _replayed(data)
    with caplog.at_level(logging.WARNING, logger="accord.service"):
        service = Service(open_store("sqlite://", data), Clock())
    try:
        assert f"the snapshot up to {size} is not used" in caplog.text
        assert "replaying the whole log" in caplog.text
        assert service.restored == size
        assert fingerprint(service.state) == fingerprint(reference)
    finally:
        service.close()


def test_r15_a_snapshot_is_serialised_apart_as_of_the_instant_it_was_asked(tmp_path: Path) -> None:
    """The state is serialised in a forked child (the writer lock is held only for the fork); the
    snapshot stored is the very one the state gives in process, and writes go on after it."""
    clock = Clock()
    service = Service(open_store("sqlite://", tmp_path), clock)
    try:
        cid = _first_part(service, clock)
        service.snapshot()
        snap = service.store.latest_snapshot()
        assert snap is not None
        assert snap.upto_index == service.tree.size
        assert snap.data == to_snapshot(service.state)
        _tail(service, clock, cid)
        assert service.store.latest_snapshot() == snap
    finally:
        service.close()


def test_r15_a_snapshot_that_cannot_be_serialised_stores_nothing_and_says_so(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    clock = Clock()
    service = Service(open_store("sqlite://", tmp_path), clock)
    try:
        _first_part(service, clock)
        service.snapshot()
        before = service.store.latest_snapshot()
        service.state.probes["alpha"] = [float("nan")]  # JSON refuses NaN: the child fails
        with pytest.raises(StorageError, match="snapshot could not be serialised"):
            service.snapshot()
        assert "Out of range float values are not JSON compliant" in capfd.readouterr().err
        assert service.store.latest_snapshot() == before
    finally:
        service.close()


def test_r14_r15_the_log_is_replayed_under_the_services_budgets(tmp_path: Path) -> None:
    """A service without a request budget keeps no list of each party's requests of the last
    hour (R14); its restart replays the log under that policy too, to the same state. (Replayed
    under the default budget, the lists were rebuilt, at a cost quadratic in a party's requests:
    a restart of a few thousand requests took seconds.)"""
    data = tmp_path / "data"
    policy = ProbePolicy(0, 0)
    clock = Clock()
    service = Service(open_store("sqlite://", data), clock, policy)
    try:
        service.execute(cmd.RegisterParty("admin", "alpha", "ALPHA"))
        for i in range(150):  # more than the default budget of an hour
            lon, lat = offset(LON0, LAT0, 300.0 * i, 0.0)
            service.execute(
                cmd.RequestClearance(
                    "alpha",
                    None,
                    Disc(lon, lat, 100.0),
                    point(lon, lat),
                    100.0,
                    None,
                    500.0,
                    clock.now,
                    clock.now + timedelta(hours=1),
                    "",
                    (),
                )
            )
        assert service.state.requests == {}
        live = fingerprint(service.state)
        size = service.tree.size
    finally:
        service.close()
    again = Service(open_store("sqlite://", data), Clock(), policy)  # no snapshot: a replay
    try:
        assert again.restored == size
        assert again.state.requests == {}
        assert fingerprint(again.state) == live
    finally:
        again.close()
