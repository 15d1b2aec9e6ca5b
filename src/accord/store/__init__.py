"""accord.store: durable storage of the event log, tree heads, snapshots and metadata.

Every store implements :class:`EventStore`; :func:`open_store` opens one from the ``--store``
URL. :class:`GroupCommitter` batches appends from many threads into one fsync.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from accord.errors import InvalidInput, StorageError
from accord.store.base import EventStore, LogRecord, SharedEventStore, Snapshot, StoredHead
from accord.store.group_commit import GroupCommitter
from accord.store.sqlite import SQLiteStore

__all__ = [
    "DEFAULT_SQLITE_NAME",
    "EventStore",
    "GroupCommitter",
    "LogRecord",
    "SQLiteStore",
    "SharedEventStore",
    "Snapshot",
    "StoredHead",
    "open_store",
]

DEFAULT_SQLITE_NAME = "accord.db"


def open_store(url: str, data_dir: Path) -> EventStore:
    """Open the store named by ``url``.

    ``sqlite:///NAME`` is a file relative to ``data_dir``; ``sqlite:////abs/path`` an absolute
    one (SQLAlchemy's convention); ``sqlite://`` or ``sqlite:///`` is ``data_dir/accord.db``.
    The directory of a relative file is created. ``postgresql://...`` (or ``postgres://``) is a
    libpq URL, opened as a :class:`~accord.store.postgres.PostgresStore`. Other schemes raise
    :class:`~accord.errors.InvalidInput` naming the scheme.
    """
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme in ("postgresql", "postgres"):
        from accord.store.postgres import PostgresStore  # noqa: PLC0415  # psycopg if asked

        return PostgresStore(url)
    if scheme != "sqlite":
        shown = f"{scheme!r}" if scheme else "none"
        raise InvalidInput(
            "store", f"unsupported store URL scheme {shown}; supported: sqlite, postgresql"
        )
    if not url.lower().startswith("sqlite://"):
        raise InvalidInput("store", "an SQLite store URL is sqlite:///NAME or sqlite:////ABS/PATH")
    parts = urlsplit(url)
    if parts.query or parts.fragment or parts.netloc:
        raise InvalidInput(
            "store", "an SQLite store URL takes no host, query or fragment: sqlite:///NAME"
        )
    name = url[len("sqlite://") :].removeprefix("/")
    if name == ":memory:":
        raise InvalidInput("store", "an in-memory SQLite store is not durable")
    path = Path(name or DEFAULT_SQLITE_NAME)
    if not path.is_absolute():
        path = data_dir / path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the data directory {path.parent}: {exc}") from exc
    return SQLiteStore(path)
