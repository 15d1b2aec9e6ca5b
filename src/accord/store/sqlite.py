"""The embedded store: one SQLite file in WAL mode.

Durability: ``journal_mode=WAL`` with ``synchronous=FULL``, under which SQLite syncs the WAL at
every commit, so a committed transaction survives a crash of the machine (with ``NORMAL`` it
would survive only a crash of the process). One connection writes, guarded by a lock; another
reads, so reads never wait for an fsync.

Integrity: every row carries a CRC-32 of its fields. Opening the store checks every log record
(``verify="full"``) or those not yet covered by a tree head or snapshot (``verify="tail"``). A run
of damaged records at the very end of the log (a torn last write) is moved to the ``log_dropped``
table, reported in :attr:`SQLiteStore.dropped_tail` and logged; a damaged record followed by an
intact one, or one already covered by a stored tree head or snapshot, raises
:class:`~accord.errors.StorageError`: history is never silently rewritten.

Exclusivity: a store holds an exclusive ``flock`` on ``<path>.lock`` while open, so two processes
(or two store objects) never append to the same file.

Checkpoints: SQLite copies the WAL back into the database file (a checkpoint: the copy and two
fsyncs) in the connection whose commit takes the WAL past 1,000 pages, so that one commit in a few
hundred waited 90-100 ms under load, against a few ms for the others (docs/PERF-store.md,
"Checkpoints off the commit path"). Here the write connection never checkpoints: a thread of the
store's own does, on a connection of its own, once ``CHECKPOINT_BYTES`` have been written since
the last one (a ``PASSIVE`` checkpoint, which waits for no writer and no reader; commits go on
meanwhile). Closing the store checkpoints what is left, as SQLite does when its last connection
closes.
"""

from __future__ import annotations

import fcntl
import functools
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, TypeVar

from accord.errors import InvalidInput, StorageError, Superseded
from accord.store.base import LogRecord, Snapshot, StoredHead
from accord.store.checksum import head_crc, record_crc, row_is_intact, tagged_crc

__all__ = ["CHECKPOINT_BYTES", "SQLiteStore"]

_log = logging.getLogger(__name__)

_APPLICATION_ID = 0x41434344  # "ACCD": marks the file as an Accord store
_SCHEMA_VERSION = 1
_READ_CHUNK = 2048
_MAX_INDEX = 2**63 - 1

_SCHEMA = (
    """CREATE TABLE log (
        idx INTEGER PRIMARY KEY,
        time TEXT NOT NULL,
        event BLOB NOT NULL,
        salt BLOB NOT NULL,
        leaf_hash BLOB NOT NULL,
        crc INTEGER NOT NULL)""",
    """CREATE TABLE log_dropped (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        idx INTEGER, time, event, salt, leaf_hash, crc)""",
    """CREATE TABLE heads (
        tree_size INTEGER PRIMARY KEY,
        root_hash BLOB NOT NULL,
        timestamp TEXT NOT NULL,
        signature BLOB NOT NULL,
        key_id TEXT NOT NULL,
        crc INTEGER NOT NULL)""",
    """CREATE TABLE snapshots (
        upto_index INTEGER PRIMARY KEY,
        data BLOB NOT NULL,
        crc INTEGER NOT NULL)""",
    """CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value BLOB NOT NULL,
        crc INTEGER NOT NULL)""",
)

_T = TypeVar("_T")

_LOG_COLUMNS = 6
ROWS_PER_INSERT = 1000  # log records per INSERT statement (a statement of ~20 KB)
CHECKPOINT_BYTES = 4 * 1024 * 1024  # written between checkpoints: SQLite's own 1,000 pages


@functools.lru_cache(maxsize=64)
def _insert_log(n: int) -> str:
    """The statement that inserts ``n`` log records (``_LOG_COLUMNS`` parameters each)."""
    row = "(" + ", ".join("?" * _LOG_COLUMNS) + ")"
    return "INSERT INTO log (idx, time, event, salt, leaf_hash, crc) VALUES " + ", ".join([row] * n)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SQLiteStore:
    """An :class:`~accord.store.base.EventStore` in one SQLite file.

    ``verify`` says how much of the log is checked on open: ``"full"`` (every record, about
    2.5 s per million records; see docs/PERF-store.md) or ``"tail"`` (the records after the latest
    tree head or snapshot; the others are checked whenever :meth:`read` returns them, and their
    leaf hashes by the ledger against the signed root, since :meth:`leaf_hashes` does not check
    checksums). Snapshots beyond the newest ``keep_snapshots`` are pruned. ``busy_timeout_s``
    bounds the wait for SQLite's write lock.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        verify: Literal["full", "tail"] = "full",
        keep_snapshots: int = 2,
        busy_timeout_s: float = 5.0,
    ) -> None:
        if verify not in ("full", "tail"):
            raise InvalidInput("verify", f"must be 'full' or 'tail', not {verify!r}")
        if keep_snapshots < 1:
            raise InvalidInput("keep_snapshots", "must be at least 1")
        self.path = Path(path)
        self.dropped_tail: tuple[int, ...] = ()
        """Indexes of damaged records at the end of the log that opening removed (and kept in
        the ``log_dropped`` table)."""
        self._keep_snapshots = keep_snapshots
        self._busy_timeout_s = busy_timeout_s
        self._wlock = threading.Lock()
        self._rlock = threading.Lock()
        self._closed = False
        self._failed: StorageError | None = None
        self._next = 0
        self._leaf_cache: list[bytes] | None = None
        self._lock_fd = self._take_lock()
        self._wconn: sqlite3.Connection | None = None
        self._rconn: sqlite3.Connection | None = None
        self._written = 0  # bytes written since the last checkpoint
        self._checkpoint_due = threading.Event()
        self._checkpointer: threading.Thread | None = None
        try:
            self._open(verify)
        except BaseException:
            self._release()
            raise
        self._checkpointer = threading.Thread(
            target=self._checkpoint_when_due, name="accord-checkpoint", daemon=True
        )
        self._checkpointer.start()

    # -- opening ----------------------------------------------------------------------------

    def _take_lock(self) -> int:
        if not self.path.parent.is_dir():
            raise StorageError(f"cannot open store {self.path}: no directory {self.path.parent}")
        lock_path = f"{self.path}.lock"
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StorageError(f"cannot open store lock {lock_path}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            raise StorageError(
                f"store {self.path} is already open (in another process or store object)"
            ) from exc
        return fd

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            timeout=self._busy_timeout_s,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            self._check_identity(conn)
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StorageError(f"store {self.path}: cannot use WAL mode (got {mode!r})")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA cell_size_check=ON")
            conn.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer's work (docstring)
        except BaseException:
            conn.close()
            raise
        return conn

    def _check_identity(self, conn: sqlite3.Connection) -> None:
        """Refuse, before changing anything, a database that is not an Accord store."""
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        if app_id == _APPLICATION_ID:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version != _SCHEMA_VERSION:
                raise StorageError(
                    f"store {self.path} has schema version {version}; "
                    f"this Accord reads version {_SCHEMA_VERSION}"
                )
            return
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if app_id != 0 or tables != 0:
            raise StorageError(f"{self.path} is an SQLite database but not an Accord store")

    def _open(self, verify: str) -> None:
        created = not self.path.exists()
        try:
            self._wconn = self._connect()
            limit = self._wconn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // _LOG_COLUMNS
            self._rows_per_insert = max(1, min(ROWS_PER_INSERT, limit))
            if created:
                _fsync_dir(self.path.parent)
            self._init_schema(self._wconn)
            self._recover(self._wconn, verify)
            self._rconn = self._connect()
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open store {self.path}: {exc}") from exc
        except OSError as exc:
            raise StorageError(f"cannot open store {self.path}: {exc}") from exc

    def _init_schema(self, conn: sqlite3.Connection) -> None:
        if conn.execute("PRAGMA application_id").fetchone()[0] == _APPLICATION_ID:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute(f"PRAGMA application_id={_APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.rollback()
            raise

    def _recover(self, conn: sqlite3.Connection, verify: str) -> None:
        """Check the log's shape and checksums; drop a damaged tail; set ``_next``."""
        # min and max of the rowid are two index lookups; count(*) would read the whole table.
        low = conn.execute("SELECT min(idx) FROM log").fetchone()[0]
        high = conn.execute("SELECT max(idx) FROM log").fetchone()[0]
        if low not in (0, None):
            raise StorageError(f"store {self.path}: log records 0..{low - 1} are missing")
        count = 0 if high is None else high + 1
        head_size = conn.execute("SELECT max(tree_size) FROM heads").fetchone()[0] or 0
        snap_upto = conn.execute("SELECT max(upto_index) FROM snapshots").fetchone()[0] or 0
        covered = max(head_size, snap_upto)
        if covered > count:
            raise StorageError(
                f"store {self.path}: a tree head or snapshot covers {covered} records but the log "
                f"holds {count}: acknowledged records were lost"
            )
        start = 0 if verify == "full" else max(0, min(covered, count - 1))
        first_bad: int | None = None
        expected = start
        leaves: list[bytes] = []  # a full check reads every leaf hash: keep them for leaf_hashes()
        keep = leaves.append if start == 0 else None
        cursor = conn.execute(
            "SELECT idx, time, event, salt, leaf_hash, crc FROM log WHERE idx >= ? ORDER BY idx",
            (start,),
        )
        for row in cursor:
            if row[0] != expected:
                raise StorageError(f"store {self.path}: log record {expected} is missing")
            if not row_is_intact(row):
                if first_bad is None:
                    first_bad = expected
            elif first_bad is not None:
                raise StorageError(
                    f"store {self.path}: log record {first_bad} is damaged and record {expected} "
                    "after it is intact; refusing to rewrite history"
                )
            if keep is not None:
                keep(row[4])
            expected += 1
        if first_bad is not None:
            if first_bad < covered:
                raise StorageError(
                    f"store {self.path}: log record {first_bad} is damaged and is covered by a "
                    f"stored tree head or snapshot of {covered} records"
                )
            self._drop_tail(conn, first_bad, count)
            count = first_bad
            del leaves[count:]
        self._next = count
        self._leaf_cache = leaves if keep is not None else None

    def _drop_tail(self, conn: sqlite3.Connection, first: int, count: int) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "INSERT INTO log_dropped (idx, time, event, salt, leaf_hash, crc) "
                "SELECT idx, time, event, salt, leaf_hash, crc FROM log WHERE idx >= ? "
                "ORDER BY idx",
                (first,),
            )
            conn.execute("DELETE FROM log WHERE idx >= ?", (first,))
            conn.execute("COMMIT")
        except BaseException:
            conn.rollback()
            raise
        self.dropped_tail = tuple(range(first, count))
        _log.warning(
            "store %s: dropped %d damaged record(s) at the end of the log (indexes %d..%d); "
            "they are kept in the log_dropped table",
            self.path,
            count - first,
            first,
            count - 1,
        )

    # -- writing ----------------------------------------------------------------------------

    def _write(self, what: str, body: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``body`` in one immediate transaction on the write connection (lock held)."""
        conn = self._writer()
        with self._failing(what):
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = body(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.rollback()
                raise
        return result

    def _write_statement(self, what: str, sql: str, params: Sequence[object]) -> None:
        """Run one statement as a transaction of its own (lock held), as :meth:`_write` runs
        ``body``: SQLite's autocommit begins, writes and commits (the WAL synced) within one
        step, all or nothing.

        One step is one release of the GIL and one taking it back, where ``BEGIN``, the
        statement and ``COMMIT`` are three or more: a writer thread takes the GIL back from a
        busy event loop only after the switch interval (5 ms), so each one it saves is up to
        5 ms less before the answers of its batch leave."""
        conn = self._writer()
        with self._failing(what):
            conn.execute(sql, params)

    @contextmanager
    def _failing(self, what: str) -> Iterator[None]:
        """A database error in a write leaves the store unusable for writing: after a failed
        commit (an fsync error above all) SQLite's and the disk's states are not known to
        agree, so every later write is refused until the store is reopened."""
        try:
            yield
        except sqlite3.Error as exc:
            self._failed = StorageError(f"store {self.path}: {what} failed: {exc}")
            raise self._failed from exc

    def _writer(self) -> sqlite3.Connection:
        if self._closed or self._wconn is None:
            raise StorageError(f"store {self.path} is closed")
        if self._failed is not None:
            raise StorageError(
                f"{self._failed}; the store refuses writes until it is reopened"
            ) from self._failed
        return self._wconn

    def append(self, records: Sequence[LogRecord]) -> None:
        if not records:
            return
        with self._wlock:
            self._writer()
            first = self._next
            rows = []
            for k, r in enumerate(records):
                if r.index != first + k:
                    raise StorageError(
                        f"record {k} of the batch has index {r.index}, expected {first + k}: "
                        "indexes must continue the log; nothing was written"
                    )
                if not (
                    type(r.event) is bytes and type(r.salt) is bytes and type(r.leaf_hash) is bytes
                ):
                    raise StorageError(
                        f"record {r.index}: event, salt and leaf_hash must be bytes; "
                        "nothing was written"
                    )
                try:
                    time = r.time.encode()
                except (AttributeError, UnicodeError) as exc:
                    raise StorageError(
                        f"record {r.index}: time must be a string; nothing was written"
                    ) from exc
                crc = record_crc(r.index, time, r.event, r.salt, r.leaf_hash)
                rows.append((r.index, r.time, r.event, r.salt, r.leaf_hash, crc))

            what = f"append of records {first}..{first + len(rows) - 1}"
            # many rows per statement, not executemany's one step per row: each step lets go
            # of the GIL and takes it back, which costs the event loop a thread switch
            per = self._rows_per_insert
            if len(rows) <= per:  # the usual batch: one statement, its own transaction
                self._write_statement(what, _insert_log(len(rows)), [v for r in rows for v in r])
            else:

                def insert(conn: sqlite3.Connection) -> None:
                    for start in range(0, len(rows), per):
                        part = rows[start : start + per]
                        conn.execute(_insert_log(len(part)), [v for row in part for v in row])

                self._write(what, insert)
            self._wrote(sum(len(r.event) + len(r.time) + 64 for r in records))
            self._next = first + len(rows)

    def put_head(self, head: StoredHead) -> None:
        with self._wlock:
            self._writer()
            size = head.tree_size
            if not 0 <= size <= self._next:
                raise StorageError(
                    f"tree head of size {size} refused: the log holds {self._next} records"
                )
            try:
                crc = head_crc(size, head.root_hash, head.timestamp, head.signature, head.key_id)
            except (AttributeError, TypeError, UnicodeError) as exc:
                raise StorageError(f"tree head of size {size} refused: bad field type") from exc

            def put(conn: sqlite3.Connection) -> None:
                latest = conn.execute("SELECT max(tree_size) FROM heads").fetchone()[0]
                if latest is not None and size < latest:
                    raise Superseded(
                        f"tree head of size {size} refused: a head of size {latest} is stored"
                    )
                same = conn.execute(
                    "SELECT root_hash FROM heads WHERE tree_size = ?", (size,)
                ).fetchone()
                if same is not None and same[0] != head.root_hash:
                    raise StorageError(
                        f"tree head of size {size} refused: a head of that size with another "
                        "root hash is stored"
                    )
                conn.execute(
                    "INSERT OR REPLACE INTO heads "
                    "(tree_size, root_hash, timestamp, signature, key_id, crc) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (size, head.root_hash, head.timestamp, head.signature, head.key_id, crc),
                )

            self._write(f"storing the tree head of size {size}", put)

    def put_snapshot(self, snap: Snapshot) -> None:
        with self._wlock:
            self._writer()
            upto = snap.upto_index
            if not 0 <= upto <= self._next:
                raise StorageError(
                    f"snapshot up to {upto} refused: the log holds {self._next} records"
                )
            if type(snap.data) is not bytes:
                raise StorageError(f"snapshot up to {upto} refused: data must be bytes")
            crc = tagged_crc(b"snapshot", upto.to_bytes(8, "big"), snap.data)

            def put(conn: sqlite3.Connection) -> None:
                latest = conn.execute("SELECT max(upto_index) FROM snapshots").fetchone()[0]
                if latest is not None and upto < latest:
                    raise Superseded(
                        f"snapshot up to {upto} refused: a snapshot up to {latest} is stored"
                    )
                conn.execute(
                    "INSERT OR REPLACE INTO snapshots (upto_index, data, crc) VALUES (?, ?, ?)",
                    (upto, snap.data, crc),
                )
                conn.execute(
                    "DELETE FROM snapshots WHERE upto_index NOT IN "
                    "(SELECT upto_index FROM snapshots ORDER BY upto_index DESC LIMIT ?)",
                    (self._keep_snapshots,),
                )

            self._write(f"storing the snapshot up to {upto}", put)
            self._wrote(len(snap.data))

    def put_meta(self, key: str, value: bytes, *, replace: bool = True) -> bytes:
        if not isinstance(key, str) or not key:
            raise InvalidInput("key", "must be a non-empty string")
        if type(value) is not bytes:
            raise InvalidInput("value", "must be bytes")
        crc = tagged_crc(b"meta", key.encode(), value)
        with self._wlock:  # every writer of the file holds it: the look and the write are one
            if not replace:
                existing = self.get_meta(key)
                if existing is not None:
                    return existing
            self._write(
                f"storing meta {key!r}",
                lambda conn: conn.execute(
                    "INSERT OR REPLACE INTO meta (key, value, crc) VALUES (?, ?, ?)",
                    (key, value, crc),
                ),
            )
        return value

    def _wrote(self, size: int) -> None:
        """Count ``size`` bytes just committed; wake the checkpointer once enough are."""
        self._written += size
        if self._written >= CHECKPOINT_BYTES:
            self._written = 0
            self._checkpoint_due.set()

    def _checkpoint_when_due(self) -> None:
        """The checkpointer thread: a ``PASSIVE`` checkpoint whenever one is due, on a
        connection of its own, until the store closes. A failed checkpoint loses nothing (the
        WAL keeps what it could not copy); it is logged, and the next one tries again."""
        conn: sqlite3.Connection | None = None
        try:
            while True:
                self._checkpoint_due.wait()
                self._checkpoint_due.clear()
                if self._closed:
                    return
                try:
                    if conn is None:
                        conn = self._connect()
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except (sqlite3.Error, StorageError) as exc:
                    _log.warning("store %s: a checkpoint failed: %s", self.path, exc)
        finally:
            if conn is not None:
                conn.close()

    # -- reading ----------------------------------------------------------------------------

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self._rlock:
            if self._closed or self._rconn is None:
                raise StorageError(f"store {self.path} is closed")
            try:
                return self._rconn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StorageError(f"store {self.path}: read failed: {exc}") from exc

    def next_index(self) -> int:
        if self._closed:
            raise StorageError(f"store {self.path} is closed")
        return self._next

    def read(self, start: int = 0, stop: int | None = None) -> Iterator[LogRecord]:
        if start < 0:
            raise InvalidInput("start", f"must be 0 or more, not {start}")
        if stop is not None and stop < start:
            raise InvalidInput("stop", f"must not be below start ({start}), not {stop}")
        return self._read(start, stop)

    def _read(self, start: int, stop: int | None) -> Iterator[LogRecord]:
        end = stop if stop is not None else _MAX_INDEX
        position = start
        while stop is None or position < stop:
            rows = self._query(
                "SELECT idx, time, event, salt, leaf_hash, crc FROM log "
                "WHERE idx >= ? AND idx < ? ORDER BY idx LIMIT ?",
                (position, end, _READ_CHUNK),
            )
            for row in rows:
                if row[0] != position:
                    raise StorageError(f"store {self.path}: log record {position} is missing")
                if not row_is_intact(row):
                    raise StorageError(f"store {self.path}: log record {position} is damaged")
                yield LogRecord(row[0], row[1], row[2], row[3], row[4])
                position += 1
            if len(rows) < _READ_CHUNK:
                return

    def leaf_hashes(self) -> list[bytes]:
        # The first call after a full check on open takes the hashes that check read (once).
        with self._wlock:
            cached, self._leaf_cache = self._leaf_cache, None
        if cached is None:
            cached = []
        rows = self._query("SELECT leaf_hash FROM log WHERE idx >= ? ORDER BY idx", (len(cached),))
        cached.extend(row[0] for row in rows)
        return cached

    def _head(self, rows: list[Any]) -> StoredHead | None:
        if not rows:
            return None
        size, root, timestamp, signature, key_id, crc = rows[0]
        try:
            intact = head_crc(size, root, timestamp, signature, key_id) == crc
        except (AttributeError, TypeError, UnicodeError):
            intact = False
        if not intact:
            raise StorageError(f"store {self.path}: the tree head of size {size} is damaged")
        return StoredHead(size, root, timestamp, signature, key_id)

    def latest_head(self) -> StoredHead | None:
        return self._head(
            self._query(
                "SELECT tree_size, root_hash, timestamp, signature, key_id, crc FROM heads "
                "ORDER BY tree_size DESC LIMIT 1"
            )
        )

    def head_at(self, tree_size: int) -> StoredHead | None:
        return self._head(
            self._query(
                "SELECT tree_size, root_hash, timestamp, signature, key_id, crc FROM heads "
                "WHERE tree_size = ?",
                (tree_size,),
            )
        )

    def latest_snapshot(self) -> Snapshot | None:
        rows = self._query("SELECT upto_index FROM snapshots ORDER BY upto_index DESC")
        for (upto,) in rows:
            found = self._query("SELECT data, crc FROM snapshots WHERE upto_index = ?", (upto,))
            if not found:  # pruned meanwhile
                continue
            data, crc = found[0]
            if (
                type(data) is bytes
                and tagged_crc(b"snapshot", upto.to_bytes(8, "big"), data) == crc
            ):
                return Snapshot(upto, data)
            _log.warning(
                "store %s: the snapshot up to %d is damaged; trying an older one", self.path, upto
            )
        return None

    def get_meta(self, key: str) -> bytes | None:
        rows = self._query("SELECT value, crc FROM meta WHERE key = ?", (key,))
        if not rows:
            return None
        value, crc = rows[0]
        if type(value) is not bytes or tagged_crc(b"meta", key.encode(), value) != crc:
            raise StorageError(f"store {self.path}: the meta value {key!r} is damaged")
        return value

    # -- closing ----------------------------------------------------------------------------

    def close(self) -> None:
        with self._wlock, self._rlock:
            if self._closed:
                return
            self._closed = True
            self._checkpoint_due.set()
            if self._checkpointer is not None:
                self._checkpointer.join()
            self._release()

    def _release(self) -> None:
        try:
            for conn in (self._rconn, self._wconn):
                if conn is not None:
                    conn.close()
        except sqlite3.Error as exc:
            raise StorageError(f"store {self.path}: close failed: {exc}") from exc
        finally:
            self._rconn = self._wconn = None
            if self._lock_fd >= 0:
                os.close(self._lock_fd)  # releases the flock
                self._lock_fd = -1

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
