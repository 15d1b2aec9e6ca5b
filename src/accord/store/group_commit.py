"""Group commit: many threads append, one thread writes, one fsync per batch.

Durable appends cost one fsync each; the fsync, not the insert, bounds the rate. A
:class:`GroupCommitter` puts every request in one queue, where the requests that arrive while
its writer thread is busy join one batch (up to ``max_batch`` records); the writer appends each
batch with a single :meth:`EventStore.append` (one transaction, one fsync), and then completes
the one future the callers of that batch share. Requests are written in the order they were
submitted, so the service numbers its events and submits them under the same lock, then waits
for durability outside it::

    with service_lock:
        records = number_and_hash(events)      # indexes next_index, next_index + 1, ...
        done = committer.submit(records)
    done.result()                              # durable: the answer may now be sent

If a batch fails, every caller in it gets a :class:`~accord.errors.StorageError`, and nothing of
that batch was acknowledged.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future

from accord.errors import InvalidInput, StorageError
from accord.store.base import EventStore, LogRecord

__all__ = ["GroupCommitter"]


class _Batch:
    """The records of one transaction, and the future its callers share."""

    __slots__ = ("done", "records")

    def __init__(self) -> None:
        self.records: list[LogRecord] = []
        self.done: Future[int] = Future()
        # running from the start: a queued request is written, so its future cannot be cancelled
        # (an event loop that stops awaiting it, say, must not make the writer fail to complete it)
        self.done.set_running_or_notify_cancel()


class GroupCommitter:
    """Batches appends to ``store`` from many threads (see the module docstring).

    ``max_batch`` bounds the records written in one transaction; a single request is never
    split. The committer does not own ``store``: :meth:`close` stops the writer thread after it
    has written everything already submitted, and leaves the store open.
    """

    def __init__(self, store: EventStore, *, max_batch: int = 10_000) -> None:
        if max_batch < 1:
            raise InvalidInput("max_batch", "must be at least 1")
        self._store = store
        self._max_batch = max_batch
        self._cond = threading.Condition()
        self._pending: list[_Batch] = []  # the last one is still open to further requests
        self._closed = False
        self.batches_committed = 0
        """Transactions written so far (records_committed / batches_committed: mean batch size)."""
        self.records_committed = 0
        self._thread = threading.Thread(target=self._run, name="accord-group-commit", daemon=True)
        self._thread.start()

    def submit(self, records: Sequence[LogRecord]) -> Future[int]:
        """Queue ``records`` for appending; the future completes once they are durable, with the
        index that follows the last record of their transaction (everything below it is durable).

        The requests queued for one transaction share its future: one completion wakes all their
        callers. Its ``result()`` raises :class:`~accord.errors.StorageError` if the transaction
        failed; its ``cancel()`` does nothing (the records are written all the same).
        """
        if not records:
            done = _Batch().done
            done.set_result(-1)
            return done
        with self._cond:
            if self._closed:
                raise StorageError("the group committer is closed; nothing was written")
            batch = self._pending[-1] if self._pending else None
            if batch is None or len(batch.records) + len(records) > self._max_batch:
                batch = _Batch()
                self._pending.append(batch)
            batch.records.extend(records)
            self._cond.notify()
        return batch.done

    def append(self, records: Sequence[LogRecord]) -> None:
        """Append ``records`` and return once they are durable (raises StorageError if not)."""
        self.submit(records).result()

    def close(self) -> None:
        """Write what is queued, then stop the writer thread. Calling it again does nothing."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join()

    def __enter__(self) -> GroupCommitter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if not self._pending:
                    return
                queued, self._pending = self._pending, []
            for batch in queued:
                self._commit(batch)

    def _commit(self, batch: _Batch) -> None:
        try:
            self._store.append(batch.records)
        except Exception as exc:  # every failure reaches every caller; the thread lives on
            message = str(exc) if isinstance(exc, StorageError) else f"append failed: {exc!r}"
            error = StorageError(message)
            error.__cause__ = exc
            batch.done.set_exception(error)
        else:
            self.batches_committed += 1
            self.records_committed += len(batch.records)
            batch.done.set_result(batch.records[-1].index + 1)
