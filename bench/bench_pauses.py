"""Accord over HTTP, round after round: clearance latency and the server's collector pauses.

    PYTHONPATH=src:. .venv/bin/python bench/bench_pauses.py [--n 1000000] [--rounds 8]
        [--seconds 10] [--dense] [--leaks 3]

``bench_postgis.py`` measures a few seconds at each N, and at 10^6 presences a collection of the
collector's middle generation came about every 75 s of clearances. This script loads N presences
as bench_postgis does (:class:`bench.bench_postgis.AccordHTTP`: a real ``accord serve`` on SQLite,
the same random presences and requests), then sends clearance requests from one client for
``--rounds`` rounds of ``--seconds``. For each round it prints requests/s, latency p50 / p99,
the server's CPU time per request (all its threads, from /proc: what a busy machine inflates
least), and the collections that paused the server for more than 2 ms: how many, their total,
the longest.
At the end, the same by generation over all rounds.

The pauses are the server's own: a ``sitecustomize`` module in a temporary directory on the
server's ``PYTHONPATH`` adds a ``gc.callbacks`` hook that appends a line per collection to a file.

``--dense`` shrinks the region so that N presences have the density of bench_postgis's 10^6
(25 per km², ~130 reasons a clearance) at a smaller N, which loads in seconds.

``--leaks K`` then runs K rounds of mixed traffic (clearances from two clients, bulk position
updates, malformed requests, unknown ids, event streams opened and dropped, short connections).
After each, SIGUSR1 makes the server's hook unfreeze everything, run a full collection and
report the garbage it found: the cycles that the frozen objects would keep
(``bootstrap.collector``).
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path

from bench import bench_postgis as pg
from bench.bench_http import cpu_seconds

HOOK = """
import gc, os, signal, time
_out = open(os.environ["ACCORD_BENCH_GC_LOG"], "a", buffering=1)
_t0 = [0.0]
def _timed(phase, info):
    if phase == "start":
        _t0[0] = time.perf_counter()
    else:
        _out.write(f"{time.time():.3f} {info['generation']} {time.perf_counter() - _t0[0]:.6f}\\n")
gc.callbacks.append(_timed)
def _full(signum, frame):
    gc.unfreeze()
    t = time.perf_counter()
    n = gc.collect()
    _out.write(f"full {n} {len(gc.garbage)} {time.perf_counter() - t:.3f}\\n")
    gc.freeze()
signal.signal(signal.SIGUSR1, _full)
"""


def pauses(log: Path, since: float) -> list[tuple[int, float]]:
    """(generation, seconds) of each collection over 2 ms that ended after ``since``."""
    out = []
    for line in log.read_text().splitlines():
        t, g, s = line.split()
        if t != "full" and float(t) >= since and float(s) > 0.002:
            out.append((int(g), float(s)))
    return out


def full_collections(log: Path) -> list[str]:
    """The lines of the full collections the hook ran on SIGUSR1, in order."""
    return [line for line in log.read_text().splitlines() if line.startswith("full")]


def mixed_traffic(server: pg.AccordHTTP, qs: list[pg.Query]) -> None:
    pg.measure(server, qs, 2, 3.0)
    server.positions_rate(1000, 500, 2.0)  # bulk requests: objects alive across collections
    headers = {
        "Authorization": f"Bearer {server.tokens['requester']}",
        "Content-Type": "application/json",
    }
    bad = [b'{"area": ', b'{"area": {"type": "Point", "coordinates": [1e999, 0]}}', b"[]"]
    conn = http.client.HTTPConnection("127.0.0.1", server.server.port, timeout=30)
    for i in range(300):
        conn.request("POST", "/v1/clearances", bad[i % len(bad)], headers)
        conn.getresponse().read()
        conn.request("GET", f"/v1/clearances/unknown-{i}", headers=headers)
        conn.getresponse().read()
    conn.close()
    for path, n in (("/v1/events", 50), ("/healthz", 100)):
        for _ in range(n):
            c = http.client.HTTPConnection("127.0.0.1", server.server.port, timeout=30)
            c.request("GET", path, headers=headers)
            c.getresponse().read1(100)  # an event stream is dropped after its first bytes
            c.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="presences (default 10^6)")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10.0, help="per round")
    ap.add_argument("--dense", action="store_true", help="bench_postgis's 10^6 density at --n")
    ap.add_argument("--leaks", type=int, default=0, help="rounds of mixed traffic, then a check")
    args = ap.parse_args(argv)
    if args.dense:
        shrink = (args.n / 1e6) ** 0.5
        pg.HALF_LAT *= shrink
        pg.HALF_LON *= shrink
    rng = random.Random(7)
    ps = pg.presences(rng, args.n)
    qs = pg.queries(rng, 20_000)
    with tempfile.TemporaryDirectory() as tmp:
        hook = Path(tmp) / "hook"
        hook.mkdir()
        (hook / "sitecustomize.py").write_text(HOOK)
        log = Path(tmp) / "gc.log"
        log.touch()
        os.environ["ACCORD_BENCH_GC_LOG"] = str(log)  # the server inherits the environment
        os.environ["PYTHONPATH"] = os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")])
        t0 = time.perf_counter()
        server = pg.AccordHTTP(Path(tmp) / "data", ps)
        print(
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {args.n} presences"
            f"{' (dense)' if args.dense else ''} loaded in {time.perf_counter() - t0:.0f} s, "
            f"load average {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        start = time.time()
        try:
            assert server.server.proc is not None
            pid = server.server.proc.pid
            for r in range(args.rounds):
                since = time.time()
                cpu = cpu_seconds(pid)
                run = pg.measure(server, qs, 1, args.seconds)
                cpu = cpu_seconds(pid) - cpu
                got = pauses(log, since)
                print(
                    f"round {r}: {run.rate:6.0f}/s, p50 {run.p50_ms:5.2f} ms, p99 "
                    f"{run.p99_ms:6.2f} ms, server CPU {cpu / (run.rate * args.seconds) * 1e3:5.2f}"
                    f" ms a request; {len(got)} pauses > 2 ms, total "
                    f"{sum(s for _, s in got) * 1e3:5.0f} ms, longest "
                    f"{max((s for _, s in got), default=0.0) * 1e3:5.0f} ms",
                    flush=True,
                )
            for g in (0, 1, 2):
                mine = [s for gen, s in pauses(log, start) if gen == g]
                if mine:
                    print(
                        f"generation {g}: {len(mine)} pauses > 2 ms, total "
                        f"{sum(mine) * 1e3:.0f} ms, longest {max(mine) * 1e3:.0f} ms"
                    )
            for k in range(args.leaks):
                mixed_traffic(server, qs)
                os.kill(pid, signal.SIGUSR1)
                deadline = time.monotonic() + 300.0  # seconds, at 10^6 presences
                while len(fulls := full_collections(log)) <= k and time.monotonic() < deadline:
                    time.sleep(0.5)
                _, found, left, took = fulls[k].split() if len(fulls) > k else ("", "?", "?", "?")
                print(
                    f"mixed traffic {k}: a full collection of everything unfrozen found "
                    f"{found} objects of garbage cycles ({left} uncollectable) in {took} s",
                    flush=True,
                )
        finally:
            server.close()
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
