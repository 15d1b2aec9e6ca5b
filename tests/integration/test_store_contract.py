"""The storage contract: what every EventStore must do, run against every backend.

A backend is a context manager that prepares empty storage and yields a function that opens a
store on it (called again, it reopens the same storage): an SQLite file, or a fresh schema in the
throwaway PostgreSQL cluster (tests/integration/pg.py). Every test below runs against both.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from tests.integration import pg

from accord.errors import InvalidInput, StorageError
from accord.store import (
    EventStore,
    GroupCommitter,
    LogRecord,
    Snapshot,
    SQLiteStore,
    StoredHead,
    open_store,
)
from accord.store.postgres import PostgresStore

Opener = Callable[[], EventStore]


@contextlib.contextmanager
def sqlite_backend(tmp_path: Path) -> Iterator[Opener]:
    yield lambda: SQLiteStore(tmp_path / "accord.db")


@contextlib.contextmanager
def postgres_backend(tmp_path: Path) -> Iterator[Opener]:
    with pg.fresh_schema() as url:
        yield lambda: PostgresStore(url)


BACKENDS: dict[str, Callable[[Path], contextlib.AbstractContextManager[Opener]]] = {
    "sqlite": sqlite_backend,
    "postgresql": postgres_backend,
}


@pytest.fixture(params=sorted(BACKENDS))
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens (and reopens) a store on one backend's storage; closes all of them afterwards."""
    opened: list[EventStore] = []
    with BACKENDS[request.param](tmp_path) as open_backend:

        def tracked() -> EventStore:
            store = open_backend()
            opened.append(store)
            return store

        yield tracked
        for store in opened:
            store.close()


@pytest.fixture
def store(opener: Opener) -> EventStore:
    return opener()


def rec(index: int) -> LogRecord:
    """A record as the ledger would make it: RFC 9162 leaf hash of SHA-256(salt || event)."""
    event = json.dumps(
        {"label": f"Poste Zoë ✓ {index}", "log_index": index, "type": "presence_upserted"},
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    salt = hashlib.sha256(b"salt %d" % index).digest()[: 16 + index % 17]
    if index == 3:
        salt = bytes(range(256))  # every byte value survives the round trip
    commitment = hashlib.sha256(salt + event).digest()
    leaf_hash = hashlib.sha256(b"\x00" + commitment).digest()
    return LogRecord(
        index, f"2026-11-22T10:{index // 60 % 60:02d}:{index % 60:02d}Z", event, salt, leaf_hash
    )


def recs(start: int, stop: int) -> list[LogRecord]:
    return [rec(i) for i in range(start, stop)]


def head(
    size: int, root: bytes | None = None, timestamp: str = "2026-11-22T10:00:00Z"
) -> StoredHead:
    root = root if root is not None else hashlib.sha256(b"root %d" % size).digest()
    signature = hashlib.sha512(root + timestamp.encode()).digest()
    return StoredHead(size, root, timestamp, signature, "key-1")


def fill(store: EventStore, stop: int, batch: int = 7) -> list[LogRecord]:
    records = recs(0, stop)
    for k in range(0, stop, batch):
        store.append(records[k : k + batch])
    return records


# -- log ------------------------------------------------------------------------------------


def test_a_new_store_is_empty(store: EventStore) -> None:
    assert isinstance(store, EventStore)
    assert store.next_index() == 0
    assert list(store.read()) == []
    assert store.leaf_hashes() == []
    assert store.latest_head() is None
    assert store.head_at(0) is None
    assert store.latest_snapshot() is None
    assert store.get_meta("signing-key") is None


def test_append_then_read_returns_the_same_records(store: EventStore) -> None:
    records = recs(0, 10)
    store.append(records[:1])
    store.append(records[1:5])
    store.append(records[5:])
    assert store.next_index() == 10
    assert list(store.read()) == records
    assert list(store.read(3, 7)) == records[3:7]
    assert list(store.read(8)) == records[8:]
    assert list(store.read(0, 100)) == records
    assert list(store.read(5, 5)) == []
    assert list(store.read(10)) == []
    assert list(store.read(25, 30)) == []


def test_read_and_leaf_hashes_cross_many_chunks(store: EventStore) -> None:
    records = fill(store, 5000, batch=333)
    assert store.leaf_hashes() == [r.leaf_hash for r in records]
    assert list(store.read(1999, 4200)) == records[1999:4200]
    assert [r.index for r in store.read()] == list(range(5000))


def test_one_append_larger_than_an_insert_statement_is_written_whole(opener: Opener) -> None:
    # the SQLite store inserts at most 1,000 records per statement: 2,345 take three, in one
    # transaction; the next append continues after the last of them
    store = opener()
    records = recs(0, 2346)
    store.append(records[:2345])
    store.append(records[2345:])
    store.close()
    store = opener()
    assert store.next_index() == 2346
    assert list(store.read()) == records
    assert store.leaf_hashes() == [r.leaf_hash for r in records]


def test_read_refuses_a_bad_range(store: EventStore) -> None:
    with pytest.raises(InvalidInput, match="start: must be 0 or more"):
        store.read(-1)
    with pytest.raises(InvalidInput, match="stop: must not be below start"):
        store.read(5, 4)


@pytest.mark.parametrize(
    ("indexes", "expected"),
    [
        ([4], "record 0 of the batch has index 4, expected 3"),
        ([2], "record 0 of the batch has index 2, expected 3"),
        ([3, 5], "record 1 of the batch has index 5, expected 4"),
        ([3, 3], "record 1 of the batch has index 3, expected 4"),
        ([4, 3], "record 0 of the batch has index 4, expected 3"),
        ([3, 4, 5, 7, 8], "record 3 of the batch has index 7, expected 6"),
    ],
)
def test_append_refuses_indexes_that_do_not_continue_the_log_and_writes_nothing(
    store: EventStore, indexes: list[int], expected: str
) -> None:
    before = fill(store, 3)
    with pytest.raises(StorageError, match=expected):
        store.append([rec(i) for i in indexes])
    assert store.next_index() == 3
    assert list(store.read()) == before
    assert store.leaf_hashes() == [r.leaf_hash for r in before]
    store.append([rec(3)])
    assert list(store.read()) == [*before, rec(3)]


def test_an_empty_append_changes_nothing(store: EventStore) -> None:
    fill(store, 2)
    store.append([])
    assert store.next_index() == 2


# -- heads ----------------------------------------------------------------------------------


def test_heads_are_stored_and_found_by_size(store: EventStore) -> None:
    store.put_head(head(0))
    fill(store, 5)
    store.put_head(head(3))
    store.put_head(head(5))
    assert store.latest_head() == head(5)
    assert store.head_at(3) == head(3)
    assert store.head_at(0) == head(0)
    assert store.head_at(4) is None
    assert store.head_at(6) is None


def test_a_head_of_the_same_size_and_root_replaces_the_earlier_signature(
    store: EventStore,
) -> None:
    fill(store, 4)
    store.put_head(head(4))
    resigned = head(4, timestamp="2026-11-22T11:00:00Z")
    assert resigned.signature != head(4).signature
    store.put_head(resigned)
    assert store.latest_head() == resigned
    assert store.head_at(4) == resigned


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        (head(6), "tree head of size 6 refused: the log holds 5 records"),
        (head(2), "tree head of size 2 refused: a head of size 4 is stored"),
        (head(4, root=b"\x01" * 32), "a head of that size with another root hash is stored"),
    ],
)
def test_heads_that_would_rewrite_history_are_refused(
    store: EventStore, bad: StoredHead, expected: str
) -> None:
    fill(store, 5)
    store.put_head(head(4))
    with pytest.raises(StorageError, match=expected):
        store.put_head(bad)
    assert store.latest_head() == head(4)
    assert store.head_at(bad.tree_size) == (head(4) if bad.tree_size == 4 else None)


# -- snapshots ------------------------------------------------------------------------------


def test_the_latest_snapshot_is_returned(store: EventStore) -> None:
    store.put_snapshot(Snapshot(0, b""))
    assert store.latest_snapshot() == Snapshot(0, b"")
    fill(store, 4)
    store.put_snapshot(Snapshot(2, b"state after 2"))
    big = random.Random(7).randbytes(5_000_000)
    store.put_snapshot(Snapshot(4, big))
    assert store.latest_snapshot() == Snapshot(4, big)
    store.put_snapshot(Snapshot(4, b"state after 4, again"))
    assert store.latest_snapshot() == Snapshot(4, b"state after 4, again")


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        (Snapshot(5, b"x"), "snapshot up to 5 refused: the log holds 4 records"),
        (Snapshot(2, b"x"), "snapshot up to 2 refused: a snapshot up to 3 is stored"),
    ],
)
def test_snapshots_ahead_of_the_log_or_older_than_the_latest_are_refused(
    store: EventStore, bad: Snapshot, expected: str
) -> None:
    fill(store, 4)
    store.put_snapshot(Snapshot(3, b"three"))
    with pytest.raises(StorageError, match=expected):
        store.put_snapshot(bad)
    assert store.latest_snapshot() == Snapshot(3, b"three")


# -- meta -----------------------------------------------------------------------------------


def test_meta_values_are_stored_and_replaced(store: EventStore) -> None:
    seed = bytes(range(256))
    store.put_meta("signing-key", seed)
    store.put_meta("empty", b"")
    assert store.get_meta("signing-key") == seed
    assert store.get_meta("empty") == b""
    assert store.get_meta("other") is None
    store.put_meta("signing-key", b"new")
    assert store.get_meta("signing-key") == b"new"


def test_a_meta_value_stored_unless_there_is_one_keeps_the_first(store: EventStore) -> None:
    assert store.put_meta("signing-key", b"first", replace=False) == b"first"
    assert store.put_meta("signing-key", b"second", replace=False) == b"first"
    assert store.get_meta("signing-key") == b"first"
    assert store.put_meta("signing-key", b"third") == b"third"
    assert store.get_meta("signing-key") == b"third"


def test_meta_refuses_an_empty_key(store: EventStore) -> None:
    with pytest.raises(InvalidInput, match="key: must be a non-empty string"):
        store.put_meta("", b"x")


# -- lifecycle ------------------------------------------------------------------------------


def test_reopening_keeps_everything(opener: Opener) -> None:
    store = opener()
    records = fill(store, 300, batch=40)
    store.put_head(head(250))
    store.put_head(head(300))
    store.put_snapshot(Snapshot(280, b"state at 280"))
    store.put_meta("token:alpha", b"hash-of-token")
    store.close()

    again = opener()
    assert again.next_index() == 300
    assert list(again.read()) == records
    assert again.leaf_hashes() == [r.leaf_hash for r in records]
    assert again.latest_head() == head(300)
    assert again.head_at(250) == head(250)
    assert again.latest_snapshot() == Snapshot(280, b"state at 280")
    assert again.get_meta("token:alpha") == b"hash-of-token"
    again.append([rec(300)])
    assert again.next_index() == 301


def test_a_closed_store_refuses_use_and_closing_twice_is_harmless(store: EventStore) -> None:
    fill(store, 2)
    store.close()
    store.close()
    with pytest.raises(StorageError, match="closed"):
        store.append([rec(2)])
    with pytest.raises(StorageError, match="closed"):
        list(store.read())
    with pytest.raises(StorageError, match="closed"):
        store.latest_head()


# -- a model-based check: any sequence of operations, compared with a plain Python model -------


class StoreMachine(RuleBasedStateMachine):
    """Random sequences of writes (valid or not), reads and reopenings on a fresh backend,
    checked against a model of what the contract says must be stored."""

    backend = "sqlite"

    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory()
        self.backend_cm = BACKENDS[self.backend](Path(self.tmp.name))
        self.open_backend = self.backend_cm.__enter__()
        self.store = self.open_backend()
        self.log: list[LogRecord] = []
        self.heads: dict[int, StoredHead] = {}
        self.snapshot: Snapshot | None = None
        self.meta: dict[str, bytes] = {}

    @rule(count=st.integers(0, 5), offset=st.sampled_from([0, 0, 0, -1, 1, 2]))
    def append(self, count: int, offset: int) -> None:
        first = len(self.log) + offset
        batch = recs(first, first + count)
        if count == 0 or first == len(self.log):
            self.store.append(batch)
            self.log.extend(batch)
        else:
            with pytest.raises(StorageError, match="indexes must continue the log"):
                self.store.append(batch)

    @rule(back=st.integers(-1, 3), other_root=st.booleans(), resign=st.booleans())
    def put_head(self, back: int, other_root: bool, resign: bool) -> None:
        size = max(0, len(self.log) - back)
        new = head(
            size,
            root=b"\x02" * 32 if other_root else None,
            timestamp="2026-11-22T11:00:00Z" if resign else "2026-11-22T10:00:00Z",
        )
        latest = max(self.heads, default=None)
        same = self.heads.get(size)
        if (
            size > len(self.log)
            or (latest is not None and size < latest)
            or (same is not None and same.root_hash != new.root_hash)
        ):
            with pytest.raises(StorageError, match=f"tree head of size {size} refused"):
                self.store.put_head(new)
        else:
            self.store.put_head(new)
            self.heads[size] = new

    @rule(back=st.integers(-1, 3), data=st.binary(max_size=64))
    def put_snapshot(self, back: int, data: bytes) -> None:
        snap = Snapshot(max(0, len(self.log) - back), data)
        if snap.upto_index > len(self.log) or (
            self.snapshot is not None and snap.upto_index < self.snapshot.upto_index
        ):
            with pytest.raises(StorageError, match=f"snapshot up to {snap.upto_index} refused"):
                self.store.put_snapshot(snap)
        else:
            self.store.put_snapshot(snap)
            self.snapshot = snap

    @rule(key=st.sampled_from(["seed", "token:a", "token:b"]), value=st.binary(max_size=40))
    def put_meta(self, key: str, value: bytes) -> None:
        self.store.put_meta(key, value)
        self.meta[key] = value

    @rule()
    def reopen(self) -> None:
        self.store.close()
        self.store = self.open_backend()

    @rule(start=st.integers(0, 40), length=st.none() | st.integers(0, 40))
    def read(self, start: int, length: int | None) -> None:
        stop = None if length is None else start + length
        assert list(self.store.read(start, stop)) == self.log[start:stop]

    @invariant()
    def matches_the_model(self) -> None:
        assert self.store.next_index() == len(self.log)
        assert self.store.leaf_hashes() == [r.leaf_hash for r in self.log]
        assert self.store.latest_head() == (self.heads[max(self.heads)] if self.heads else None)
        for size in range(len(self.log) + 2):
            assert self.store.head_at(size) == self.heads.get(size)
        assert self.store.latest_snapshot() == self.snapshot
        for key in ("seed", "token:a", "token:b"):
            assert self.store.get_meta(key) == self.meta.get(key)

    def teardown(self) -> None:
        self.store.close()
        self.backend_cm.__exit__(None, None, None)
        self.tmp.cleanup()


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_any_sequence_of_operations_matches_the_model(backend: str) -> None:
    machine = type(f"StoreMachine_{backend}", (StoreMachine,), {"backend": backend})
    run_state_machine_as_test(
        machine,
        settings=settings(max_examples=40, stateful_step_count=25, deadline=None),
    )


# -- group commit ---------------------------------------------------------------------------


class Service:
    """What the service does around the committer: number events and submit them under one lock,
    then wait for durability outside it."""

    def __init__(self, store: EventStore, committer: GroupCommitter) -> None:
        self.lock = threading.Lock()
        self.next_free = store.next_index()
        self.committer = committer

    def submit(self, count: int) -> tuple[list[LogRecord], Future[None]]:
        with self.lock:
            batch = recs(self.next_free, self.next_free + count)
            self.next_free += count
            return batch, self.committer.submit(batch)


def run_clients(service: Service, clients: int, rounds: int) -> list[list[int]]:
    acknowledged: list[list[int]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []

    def client(n: int) -> None:
        rng = random.Random(n)
        try:
            for _ in range(rounds):
                batch, done = service.submit(rng.randint(1, 5))
                done.result()
                acknowledged[n].extend(r.index for r in batch)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return acknowledged


def test_group_commit_from_8_threads_keeps_order_and_loses_nothing(store: EventStore) -> None:
    fill(store, 10)
    with GroupCommitter(store) as committer:
        acknowledged = run_clients(Service(store, committer), clients=8, rounds=150)
    total = 10 + sum(len(a) for a in acknowledged)
    assert sorted(i for a in acknowledged for i in a) == list(range(10, total))
    assert store.next_index() == total
    assert list(store.read()) == recs(0, total)
    assert store.leaf_hashes() == [r.leaf_hash for r in recs(0, total)]


def test_readers_see_a_prefix_of_the_log_while_it_grows(store: EventStore) -> None:
    expected = recs(0, 2000)
    seen: list[int] = []
    stop = threading.Event()
    failures: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            hashes = store.leaf_hashes()
            if hashes != [r.leaf_hash for r in expected[: len(hashes)]]:
                failures.append(f"leaf_hashes is not a prefix at {len(hashes)}")
            tail = list(store.read(max(0, len(hashes) - 50)))
            if tail != expected[max(0, len(hashes) - 50) : max(0, len(hashes) - 50) + len(tail)]:
                failures.append("read is not a slice of the log")
            seen.append(len(hashes))

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    with GroupCommitter(store) as committer:
        for k in range(0, 2000, 10):
            committer.append(expected[k : k + 10])
    stop.set()
    for t in threads:
        t.join()
    assert failures == []
    assert len(set(seen)) > 1  # the readers did overlap with the writes
    assert list(store.read()) == expected


class GatedStore:
    """Any EventStore: this one holds its first append until the test opens the gate, so that
    the requests submitted meanwhile queue up and are committed as one batch."""

    def __init__(self, inner: EventStore) -> None:
        self.inner = inner
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.batches: list[list[int]] = []

    def append(self, records: Sequence[LogRecord]) -> None:
        self.entered.set()
        assert self.gate.wait(10)
        self.batches.append([r.index for r in records])
        self.inner.append(records)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def test_a_failed_batch_fails_every_caller_in_it_and_writes_nothing(store: EventStore) -> None:
    gated = GatedStore(store)
    with GroupCommitter(gated) as committer:  # type: ignore[arg-type]
        first = committer.submit(recs(0, 2))
        assert gated.entered.wait(10)
        good_before = committer.submit(recs(2, 4))
        bad = committer.submit([rec(7)])
        good_after = committer.submit(recs(4, 5))
        gated.gate.set()
        first.result()
        for done in (good_before, bad, good_after):
            with pytest.raises(StorageError, match="index 7, expected 4"):
                done.result()
        assert gated.batches == [[0, 1], [2, 3, 7, 4]]
        committer.append(recs(2, 3))  # the committer lives on
    assert list(store.read()) == recs(0, 3)


def test_requests_queued_together_share_one_transaction_and_its_future(store: EventStore) -> None:
    gated = GatedStore(store)
    with GroupCommitter(gated) as committer:  # type: ignore[arg-type]
        first = committer.submit(recs(0, 1))
        assert gated.entered.wait(10)
        a = committer.submit(recs(1, 3))
        b = committer.submit(recs(3, 4))
        assert a is b and a is not first  # one completion wakes both callers
        gated.gate.set()
        assert first.result() == 1  # the index after the transaction: everything below is durable
        assert a.result() == 4
    assert gated.batches == [[0], [1, 2, 3]]


def test_a_queued_request_cannot_be_cancelled_and_is_written(store: EventStore) -> None:
    gated = GatedStore(store)
    with GroupCommitter(gated) as committer:  # type: ignore[arg-type]
        first = committer.submit(recs(0, 1))
        assert gated.entered.wait(10)
        queued = committer.submit(recs(1, 3))
        assert not queued.cancel()  # an awaiting caller that gives up cannot take it back
        gated.gate.set()
        first.result()
        queued.result()
        committer.append(recs(3, 4))  # the committer lives on
    assert gated.batches == [[0], [1, 2], [3]]
    assert list(store.read()) == recs(0, 4)


def test_max_batch_splits_a_queue_between_requests(store: EventStore) -> None:
    gated = GatedStore(store)
    with GroupCommitter(gated, max_batch=4) as committer:  # type: ignore[arg-type]
        futures = [committer.submit(recs(0, 1))]
        assert gated.entered.wait(10)
        futures += [committer.submit(recs(k, k + 3)) for k in range(1, 10, 3)]
        futures.append(committer.submit(recs(10, 16)))  # larger than max_batch: not split
        gated.gate.set()
        for done in futures:
            done.result()
    assert gated.batches == [[0], [1, 2, 3], [4, 5, 6], [7, 8, 9], list(range(10, 16))]
    assert list(store.read()) == recs(0, 16)


def test_closing_the_committer_writes_what_was_queued_then_refuses(store: EventStore) -> None:
    committer = GroupCommitter(store)
    futures = [committer.submit([rec(i)]) for i in range(50)]
    committer.close()
    assert all(done.done() and done.exception() is None for done in futures)
    assert store.next_index() == 50
    with pytest.raises(StorageError, match="group committer is closed"):
        committer.submit([rec(50)])
    committer.close()


def test_group_committer_refuses_a_zero_batch(store: EventStore) -> None:
    with pytest.raises(InvalidInput, match="max_batch: must be at least 1"):
        GroupCommitter(store, max_batch=0)


# -- opening by URL ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "relative"),
    [
        ("sqlite:///events.db", "events.db"),
        ("sqlite:///sub/dir/events.db", "sub/dir/events.db"),
        ("sqlite://", "accord.db"),
        ("sqlite:///", "accord.db"),
    ],
)
def test_open_store_places_a_relative_sqlite_file_in_the_data_dir(
    tmp_path: Path, url: str, relative: str
) -> None:
    data_dir = tmp_path / "data"
    store = open_store(url, data_dir)
    try:
        store.append([rec(0)])
    finally:
        store.close()
    assert (data_dir / relative).is_file()
    with SQLiteStore(data_dir / relative) as again:
        assert list(again.read()) == [rec(0)]


def test_open_store_takes_an_absolute_sqlite_path(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.db"
    store = open_store(f"sqlite:///{target}", tmp_path / "unused")
    store.close()
    assert target.is_file()
    assert not (tmp_path / "unused").exists()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("oracle://accord@db/accord", "store: unsupported store URL scheme 'oracle'"),
        ("mysql://x", "unsupported store URL scheme 'mysql'"),
        ("events.db", "unsupported store URL scheme none"),
        ("sqlite:events.db", "sqlite:///NAME or sqlite:////ABS/PATH"),
        ("sqlite:///:memory:", "in-memory SQLite store is not durable"),
        ("sqlite:///events.db?mode=ro", "takes no host, query or fragment"),
        ("sqlite://host/events.db", "takes no host, query or fragment"),
    ],
)
def test_open_store_refuses_other_urls(tmp_path: Path, url: str, expected: str) -> None:
    with pytest.raises(InvalidInput, match=expected):
        open_store(url, tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_open_store_opens_a_postgresql_url(tmp_path: Path, scheme: str) -> None:
    with pg.fresh_schema() as url:
        store = open_store(url.replace("postgresql://", f"{scheme}://", 1), tmp_path)
        try:
            assert isinstance(store, PostgresStore)
            store.append([rec(0)])
        finally:
            store.close()
        with PostgresStore(url) as again:
            assert list(again.read()) == [rec(0)]
    assert list(tmp_path.iterdir()) == []
