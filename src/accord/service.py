"""The imperative shell around the core: one writer, a durable log, signed heads, live fan-out.

``Service.execute(command)`` is the only way state changes:

1. under the writer lock: read the clock, ``decide`` (pure; raises on rejection, nothing changes),
   stamp each event with its log index, commit to it with a fresh salt (RFC 9162 leaf), append the
   leaf to the Merkle tree, hand the records to the group committer, and ``evolve`` the state;
2. outside the lock: wait until the committer says the records are durable, then wake the event
   streams and return. A caller is answered only after its events are on disk (invariant 4).

``execute`` blocks its thread through step 2. An event loop does step 1 with ``submit``, awaits
``Written.durable`` without holding a thread, and then calls ``finish``.

On a store shared with other processes (:class:`~accord.store.SharedEventStore`, PostgreSQL),
every process must decide on the whole log, so a write is one turn at the log: one transaction
under the log's lock that reads what the other processes appended, decides, appends and commits
(``catch_up_and_append``). Concurrent writers of one process share a turn: each queues its
command, and one of them, the leader, decides the queued commands in arrival order (each on the
state the previous ones left), appends all their events in one transaction (one WAL flush), and
then answers each caller with its own events, or its own rejection (which changed nothing).
Nothing is answered before the turn's commit returned (invariant 4). ``submit`` declines there
(it returns None): ``execute`` runs in a worker thread.

If the store ever fails, the in-memory state is ahead of the disk: the service then refuses every
further write (``StorageError``) until it is restarted, which rebuilds state from the store.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from accord.core import (
    Command,
    State,
    decide,
    evolve,
    from_snapshot,
    next_deadline,
    tick,
    to_snapshot,
)
from accord.core.model import ProbePolicy
from accord.errors import InvalidInput, StorageError, Superseded
from accord.ledger import (
    MerkleTree,
    SignedTreeHead,
    Signer,
    canonical_json,
    commitment_of_canonical,
    format_timestamp,
    leaf_hash,
    new_salt,
    sign_head,
)
from accord.store import (
    EventStore,
    GroupCommitter,
    LogRecord,
    SharedEventStore,
    Snapshot,
    StoredHead,
)

__all__ = ["Clock", "Service", "Written", "system_clock"]

Clock = Callable[[], datetime]
T = TypeVar("T")
Event = dict[str, Any]

SIGNING_KEY_META = "ledger.signing_key"
SNAPSHOT_EVERY = 100_000  # events between automatic snapshots
SHARED_BATCH = 256  # commands in one turn at a shared store's log, at most
SHARED_BATCH_RECORDS = 10_000  # no command joins a turn that holds this many records

_log = logging.getLogger(__name__)


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Written:
    """Events decided, logged and applied, on their way to the disk (:meth:`Service.submit`).

    ``durable`` completes once they are on disk (None: there was nothing to write), with the log
    size after their transaction; the events written in the same transaction share it. Pass this
    to :meth:`Service.finish` before answering."""

    events: list[Event]
    durable: Future[int] | None


def _serialise_apart(state: State) -> Callable[[], bytes]:
    """Start ``to_snapshot(state)`` in a forked child, a copy-on-write image of the state at this
    instant, and return a call that waits for its bytes. Where there is no fork, serialise now.

    The child runs no other thread and touches nothing shared: it serialises, writes the bytes
    to a pipe and leaves with ``os._exit`` (no atexit handlers, no buffers of the parent's)."""
    if not hasattr(os, "fork"):
        data = to_snapshot(state)
        return lambda: data
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        code = 1
        try:
            os.close(read_fd)
            gc.disable()  # a collection would touch (and so copy) every page of the state
            view = memoryview(to_snapshot(state))
            while view:
                view = view[os.write(write_fd, view) :]
            code = 0
        except BaseException:  # reported, then the child leaves
            traceback.print_exc()
        finally:
            os._exit(code)
    os.close(write_fd)

    def collect() -> bytes:
        try:
            with os.fdopen(read_fd, "rb") as pipe:
                data = pipe.read()
        finally:
            _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise StorageError("the snapshot could not be serialised (the child failed)")
        return data

    return collect


class _Call:
    """A write waiting for a turn at a shared store's log (:meth:`Service._write_shared`).

    ``done`` is set once ``events`` or ``error`` is its outcome, or once the caller is handed
    the lead (``lead``)."""

    __slots__ = ("done", "error", "events", "lead", "make")

    def __init__(self, make: Callable[[State, datetime], list[Event]]) -> None:
        self.make = make
        self.events: list[Event] = []
        self.error: BaseException | None = None
        self.lead = False
        self.done = threading.Event()

    def outcome(self) -> list[Event]:
        if self.error is not None:
            raise self.error
        return self.events


class Service:
    """State, log and store held together; thread-safe; one instance per process."""

    def __init__(
        self, store: EventStore, clock: Clock = system_clock, policy: ProbePolicy | None = None
    ) -> None:
        self.store = store
        self.clock = clock
        self._lock = threading.RLock()
        self._changed = threading.Condition(threading.Lock())
        self._failed: BaseException | None = None
        self.signer = self._load_signer()
        self.state, self.tree, self.restored = self._restore(policy)
        self._durable = self.tree.size
        self._since_snapshot = 0
        self._head: SignedTreeHead | None = None
        self._head_lock = threading.Lock()  # taken before _lock, never inside it
        self._listeners: list[Callable[[int], None]] = []
        self._shared = store if isinstance(store, SharedEventStore) else None
        # a store of its own: a group committer; a shared one: the writers' queue and its leader
        self._committer = GroupCommitter(store) if self._shared is None else None
        self._calls: list[_Call] = []
        self._calls_lock = threading.Lock()
        self._leading = False  # a leader is at work (the queue is empty whenever none is)
        self._stopping = threading.Event()
        self._follower: threading.Thread | None = None
        if self._shared is not None:
            self._follower = threading.Thread(
                target=self._follow, name="accord-follow", daemon=True
            )
            self._follower.start()

    # -- start-up -------------------------------------------------------------------------------

    def _load_signer(self) -> Signer:
        seed = self.store.get_meta(SIGNING_KEY_META)
        if seed is None:  # the first start: processes starting together all keep the first key
            seed = self.store.put_meta(
                SIGNING_KEY_META, Signer.generate().private_bytes(), replace=False
            )
        return Signer.from_seed(seed)

    def _restore(self, policy: ProbePolicy | None) -> tuple[State, MerkleTree, int]:
        """State and tree from the latest snapshot and the log after it. A snapshot this version
        does not read (an older format) or a damaged one is only a cache: it is left aside, with a
        warning, and the whole log is replayed, under ``policy`` already (without a request
        budget, evolve keeps no list of each party's requests of the last hour, which costs a
        replay of a party's many requests time quadratic in their number).

        The cyclic garbage collector is paused meanwhile (a restore makes millions of objects and
        no garbage cycles: each collection would go over all of them), and the restored objects
        are then frozen out of later collections (``gc.freeze``), which would otherwise go over
        them again and again while the service runs."""
        paused = gc.isenabled()
        gc.disable()
        try:
            restored = self._restore_unpaused(policy)
        finally:
            if paused:
                gc.enable()
        gc.freeze()
        return restored

    def _restore_unpaused(self, policy: ProbePolicy | None) -> tuple[State, MerkleTree, int]:
        snap = self.store.latest_snapshot()
        state: State | None = None
        start = 0
        if snap is not None:
            try:
                state = from_snapshot(snap.data)
                expected = snap.upto_index - 1 if snap.upto_index else None
                if state.last_index != expected:
                    raise InvalidInput(
                        "snapshot", f"it holds the state after {state.last_index}, not {expected}"
                    )
                start = snap.upto_index
            except InvalidInput as exc:
                _log.warning(
                    "the snapshot up to %d is not used (%s); replaying the whole log",
                    snap.upto_index,
                    exc,
                )
                state = None
        if state is None:
            state = State.empty()
        if policy is not None:
            state.policy = policy
        replayed = 0
        for rec in self.store.read(start):
            state = evolve(state, json.loads(rec.event))
            replayed += 1
        tree = MerkleTree.from_leaf_hashes(self.store.leaf_hashes())
        return state, tree, replayed

    # -- writing ----------------------------------------------------------------------------------

    def execute(self, command: Command) -> list[Event]:
        """Decide, log, apply; return the events once they are durable."""
        return self._write(lambda state, now: decide(state, command, now))

    def submit(self, command: Command) -> Written | None:
        """The part of :meth:`execute` that does not wait for the disk: decide, log and apply
        ``command``, and hand its records to the group committer. The caller awaits
        ``durable`` and then calls :meth:`finish`; until then nothing may be acknowledged.

        Returns None on a store shared with other processes: there a write is decided and made
        durable in one transaction under the log's lock, so use :meth:`execute` (from a worker
        thread)."""
        if self._shared is not None:
            return None
        with self._lock:
            return self._make_and_append(lambda state, now: decide(state, command, now))

    def finish(self, written: Written) -> list[Event]:
        """Wait until ``written`` is durable (at once if ``durable`` is done), wake the event
        streams, and return its events. Raises StorageError if the store failed to write them."""
        if written.durable is not None:
            try:
                size = written.durable.result()
            except BaseException as exc:
                self._failed = exc
                raise StorageError(f"the event store failed: {exc}") from exc
            # batches are written in submission order: everything below the end of this one is
            # durable (the first of its callers to finish says so, and the event streams wake)
            if size > self._durable:
                self._mark_durable(size)
        return written.events

    def run_timers(self) -> list[Event]:
        """Turn the passing of time into events (staleness, expiry, escalations)."""
        return self._write(tick)

    def _write(self, make: Callable[[State, datetime], list[Event]]) -> list[Event]:
        """Make events from the current state and log them; return them once durable."""
        if self._shared is None:
            with self._lock:
                written = self._make_and_append(make)
            return self.finish(written)
        return self._write_shared(make)

    def _write_shared(self, make: Callable[[State, datetime], list[Event]]) -> list[Event]:
        """:meth:`_write` on a store shared with other processes, in a turn at its log shared
        with the concurrent writers of this process (the module docstring).

        The caller queues its ``make``; if no leader is at work it leads, else it sleeps until
        its outcome is set or the lead is handed to it. The lead goes to a caller rather than to
        a writer thread of the service's own: a lone writer (the common case) then costs no
        hand-off between threads, and batches form by themselves while a turn is under way.
        """
        call = _Call(make)
        with self._calls_lock:
            self._calls.append(call)
            call.lead = not self._leading
            self._leading = True
        if not call.lead:
            call.done.wait()
        if call.lead:  # the queue's first call: the batch _lead takes includes it
            self._lead()
        return call.outcome()

    def _lead(self) -> None:
        """As the leader: take the queued calls (up to SHARED_BATCH), have them decided and made
        durable in one turn (:meth:`_turn`), hand the lead to the first caller queued meanwhile,
        if any, and wake the batch's callers, each to its own outcome."""
        with self._calls_lock:
            batch = self._calls[:SHARED_BATCH]
            del self._calls[:SHARED_BATCH]
        try:
            self._turn(batch)
        finally:
            with self._calls_lock:
                if self._calls:
                    self._calls[0].lead = True
                    self._calls[0].done.set()
                else:
                    self._leading = False
            for call in batch:
                call.done.set()

    def _turn(self, batch: list[_Call]) -> None:
        """One turn at the shared log for ``batch``, and for the calls that join it while it is
        decided: set each call's outcome.

        In the store's transaction under the log's lock (``catch_up_and_append``), and under
        ``_lock``: apply what other processes appended, then each call in arrival order: read
        the clock, ``make`` (a rejection is that call's error, and changed nothing), stamp and
        apply its events. The records of all of them are committed together. If the turn fails
        every call of it gets a StorageError, and, if events of it were applied in memory
        (the state is then ahead of the log), the service refuses further writes."""
        assert self._shared is not None
        stamped = False

        def decide_batch(behind: list[LogRecord]) -> list[LogRecord]:
            nonlocal stamped
            records: list[LogRecord] = []
            with self._lock:
                self._catch_up(behind)
                for call in self._joining(batch, records):
                    try:
                        now = self.clock()
                        call.events = call.make(self.state, now)
                    except Exception as exc:  # a rejection (decide is pure): nothing changed
                        call.error = exc
                        continue
                    stamped = stamped or bool(call.events)
                    records += self._stamp(call.events, now)
            return records

        try:
            self._check_healthy()  # only a leader sets _failed here, and one leads at a time
            size = self._shared.catch_up_and_append(self.tree.size, decide_batch)
        except BaseException as exc:  # every failure reaches every caller of the turn
            if stamped:
                self._failed = exc
            message = (
                str(exc)
                if isinstance(exc, StorageError) and not stamped
                else f"the event store failed: {exc}"
            )
            for call in batch:
                call.error = StorageError(message)
                call.error.__cause__ = exc
            return
        if size > self._durable:
            self._mark_durable(size)

    def _make_and_append(self, make: Callable[[State, datetime], list[Event]]) -> Written:
        self._check_healthy()
        now = self.clock()
        events = make(self.state, now)
        return self._append(events, now)

    def _joining(self, batch: list[_Call], records: list[LogRecord]) -> Iterator[_Call]:
        """The calls of ``batch``, then calls queued meanwhile, moved into ``batch`` one by one
        while it holds fewer than SHARED_BATCH calls and ``records`` (the turn's records so
        far) fewer than SHARED_BATCH_RECORDS."""
        k = 0
        while True:
            if k == len(batch):
                if len(batch) >= SHARED_BATCH or len(records) >= SHARED_BATCH_RECORDS:
                    return
                with self._calls_lock:
                    if not self._calls:
                        return
                    batch.append(self._calls.pop(0))
            yield batch[k]
            k += 1

    def _catch_up(self, records: list[LogRecord]) -> None:
        """Under the lock: apply ``records``, what other processes appended."""
        applied = False
        for rec in records:
            if rec.index != self.tree.size:
                continue  # already applied (written here, or followed earlier)
            self.state = evolve(self.state, json.loads(rec.event))
            self.tree.append_leaf_hash(rec.leaf_hash)
            applied = True
        if applied:
            self._mark_durable(self.tree.size)

    def _follow(self) -> None:
        """The follower thread: apply other processes' events within a second of their commit."""
        assert self._shared is not None
        while not self._stopping.is_set():
            try:
                records = self._shared.follow(self.tree.size, 1.0)
            except StorageError as exc:
                print(f"accord: following the shared log failed: {exc}", file=sys.stderr)
                self._stopping.wait(1.0)
                continue
            if records:
                with self._lock:
                    self._catch_up(records)

    def next_deadline(self) -> datetime | None:
        with self._lock:
            return next_deadline(self.state)

    def _append(self, events: list[Event], now: datetime) -> Written:
        """Under the lock, on a store of the service's own: stamp, commit to, log and apply
        ``events`` (:meth:`_stamp`); hand them to the group committer."""
        assert self._committer is not None
        records = self._stamp(events, now)
        durable = self._committer.submit(records) if records else None
        return Written(events, durable)

    def _stamp(self, events: list[Event], now: datetime) -> list[LogRecord]:
        """Under the lock: number ``events`` from the tree's size, stamp their time, commit to
        each with a fresh salt, append the leaves to the tree and apply them; their records."""
        records: list[LogRecord] = []
        for event in events:
            index = self.tree.size
            event["log_index"] = index
            if "time" not in event:  # decide's events carry theirs
                event["time"] = format_timestamp(now)
            salt = new_salt()
            body = canonical_json(event)
            leaf = leaf_hash(commitment_of_canonical(salt, body))
            self.tree.append_leaf_hash(leaf)
            records.append(
                LogRecord(index=index, time=event["time"], event=body, salt=salt, leaf_hash=leaf)
            )
            self.state = evolve(self.state, event)
        self._since_snapshot += len(records)
        return records

    def _mark_durable(self, size: int) -> None:
        with self._changed:
            self._durable = max(self._durable, size)
            self._changed.notify_all()
        for listener in list(self._listeners):
            listener(self._durable)

    def _check_healthy(self) -> None:
        if self._failed is not None:
            raise StorageError("the event store failed earlier; restart the service to recover")

    # -- reading ----------------------------------------------------------------------------------

    def read(self, fn: Callable[[State], T]) -> T:
        """Run ``fn`` on the current state, consistently (no writer applies events meanwhile)."""
        with self._lock:
            return fn(self.state)

    @property
    def durable_size(self) -> int:
        return self._durable

    def add_listener(self, listener: Callable[[int], None]) -> None:
        """``listener(durable_size)`` is called (on a writer thread) after each durable append."""
        self._listeners.append(listener)

    def wait_for(self, size: int, timeout: float) -> int:
        """Block until the durable log is longer than ``size`` or ``timeout`` passes."""
        with self._changed:
            self._changed.wait_for(lambda: self._durable > size, timeout=timeout)
            return self._durable

    def events(self, start: int, stop: int | None = None) -> Iterator[tuple[Event, bytes]]:
        """Durable events ``[start, stop)`` with their salts, in log order."""
        stop = self._durable if stop is None else min(stop, self._durable)
        for rec in self.store.read(start, stop):
            yield json.loads(rec.event), rec.salt

    def record(self, index: int) -> LogRecord | None:
        if not 0 <= index < self._durable:
            return None
        found = list(self.store.read(index, index + 1))  # exhaust: closes the read cursor
        return found[0] if found else None

    def head(self) -> SignedTreeHead:
        """A signed head over the durable log (re-signed only when the log has grown).

        ``_lock`` is not held while the head is stored: a writer's turn on a shared store takes
        ``_lock`` inside the store's write transaction, so holding it here while waiting for the
        write connection would deadlock. ``_head_lock`` keeps heads in order instead."""
        with self._head_lock:
            with self._lock:
                size = self._durable
                if self._head is not None and self._head.tree_size == size:
                    return self._head
                root = self.tree.root(size)
            timestamp = format_timestamp(self.clock())
            signed = sign_head(self.signer, size, root, timestamp)
            stored = StoredHead(
                tree_size=size,
                root_hash=root,
                timestamp=timestamp,
                signature=signed.signature,
                key_id=signed.key_id,
            )
            try:
                self.store.put_head(stored)
            except Superseded:
                # a process sharing the store, further along its log, stored a later head: this
                # one, signed with the same key over a prefix of the same log, is consistent
                # with it, and is answered without being kept
                if self._shared is None:
                    raise
            self._head = signed
            return signed

    def inclusion(self, index: int, size: int) -> list[bytes]:
        with self._lock:
            return self.tree.inclusion_proof(index, size)

    def consistency(self, first: int, second: int) -> list[bytes]:
        with self._lock:
            return self.tree.consistency_proof(first, second)

    def snapshot(self) -> None:
        """Snapshot the durable state (at shutdown, and every SNAPSHOT_EVERY events). The writer
        lock is held only to fork a child that serialises the state as of that instant (with
        10^6 presences serialising takes tens of seconds, which would stall every write)."""
        with self._lock:
            upto = self.tree.size
            collect = _serialise_apart(self.state)
        data = collect()
        if self.wait_for(upto - 1, timeout=30) < upto:
            raise StorageError("the log did not become durable in time for a snapshot")
        try:
            self.store.put_snapshot(Snapshot(upto_index=upto, data=data))
        except Superseded:  # a process sharing the store snapshotted a later state first
            if self._shared is None:
                raise
        self._since_snapshot = 0

    def maybe_snapshot(self) -> None:
        if self._since_snapshot >= SNAPSHOT_EVERY:
            self.snapshot()

    def close(self) -> None:
        self._stopping.set()
        if self._follower is not None:
            self._follower.join(timeout=5)
        if self._committer is not None:
            self._committer.close()
        self.store.close()
