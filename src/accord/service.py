"""The imperative shell around the core: one writer, a durable log, signed heads, live fan-out.

``Service.execute(command)`` is the only way state changes:

1. under the writer lock: read the clock, ``decide`` (pure; raises on rejection, nothing changes),
   stamp each event with its log index, commit to it with a fresh salt (RFC 9162 leaf), append the
   leaf to the Merkle tree, hand the records to the group committer, and ``evolve`` the state;
2. outside the lock: wait until the committer says the records are durable, then wake the event
   streams and return. A caller is answered only after its events are on disk (invariant 4).

``execute`` blocks its thread through step 2. An event loop does step 1 with ``submit``, awaits
``Written.durable`` without holding a thread, and then calls ``finish`` (on a store shared with
other processes, ``submit`` declines: there the writer lock is held until the events are durable,
so ``execute`` runs in a worker thread).

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
from accord.errors import InvalidInput, StorageError
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
        self.state, self.tree, self.restored = self._restore()
        if policy is not None:
            self.state.policy = policy
        self._durable = self.tree.size
        self._since_snapshot = 0
        self._head: SignedTreeHead | None = None
        self._committer = GroupCommitter(store)
        self._listeners: list[Callable[[int], None]] = []
        self._shared = store if isinstance(store, SharedEventStore) else None
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
        if seed is None:
            signer = Signer.generate()
            self.store.put_meta(SIGNING_KEY_META, signer.private_bytes())
            return signer
        return Signer.from_seed(seed)

    def _restore(self) -> tuple[State, MerkleTree, int]:
        """State and tree from the latest snapshot and the log after it. A snapshot this version
        does not read (an older format) or a damaged one is only a cache: it is left aside, with a
        warning, and the whole log is replayed.

        The cyclic garbage collector is paused meanwhile (a restore makes millions of objects and
        no garbage cycles: each collection would go over all of them), and the restored objects
        are then frozen out of later collections (``gc.freeze``), which would otherwise go over
        them again and again while the service runs."""
        paused = gc.isenabled()
        gc.disable()
        try:
            restored = self._restore_unpaused()
        finally:
            if paused:
                gc.enable()
        gc.freeze()
        return restored

    def _restore_unpaused(self) -> tuple[State, MerkleTree, int]:
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

        Returns None on a store shared with other processes: there the writer lock is held until
        the events are durable, so use :meth:`execute` (from a worker thread)."""
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
        """Make events from the current state and log them. On a store shared with other
        processes, hold its writer lock while catching up, deciding and making durable, so that
        every process decides on the whole log and the log keeps one order."""
        if self._shared is None:
            with self._lock:
                written = self._make_and_append(make)
            return self.finish(written)
        with self._shared.lock():
            with self._lock:
                self._catch_up()
                written = self._make_and_append(make)
            return self.finish(written)

    def _make_and_append(self, make: Callable[[State, datetime], list[Event]]) -> Written:
        self._check_healthy()
        now = self.clock()
        events = make(self.state, now)
        return self._append(events, now)

    def _catch_up(self, records: list[LogRecord] | None = None) -> None:
        """Under the lock: apply what other processes appended (``records``, or read them)."""
        applied = False
        for rec in self.store.read(self.tree.size) if records is None else records:
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
        """Under the lock: stamp, commit to, log and apply ``events``; hand them to the
        group committer."""
        records: list[LogRecord] = []
        stamp = format_timestamp(now)
        for event in events:
            index = self.tree.size
            event["log_index"] = index
            event.setdefault("time", stamp)
            salt = new_salt()
            body = canonical_json(event)
            leaf = leaf_hash(commitment_of_canonical(salt, body))
            self.tree.append_leaf_hash(leaf)
            records.append(
                LogRecord(index=index, time=event["time"], event=body, salt=salt, leaf_hash=leaf)
            )
            self.state = evolve(self.state, event)
        self._since_snapshot += len(records)
        durable = self._committer.submit(records) if records else None
        return Written(events, durable)

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
        """A signed head over the durable log (re-signed only when the log has grown)."""
        with self._lock:
            size = self._durable
            if self._head is not None and self._head.tree_size == size:
                return self._head
            root = self.tree.root(size)
            timestamp = format_timestamp(self.clock())
            signed = sign_head(self.signer, size, root, timestamp)
            self.store.put_head(
                StoredHead(
                    tree_size=size,
                    root_hash=root,
                    timestamp=timestamp,
                    signature=signed.signature,
                    key_id=signed.key_id,
                )
            )
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
        self.store.put_snapshot(Snapshot(upto_index=upto, data=data))
        self._since_snapshot = 0

    def maybe_snapshot(self) -> None:
        if self._since_snapshot >= SNAPSHOT_EVERY:
            self.snapshot()

    def close(self) -> None:
        self._stopping.set()
        if self._follower is not None:
            self._follower.join(timeout=5)
        self._committer.close()
        self.store.close()
