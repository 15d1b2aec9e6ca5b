"""A service on the shared PostgreSQL store under concurrent writers (issue 6): the writers of one
process share turns at the log, and still every command is decided on the whole log, alone in
its outcome, and answered only once durable (invariant 4); the log keeps one gapless order
across services and never changes what it holds (invariant 5).

Everything is real: the throwaway PostgreSQL cluster (tests/integration/pg.py), the store, the
service and its core. A storage failure is a trigger in the database that refuses an insert.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.integration import pg

from accord.core import commands as cmd
from accord.core.decide import evolve
from accord.core.state import State, fingerprint
from accord.errors import AccordError, Conflict, Forbidden, InvalidInput, StorageError
from accord.service import Service
from accord.store.postgres import PostgresStore

T0 = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
NAMES = ("alpha", "bravo", "charlie", "delta", "echo")


class Clock:
    """Advances 1 ms a reading (several threads read it); ``hold()`` makes the next reading
    wait until ``release()``, and says when a writer is waiting on it (``held``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._now = T0
        self._open = threading.Event()
        self._open.set()
        self.held = threading.Event()

    def __call__(self) -> datetime:
        if not self._open.is_set():
            self.held.set()
            assert self._open.wait(30)
        with self._lock:
            self._now += timedelta(milliseconds=1)
            return self._now

    def hold(self) -> None:
        self.held.clear()
        self._open.clear()

    def release(self) -> None:
        self._open.set()


@pytest.fixture
def url(pg_cluster: pg.Cluster) -> Iterator[str]:
    with pg.fresh_schema() as fresh:
        yield fresh


def replayed(url: str) -> tuple[State, list[dict[str, Any]]]:
    """The state a replay of the whole log gives, and the log's events (checked gapless)."""
    state, events = State.empty(), []
    with PostgresStore(url) as store:
        for k, rec in enumerate(store.read()):
            event = json.loads(rec.event)
            assert rec.index == k == event["log_index"]
            events.append(event)
            state = evolve(state, event)
    return state, events


@dataclass
class Outcome:
    command: Any
    events: list[dict[str, Any]] | None = None
    error: BaseException | None = None


def run(service: Service, command: Any) -> Outcome:
    try:
        if command == "tick":
            return Outcome(command, events=service.run_timers())
        return Outcome(command, events=service.execute(command))
    except AccordError as exc:
        return Outcome(command, error=exc)


def in_threads(service: Service, plans: list[list[Any]]) -> list[Outcome]:
    """Run each plan of commands in a thread of its own, all at once; every outcome."""
    outcomes: list[list[Outcome]] = [[] for _ in plans]
    start = threading.Barrier(len(plans))

    def worker(k: int) -> None:
        start.wait()
        outcomes[k].extend(run(service, command) for command in plans[k])

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(len(plans))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    return [o for mine in outcomes for o in mine]


def wait_queued(service: Service, n: int) -> None:
    """Wait until ``n`` writers queue behind the leader (the service's queue of calls)."""
    deadline = time.monotonic() + 30
    while len(service._calls) < n:
        assert time.monotonic() < deadline, f"{len(service._calls)} of {n} writers queued"
        time.sleep(0.01)


def assert_logged_exactly_once(outcomes: list[Outcome], log: list[dict[str, Any]]) -> None:
    """Every answered event is in the log once, at its index, as answered; the answered events
    are the log's tail (what comes before them was written before the outcomes' commands)."""
    answered = [e for o in outcomes if o.events for e in o.events]
    indexes = sorted(e["log_index"] for e in answered)
    assert len(set(indexes)) == len(indexes)
    assert indexes == list(range(len(log) - len(answered), len(log)))
    for event in answered:
        assert log[event["log_index"]] == event


def commands_of(ops: list[tuple[str, int]]) -> list[Any]:
    out: list[Any] = []
    for op, k in ops:
        name = NAMES[k % len(NAMES)]
        if op == "register":
            out.append(cmd.RegisterParty("admin", name, name.upper()))
        elif op == "intruder":
            out.append(cmd.RegisterParty(name, f"{name}-2", "Not the admin"))
        elif op == "bad-id":
            out.append(cmd.RegisterParty("admin", f"{name}:x", "Bad"))
        elif op == "heartbeat":
            out.append(cmd.Heartbeat(name))
        else:
            out.append("tick")
    return out


OPS = st.tuples(
    st.sampled_from(["register", "intruder", "bad-id", "heartbeat", "tick"]), st.integers(0, 9)
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans=st.lists(st.lists(OPS, min_size=1, max_size=8), min_size=2, max_size=6))
def test_concurrent_writers_of_one_service_each_get_their_own_outcome_and_one_log(
    pg_cluster: pg.Cluster, plans: list[list[tuple[str, int]]]
) -> None:
    with pg.fresh_schema() as url:
        service = Service(PostgresStore(url), Clock())
        try:
            outcomes = in_threads(service, [commands_of(p) for p in plans])
            state, log = replayed(url)
            assert_logged_exactly_once(outcomes, log)
            assert fingerprint(service.state) == fingerprint(state)
            assert service.durable_size == service.tree.size == len(log)
            registered: dict[str, int] = {}
            for o in outcomes:
                c = o.command
                if isinstance(c, cmd.RegisterParty) and c.party != "admin":
                    assert isinstance(o.error, Forbidden), o
                    assert "only the administrator" in str(o.error)
                elif isinstance(c, cmd.RegisterParty) and ":" in c.id:
                    assert isinstance(o.error, InvalidInput), o
                elif isinstance(c, cmd.RegisterParty):
                    if o.error is None:
                        assert o.events is not None
                        assert c.id not in registered  # one registration of a name succeeds
                        registered[c.id] = o.events[0]["log_index"]
                    else:
                        assert isinstance(o.error, Conflict), o
                elif isinstance(c, cmd.Heartbeat) and o.error is not None:
                    assert isinstance(o.error, Forbidden), o
                    assert "is not registered" in str(o.error)
                else:
                    assert o.error is None, o
            every_registration = {
                c.id
                for o in outcomes
                if isinstance(c := o.command, cmd.RegisterParty) and c.party == "admin"
            }
            assert set(registered) == {n for n in every_registration if ":" not in n}
            for o in outcomes:  # a heartbeat succeeded only once its party was registered
                if isinstance(o.command, cmd.Heartbeat) and o.events:
                    assert registered[o.command.party] < o.events[0]["log_index"]
        finally:
            service.close()
        again = Service(PostgresStore(url), Clock())
        try:
            assert fingerprint(again.state) == fingerprint(service.state)
            assert again.tree.root() == service.tree.root()
        finally:
            again.close()


def test_writers_queued_during_a_turn_share_the_next_transaction(url: str) -> None:
    """Commands that arrive while a turn is being decided join it: one commit (one NOTIFY) for
    all of them, each answered with its own events or its own rejection."""
    clock = Clock()
    store = PostgresStore(url)
    service = Service(store, clock)
    try:
        service.execute(cmd.RegisterParty("admin", "alpha", "Alpha"))
        outcomes: list[Outcome] = []

        def start(command: Any) -> threading.Thread:
            thread = threading.Thread(target=lambda: outcomes.append(run(service, command)))
            thread.start()
            return thread

        with psycopg.connect(url, autocommit=True) as listener:
            listener.execute(f'LISTEN "{store.channel}"'.encode())
            clock.hold()
            threads = [start(cmd.Heartbeat("alpha"))]
            assert clock.held.wait(10)  # the leader is deciding, under the log's lock
            rest = [cmd.Heartbeat("alpha"), cmd.Heartbeat("nobody"), "tick"] * 5
            threads += [start(c) for c in rest]
            wait_queued(service, len(rest))
            clock.release()
            for t in threads:
                t.join(30)
            notified = [n.payload for n in listener.notifies(timeout=0.5, stop_after=100)]
        assert len(outcomes) == 16
        assert notified == [str(service.tree.size)]  # one transaction for all sixteen
        refused = [o for o in outcomes if o.error is not None]
        assert [type(o.error) for o in refused] == [Forbidden] * 5
        assert all(o.command == cmd.Heartbeat("nobody") for o in refused)
        state, log = replayed(url)
        assert_logged_exactly_once(outcomes, log)
        assert fingerprint(service.state) == fingerprint(state)
    finally:
        service.close()


def test_two_services_on_one_database_keep_one_log_and_converge(url: str) -> None:
    a = Service(PostgresStore(url), Clock())
    b = Service(PostgresStore(url), Clock())
    try:
        outcomes: list[Outcome] = []

        def write(service: Service, plans: list[list[Any]]) -> None:
            outcomes.extend(in_threads(service, plans))

        plan_a = [[cmd.RegisterParty("admin", n, n), cmd.Heartbeat(n), "tick"] for n in NAMES]
        plan_b = [[cmd.Heartbeat(n), cmd.RegisterParty("admin", n, n), "tick"] for n in NAMES]
        threads = [
            threading.Thread(target=write, args=(a, plan_a * 2)),
            threading.Thread(target=write, args=(b, plan_b * 2)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        state, log = replayed(url)
        assert_logged_exactly_once(outcomes, log)
        registrations = [e for e in log if e["type"] == "party_registered"]
        assert sorted(e["id"] for e in registrations) == sorted(NAMES)  # each name once
        for service in (a, b):  # each follows what the other wrote
            deadline = time.monotonic() + 10
            while service.durable_size < len(log) and time.monotonic() < deadline:
                service.wait_for(service.durable_size, 0.5)
            assert service.durable_size == service.tree.size == len(log)
            assert fingerprint(service.read(lambda s: s)) == fingerprint(state)
        assert a.tree.root() == b.tree.root()
        assert a.head().root_hash == b.head().root_hash
    finally:
        a.close()
        b.close()


def refuse_inserts_from(url: str, index: int) -> None:
    """A real storage failure: the database refuses to insert log records from ``index`` on."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            f"""CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF NEW.idx >= {index} THEN RAISE EXCEPTION 'no space left (test)'; END IF;
                    RETURN NEW;
                END $$""".encode()
        )
        conn.execute(
            b"CREATE TRIGGER refuse BEFORE INSERT ON accord_log "
            b"FOR EACH ROW EXECUTE FUNCTION refuse()"
        )


def test_a_storage_failure_fails_every_caller_of_the_turn_and_nothing_of_it_is_answered(
    url: str,
) -> None:
    clock = Clock()
    service = Service(PostgresStore(url), clock)
    try:
        service.execute(cmd.RegisterParty("admin", "alpha", "Alpha"))
        before, state_before = service.tree.size, fingerprint(service.state)
        refuse_inserts_from(url, before + 3)  # the turn's fourth record
        clock.hold()
        plans = [[cmd.Heartbeat("alpha")] for _ in range(8)] + [[cmd.Heartbeat("nobody")]]
        outcomes: list[Outcome] = []
        runner = threading.Thread(target=lambda: outcomes.extend(in_threads(service, plans)))
        runner.start()
        assert clock.held.wait(10)
        wait_queued(service, len(plans) - 1)
        clock.release()
        runner.join(60)
        assert len(outcomes) == 9
        for o in outcomes:  # the refused heartbeat too: it was decided on a state now lost
            assert o.events is None
            assert isinstance(o.error, StorageError), o
            assert "the event store failed" in str(o.error)
            assert "no space left (test)" in str(o.error)
        assert service.durable_size == before  # no event stream was woken
        with pytest.raises(StorageError, match="failed earlier; restart the service"):
            service.execute(cmd.Heartbeat("alpha"))
        with pytest.raises(StorageError, match="failed earlier"):
            service.run_timers()
    finally:
        service.close()
    state, log = replayed(url)
    assert len(log) == before
    assert fingerprint(state) == state_before
    again = Service(PostgresStore(url), Clock())  # a restart recovers, from the log
    try:
        assert fingerprint(again.state) == state_before
        assert again.execute(cmd.Heartbeat("alpha"))[0]["log_index"] == before
    finally:
        again.close()


def test_a_turn_that_cannot_get_the_lock_fails_its_callers_and_the_service_goes_on(
    url: str,
) -> None:
    service = Service(PostgresStore(url, lock_timeout_s=0.3), Clock())
    other = PostgresStore(url)
    try:
        service.execute(cmd.RegisterParty("admin", "alpha", "Alpha"))
        size = service.tree.size
        outcomes: list[Outcome] = []

        def hold_the_lock(behind: list[Any]) -> list[Any]:
            outcomes.extend(in_threads(service, [[cmd.Heartbeat("alpha")]] * 4))
            return []

        other.catch_up_and_append(size, hold_the_lock)
        assert len(outcomes) == 4
        for o in outcomes:
            assert isinstance(o.error, StorageError), o
            assert "timed out waiting for another process's lock" in str(o.error)
        assert service.tree.size == size  # nothing was decided
        assert service.execute(cmd.Heartbeat("alpha"))[0]["log_index"] == size
    finally:
        other.close()
        service.close()
