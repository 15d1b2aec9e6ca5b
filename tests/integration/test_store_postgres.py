"""What only the PostgreSQL store does: several processes on one log, following it, the writer
lock, integrity checks on open, and durability across a killed client and a crashed server.

The contract every store keeps is in test_store_contract.py, which runs against this store too.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from tests.integration import pg

import accord
from accord.core.commands import Heartbeat, RegisterParty
from accord.errors import InvalidInput, StorageError
from accord.ledger.heads import verify_head
from accord.ledger.proofs import verify_consistency
from accord.service import Service
from accord.store import LogRecord, Snapshot, StoredHead
from accord.store.postgres import PostgresStore

SRC = str(Path(accord.__file__).resolve().parents[1])
ROOT = str(Path(__file__).resolve().parents[2])


def record(i: int) -> LogRecord:
    event = b'{"log_index":%d,"type":"heartbeat"}' % i
    salt = hashlib.sha256(b"salt %d" % i).digest()[:16]
    leaf = hashlib.sha256(b"\x00" + hashlib.sha256(salt + event).digest()).digest()
    return LogRecord(i, "2026-11-22T10:00:00Z", event, salt, leaf)


def records(start: int, stop: int) -> list[LogRecord]:
    return [record(i) for i in range(start, stop)]


def head(size: int) -> StoredHead:
    root = hashlib.sha256(b"root %d" % size).digest()
    return StoredHead(size, root, "2026-11-22T10:00:00Z", b"s" * 64, "key-1")


@pytest.fixture
def url(pg_cluster: pg.Cluster) -> Iterator[str]:
    with pg.fresh_schema() as fresh:
        yield fresh


def sql(url: str, statement: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement.encode())


def child(script: str, url: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, ROOT])}
    return subprocess.Popen(
        [sys.executable, "-c", script, url, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# -- several writers on one log -------------------------------------------------------------


def test_an_append_after_another_process_appended_first_is_refused_and_writes_nothing(
    url: str,
) -> None:
    with PostgresStore(url) as first, PostgresStore(url) as second:
        first.append(records(0, 3))
        with pytest.raises(
            StorageError,
            match=r"index 0, expected 3: .*already holds 3 records \(another process appended",
        ):
            second.append(records(0, 2))
        assert second.next_index() == 3
        assert list(second.read()) == records(0, 3)
        second.append(records(3, 5))
        assert list(first.read()) == records(0, 5)


WRITER = r"""
import hashlib, sys
from accord.errors import StorageError
from accord.store import LogRecord
from accord.store.postgres import PostgresStore

def record(i):
    event = b'{"log_index":%d,"type":"heartbeat"}' % i
    salt = hashlib.sha256(b"salt %d" % i).digest()[:16]
    leaf = hashlib.sha256(b"\x00" + hashlib.sha256(salt + event).digest()).digest()
    return LogRecord(i, "2026-11-22T10:00:00Z", event, salt, leaf)

store = PostgresStore(sys.argv[1])
locked, rounds = sys.argv[2] == "locked", int(sys.argv[3])
seen = 0
for _ in range(rounds):
    try:
        if locked:
            def decide(behind):
                global n
                n = seen + len(behind)   # caught up under the lock: nobody else appends now
                return [record(n), record(n + 1)]
            seen = store.catch_up_and_append(seen, decide)
        else:
            n = store.next_index()
            store.append([record(n), record(n + 1)])
        print("ok", n, flush=True)
    except StorageError as exc:
        assert "another process appended first" in str(exc), exc
        print("refused", flush=True)
store.close()
"""


@pytest.mark.parametrize("mode", ["locked", "unlocked"])
def test_writers_in_three_processes_keep_one_log_order(url: str, mode: str) -> None:
    PostgresStore(url).close()  # create the tables before the race
    procs = [child(WRITER, url, mode, "40") for _ in range(3)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err for _, err in outputs]
    lines = [line for out, _ in outputs for line in out.splitlines()]
    acked = sorted(int(line.split()[1]) for line in lines if line.startswith("ok"))
    with PostgresStore(url) as store:
        log = list(store.read())
    # every acknowledged batch is in the log where its writer put it, and nothing else is
    assert log == records(0, len(log))
    assert acked == list(range(0, len(log), 2))
    if mode == "locked":
        assert len(acked) == 3 * 40  # under the lock, no writer is ever refused


# -- a writer's turn at the log -------------------------------------------------------------

TIMED_OUT = "timed out waiting for another process's lock; nothing was written"


def test_a_turn_holds_other_processes_appends_and_turns_and_the_next_turn_catches_up(
    url: str,
) -> None:
    with PostgresStore(url) as holder, PostgresStore(url, lock_timeout_s=0.3) as other:

        def decide(behind: list[LogRecord]) -> list[LogRecord]:
            assert behind == []
            with pytest.raises(StorageError, match=TIMED_OUT):
                other.append(records(0, 1))
            with pytest.raises(StorageError, match=f"turn after record 0 {TIMED_OUT}"):
                other.catch_up_and_append(0, lambda behind: records(0, 1))
            return records(0, 2)

        assert holder.catch_up_and_append(0, decide) == 2
        seen: list[LogRecord] = []

        def after_the_holder(behind: list[LogRecord]) -> list[LogRecord]:
            seen.extend(behind)
            return records(2, 3)

        assert other.catch_up_and_append(0, after_the_holder) == 3  # released: other writes
        assert seen == records(0, 2)
        assert holder.catch_up_and_append(3, lambda behind: []) == 3
        assert list(holder.read()) == records(0, 3)


def test_an_append_waits_for_a_turn_and_then_sees_what_the_turn_wrote(url: str) -> None:
    with PostgresStore(url) as holder, PostgresStore(url) as other:
        result: list[BaseException | None] = []
        started = threading.Event()

        def late_append() -> None:
            started.set()
            try:
                other.append(records(0, 1))
                result.append(None)
            except BaseException as exc:
                result.append(exc)

        thread = threading.Thread(target=late_append)

        def decide(behind: list[LogRecord]) -> list[LogRecord]:
            thread.start()
            assert started.wait(5)
            thread.join(0.3)
            assert thread.is_alive()  # waiting for the lock
            return records(0, 1)

        holder.catch_up_and_append(0, decide)
        thread.join(10)
        assert len(result) == 1
        assert isinstance(result[0], StorageError)
        assert "another process appended first" in str(result[0])


def test_a_turn_that_is_refused_or_does_not_continue_the_log_writes_nothing(url: str) -> None:
    class Refused(Exception):
        pass

    def refuse(behind: list[LogRecord]) -> list[LogRecord]:
        raise Refused("decide refused")

    with PostgresStore(url) as store:
        store.append(records(0, 2))
        with pytest.raises(InvalidInput, match="after: must be 0 or more"):
            store.catch_up_and_append(-1, lambda behind: [])
        with pytest.raises(Refused, match="decide refused"):
            store.catch_up_and_append(0, refuse)
        with pytest.raises(StorageError, match=r"holds 2 records, fewer than the 5 .* were lost"):
            store.catch_up_and_append(5, lambda behind: records(5, 6))
        with pytest.raises(StorageError, match="index 1, expected 2: indexes must continue"):
            store.catch_up_and_append(0, lambda behind: records(1, 2))
        assert list(store.read()) == records(0, 2)
        sql(url, "UPDATE accord_log SET event = 'tampered'::bytea WHERE idx = 1")
        with pytest.raises(StorageError, match="log record 1 is damaged"):
            store.catch_up_and_append(0, lambda behind: records(2, 3))
        assert store.catch_up_and_append(2, lambda behind: records(2, 3)) == 3  # still writes


# -- following the log ----------------------------------------------------------------------


def test_an_append_notifies_the_new_length_on_the_store_channel(url: str) -> None:
    with PostgresStore(url) as store, psycopg.connect(url, autocommit=True) as listener:
        listener.execute(f'LISTEN "{store.channel}"'.encode())
        store.append(records(0, 3))
        store.append(records(3, 4))
        payloads = [n.payload for n in listener.notifies(timeout=5, stop_after=2)]
    assert payloads == ["3", "4"]


def test_follow_returns_records_another_process_appends(url: str) -> None:
    with PostgresStore(url) as writer, PostgresStore(url) as follower:
        writer.append(records(0, 2))
        assert follower.follow(0, timeout=0) == records(0, 2)
        assert follower.follow(1, timeout=0) == records(1, 2)
        assert follower.follow(0, timeout=0, limit=1) == records(0, 1)
        assert follower.follow(2, timeout=0.2) == []

        got: list[list[LogRecord]] = []
        thread = threading.Thread(target=lambda: got.append(follower.follow(2, timeout=30)))
        thread.start()
        time.sleep(0.2)  # the follower is waiting
        writer.append(records(2, 5))
        thread.join(30)
        assert got == [records(2, 5)]


def test_follow_skips_the_records_of_its_own_turns_and_returns_the_others(url: str) -> None:
    with PostgresStore(url) as turner, PostgresStore(url) as other:
        other.append(records(0, 1))
        assert turner.catch_up_and_append(0, lambda behind: records(1, 3)) == 3
        assert turner.follow(0, timeout=0.3) == []  # the turn's caller has 0..2 already
        assert other.follow(0, timeout=0) == records(0, 3)
        got: list[list[LogRecord]] = []
        thread = threading.Thread(target=lambda: got.append(turner.follow(0, timeout=30)))
        thread.start()
        time.sleep(0.2)
        turner.catch_up_and_append(3, lambda behind: records(3, 4))  # wakes nothing
        time.sleep(0.2)
        assert thread.is_alive()
        other.append(records(4, 6))
        thread.join(30)
        assert got == [records(4, 6)]


def test_follow_listens_again_after_losing_its_connection(url: str) -> None:
    with PostgresStore(url) as writer, PostgresStore(url) as follower:
        assert follower.follow(0, timeout=0) == []  # the listening connection is open
        sql(
            url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'"
        )
        writer.append(records(0, 1))
        assert follower.follow(0, timeout=10) == records(0, 1)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((-1, 1.0), "after: must be 0 or more"),
        ((0, -1.0), "timeout: must be a number of seconds"),
        ((0, float("inf")), "timeout: must be a number of seconds"),
    ],
)
def test_follow_refuses_bad_arguments(url: str, args: tuple[int, float], expected: str) -> None:
    with PostgresStore(url) as store, pytest.raises(InvalidInput, match=expected):
        store.follow(*args)


def test_follow_on_a_closed_store_raises(url: str) -> None:
    store = PostgresStore(url)
    store.close()
    with pytest.raises(StorageError, match="closed"):
        store.follow(0, timeout=0)


# -- integrity on open --------------------------------------------------------------------


@pytest.mark.parametrize("where", [1, 4])  # inside the log, and its last record
def test_a_damaged_record_is_refused_on_open_and_on_read(url: str, where: int) -> None:
    with PostgresStore(url) as store:
        store.append(records(0, 5))
        sql(url, f"UPDATE accord_log SET event = 'tampered'::bytea WHERE idx = {where}")
        with pytest.raises(StorageError, match=f"log record {where} is damaged"):
            list(store.read())
        assert list(store.read(0, where)) == records(0, where)
    with pytest.raises(StorageError, match=f"log record {where} is damaged .*never rewritten"):
        PostgresStore(url)
    sql(url, f"UPDATE accord_log SET event = '{record(where).event.decode()}' WHERE idx = {where}")
    with PostgresStore(url) as again:  # repaired: nothing was dropped or changed meanwhile
        assert list(again.read()) == records(0, 5)


def test_verify_tail_checks_only_records_after_the_latest_head(url: str) -> None:
    with PostgresStore(url) as store:
        store.append(records(0, 6))
        store.put_head(head(4))
    sql(url, "UPDATE accord_log SET salt = 'x'::bytea WHERE idx = 1")
    with pytest.raises(StorageError, match="log record 1 is damaged"):
        PostgresStore(url, verify="full")
    with PostgresStore(url, verify="tail") as store:
        assert list(store.read(2)) == records(2, 6)
        with pytest.raises(StorageError, match="log record 1 is damaged"):
            list(store.read())
    sql(url, "UPDATE accord_log SET salt = 'x'::bytea WHERE idx = 5")
    with pytest.raises(StorageError, match="log record 5 is damaged"):
        PostgresStore(url, verify="tail")


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("DELETE FROM accord_log WHERE idx = 2", "1 log record\\(s\\) below 5 missing"),
        ("DELETE FROM accord_log WHERE idx = 0", "log records 0..0 are missing"),
        ("DELETE FROM accord_log WHERE idx >= 3", "covers 4 records but the log holds 3"),
    ],
)
def test_missing_records_are_refused_on_open(url: str, damage: str, expected: str) -> None:
    with PostgresStore(url) as store:
        store.append(records(0, 5))
        store.put_head(head(4))
    sql(url, damage)
    with pytest.raises(StorageError, match=expected):
        PostgresStore(url)


def test_damaged_heads_meta_and_snapshots_are_detected(url: str) -> None:
    with PostgresStore(url) as store:
        store.append(records(0, 4))
        store.put_head(head(3))
        store.put_meta("seed", b"secret")
        store.put_snapshot(Snapshot(2, b"two"))
        store.put_snapshot(Snapshot(4, b"four"))
        sql(url, "UPDATE accord_heads SET key_id = 'key-2'")
        sql(url, "UPDATE accord_meta SET value = 'other'::bytea")
        sql(url, "UPDATE accord_snapshots SET data = 'fake'::bytea WHERE upto_index = 4")
        with pytest.raises(StorageError, match="tree head of size 3 is damaged"):
            store.latest_head()
        with pytest.raises(StorageError, match="meta value 'seed' is damaged"):
            store.get_meta("seed")
        assert store.latest_snapshot() == Snapshot(2, b"two")  # the older intact one


# -- identity -------------------------------------------------------------------------------


def test_tables_of_the_same_names_that_are_not_a_store_are_refused(url: str) -> None:
    sql(url, "CREATE TABLE accord_log (x int)")
    with pytest.raises(StorageError, match="tables accord_log exist but are not an Accord store"):
        PostgresStore(url)
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace "
            "AND relkind = 'r'"
        ).fetchall()
    assert tables == [("accord_log",)]  # nothing was created


def test_another_schema_version_is_refused(url: str) -> None:
    PostgresStore(url).close()
    sql(url, "UPDATE accord_store SET version = 2")
    with pytest.raises(StorageError, match="schema version 2; this Accord reads version 1"):
        PostgresStore(url)


def test_two_stores_opening_an_empty_schema_at_once_both_succeed(url: str) -> None:
    opened: list[PostgresStore] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            opened.append(PostgresStore(url))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    opened[0].append(records(0, 1))
    assert [list(s.read()) for s in opened] == [records(0, 1)] * 4
    for s in opened:
        s.close()


def test_a_missing_schema_is_named(pg_cluster: pg.Cluster) -> None:
    with pytest.raises(StorageError, match="no schema of the search_path exists"):
        PostgresStore(pg_cluster.url(schema="no_such_schema"))


def test_a_bad_url_and_an_unreachable_server_are_reported(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="store: not a PostgreSQL connection URL"):
        PostgresStore("postgresql://[bad")
    with pytest.raises(StorageError, match="cannot connect to the postgresql store accord"):
        PostgresStore(f"postgresql:///accord?host={tmp_path}", connect_timeout_s=2)


# -- failures -------------------------------------------------------------------------------


def test_a_lost_write_connection_fails_the_write_and_the_store_refuses_writes_until_reopened(
    url: str,
) -> None:
    store = PostgresStore(url)
    try:
        store.append(records(0, 2))
        sql(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                 "WHERE application_name = 'accord' AND pid <> pg_backend_pid()")  # fmt: skip
        with pytest.raises(StorageError, match=r"append of records 2\.\.2 failed"):
            store.append(records(2, 3))
        with pytest.raises(StorageError, match="refuses writes until it is reopened"):
            store.put_meta("k", b"v")
        assert list(store.read()) == records(0, 2)  # reads reconnect
    finally:
        store.close()
    with PostgresStore(url) as again:
        again.append(records(2, 3))
        assert again.next_index() == 3


def test_bad_records_are_refused_before_touching_the_database(url: str) -> None:
    with PostgresStore(url) as store:
        with pytest.raises(StorageError, match="time must be a string without NUL"):
            store.append([LogRecord(0, "2026\x00", b"e", b"s", b"l")])
        with pytest.raises(StorageError, match="must be bytes"):
            store.append([LogRecord(0, "t", "e", b"s", b"l")])  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="key: must not contain NUL"):
            store.put_meta("a\x00b", b"v")
        assert store.next_index() == 0


# -- durability -----------------------------------------------------------------------------

APPENDER = r"""
import hashlib, sys, threading
from accord.store import GroupCommitter, LogRecord
from accord.store.postgres import PostgresStore

def record(i):
    event = b'{"log_index":%d,"type":"heartbeat"}' % i
    salt = hashlib.sha256(b"salt %d" % i).digest()[:16]
    leaf = hashlib.sha256(b"\x00" + hashlib.sha256(salt + event).digest()).digest()
    return LogRecord(i, "2026-11-22T10:00:00Z", event, salt, leaf)

store = PostgresStore(sys.argv[1])
committer = GroupCommitter(store)
lock, out = threading.Lock(), threading.Lock()
next_free = [store.next_index()]

def client(seed):
    while True:
        with lock:
            first = next_free[0]
            batch = [record(i) for i in range(first, first + 1 + (first + seed) % 3)]
            next_free[0] += len(batch)
            done = committer.submit(batch)
        try:
            done.result()  # durable: only now is the batch acknowledged
        except Exception:
            return
        with out:
            sys.stdout.write("".join("%d\n" % r.index for r in batch))
            sys.stdout.flush()

threads = [threading.Thread(target=client, args=(s,), daemon=True) for s in range(6)]
for t in threads:
    t.start()
for t in threads:
    t.join()
"""


def acknowledged_until(proc: subprocess.Popen[str], count: int) -> list[int]:
    assert proc.stdout is not None
    acked: list[int] = []
    while len(acked) < count:
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else "child ended"
        acked.append(int(line))
    return acked


def test_nothing_acknowledged_is_lost_when_the_client_is_killed(url: str) -> None:
    PostgresStore(url).close()
    proc = child(APPENDER, url)
    acked = acknowledged_until(proc, 300)
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate(timeout=30)
    acked += [int(line) for line in out.splitlines() if line.strip()]
    with PostgresStore(url) as store:
        log = list(store.read())
    assert log == records(0, len(log))
    assert set(acked) <= set(range(len(log)))


def test_nothing_acknowledged_is_lost_when_the_server_crashes(
    url: str, pg_cluster: pg.Cluster
) -> None:
    PostgresStore(url).close()
    proc = child(APPENDER, url)
    try:
        acked = acknowledged_until(proc, 300)
        pg_cluster.stop("immediate")  # no checkpoint: recovery replays the WAL
    finally:
        pg_cluster.start()
    out, _ = proc.communicate(timeout=60)
    acked += [int(line) for line in out.splitlines() if line.strip()]
    with PostgresStore(url) as store:
        log = list(store.read())
    assert log == records(0, len(log))
    assert set(acked) <= set(range(len(log)))
    assert len(acked) >= 300


def _race(stores: list[PostgresStore], key: str) -> list[bytes]:
    """Each store puts its own value under ``key`` unless there is one, all at once."""
    start = threading.Barrier(len(stores))
    got: list[bytes] = [b""] * len(stores)

    def put(k: int) -> None:
        start.wait()
        got[k] = stores[k].put_meta(key, b"value of %d" % k, replace=False)

    threads = [threading.Thread(target=put, args=(k,)) for k in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return got


def test_processes_racing_to_store_a_first_meta_value_all_get_the_winners(url: str) -> None:
    """As two services starting together on a new database do with the log's signing key: each
    stores its own unless there is one, and every one of them gets the same (the first)."""
    stores = [PostgresStore(url) for _ in range(3)]
    try:
        for round_ in range(20):
            got = _race(stores, f"first-{round_}")
            assert len(set(got)) == 1, got
            assert stores[0].get_meta(f"first-{round_}") == got[0]
    finally:
        for store in stores:
            store.close()


def test_services_starting_together_on_a_new_database_sign_with_one_key(url: str) -> None:
    """Services whose stores are open start at once on a database without a signing key (five
    times, the key deleted in between): they all sign with the same one."""
    for _ in range(5):
        stores = [PostgresStore(url) for _ in range(3)]
        sql(url, "DELETE FROM accord_meta")
        start = threading.Barrier(len(stores))
        services: list[Service] = []

        def begin(
            store: PostgresStore,
            start: threading.Barrier = start,
            services: list[Service] = services,
        ) -> None:
            start.wait()
            services.append(Service(store))

        threads = [threading.Thread(target=begin, args=(store,)) for store in stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        try:
            assert len(services) == len(stores)
            assert len({service.signer.key_id for service in services}) == 1
        finally:
            for service in services:
                service.close()


def test_a_process_behind_the_log_answers_a_head_though_a_later_one_is_stored(url: str) -> None:
    """The head of a process that has not followed the log yet is refused by the store (a later
    one is stored): it is answered all the same, signed, and consistent with the later one."""
    a, b = Service(PostgresStore(url)), Service(PostgresStore(url))
    try:
        a.execute(RegisterParty(party="admin", id="north", name="North"))
        deadline = time.monotonic() + 10
        while b.durable_size < a.durable_size and time.monotonic() < deadline:
            time.sleep(0.01)
        assert b.durable_size == a.durable_size == 1
        b._stopping.set()  # b stops following: it stays one record behind what follows
        assert b._follower is not None
        b._follower.join()
        for _ in range(3):
            a.execute(Heartbeat(party="north"))
        later = a.head()
        behind = b.head()
        assert (behind.tree_size, later.tree_size) == (1, 4)
        assert a.store.latest_head() is not None and a.store.latest_head().tree_size == 4
        for signed in (behind, later):
            verify_head(signed.to_json(), a.signer.public_key)
        proof = a.consistency(1, 4)
        verify_consistency(1, 4, behind.root_hash, later.root_hash, proof)
    finally:
        a.close()
        b.close()
