"""A throwaway PostgreSQL 15 cluster (with PostGIS available) for tests and benchmarks.

:func:`cluster` starts one on first use: ``initdb`` into a new temporary directory, the server
listening only on a Unix socket in that directory (no TCP port), with ``fsync`` and
``synchronous_commit`` on as in production. It is stopped and deleted by :func:`stop_cluster`
(tests/integration/conftest.py calls it when the test session ends) or at interpreter exit.

The binaries come from ``ACCORD_PG_BIN`` (default ``/usr/lib/postgresql/15/bin``, Debian's
postgresql-15 package). If they are missing, :func:`cluster` raises: a test that needs PostgreSQL
fails, it is not skipped. Run as root, the server runs as the ``postgres`` user (``runuser``),
since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg

PG_BIN = Path(os.environ.get("ACCORD_PG_BIN", "/usr/lib/postgresql/15/bin"))
SUPERUSER = "postgres"


class ClusterError(RuntimeError):
    """The throwaway cluster could not be started or stopped."""


class Cluster:
    """One throwaway cluster; see the module docstring."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.socket_dir = root
        self.logfile = root / "server.log"
        self._as_root = os.geteuid() == 0

    # -- lifecycle ------------------------------------------------------------------------

    def _run(self, *args: str, timeout: float = 120) -> None:
        cmd = [str(PG_BIN / args[0]), *args[1:]]
        if self._as_root:
            cmd = ["runuser", "-u", SUPERUSER, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            log = self.logfile.read_text() if self.logfile.exists() else ""
            raise ClusterError(
                f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}{done.stderr}{log}"
            )

    @classmethod
    def create(cls) -> Cluster:
        missing = [b for b in ("initdb", "pg_ctl", "postgres") if not (PG_BIN / b).is_file()]
        if missing:
            raise ClusterError(
                f"PostgreSQL binaries {', '.join(missing)} not found in {PG_BIN}: install the "
                "Debian packages postgresql-15 and postgresql-15-postgis-3, or set ACCORD_PG_BIN"
            )
        root = Path(tempfile.mkdtemp(prefix="accord-pg-"))
        cluster = cls(root)
        if cluster._as_root:
            try:
                user = pwd.getpwnam(SUPERUSER)
            except KeyError as exc:
                shutil.rmtree(root)
                raise ClusterError(f"running as root needs the {SUPERUSER!r} user") from exc
            os.chown(root, user.pw_uid, user.pw_gid)
        try:
            cluster._run(
                "initdb",
                "--pgdata",
                str(cluster.data),
                "--username",
                SUPERUSER,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--locale",
                "C.UTF-8",
                "--no-sync",  # the throwaway cluster's files; the server itself fsyncs
            )
            cluster.start()
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        return cluster

    def start(self) -> None:
        options = " ".join(
            [
                "-c listen_addresses=''",
                f"-c unix_socket_directories='{self.socket_dir}'",
                "-c fsync=on",
                "-c synchronous_commit=on",
                "-c max_connections=200",
                "-c shared_buffers=256MB",
            ]
        )
        self._run("pg_ctl", "--pgdata", str(self.data), "--log", str(self.logfile), "--wait",
                  "--options", options, "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; ``mode="immediate"`` is a crash (no checkpoint, WAL replay at start)."""
        self._run("pg_ctl", "--pgdata", str(self.data), "--wait", "--mode", mode, "stop")

    def destroy(self) -> None:
        with contextlib.suppress(ClusterError, subprocess.TimeoutExpired):
            self.stop("fast")
        shutil.rmtree(self.root, ignore_errors=True)

    # -- connecting -----------------------------------------------------------------------

    def url(self, dbname: str = "postgres", schema: str | None = None) -> str:
        """A libpq URL for ``dbname`` over the Unix socket, optionally with ``search_path``."""
        url = f"postgresql://{SUPERUSER}@/{dbname}?host={quote(str(self.socket_dir), safe='/')}"
        if schema is not None:
            url += "&options=" + quote(f"-csearch_path={schema}", safe="")
        return url

    def execute(self, sql: str, dbname: str = "postgres") -> None:
        with psycopg.connect(self.url(dbname), autocommit=True) as conn:
            conn.execute(sql.encode())

    def new_database(self, prefix: str = "t", *, postgis: bool = False) -> str:
        """Create an empty database (with the PostGIS extension if asked); return its name."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.execute(f"CREATE DATABASE {name}")
        if postgis:
            self.execute("CREATE EXTENSION postgis", dbname=name)
        return name

    def new_schema(self, prefix: str = "s", dbname: str = "postgres") -> str:
        """Create an empty schema in ``dbname``; return its name."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.execute(f"CREATE SCHEMA {name}", dbname)
        return name


_lock = threading.Lock()
_started: list[Cluster] = []  # the session's cluster, once started


def cluster() -> Cluster:
    """The session's cluster, started on first use."""
    with _lock:
        if not _started:
            _started.append(Cluster.create())
            atexit.register(stop_cluster)
        return _started[0]


def stop_cluster() -> None:
    """Stop and delete the cluster if one was started."""
    with _lock:
        while _started:
            _started.pop().destroy()


@contextlib.contextmanager
def fresh_schema(prefix: str = "s") -> Iterator[str]:
    """A URL for a new, empty schema, dropped afterwards."""
    c = cluster()
    schema = c.new_schema(prefix)
    try:
        yield c.url(schema=schema)
    finally:
        with contextlib.suppress(psycopg.Error):
            c.execute(f"SET lock_timeout = '5s'; DROP SCHEMA {schema} CASCADE")
