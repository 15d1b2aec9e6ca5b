"""What a store keeps, and the Protocol every store implements.

A store knows nothing of the domain: it keeps opaque bytes and integers. The service decides
events, numbers them, has the ledger compute each event's salt and leaf hash, and hands the store
:class:`LogRecord` values; only once :meth:`EventStore.append` has returned may it answer the
client (DESIGN.md, invariant 4).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["EventStore", "LogRecord", "SharedEventStore", "Snapshot", "StoredHead"]


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One entry of the event log.

    ``event`` is the canonical (RFC 8785) JSON of the event, stored and returned verbatim;
    ``salt`` and ``leaf_hash`` are the ledger's commitment inputs and RFC 9162 leaf hash.
    """

    index: int
    time: str
    event: bytes
    salt: bytes
    leaf_hash: bytes


@dataclass(frozen=True, slots=True)
class StoredHead:
    """A signed tree head as the ledger produced it: the root of the first ``tree_size`` leaves."""

    tree_size: int
    root_hash: bytes
    timestamp: str
    signature: bytes
    key_id: str


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Serialised state after applying the events ``[0, upto_index)``."""

    upto_index: int
    data: bytes


@runtime_checkable
class EventStore(Protocol):
    """Durable storage of the event log, tree heads, snapshots and a few metadata values.

    Every failure is raised as :class:`accord.errors.StorageError`, and a failed write has written
    nothing. Implementations are safe to call from several threads.
    """

    def append(self, records: Sequence[LogRecord]) -> None:
        """Store ``records`` durably, all or nothing.

        The indexes must be exactly ``next_index(), next_index() + 1, ...`` in order; otherwise
        nothing is written and :class:`~accord.errors.StorageError` is raised. When this returns,
        the records survive a crash of the process and of the machine.
        """
        ...

    def next_index(self) -> int:
        """The index the next appended record must have (the number of records stored)."""
        ...

    def read(self, start: int = 0, stop: int | None = None) -> Iterator[LogRecord]:
        """The records with ``start <= index < stop`` (to the end if ``stop`` is None), in order.

        A negative ``start``, or a ``stop`` below ``start``, raises
        :class:`~accord.errors.InvalidInput`; a damaged record raises StorageError.
        """
        ...

    def leaf_hashes(self) -> list[bytes]:
        """Every record's leaf hash, in index order (what a restart rebuilds the tree from)."""
        ...

    def put_head(self, head: StoredHead) -> None:
        """Store a signed tree head.

        Refused (:class:`~accord.errors.StorageError`) when it covers records not stored yet,
        when it is smaller than the latest head, or when a head of the same size with another
        root exists (a fork). A head of the same size and root replaces the earlier signature.
        """
        ...

    def latest_head(self) -> StoredHead | None:
        """The head with the largest ``tree_size``, or None."""
        ...

    def head_at(self, tree_size: int) -> StoredHead | None:
        """The head of exactly ``tree_size`` leaves, or None."""
        ...

    def put_snapshot(self, snap: Snapshot) -> None:
        """Store a snapshot; refused when it covers records not stored yet or is older than the
        latest one. Older snapshots may be pruned."""
        ...

    def latest_snapshot(self) -> Snapshot | None:
        """The most recent intact snapshot, or None."""
        ...

    def get_meta(self, key: str) -> bytes | None:
        """The value stored under ``key``, or None."""
        ...

    def put_meta(self, key: str, value: bytes, *, replace: bool = True) -> bytes:
        """Store ``value`` under ``key`` durably, replacing any earlier value; with ``replace``
        false, keep an earlier value instead (in one transaction: of processes that race to
        store a first value, one wins and all of them get its value). Returns the value stored."""
        ...

    def close(self) -> None:
        """Release the store's resources. Calling it again does nothing."""
        ...


@runtime_checkable
class SharedEventStore(EventStore, Protocol):
    """A store several service processes share (PostgreSQL): a writer's turn at the log that
    sees the whole of it, and a way to follow what the others append."""

    def catch_up_and_append(
        self, after: int, decide: Callable[[list[LogRecord]], Sequence[LogRecord]]
    ) -> int:
        """In one transaction under the log's lock across processes: read the records from
        ``after`` on, append what ``decide(those records)`` returns, commit; the new length."""
        ...

    def follow(self, after: int, timeout: float) -> list[LogRecord]:
        """Records from index ``after`` on, waiting up to ``timeout`` s for some to appear; those
        of this object's own turns (``catch_up_and_append``) are skipped, the caller has them."""
        ...
