"""Benchmark of accord.store: durable appends with group commit, and restart reads.

    PYTHONPATH=src .venv/bin/python bench/bench_store.py [--part all|append|restart]
        [--records N] [--seconds S] [--runs R]

Set BENCH_DIR to put the files on another disk (BENCH_DIR=/dev/shm: no real fsync, which shows
the CPU-bound ceiling). Prints medians over ``--runs`` runs:
- fsync of 4 KiB on the store's disk (for scale);
- durable appends/s through a GroupCommitter from 1, 4 and 16 threads, each submitting batches of
  1, 10 and 100 records under one lock (as the service does) and waiting until durable;
- the same without a committer (one thread, store.append directly);
- restart with ``--records`` records: opening (every record read and its checksum checked),
  leaf_hashes(), reading every record, and opening with verify="tail" when a tree head covers
  all but the last 1,000 records.
Records are ~250-byte events with a 16-byte salt and a 32-byte leaf hash.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from accord.store import GroupCommitter, LogRecord, SQLiteStore, StoredHead

TIME = "2026-11-22T10:00:00Z"
mean_batches: list[float] = []  # records per transaction in each group-commit run
POOL = 4096


def make_pool() -> list[tuple[bytes, bytes, bytes]]:
    pool = []
    for i in range(POOL):
        event = (
            b'{"location":{"coordinates":[71.0917,34.9183],"type":"Point"},"log_index":%d,'
            b'"party":"coalition","presence":"unit-%05d","time":"2026-11-22T10:00:00Z",'
            b'"type":"positions_updated","uncertainty_m":25,"label":"2nd platoon, A company",'
            b'"max_speed_mps":12.5}' % (i, i)
        )
        salt = os.urandom(16)
        leaf = hashlib.sha256(b"\x00" + hashlib.sha256(salt + event).digest()).digest()
        pool.append((event, salt, leaf))
    return pool


def records(pool: list[tuple[bytes, bytes, bytes]], first: int, count: int) -> list[LogRecord]:
    out = []
    for i in range(first, first + count):
        event, salt, leaf = pool[i % POOL]
        out.append(LogRecord(i, TIME, event, salt, leaf))
    return out


def median_of(runs: int, fn: Callable[..., float], *args: object) -> float:
    return statistics.median(fn(*args) for _ in range(runs))


def fsync_seconds(directory: Path, samples: int = 200) -> float:
    path = directory / "fsync.probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        times = []
        for _ in range(samples):
            os.pwrite(fd, os.urandom(4096), 0)
            t0 = time.perf_counter()
            os.fsync(fd)
            times.append(time.perf_counter() - t0)
    finally:
        os.close(fd)
        path.unlink()
    return statistics.median(times)


def group_commit_rate(
    pool: list[tuple[bytes, bytes, bytes]], threads: int, batch: int, seconds: float
) -> float:
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as d:
        store = SQLiteStore(Path(d) / "bench.db")
        committer = GroupCommitter(store)
        lock = threading.Lock()
        next_free = [0]
        done_count = [0] * threads
        deadline = time.perf_counter() + seconds

        def client(n: int) -> None:
            while time.perf_counter() < deadline:
                with lock:
                    first = next_free[0]
                    next_free[0] += batch
                    done = committer.submit(records(pool, first, batch))
                done.result()
                done_count[n] += batch

        workers = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
        t0 = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        elapsed = time.perf_counter() - t0
        committer.close()
        mean_batches.append(committer.records_committed / committer.batches_committed)
        assert store.next_index() == sum(done_count)
        store.close()
        return sum(done_count) / elapsed


def direct_rate(pool: list[tuple[bytes, bytes, bytes]], batch: int, seconds: float) -> float:
    with (
        tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as d,
        SQLiteStore(Path(d) / "bench.db") as store,
    ):
        count = 0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            store.append(records(pool, count, batch))
            count += batch
        return count / (time.perf_counter() - t0)


def build(pool: list[tuple[bytes, bytes, bytes]], path: Path, n: int) -> float:
    t0 = time.perf_counter()
    with SQLiteStore(path) as store:
        for first in range(0, n, 10_000):
            store.append(records(pool, first, min(10_000, n - first)))
        # a signed head covers all but the last 1,000 records (what verify="tail" skips)
        store.put_head(StoredHead(max(0, n - 1000), b"\x00" * 32, TIME, b"\x00" * 64, "bench"))
    return time.perf_counter() - t0


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--part", choices=["all", "append", "restart"], default="all")
    args = parser.parse_args()
    pool = make_pool()
    runs = args.runs

    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as d:
        print(f"fsync of 4 KiB: median {fsync_seconds(Path(d)) * 1e3:.3f} ms")

    if args.part in ("all", "append"):
        appends(pool, runs, args.seconds)
    if args.part in ("all", "restart"):
        restart(pool, runs, args.records)


def appends(pool: list[tuple[bytes, bytes, bytes]], runs: int, seconds: float) -> None:
    print("\ndurable appends/s through GroupCommitter (median of runs)")
    print("(fsync ms: median of 50 fsyncs just before the row: the disk's latency drifts)")
    print(
        f"{'threads':>8} {'batch':>6} {'records/s':>12} {'records/transaction':>20} {'fsync ms':>9}"
    )
    for threads in (1, 4, 16):
        for batch in (1, 10, 100):
            mean_batches.clear()
            fsync = probe_fsync()
            rate = median_of(runs, group_commit_rate, pool, threads, batch, seconds)
            per = statistics.median(mean_batches)
            print(f"{threads:>8} {batch:>6} {rate:>12,.0f} {per:>20,.1f} {fsync:>9.3f}")

    print("\ndurable appends/s, store.append directly from one thread")
    for batch in (1, 10, 100):
        fsync = probe_fsync()
        rate = median_of(runs, direct_rate, pool, batch, seconds)
        print(f"{'1':>8} {batch:>6} {rate:>12,.0f} {'':>20} {fsync:>9.3f}")


def probe_fsync() -> float:
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as d:
        return fsync_seconds(Path(d), samples=50) * 1e3


def restart(pool: list[tuple[bytes, bytes, bytes]], runs: int, n: int) -> None:
    print(f"\nrestart with {n:,} records")
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as d:
        path = Path(d) / "restart.db"
        took = build(pool, path, n)
        print(f"  build (batches of 10,000): {took:.1f} s, {path.stat().st_size / 1e6:.0f} MB")

        def restart_once(verify: Literal["full", "tail"]) -> tuple[float, float]:
            t0 = time.perf_counter()
            store = SQLiteStore(path, verify=verify)
            t1 = time.perf_counter()
            hashes = store.leaf_hashes()
            t2 = time.perf_counter()
            assert len(hashes) == n
            store.close()
            return t1 - t0, t2 - t1

        full = [restart_once("full") for _ in range(runs)]
        tail = [restart_once("tail") for _ in range(runs)]
        with SQLiteStore(path, verify="tail") as store:
            read = median_of(runs, lambda: timed(lambda: sum(1 for _ in store.read())))
        print(
            "  open, verify='full' (read + check every record): "
            f"{statistics.median(t for t, _ in full):.2f} s"
        )
        print(
            "    then leaf_hashes() (kept by the check): "
            f"{statistics.median(t for _, t in full):.2f} s"
        )
        print(f"    total: {statistics.median(a + b for a, b in full):.2f} s")
        print(
            "  open, verify='tail' (the 1,000 records after the latest head): "
            f"{statistics.median(t for t, _ in tail):.2f} s"
        )
        print(
            "    then leaf_hashes() (read from the table): "
            f"{statistics.median(t for _, t in tail):.2f} s"
        )
        print(f"    total: {statistics.median(a + b for a, b in tail):.2f} s")
        print(f"  read() of every record into LogRecord (each checked): {read:.2f} s")


if __name__ == "__main__":
    main()
