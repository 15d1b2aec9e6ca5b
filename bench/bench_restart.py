"""Restart time: a service with N presences on the SQLite store is stopped and opened again.

Loads N point presences through the service (bulk upserts of 1,000, durable), snapshots as a
shutdown does, closes, then times opening the store and restoring the state (snapshot plus the
log's tail, Merkle tree from the leaf hashes), ``--repeat`` times. Also times a restart with no
snapshot (replaying every event), and the parts of a restart (store open, snapshot read,
``from_snapshot``, tail, tree). With ``--data DIR`` the loaded store is kept in DIR and reused
by later runs (its snapshot is written again, so that it is in the current format). While a
snapshot is taken, another thread writes heartbeats: the longest wait shows how long the
snapshot holds up writes.

    .venv/bin/python bench/bench_restart.py --n 100000
    .venv/bin/python bench/bench_restart.py --n 1000000 --data /tmp/restart-1m --repeat 3
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import sqlite3
import statistics
import tempfile
import threading
import time
from pathlib import Path

from accord.core import (
    Disclosure,
    Heartbeat,
    RegisterParty,
    UpsertPresence,
    UpsertPresences,
    evolve,
    from_snapshot,
)
from accord.geo.location import parse_location
from accord.ledger import MerkleTree
from accord.service import Service
from accord.store import open_store


def load(data: Path, n: int) -> tuple[float, float]:
    rng = random.Random(7)
    service = Service(open_store("sqlite://", data))
    service.execute(RegisterParty(party="admin", id="p", name="P"))
    t = time.perf_counter()
    for start in range(0, n, 1000):
        items = tuple(
            UpsertPresence(
                party="p",
                id=f"s{i}",
                kind="site",
                label="",
                uncertainty_m=rng.uniform(10, 100),
                position=parse_location(
                    {"type": "Point", "coordinates": [rng.uniform(66, 76), rng.uniform(30, 40)]}
                ),
                area=None,
                area_json=None,
                valid_from=None,
                valid_until=None,
                max_speed_mps=None,
                disclosure=Disclosure(),
            )
            for i in range(start, min(n, start + 1000))
        )
        service.execute(UpsertPresences(party="p", items=items))
    elapsed = time.perf_counter() - t
    snapshot = timed_snapshot(service)
    service.close()
    return elapsed, snapshot


def timed_snapshot(service: Service) -> float:
    """Take a snapshot while another thread writes heartbeats (durable, one event each); print
    how long the writes waited meanwhile. Returns the snapshot's time."""
    done = threading.Event()
    waits: list[float] = []

    def write() -> None:
        while not done.is_set():
            t0 = time.perf_counter()
            service.execute(Heartbeat(party="p"))
            waits.append(time.perf_counter() - t0)

    writer = threading.Thread(target=write)
    writer.start()
    time.sleep(0.2)
    t = time.perf_counter()
    service.snapshot()
    took = time.perf_counter() - t
    done.set()
    writer.join()
    waits.sort()
    print(
        f"snapshot in {took:.2f} s; {len(waits)} heartbeats written meanwhile, the longest "
        f"waited {waits[-1] * 1000:.0f} ms (median {statistics.median(waits) * 1000:.1f} ms)"
    )
    return took


def resnapshot(data: Path) -> float:
    """Write the snapshot of a kept store again (in this version's format); its time."""
    service = Service(open_store("sqlite://", data))
    took = timed_snapshot(service)
    service.close()
    return took


def restart(data: Path) -> tuple[float, int]:
    t = time.perf_counter()
    service = Service(open_store("sqlite://", data))
    elapsed = time.perf_counter() - t
    size = service.tree.size
    service.close()
    return elapsed, size


def parts(data: Path) -> dict[str, float]:
    """The parts of a restart, timed one by one (as Service._restore does them, with the cyclic
    garbage collector paused)."""
    out: dict[str, float] = {}
    gc.disable()
    t = time.perf_counter()
    store = open_store("sqlite://", data)
    out["store open"] = time.perf_counter() - t
    t = time.perf_counter()
    snap = store.latest_snapshot()
    assert snap is not None
    out["snapshot read"] = time.perf_counter() - t
    t = time.perf_counter()
    state = from_snapshot(snap.data)
    out["from_snapshot"] = time.perf_counter() - t
    t = time.perf_counter()
    for rec in store.read(snap.upto_index):
        evolve(state, json.loads(rec.event))
    out["tail"] = time.perf_counter() - t
    t = time.perf_counter()
    MerkleTree.from_leaf_hashes(store.leaf_hashes())
    out["tree"] = time.perf_counter() - t
    store.close()
    gc.enable()
    return out


def drop_snapshots(data: Path) -> None:
    db = sqlite3.connect(data / "accord.db")
    db.execute("DELETE FROM snapshots")
    db.commit()
    db.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=1, help="restarts from the snapshot to time")
    ap.add_argument("--data", type=Path, help="keep the loaded store here, and reuse it")
    ap.add_argument("--no-replay", action="store_true", help="skip the full-replay restart")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or Path(tmp) / "data"
        if (data / "accord.db").exists():
            took = resnapshot(data)
            print(f"reusing the store in {data}; snapshot written in {took:.2f} s")
        else:
            data.mkdir(parents=True, exist_ok=True)
            loading, took = load(data, args.n)
            print(
                f"loaded {args.n} presences in {loading:.1f} s ({args.n / loading:.0f}/s), "
                f"snapshot written in {took:.2f} s; load average {os.getloadavg()[0]:.2f}"
            )
        times = []
        for _ in range(args.repeat):
            took, size = restart(data)
            times.append(took)
            print(
                f"restart from snapshot: {took:.2f} s ({size} log entries); "
                f"load average {os.getloadavg()[0]:.2f}"
            )
        print(f"median of {len(times)}: {statistics.median(times):.2f} s")
        split = parts(data)
        print("parts: " + ", ".join(f"{k} {v:.2f} s" for k, v in split.items()))
        if not args.no_replay:
            no_snap = Path(tmp) / "nosnap"
            shutil.copytree(data, no_snap)
            drop_snapshots(no_snap)
            replay, _ = restart(no_snap)
            print(
                f"restart replaying the whole log: {replay:.2f} s; "
                f"load average {os.getloadavg()[0]:.2f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
