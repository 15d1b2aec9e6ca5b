"""The shared store: PostgreSQL 15, one database for several Accord processes.

Tables live in the connection's current schema (the first existing schema of ``search_path``;
choose another with ``?options=-csearch_path%3DNAME`` in the URL), all named ``accord_*``; a
schema holding tables of those names that is not an Accord store is refused, anything else in it
is left alone.

Durability: every write is one transaction committed with ``synchronous_commit = on``, so when
:meth:`PostgresStore.append` returns, the server has flushed the records to its write-ahead log
(and, with synchronous replication configured on the server, to a standby as well).

One order for the log: every write of the log takes a transaction-level advisory lock (one key
per schema), reads the log's length under it and refuses records that do not continue it exactly,
so two processes can never write the same index or leave a gap; the one that comes second gets a
:class:`~accord.errors.StorageError` and writes nothing. :meth:`PostgresStore.append` does just
that. A writer that must see the whole log before it decides takes a turn,
:meth:`PostgresStore.catch_up_and_append`: in one transaction under the same lock it reads the
records it has not seen, decides, and appends; other processes' writers wait meanwhile (each
connection's ``lock_timeout`` bounds the wait, set once when it connects). The lock is the
transaction's, so a lost connection or a rollback releases it with everything the transaction
did: there is no lock to lose while records are still being written. Starting a transaction,
taking the lock and reading the length go to the server in one round trip (pipeline mode).

Following: every append sends ``NOTIFY`` with the new length in the same transaction, so it is
delivered exactly when the records become visible; :meth:`PostgresStore.follow` waits for it and
returns the new records.

Integrity: every row carries a CRC-32 of its fields (framed as in the SQLite store). Opening the
store checks every log record (``verify="full"``) or those after the latest tree head or
snapshot (``verify="tail"``), and every read checks the records it returns. Unlike the SQLite
store no damaged tail is ever dropped: PostgreSQL commits are atomic, so a damaged record is
corruption or tampering, and other processes may already have served it; it is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal, TypeVar

import psycopg
from psycopg import conninfo

from accord.errors import InvalidInput, StorageError, Superseded
from accord.store.base import LogRecord, Snapshot, StoredHead
from accord.store.checksum import head_crc, record_crc, row_is_intact, tagged_crc

__all__ = ["PostgresStore"]

_log = logging.getLogger(__name__)

_APPLICATION = "accord"
_SCHEMA_VERSION = 1
_READ_CHUNK = 2048
_VERIFY_CHUNK = 20_000
_FOLLOW_LIMIT = 10_000
_FOLLOW_POLL_S = 0.5  # a lost notification still costs at most this long
_MAX_INDEX = 2**63 - 1
_TABLES = ("accord_store", "accord_log", "accord_heads", "accord_snapshots", "accord_meta")

_SCHEMA = (
    """CREATE TABLE accord_store (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        application text NOT NULL,
        version integer NOT NULL)""",
    """CREATE TABLE accord_log (
        idx bigint PRIMARY KEY CHECK (idx >= 0),
        time text NOT NULL,
        event bytea NOT NULL,
        salt bytea NOT NULL,
        leaf_hash bytea NOT NULL,
        crc bigint NOT NULL)""",
    """CREATE TABLE accord_heads (
        tree_size bigint PRIMARY KEY CHECK (tree_size >= 0),
        root_hash bytea NOT NULL,
        timestamp text NOT NULL,
        signature bytea NOT NULL,
        key_id text NOT NULL,
        crc bigint NOT NULL)""",
    """CREATE TABLE accord_snapshots (
        upto_index bigint PRIMARY KEY CHECK (upto_index >= 0),
        data bytea NOT NULL,
        crc bigint NOT NULL)""",
    """CREATE TABLE accord_meta (
        key text PRIMARY KEY,
        value bytea NOT NULL,
        crc bigint NOT NULL)""",
)

_SELECT_LOG = "SELECT idx, time, event, salt, leaf_hash, crc FROM accord_log"
_COUNT = "SELECT coalesce(max(idx) + 1, 0) FROM accord_log"  # a backward scan of the primary key

_T = TypeVar("_T")
Cursor = psycopg.Cursor[tuple[Any, ...]]
_Row = tuple[int, str, bytes, bytes, bytes, int]


def _text(value: object, what: str) -> str:
    """``value`` as a string PostgreSQL can store (text holds no NUL), else StorageError."""
    if not isinstance(value, str) or "\x00" in value:
        raise StorageError(f"{what} must be a string without NUL characters; nothing was written")
    try:
        value.encode()
    except UnicodeError as exc:
        raise StorageError(f"{what} is not valid Unicode; nothing was written") from exc
    return value


def _rows(records: Sequence[LogRecord]) -> list[_Row]:
    """The rows of ``records`` with their checksums; StorageError for a field of a wrong type."""
    rows = []
    for r in records:
        if not (type(r.event) is bytes and type(r.salt) is bytes and type(r.leaf_hash) is bytes):
            raise StorageError(
                f"record {r.index}: event, salt and leaf_hash must be bytes; nothing was written"
            )
        if type(r.index) is not int:
            raise StorageError(f"record index {r.index!r} is not an int; nothing was written")
        time = _text(r.time, f"record {r.index}: time")
        # an index outside bigint never continues the log: refused by _insert, under the lock
        in_range = 0 <= r.index <= _MAX_INDEX
        crc = record_crc(r.index, time.encode(), r.event, r.salt, r.leaf_hash) if in_range else -1
        rows.append((r.index, time, r.event, r.salt, r.leaf_hash, crc))
    return rows


def _count(cur: Cursor) -> int:
    """The log's length, from the cursor's last statement (``_COUNT``)."""
    found = cur.fetchone()
    return int(found[0]) if found else 0


def _describe(url: str) -> tuple[str, str]:
    """A name for messages (no password) and the database name, from a libpq URL or DSN."""
    try:
        params = conninfo.conninfo_to_dict(url)
    except psycopg.Error as exc:
        raise InvalidInput("store", f"not a PostgreSQL connection URL: {exc}") from exc
    dbname = str(params.get("dbname") or params.get("user") or "")
    host = str(params.get("host") or "the default socket")
    return f"postgresql store {dbname or '(default database)'} on {host}", dbname


class PostgresStore:
    """An :class:`~accord.store.base.EventStore` in a PostgreSQL database (module docstring).

    ``url`` is a libpq connection URL or DSN (``postgresql://user@host/db``,
    ``postgresql:///db?host=/run/postgresql``). ``verify`` says how much of the log is checked on
    open (``"full"`` or ``"tail"``, as for the SQLite store). Snapshots beyond the newest
    ``keep_snapshots`` are pruned. ``lock_timeout_s`` bounds a write's wait for the log lock
    held by another process. Opening takes three connections at most (write, read, and the
    listening one of :meth:`follow`, opened on first use).
    """

    def __init__(
        self,
        url: str,
        *,
        verify: Literal["full", "tail"] = "full",
        keep_snapshots: int = 2,
        lock_timeout_s: float = 10.0,
        connect_timeout_s: int = 10,
    ) -> None:
        if verify not in ("full", "tail"):
            raise InvalidInput("verify", f"must be 'full' or 'tail', not {verify!r}")
        if keep_snapshots < 1:
            raise InvalidInput("keep_snapshots", "must be at least 1")
        if not (math.isfinite(lock_timeout_s) and lock_timeout_s > 0):
            raise InvalidInput("lock_timeout_s", "must be a positive number of seconds")
        self._url = url
        self._name, _ = _describe(url)
        self._keep_snapshots = keep_snapshots
        self._lock_timeout_ms = max(1, round(lock_timeout_s * 1000))
        self._connect_timeout_s = connect_timeout_s
        self._wlock = threading.Lock()  # the write connection
        self._rlock = threading.Lock()  # the read connection
        self._flock = threading.Lock()  # the listening connection
        self._closed = False
        self._turned = 0  # the log's length after this object's last turn: its caller has those
        self._failed: StorageError | None = None
        self._wconn: psycopg.Connection[tuple[Any, ...]] | None = None
        self._rconn: psycopg.Connection[tuple[Any, ...]] | None = None
        self._lconn: psycopg.Connection[tuple[Any, ...]] | None = None
        self.schema = ""
        """The schema holding the store's tables."""
        self._log_key = 0
        self._aux_key = 0
        self.channel = ""
        """The LISTEN/NOTIFY channel on which appends announce the log's new length."""
        try:
            self._open(verify)
        except BaseException:
            self._release()
            raise

    # -- opening ----------------------------------------------------------------------------

    def _connect(self, *, autocommit: bool) -> psycopg.Connection[tuple[Any, ...]]:
        try:
            conn = psycopg.connect(
                self._url,
                autocommit=autocommit,
                connect_timeout=self._connect_timeout_s,
                application_name="accord",
            )
        except psycopg.Error as exc:
            raise StorageError(f"cannot connect to the {self._name}: {exc}") from exc
        try:
            conn.execute(f"SET synchronous_commit = on; SET lock_timeout = {self._lock_timeout_ms}")
            if not autocommit:
                conn.commit()
        except psycopg.Error as exc:
            conn.close()
            raise StorageError(
                f"cannot configure the connection to the {self._name}: {exc}"
            ) from exc
        return conn

    def _open(self, verify: str) -> None:
        self._wconn = self._connect(autocommit=False)
        try:
            with self._wconn.cursor() as cur:
                schema = cur.execute("SELECT current_schema()").fetchone()
                if schema is None or schema[0] is None:
                    raise StorageError(
                        f"{self._name}: no schema of the search_path exists to hold the store "
                        "(create it, or name another with options=-csearch_path%3DNAME)"
                    )
                self.schema = str(schema[0])
                self._name = f"{self._name} (schema {self.schema})"
                digest = hashlib.blake2b(
                    f"accord-log\x00{self.schema}".encode(), digest_size=8
                ).digest()
                self._log_key = int.from_bytes(digest, "big", signed=True)
                self._aux_key = self._log_key ^ 1
                self.channel = f"accord_log_{digest.hex()}"
                fsync = cur.execute("SHOW fsync").fetchone()
                if fsync is not None and fsync[0] != "on":
                    _log.warning("%s: the server runs with fsync=off: not durable", self._name)
                self._init_schema(cur)
                self._verify(cur, verify)
            self._wconn.commit()
        except psycopg.Error as exc:
            raise StorageError(f"cannot open the {self._name}: {exc}") from exc
        self._rconn = self._connect(autocommit=True)

    def _existing_tables(self, cur: Cursor) -> set[str]:
        cur.execute(
            "SELECT relname FROM pg_catalog.pg_class "
            "WHERE relnamespace = current_schema()::regnamespace AND relname = ANY(%s)",
            (list(_TABLES),),
        )
        return {str(row[0]) for row in cur.fetchall()}

    def _check_identity(self, cur: Cursor, tables: set[str]) -> bool:
        """Whether the store exists; refuse, before changing anything, what is not a store."""
        if "accord_store" in tables:
            row = cur.execute("SELECT application, version FROM accord_store").fetchone()
            if row is None or row[0] != _APPLICATION:
                raise StorageError(f"{self._name}: accord_store is not an Accord store marker")
            if row[1] != _SCHEMA_VERSION:
                raise StorageError(
                    f"{self._name} has schema version {row[1]}; "
                    f"this Accord reads version {_SCHEMA_VERSION}"
                )
            if tables != set(_TABLES):
                missing = ", ".join(sorted(set(_TABLES) - tables))
                raise StorageError(f"{self._name}: the store's tables {missing} are missing")
            return True
        if tables:
            raise StorageError(
                f"{self._name}: tables {', '.join(sorted(tables))} exist but are not an "
                "Accord store"
            )
        return False

    def _init_schema(self, cur: Cursor) -> None:
        if self._check_identity(cur, self._existing_tables(cur)):
            return
        # Two processes may open an empty schema at once: the second waits, then finds the store.
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (self._log_key,))
        if self._check_identity(cur, self._existing_tables(cur)):
            return
        for statement in _SCHEMA:
            cur.execute(statement)
        cur.execute(
            "INSERT INTO accord_store (application, version) VALUES (%s, %s)",
            (_APPLICATION, _SCHEMA_VERSION),
        )

    def _verify(self, cur: Cursor, verify: str) -> None:
        """Check the log's shape and the checksums of (the tail of) the log."""
        # one statement, so one snapshot: other processes may be appending meanwhile
        low, count, rows, head_size, snap_upto = cur.execute(
            "SELECT min(idx), coalesce(max(idx) + 1, 0), count(*), "
            "(SELECT coalesce(max(tree_size), 0) FROM accord_heads), "
            "(SELECT coalesce(max(upto_index), 0) FROM accord_snapshots) FROM accord_log"
        ).fetchone() or (None, 0, 0, 0, 0)
        if low not in (0, None):
            raise StorageError(f"{self._name}: log records 0..{low - 1} are missing")
        if rows != count:
            raise StorageError(f"{self._name}: {count - rows} log record(s) below {count} missing")
        covered = max(head_size, snap_upto)
        if covered > count:
            raise StorageError(
                f"{self._name}: a tree head or snapshot covers {covered} records but the log "
                f"holds {count}: acknowledged records were lost"
            )
        position = 0 if verify == "full" else max(0, min(covered, count - 1))
        with cur.connection.cursor(binary=True) as bcur:
            while position < count:
                end = min(count, position + _VERIFY_CHUNK)
                bcur.execute(
                    f"{_SELECT_LOG} WHERE idx >= %s AND idx < %s ORDER BY idx", (position, end)
                )
                for row in bcur:
                    if row[0] != position:
                        raise StorageError(f"{self._name}: log record {position} is missing")
                    if not row_is_intact(row):
                        raise StorageError(
                            f"{self._name}: log record {position} is damaged (checksum); "
                            "refusing to open: history is never rewritten"
                        )
                    position += 1
                if position < end:
                    raise StorageError(f"{self._name}: log record {position} is missing")

    # -- writing ----------------------------------------------------------------------------

    def _writer(self) -> psycopg.Connection[tuple[Any, ...]]:
        if self._closed or self._wconn is None:
            raise StorageError(f"the {self._name} is closed")
        if self._failed is not None:
            raise StorageError(
                f"{self._failed}; the store refuses writes until it is reopened"
            ) from self._failed
        return self._wconn

    def _write(self, what: str, body: Callable[[Cursor], _T]) -> _T:
        """Run ``body`` in one transaction on the write connection (``_wlock`` held).

        A failure before the commit is rolled back, and nothing was written. A failed commit, or
        a failed rollback, leaves the outcome unknown: every later write is then refused until
        the store is reopened (the service's state may be ahead of the database).
        """
        conn = self._writer()
        try:
            with conn.cursor() as cur:
                result = body(cur)
        except BaseException as exc:
            try:
                conn.rollback()
            except psycopg.Error as rollback_exc:
                self._failed = StorageError(
                    f"{self._name}: {what} failed and could not be rolled back: {rollback_exc}"
                )
                raise self._failed from exc
            if isinstance(exc, psycopg.errors.LockNotAvailable):
                raise StorageError(
                    f"{self._name}: {what} timed out waiting for another process's lock; "
                    "nothing was written"
                ) from exc
            if isinstance(exc, psycopg.Error):
                raise StorageError(
                    f"{self._name}: {what} failed: {exc}; nothing was written"
                ) from exc
            raise
        try:
            conn.commit()
        except psycopg.Error as exc:
            self._failed = StorageError(
                f"{self._name}: {what} failed at commit (outcome unknown): {exc}"
            )
            raise self._failed from exc
        return result

    def append(self, records: Sequence[LogRecord]) -> None:
        if not records:
            return
        rows = _rows(records)
        first = rows[0][0]

        def insert(cur: Cursor) -> None:
            self._insert(cur, rows, self._lock_log(cur))

        with self._wlock:
            self._write(f"append of records {first}..{first + len(rows) - 1}", insert)

    def catch_up_and_append(
        self, after: int, decide: Callable[[list[LogRecord]], Sequence[LogRecord]]
    ) -> int:
        """One writer's turn at the log: catch up, decide and append in one transaction, under
        the log's lock, so that what is appended was decided on the whole log.

        Takes the lock (other processes' writers wait meanwhile; this waits for them at most
        ``lock_timeout_s``), reads the records from index ``after`` on (what the caller has not
        seen yet; checked as every read is), and calls ``decide`` with them. ``decide`` returns
        the records to append, which must continue the log; they are written, ``NOTIFY`` is sent
        and the transaction committed. Returns the log's length after it: when this returns the
        records are durable. Nothing is written if ``decide`` raises (its exception propagates)
        or anything else fails (:class:`~accord.errors.StorageError`); a failed commit leaves
        the outcome unknown, and the store then refuses writes until it is reopened. A log
        shorter than ``after`` (acknowledged records were lost) is refused before ``decide``.
        """
        if after < 0:
            raise InvalidInput("after", f"must be 0 or more, not {after}")

        def turn(cur: Cursor) -> int:
            count = self._lock_log(cur)
            if count < after:
                raise StorageError(
                    f"{self._name}: the log holds {count} records, fewer than the {after} "
                    "this writer has seen: acknowledged records were lost; nothing was written"
                )
            behind: list[LogRecord] = []
            if count > after:
                cur.execute(
                    f"{_SELECT_LOG} WHERE idx >= %s AND idx < %s ORDER BY idx", (after, count)
                )
                behind = list(self._checked(cur.fetchall(), after))  # up to max(idx): no gap
            records = decide(behind)
            if records:
                self._insert(cur, _rows(records), count)
            # before the commit sends the NOTIFY, so that follow() knows it for its own; the lock
            # keeps other processes from those indexes until the commit (or the rollback below)
            self._turned = max(self._turned, count + len(records))
            return count + len(records)

        with self._wlock:
            before = self._turned
            try:
                return self._write(f"the writer's turn after record {after}", turn)
            except BaseException:
                self._turned = before  # nothing of the turn is known to be in the log
                raise

    def _lock_log(self, cur: Cursor) -> int:
        """Start the transaction, take the log's lock in it, and read the log's length: one
        round trip (pipeline mode; the length is read after the lock is granted)."""
        with cur.connection.pipeline():
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (self._log_key,))
            cur.execute(_COUNT)
        return _count(cur)

    def _insert(self, cur: Cursor, rows: list[_Row], count: int) -> None:
        """Insert ``rows`` and notify the new length, if they continue a log of ``count``."""
        for k, row in enumerate(rows):
            if row[0] != count + k:
                taken = (
                    f"; the log already holds {count} records (another process appended first)"
                    if k == 0 and row[0] < count
                    else ""
                )
                raise StorageError(
                    f"record {k} of the batch has index {row[0]}, expected {count + k}: "
                    f"indexes must continue the log{taken}; nothing was written"
                )
        cur.executemany(
            "INSERT INTO accord_log (idx, time, event, salt, leaf_hash, crc) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            rows,
        )
        cur.execute("SELECT pg_notify(%s, %s)", (self.channel, str(count + len(rows))))

    def put_head(self, head: StoredHead) -> None:
        size = head.tree_size
        try:
            timestamp = _text(head.timestamp, f"tree head of size {size} refused: timestamp")
            key_id = _text(head.key_id, f"tree head of size {size} refused: key_id")
            crc = head_crc(size, head.root_hash, timestamp, head.signature, key_id)
        except (AttributeError, TypeError, OverflowError) as exc:
            raise StorageError(f"tree head of size {size} refused: bad field type") from exc

        def put(cur: Cursor) -> None:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (self._aux_key,))
            count = _count(cur.execute(_COUNT))
            if not 0 <= size <= count:
                raise StorageError(
                    f"tree head of size {size} refused: the log holds {count} records"
                )
            latest = cur.execute("SELECT max(tree_size) FROM accord_heads").fetchone()
            if latest is not None and latest[0] is not None and size < latest[0]:
                raise Superseded(
                    f"tree head of size {size} refused: a head of size {latest[0]} is stored"
                )
            same = cur.execute(
                "SELECT root_hash FROM accord_heads WHERE tree_size = %s", (size,)
            ).fetchone()
            if same is not None and bytes(same[0]) != head.root_hash:
                raise StorageError(
                    f"tree head of size {size} refused: a head of that size with another "
                    "root hash is stored"
                )
            cur.execute(
                "INSERT INTO accord_heads "
                "(tree_size, root_hash, timestamp, signature, key_id, crc) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (tree_size) DO UPDATE SET "
                "root_hash = excluded.root_hash, timestamp = excluded.timestamp, "
                "signature = excluded.signature, key_id = excluded.key_id, crc = excluded.crc",
                (size, head.root_hash, timestamp, head.signature, key_id, crc),
            )

        with self._wlock:
            self._write(f"storing the tree head of size {size}", put)

    def put_snapshot(self, snap: Snapshot) -> None:
        upto = snap.upto_index
        if type(snap.data) is not bytes:
            raise StorageError(f"snapshot up to {upto} refused: data must be bytes")
        try:
            crc = tagged_crc(b"snapshot", upto.to_bytes(8, "big"), snap.data)
        except (AttributeError, TypeError, OverflowError) as exc:
            raise StorageError(f"snapshot up to {upto} refused: bad index") from exc

        def put(cur: Cursor) -> None:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (self._aux_key,))
            count = _count(cur.execute(_COUNT))
            if not 0 <= upto <= count:
                raise StorageError(f"snapshot up to {upto} refused: the log holds {count} records")
            latest = cur.execute("SELECT max(upto_index) FROM accord_snapshots").fetchone()
            if latest is not None and latest[0] is not None and upto < latest[0]:
                raise Superseded(
                    f"snapshot up to {upto} refused: a snapshot up to {latest[0]} is stored"
                )
            cur.execute(
                "INSERT INTO accord_snapshots (upto_index, data, crc) VALUES (%s, %s, %s) "
                "ON CONFLICT (upto_index) DO UPDATE SET data = excluded.data, crc = excluded.crc",
                (upto, snap.data, crc),
            )
            cur.execute(
                "DELETE FROM accord_snapshots WHERE upto_index NOT IN "
                "(SELECT upto_index FROM accord_snapshots ORDER BY upto_index DESC LIMIT %s)",
                (self._keep_snapshots,),
            )

        with self._wlock:
            self._write(f"storing the snapshot up to {upto}", put)

    def put_meta(self, key: str, value: bytes, *, replace: bool = True) -> bytes:
        if not isinstance(key, str) or not key:
            raise InvalidInput("key", "must be a non-empty string")
        if "\x00" in key:
            raise InvalidInput("key", "must not contain NUL characters")
        if type(value) is not bytes:
            raise InvalidInput("value", "must be bytes")
        try:
            crc = tagged_crc(b"meta", key.encode(), value)
        except UnicodeError as exc:
            raise InvalidInput("key", "must be valid Unicode") from exc

        conflict = (
            "DO UPDATE SET value = excluded.value, crc = excluded.crc" if replace else "DO NOTHING"
        )

        def put(cur: Cursor) -> None:
            cur.execute(
                "INSERT INTO accord_meta (key, value, crc) VALUES (%s, %s, %s) "
                f"ON CONFLICT (key) {conflict}",
                (key, value, crc),
            )

        with self._wlock:
            self._write(f"storing meta {key!r}", put)
        if replace:
            return value
        # committed: the value now stored is this one, or the one that was there (or that a
        # racing process's transaction, which the insert waited for, stored first)
        stored = self.get_meta(key)
        if stored is None:
            raise StorageError(f"{self._name}: the meta value {key!r} is gone once stored")
        return stored

    # -- several processes ------------------------------------------------------------------

    def follow(self, after: int, timeout: float, *, limit: int = _FOLLOW_LIMIT) -> list[LogRecord]:
        """The records from index ``after`` on (at most ``limit``), waiting up to ``timeout``
        seconds for some to be appended (by any process) when there are none yet.

        ``after`` is the number of records the caller already has; the records of this store
        object's turns (:meth:`catch_up_and_append`) are the caller's already, so following
        starts at the end of the last turn if that is later, and a notification of a turn's own
        commit wakes nothing. Returns ``[]`` on timeout. Waits on LISTEN/NOTIFY, and looks again
        at least every half second in case a notification was lost with a connection.
        """
        if after < 0:
            raise InvalidInput("after", f"must be 0 or more, not {after}")
        if not (math.isfinite(timeout) and timeout >= 0):
            raise InvalidInput("timeout", "must be a number of seconds, 0 or more")
        if limit < 1:
            raise InvalidInput("limit", "must be at least 1")
        deadline = time.monotonic() + timeout
        look = True
        with self._flock:
            while True:
                if self._closed:
                    raise StorageError(f"the {self._name} is closed")
                listener = self._listener()  # listening before looking: no append falls between
                start = max(after, self._turned)
                found = list(self._read(start, start + limit)) if look else []
                remaining = deadline - time.monotonic()
                if found or remaining <= 0:
                    return found
                look = True
                try:
                    for note in listener.notifies(
                        timeout=min(remaining, _FOLLOW_POLL_S), stop_after=1
                    ):
                        # the new length; no more than the caller has: this object's own turn
                        length = int(note.payload) if note.payload.isdigit() else math.inf
                        look = length > max(after, self._turned)
                except psycopg.Error as exc:
                    # the next turn listens on a new connection, then looks again
                    _log.warning("%s: listening for appends failed: %s", self._name, exc)
                    self._drop_listener()

    def _listener(self) -> psycopg.Connection[tuple[Any, ...]]:
        if self._closed:
            raise StorageError(f"the {self._name} is closed")
        if self._lconn is None or self._lconn.closed:
            conn = self._connect(autocommit=True)
            try:
                conn.execute(f'LISTEN "{self.channel}"')
            except psycopg.Error as exc:
                conn.close()
                raise StorageError(f"{self._name}: LISTEN failed: {exc}") from exc
            self._lconn = conn
        return self._lconn

    def _drop_listener(self) -> None:
        if self._lconn is not None:
            with contextlib.suppress(psycopg.Error):
                self._lconn.close()
            self._lconn = None

    # -- reading ----------------------------------------------------------------------------

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run one read statement; a lost read connection is reconnected once (reads repeat
        safely)."""
        with self._rlock:
            for attempt in (1, 2):
                if self._closed or self._rconn is None:
                    raise StorageError(f"the {self._name} is closed")
                conn = self._rconn
                try:
                    with conn.cursor(binary=True) as cur:
                        cur.execute(sql, params)
                        return cur.fetchall()
                except psycopg.Error as exc:
                    if attempt == 1 and (conn.broken or conn.closed):
                        with contextlib.suppress(psycopg.Error):
                            conn.close()
                        try:
                            self._rconn = self._connect(autocommit=True)
                        except StorageError as again:
                            raise StorageError(f"{self._name}: read failed: {exc}") from again
                        continue
                    raise StorageError(f"{self._name}: read failed: {exc}") from exc
            raise AssertionError("unreachable")

    def next_index(self) -> int:
        """The length of the log in the database now (other processes may append)."""
        rows = self._query(_COUNT)
        return int(rows[0][0])

    def read(self, start: int = 0, stop: int | None = None) -> Iterator[LogRecord]:
        if start < 0:
            raise InvalidInput("start", f"must be 0 or more, not {start}")
        if stop is not None and stop < start:
            raise InvalidInput("stop", f"must not be below start ({start}), not {stop}")
        return self._read(start, stop)

    def _read(self, start: int, stop: int | None) -> Iterator[LogRecord]:
        end = stop if stop is not None else _MAX_INDEX
        position = start
        while position < end:
            rows = self._query(
                f"{_SELECT_LOG} WHERE idx >= %s AND idx < %s ORDER BY idx LIMIT %s",
                (position, end, _READ_CHUNK),
            )
            yield from self._checked(rows, position)
            if len(rows) < _READ_CHUNK:
                return
            position += len(rows)

    def _checked(self, rows: list[tuple[Any, ...]], start: int) -> Iterator[LogRecord]:
        """The records of ``rows``, which must be intact and numbered ``start``, ``start + 1``..."""
        for position, row in enumerate(rows, start):
            if row[0] != position:
                raise StorageError(f"{self._name}: log record {position} is missing")
            if not row_is_intact(row):
                raise StorageError(f"{self._name}: log record {position} is damaged")
            yield LogRecord(row[0], row[1], row[2], row[3], row[4])

    def leaf_hashes(self) -> list[bytes]:
        """Every record's leaf hash, in index order, read in one statement (a consistent prefix)."""
        rows = self._query("SELECT leaf_hash FROM accord_log ORDER BY idx")
        return [row[0] for row in rows]

    def _head(self, rows: list[tuple[Any, ...]]) -> StoredHead | None:
        if not rows:
            return None
        size, root, timestamp, signature, key_id, crc = rows[0]
        if head_crc(size, root, timestamp, signature, key_id) != crc:
            raise StorageError(f"{self._name}: the tree head of size {size} is damaged")
        return StoredHead(size, root, timestamp, signature, key_id)

    def latest_head(self) -> StoredHead | None:
        return self._head(
            self._query(
                "SELECT tree_size, root_hash, timestamp, signature, key_id, crc FROM accord_heads "
                "ORDER BY tree_size DESC LIMIT 1"
            )
        )

    def head_at(self, tree_size: int) -> StoredHead | None:
        if not 0 <= tree_size <= _MAX_INDEX:
            return None
        return self._head(
            self._query(
                "SELECT tree_size, root_hash, timestamp, signature, key_id, crc FROM accord_heads "
                "WHERE tree_size = %s",
                (tree_size,),
            )
        )

    def latest_snapshot(self) -> Snapshot | None:
        rows = self._query("SELECT upto_index FROM accord_snapshots ORDER BY upto_index DESC")
        for (upto,) in rows:
            found = self._query(
                "SELECT data, crc FROM accord_snapshots WHERE upto_index = %s", (upto,)
            )
            if not found:  # pruned meanwhile
                continue
            data, crc = found[0]
            if tagged_crc(b"snapshot", upto.to_bytes(8, "big"), data) == crc:
                return Snapshot(upto, data)
            _log.warning(
                "%s: the snapshot up to %d is damaged; trying an older one", self._name, upto
            )
        return None

    def get_meta(self, key: str) -> bytes | None:
        rows = self._query("SELECT value, crc FROM accord_meta WHERE key = %s", (key,))
        if not rows:
            return None
        value, crc = rows[0]
        if tagged_crc(b"meta", key.encode(), value) != crc:
            raise StorageError(f"{self._name}: the meta value {key!r} is damaged")
        return bytes(value)

    # -- closing ----------------------------------------------------------------------------

    def close(self) -> None:
        with self._wlock, self._rlock:
            if self._closed:
                return
            self._closed = True
        with self._flock:  # a follow() sees _closed within one poll interval and stops
            self._release()

    def _release(self) -> None:
        errors: list[psycopg.Error] = []
        for conn in (self._lconn, self._rconn, self._wconn):
            if conn is not None:
                try:
                    conn.close()
                except psycopg.Error as exc:
                    errors.append(exc)
        self._lconn = self._rconn = self._wconn = None
        if errors:
            raise StorageError(f"{self._name}: close failed: {errors[0]}") from errors[0]

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
