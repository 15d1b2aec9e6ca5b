"""Load harness: mixed traffic against a real ``accord serve`` process over HTTP.

Starts the server on a free loopback port with a fresh data directory, registers parties, loads
presences, then runs several client processes for ``--seconds`` (default 60), each mixing
clearance requests, bulk position updates and presence upserts. Prints throughput, p50/p99 per
kind of request, and the server's resident memory before and after.

    .venv/bin/python bench/bench_http.py --clients 4 --seconds 60 --presences 10000
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.server import ServerProcess, register

REGION = (70.0, 34.0, 72.0, 36.0)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def point(rng: random.Random) -> dict[str, object]:
    lon = rng.uniform(REGION[0], REGION[2])
    lat = rng.uniform(REGION[1], REGION[3])
    return {"type": "Point", "coordinates": [lon, lat]}


def load(base: str, token: str, n: int) -> None:
    rng = random.Random(1)
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http:
        for start in range(0, n, 1000):
            features = [
                {
                    "type": "Feature",
                    "id": f"s{i}",
                    "geometry": point(rng),
                    "properties": {"kind": "site", "uncertainty_m": rng.uniform(10, 100)},
                }
                for i in range(start, min(n, start + 1000))
            ]
            r = http.post("/v1/presences", json={"type": "FeatureCollection", "features": features})
            r.raise_for_status()
        units = [
            {"kind": "unit", "location": point(rng), "uncertainty_m": 20, "max_speed_mps": 5}
            for _ in range(100)
        ]
        for i, body in enumerate(units):
            http.put(f"/v1/presences/u{i}", json=body).raise_for_status()


def client(base: str, token: str, seconds: float, seed: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    rng = random.Random(seed)
    lat: dict[str, list[float]] = {"clearance": [], "positions": [], "presence": []}
    errors = 0
    now = datetime.now(UTC)
    window = {
        "start": (now + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end": (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http:
        end = time.monotonic() + seconds
        i = 0
        while time.monotonic() < end:
            # odd clients act for the party that owns the units; even ones for the other
            kind = rng.choices(["clearance", "positions", "presence"], [6, 2 * (seed % 2), 2])[0]
            if kind == "clearance":
                body = {
                    "area": point(rng),
                    "radius_m": 200,
                    "hazard_m": rng.uniform(100, 2000),
                    "window": window,
                }
                t = time.perf_counter()
                r = http.post("/v1/clearances", json=body)
            elif kind == "positions":
                stamp = datetime.now(UTC).isoformat()
                batch = [
                    {
                        "id": f"u{rng.randrange(100)}",
                        "location": point(rng),
                        "uncertainty_m": 20,
                        "time": stamp,
                    }
                    for _ in range(1)
                ]
                t = time.perf_counter()
                r = http.post("/v1/positions", json=batch)
            else:
                t = time.perf_counter()
                r = http.put(
                    f"/v1/presences/c{seed}-{i}",
                    json={"kind": "site", "location": point(rng), "uncertainty_m": 30},
                )
            elapsed = time.perf_counter() - t
            if r.status_code >= 400:
                errors += 1
                if errors <= 3:
                    print(f"{kind}: {r.status_code} {r.text[:200]}", file=sys.stderr)
            else:
                lat[kind].append(elapsed)
            i += 1
    out.put((lat, errors))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--presences", type=int, default=10_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        # a load test is not a probe: lift the per-party request budget (R14) for it
        server = ServerProcess(
            Path(tmp), None, "--request-budget", "0", "--probe-budget", "0"
        ).start()
        try:
            parties = register(server, "north", "south")
            south = parties["south"].headers["Authorization"].removeprefix("Bearer ")
            north = parties["north"].headers["Authorization"].removeprefix("Bearer ")
            t = time.perf_counter()
            load(server.base_url, south, args.presences)
            print(f"loaded {args.presences} presences in {time.perf_counter() - t:.1f} s")
            assert server.proc is not None
            before = rss_kib(server.proc.pid)
            queue: mp.Queue = mp.Queue()  # type: ignore[type-arg]
            procs = [
                mp.Process(target=client, args=(server.base_url, tok, args.seconds, k, queue))
                for k, tok in enumerate([north, south] * args.clients)
            ][: args.clients]
            for p in procs:
                p.start()
            results = [queue.get() for _ in procs]
            for p in procs:
                p.join()
            after = rss_kib(server.proc.pid)
        finally:
            server.stop()
    total = 0
    errors = sum(e for _, e in results)
    print(f"{args.clients} client processes, {args.seconds:.0f} s, {args.presences} presences")
    print(f"{'request':12} {'count':>7} {'per s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for kind in ("clearance", "positions", "presence"):
        samples = sorted(x for lat, _ in results for x in lat[kind])
        total += len(samples)
        if not samples:
            continue
        p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
        print(
            f"{kind:12} {len(samples):7d} {len(samples) / args.seconds:8.0f} "
            f"{statistics.median(samples) * 1000:8.2f} {p99 * 1000:8.2f}"
        )
    print(f"all: {total / args.seconds:.0f} requests/s, {errors} errors")
    print(f"server RSS: {before / 1024:.0f} MiB before, {after / 1024:.0f} MiB after")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
