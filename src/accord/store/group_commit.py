"""Group commit: many threads append, one thread writes, one fsync per batch.

Durable appends cost one fsync each; the fsync, not the insert, bounds the rate. A
:class:`GroupCommitter` puts every request in one queue; its writer thread takes whatever has
queued since its last write, appends it with a single :meth:`EventStore.append` (one
transaction, one fsync), and then wakes the callers of that batch. Requests are written in the
order they were submitted, so the service numbers its events and submits them under the same
lock, then waits for durability outside it::

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

_Request = tuple[Sequence[LogRecord], "Future[None]"]


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
        self._pending: list[_Request] = []
        self._closed = False
        self.batches_committed = 0
        """Transactions written so far (records_committed / batches_committed: mean batch size)."""
        self.records_committed = 0
        self._thread = threading.Thread(target=self._run, name="accord-group-commit", daemon=True)
        self._thread.start()

    def submit(self, records: Sequence[LogRecord]) -> Future[None]:
        """Queue ``records`` for appending; the future completes once they are durable.

        Its ``result()`` raises :class:`~accord.errors.StorageError` if the batch failed; its
        ``cancel()`` does nothing (the records are written all the same).
        """
        done: Future[None] = Future()
        # running from the start: a queued request is written, so its future cannot be cancelled
        # (an event loop that stops awaiting it, say, must not make the writer fail to complete it)
        done.set_running_or_notify_cancel()
        if not records:
            done.set_result(None)
            return done
        request = (tuple(records), done)
        with self._cond:
            if self._closed:
                raise StorageError("the group committer is closed; nothing was written")
            self._pending.append(request)
            self._cond.notify()
        return done

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
            group: list[_Request] = []
            size = 0
            for request in queued:
                if group and size + len(request[0]) > self._max_batch:
                    self._commit(group)
                    group, size = [], 0
                group.append(request)
                size += len(request[0])
            self._commit(group)

    def _commit(self, group: list[_Request]) -> None:
        records = [record for request in group for record in request[0]]
        try:
            self._store.append(records)
        except Exception as exc:  # every failure reaches every caller; the thread lives on
            message = str(exc) if isinstance(exc, StorageError) else f"append failed: {exc!r}"
            for _, done in group:
                error = StorageError(message)
                error.__cause__ = exc
                done.set_exception(error)
        else:
            self.batches_committed += 1
            self.records_committed += len(records)
            for _, done in group:
                done.set_result(None)
