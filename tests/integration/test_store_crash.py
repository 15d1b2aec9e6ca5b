"""Durability and damage of the SQLite store: kill -9 mid-stream, torn tails, damaged files.

Invariant 4 (DESIGN.md): nothing acknowledged is lost. Invariant 5: history is never rewritten,
so damage is dropped only at the very end of the log, loudly, and anywhere else refused.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Literal

import pytest

import accord
from accord.errors import InvalidInput, StorageError
from accord.store import LogRecord, Snapshot, SQLiteStore, StoredHead
from accord.store.sqlite import CHECKPOINT_BYTES, ROWS_PER_INSERT

# The child and the parent build record i the same way: the parent checks content, not only count.
CHILD = r"""
import hashlib, sys, threading
from accord.store import GroupCommitter, LogRecord, SQLiteStore

def record(i):
    event = b'{"log_index":%d,"type":"heartbeat"}' % i
    salt = hashlib.sha256(b"salt %d" % i).digest()[:16]
    leaf = hashlib.sha256(b"\x00" + hashlib.sha256(salt + event).digest()).digest()
    return LogRecord(i, "2026-11-22T10:00:00Z", event, salt, leaf)

store = SQLiteStore(sys.argv[1])
committer = GroupCommitter(store)
lock, out = threading.Lock(), threading.Lock()
next_free = [store.next_index()]

def client(seed):
    while True:
        with lock:
            first = next_free[0]
            batch = [record(i) for i in range(first, first + 1 + (first + seed) % 3)]
            next_free[0] += len(batch)
            done = committer.submit(batch)
        done.result()  # durable: only now is the batch acknowledged
        with out:
            sys.stdout.write("".join("%d\n" % r.index for r in batch))
            sys.stdout.flush()

for seed in range(6):
    threading.Thread(target=client, args=(seed,), daemon=True).start()
threading.Event().wait()
"""


def record(i: int) -> LogRecord:
    event = b'{"log_index":%d,"type":"heartbeat"}' % i
    salt = hashlib.sha256(b"salt %d" % i).digest()[:16]
    leaf = hashlib.sha256(b"\x00" + hashlib.sha256(salt + event).digest()).digest()
    return LogRecord(i, "2026-11-22T10:00:00Z", event, salt, leaf)


def marked(i: int) -> LogRecord:
    """A record whose event holds a marker found nowhere else in the file."""
    base = record(i)
    event = b'{"log_index":%d,"marker":"MARK-%06d-END"}' % (i, i)
    return LogRecord(i, base.time, event, base.salt, hashlib.sha256(event).digest())


def fill(store: SQLiteStore, stop: int) -> list[LogRecord]:
    records = [marked(i) for i in range(stop)]
    for k in range(0, stop, 4):
        store.append(records[k : k + 4])
    return records


def child_env() -> dict[str, str]:
    src = str(Path(accord.__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    return env


def test_every_acknowledged_append_survives_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "accord.db"
    acknowledged: set[int] = set()
    for kill_after in (40, 700, 2500):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path)],
            stdout=subprocess.PIPE,
            env=child_env(),
        )
        assert child.stdout is not None
        seen = 0
        while seen < kill_after:
            line = child.stdout.readline()
            assert line, "the child stopped before it was killed"
            acknowledged.add(int(line))
            seen += 1
        os.kill(child.pid, signal.SIGKILL)
        rest, _ = child.communicate(timeout=30)
        assert child.returncode == -signal.SIGKILL
        acknowledged.update(int(line) for line in rest.split())

        with SQLiteStore(path) as store:
            assert store.dropped_tail == ()
            stored = store.next_index()
            assert max(acknowledged) < stored
            assert list(store.read()) == [record(i) for i in range(stored)]
    assert len(acknowledged) >= 40 + 700 + 2500


# -- damaged rows ---------------------------------------------------------------------------


def corrupt_crc(path: Path, index: int) -> None:
    with sqlite3.connect(path) as db:
        db.execute("UPDATE log SET crc = crc + 1 WHERE idx = ?", (index,))
    db.close()


def dropped_rows(path: Path) -> list[tuple[int, bytes]]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT idx, event FROM log_dropped ORDER BY seq").fetchall()
    db.close()
    return rows


def test_a_damaged_last_record_is_dropped_and_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "accord.db"
    with SQLiteStore(path) as store:
        records = fill(store, 10)
    corrupt_crc(path, 9)
    with caplog.at_level(logging.WARNING, logger="accord.store"), SQLiteStore(path) as store:
        assert store.dropped_tail == (9,)
        assert store.next_index() == 9
        assert list(store.read()) == records[:9]
        assert store.leaf_hashes() == [r.leaf_hash for r in records[:9]]
        store.append([records[9]])  # the index is free again
    assert "dropped 1 damaged record(s) at the end of the log (indexes 9..9)" in caplog.text
    assert dropped_rows(path) == [(9, records[9].event)]
    with SQLiteStore(path) as store:
        assert store.dropped_tail == ()
        assert list(store.read()) == records


@pytest.mark.parametrize("verify", ["full", "tail"])
def test_leaf_hashes_after_reopening_include_later_appends(
    tmp_path: Path, verify: Literal["full", "tail"]
) -> None:
    path = tmp_path / "accord.db"
    with SQLiteStore(path) as store:
        records = fill(store, 10)
    with SQLiteStore(path, verify=verify) as store:
        store.append([marked(i) for i in range(10, 13)])
        expected = [r.leaf_hash for r in records] + [marked(i).leaf_hash for i in range(10, 13)]
        assert store.leaf_hashes() == expected
        store.append([marked(13)])
        assert store.leaf_hashes() == [*expected, marked(13).leaf_hash]


def test_a_row_written_behind_the_store_with_a_bad_checksum_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "accord.db"
    with SQLiteStore(path) as store:
        records = fill(store, 6)
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO log (idx, time, event, salt, leaf_hash, crc) VALUES (6, ?, ?, ?, ?, 1)",
            ("2026-11-22T10:00:00Z", b"{}", b"s" * 16, b"h" * 32),
        )
        db.execute(
            "INSERT INTO log (idx, time, event, salt, leaf_hash, crc) VALUES (7, ?, ?, ?, ?, 1)",
            ("2026-11-22T10:00:00Z", "{} as text", b"s" * 16, b"h" * 32),
        )
    db.close()
    with SQLiteStore(path) as store:
        assert store.dropped_tail == (6, 7)
        assert list(store.read()) == records


def test_a_damaged_record_before_an_intact_one_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "accord.db"
    with SQLiteStore(path) as store:
        fill(store, 10)
    corrupt_crc(path, 4)
    for _ in range(2):  # refusing changed nothing: the second open refuses the same way
        with pytest.raises(
            StorageError, match="log record 4 is damaged and record 5 after it is intact"
        ):
            SQLiteStore(path)
    assert dropped_rows(path) == []


def test_a_damaged_record_is_refused_by_read_when_open_checked_only_the_tail(
    tmp_path: Path,
) -> None:
    path = tmp_path / "accord.db"
    with SQLiteStore(path) as store:
        records = fill(store, 10)
        store.put_head(StoredHead(8, b"r" * 32, "2026-11-22T10:00:00Z", b"s" * 64, "k"))
    corrupt_crc(path, 4)
    with SQLiteStore(path, verify="tail") as store:
        assert list(store.read(5)) == records[5:]
        with pytest.raises(StorageError, match="log record 4 is damaged"):
            list(store.read(2))
    with pytest.raises(StorageError, match="log record 4 is damaged and record 5"):
        SQLiteStore(path, verify="full")


@pytest.mark.parametrize(
    ("cover", "expected"),
    [
        ("head", "log record 9 is damaged and is covered by a stored tree head or snapshot of 10"),
        ("snapshot", "covered by a stored tree head or snapshot of 10 records"),
    ],
)
def test_a_damaged_last_record_covered_by_a_head_or_snapshot_is_refused(
    tmp_path: Path, cover: str, expected: str
) -> None:
    path = tmp_path / "accord.db"
    with SQLiteStore(path) as store:
        fill(store, 10)
        if cover == "head":
            store.put_head(StoredHead(10, b"r" * 32, "2026-11-22T10:00:00Z", b"s" * 64, "k"))
        else:
            store.put_snapshot(Snapshot(10, b"state"))
    corrupt_crc(path, 9)
    with pytest.raises(StorageError, match=expected):
        SQLiteStore(path)


@pytest.mark.parametrize(
    ("missing", "verify", "expected"),
    [
        (3, "full", "log record 3 is missing"),
        (8, "tail", "log record 8 is missing"),
        (0, "tail", r"log records 0\.\.0 are missing"),
    ],
)
def test_a_log_missing_records_is_refused(
    tmp_path: Path, missing: int, verify: Literal["full", "tail"], expected: str
) -> None:
    path = tmp_path / "accord.db"
    with SQLiteStore(path) as store:
        fill(store, 10)
        store.put_head(StoredHead(6, b"r" * 32, "2026-11-22T10:00:00Z", b"s" * 64, "k"))
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM log WHERE idx = ?", (missing,))
    db.close()
    with pytest.raises(StorageError, match=expected):
        SQLiteStore(path, verify=verify)


def test_a_gap_before_the_checked_tail_is_found_by_read(tmp_path: Path) -> None:
    path = tmp_path / "accord.db"
    with SQLiteStore(path) as store:
        records = fill(store, 10)
        store.put_head(StoredHead(6, b"r" * 32, "2026-11-22T10:00:00Z", b"s" * 64, "k"))
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM log WHERE idx = 3")
    db.close()
    with SQLiteStore(path, verify="tail") as store:
        assert list(store.read(4)) == records[4:]
        with pytest.raises(StorageError, match="log record 3 is missing"):
            list(store.read())


def test_a_head_beyond_the_log_means_lost_records_and_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "accord.db"
    with SQLiteStore(path) as store:
        fill(store, 10)
        store.put_head(StoredHead(10, b"r" * 32, "2026-11-22T10:00:00Z", b"s" * 64, "k"))
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM log WHERE idx >= 8")
    db.close()
    with pytest.raises(StorageError, match="covers 10 records but the log holds 8"):
        SQLiteStore(path)


def test_damaged_heads_meta_and_snapshots(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "accord.db"
    with SQLiteStore(path) as store:
        fill(store, 4)
        store.put_head(StoredHead(4, b"r" * 32, "2026-11-22T10:00:00Z", b"s" * 64, "k"))
        store.put_meta("seed", b"secret seed")
        store.put_snapshot(Snapshot(2, b"state at 2"))
        store.put_snapshot(Snapshot(4, b"state at 4"))
    with sqlite3.connect(path) as db:
        db.execute("UPDATE heads SET signature = ? WHERE tree_size = 4", (b"x" * 64,))
        db.execute("UPDATE meta SET value = ? WHERE key = 'seed'", (b"other seed!",))
        db.execute("UPDATE snapshots SET data = ? WHERE upto_index = 4", (b"state at 5",))
    db.close()
    with SQLiteStore(path) as store:
        with pytest.raises(StorageError, match="the tree head of size 4 is damaged"):
            store.latest_head()
        with pytest.raises(StorageError, match="the meta value 'seed' is damaged"):
            store.get_meta("seed")
        with caplog.at_level(logging.WARNING, logger="accord.store"):
            assert store.latest_snapshot() == Snapshot(2, b"state at 2")
        assert "the snapshot up to 4 is damaged; trying an older one" in caplog.text


def test_only_the_newest_snapshots_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "accord.db"
    with SQLiteStore(path, keep_snapshots=2) as store:
        fill(store, 4)
        for upto in range(5):
            store.put_snapshot(Snapshot(upto, b"state %d" % upto))
    with sqlite3.connect(path) as db:
        kept = db.execute("SELECT upto_index FROM snapshots ORDER BY upto_index").fetchall()
    db.close()
    assert kept == [(3,), (4,)]


# -- damaged files --------------------------------------------------------------------------


def flip_marker(path: Path, index: int) -> None:
    data = bytearray(path.read_bytes())
    at = data.find(b"MARK-%06d-END" % index)
    assert at >= 0 and data.find(b"MARK-%06d-END" % index, at + 1) < 0
    data[at + 5] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_flipped_bit_in_the_last_record_of_the_file_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "accord.db"
    with SQLiteStore(path) as store:
        records = fill(store, 40)
    assert not Path(f"{path}-wal").exists()  # closing checkpointed everything into the file
    flip_marker(path, 39)
    with SQLiteStore(path) as store:
        assert store.dropped_tail == (39,)
        assert list(store.read()) == records[:39]


def test_a_flipped_bit_in_a_middle_record_of_the_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "accord.db"
    with SQLiteStore(path) as store:
        fill(store, 40)
    flip_marker(path, 17)
    with pytest.raises(StorageError, match="log record 17 is damaged and record 18"):
        SQLiteStore(path)


@pytest.mark.parametrize("cut", [1, 100, 4096, 3 * 4096])
def test_a_truncated_database_file_is_refused(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "accord.db"
    with SQLiteStore(path) as store:
        fill(store, 300)
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size - cut)
    damaged = path.read_bytes()
    with pytest.raises(StorageError, match=r"damaged|malformed"):
        SQLiteStore(path)
    assert path.read_bytes() == damaged


def crash_image(store: SQLiteStore, into: Path) -> Path:
    """The files a crash would leave behind, copied while the store is open (no write running)."""
    into.mkdir()
    shutil.copy(store.path, into / "accord.db")
    shutil.copy(f"{store.path}-wal", into / "accord.db-wal")
    return into / "accord.db"


@pytest.mark.parametrize("damage", ["truncate 1 byte", "truncate a frame", "flip a byte"])
def test_a_torn_last_transaction_in_the_wal_is_lost_whole(tmp_path: Path, damage: str) -> None:
    """SQLite's WAL frames carry checksums: a torn commit is ignored as a whole, and the store
    opens on the previous transaction. (A real crash tears only a commit not yet synced, that
    is, not acknowledged.)"""
    records = [marked(i) for i in range(10)]
    with SQLiteStore(tmp_path / "live.db") as store:
        store.append(records[:5])
        store.append(records[5:])
        image = crash_image(store, tmp_path / "crash")
    wal = Path(f"{image}-wal")
    data = bytearray(wal.read_bytes())
    if damage == "truncate 1 byte":
        del data[-1:]
    elif damage == "truncate a frame":
        del data[-(24 + 4096) :]
    else:
        data[-1000] ^= 0xFF
    wal.write_bytes(bytes(data))
    with SQLiteStore(image) as store:
        assert store.dropped_tail == ()
        assert list(store.read()) == records[:5]


def test_the_wal_is_checkpointed_by_a_thread_of_the_stores_own(tmp_path: Path) -> None:
    """Commits never copy the WAL into the database file (that took one commit in a few hundred
    90-100 ms under load); the store's checkpointer does, once CHECKPOINT_BYTES are written, while
    the store stays open, and it leaves with the store."""

    def checkpointers() -> int:
        return sum(t.name == "accord-checkpoint" for t in threading.enumerate())

    before = checkpointers()
    path = tmp_path / "ckpt.db"
    padding = "x" * 8000
    records = []
    for i in range(2 * CHECKPOINT_BYTES // 8000):
        base = record(i)
        event = b'{"log_index":%d,"pad":"%s"}' % (i, padding.encode())
        records.append(LogRecord(i, base.time, event, base.salt, base.leaf_hash))
    with SQLiteStore(path) as store:
        assert checkpointers() == before + 1
        empty = path.stat().st_size
        for start in range(0, len(records), 50):
            store.append(records[start : start + 50])
        deadline = time.monotonic() + 20
        while path.stat().st_size < empty + CHECKPOINT_BYTES and time.monotonic() < deadline:
            time.sleep(0.02)
        assert path.stat().st_size >= empty + CHECKPOINT_BYTES  # copied in while open
    assert checkpointers() == before
    with SQLiteStore(path) as store:
        assert list(store.read()) == records


# -- opening --------------------------------------------------------------------------------


def test_a_store_cannot_be_opened_twice(tmp_path: Path) -> None:
    path = tmp_path / "accord.db"
    with SQLiteStore(path) as store:
        with pytest.raises(StorageError, match="is already open"):
            SQLiteStore(path)
        store.append([record(0)])
    with SQLiteStore(path) as store:
        assert store.next_index() == 1


def test_a_store_is_held_against_another_process(tmp_path: Path) -> None:
    path = tmp_path / "accord.db"
    script = (
        "import sys\nfrom accord.errors import StorageError\nfrom accord.store import SQLiteStore\n"
        "try:\n    SQLiteStore(sys.argv[1])\nexcept StorageError as e:\n    print(e)\n"
    )
    with SQLiteStore(path):
        out = subprocess.run(
            [sys.executable, "-c", script, str(path)],
            capture_output=True,
            text=True,
            env=child_env(),
            timeout=60,
            check=True,
        ).stdout
    assert "is already open" in out


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"this is not a database at all" * 200, "cannot open store .*: file is not a database"),
        (None, "is an SQLite database but not an Accord store"),
    ],
)
def test_other_files_are_refused(tmp_path: Path, content: bytes | None, expected: str) -> None:
    path = tmp_path / "other.db"
    if content is None:
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE t (x)")
        db.close()
    else:
        path.write_bytes(content)
    before = path.read_bytes()
    with pytest.raises(StorageError, match=expected):
        SQLiteStore(path)
    assert path.read_bytes() == before


def test_a_missing_directory_and_bad_options_are_refused(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="no directory"):
        SQLiteStore(tmp_path / "missing" / "accord.db")
    with pytest.raises(InvalidInput, match="verify: must be 'full' or 'tail'"):
        SQLiteStore(tmp_path / "a.db", verify="some")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="keep_snapshots: must be at least 1"):
        SQLiteStore(tmp_path / "a.db", keep_snapshots=0)


@pytest.mark.parametrize("size", [1, ROWS_PER_INSERT + 1], ids=["one statement", "two"])
def test_after_a_failed_write_the_store_refuses_writes_until_reopened(
    tmp_path: Path, size: int
) -> None:
    """A batch that fits one INSERT is its own transaction (autocommit); a larger one is written
    between BEGIN and COMMIT. Either way a failure writes nothing and stops further writes."""
    path = tmp_path / "accord.db"
    store = SQLiteStore(path, busy_timeout_s=0.05)
    store.append([record(0)])
    batch = [record(i) for i in range(1, size + 1)]
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds SQLite's write lock
    with pytest.raises(
        StorageError, match=rf"append of records 1\.\.{size} failed: database is locked"
    ):
        store.append(batch)
    blocker.execute("ROLLBACK")
    blocker.close()
    with pytest.raises(StorageError, match="refuses writes until it is reopened"):
        store.append(batch)
    assert list(store.read()) == [record(0)]  # reads go on
    store.close()
    with SQLiteStore(path) as again:
        again.append(batch)
        assert list(again.read()) == [record(0), *batch]


def test_a_batch_larger_than_one_statement_is_one_transaction(tmp_path: Path) -> None:
    """Records past the first INSERT's rows go in further statements of the same transaction: a
    clash in the last statement leaves none of the batch written."""
    path = tmp_path / "accord.db"
    with SQLiteStore(path) as store:
        batch = [record(i) for i in range(2 * ROWS_PER_INSERT + 5)]
        store.append(batch)
        assert list(store.read()) == batch
        clash = len(batch) + ROWS_PER_INSERT + 2  # in the next batch's second statement
        with sqlite3.connect(path, isolation_level=None) as other:
            other.execute(
                "INSERT INTO log (idx, time, event, salt, leaf_hash, crc) "
                "VALUES (?, '', x'', x'', x'', 0)",
                (clash,),
            )
        other.close()
        more = [record(i) for i in range(len(batch), len(batch) + ROWS_PER_INSERT + 3)]
        with pytest.raises(StorageError, match="UNIQUE constraint failed"):
            store.append(more)
    with sqlite3.connect(path) as db:
        count = db.execute("SELECT count(*) FROM log").fetchone()[0]
    db.close()
    assert count == len(batch) + 1  # the batch's rows and the clashing one; none of ``more``


def test_appends_from_many_threads_straight_to_the_store_are_serialised(tmp_path: Path) -> None:
    """Without a committer, concurrent appends still never interleave inside a batch."""
    with SQLiteStore(tmp_path / "accord.db") as store:
        lock = threading.Lock()
        failures: list[BaseException] = []

        def client() -> None:
            for _ in range(30):
                with lock:
                    first = store.next_index()
                    batch = [record(i) for i in range(first, first + 3)]
                try:
                    store.append(batch)
                except StorageError:
                    continue  # another thread took these indexes first: nothing was written
                except BaseException as exc:
                    failures.append(exc)

        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []
        assert store.next_index() % 3 == 0
        assert list(store.read()) == [record(i) for i in range(store.next_index())]
