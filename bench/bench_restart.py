"""Restart time: a service with N presences on the SQLite store is stopped and opened again.

Loads N point presences through the service (bulk upserts of 1,000, durable), snapshots as a
shutdown does, closes, then times opening the store and restoring the state (snapshot plus the
log's tail, Merkle tree from the leaf hashes). Also times a restart with no snapshot (replaying
every event).

    .venv/bin/python bench/bench_restart.py --n 100000
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path

from accord.core import Disclosure, RegisterParty, UpsertPresence, UpsertPresences
from accord.geo.location import parse_location
from accord.service import Service
from accord.store import open_store


def load(data: Path, n: int) -> float:
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
    service.snapshot()
    service.close()
    return elapsed


def restart(data: Path) -> tuple[float, int]:
    t = time.perf_counter()
    service = Service(open_store("sqlite://", data))
    elapsed = time.perf_counter() - t
    size = service.tree.size
    service.close()
    return elapsed, size


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        loading = load(data, args.n)
        print(f"loaded {args.n} presences in {loading:.1f} s ({args.n / loading:.0f}/s)")
        with_snapshot, size = restart(data)
        print(f"restart from snapshot: {with_snapshot:.2f} s ({size} log entries)")
        no_snap = Path(tmp) / "nosnap"
        shutil.copytree(data, no_snap)
        store = open_store("sqlite://", no_snap)
        # drop the snapshots so the restart replays the whole log
        store.close()
        import sqlite3

        db = sqlite3.connect(no_snap / "accord.db")
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            if "snapshot" in table:
                db.execute(f"DELETE FROM {table}")
        db.commit()
        db.close()
        replay, _ = restart(no_snap)
        print(f"restart replaying the whole log: {replay:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
