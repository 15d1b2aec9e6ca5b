"""The HTTP app in process, driven through ASGI without a server: CPU per request by endpoint.

``bench_http.py`` measures the whole server, uvicorn included, on a machine whose load moves the
figures. This script builds the same app as ``accord serve`` (``bootstrap.runtime``: SQLite, the
group commit, the timers; probing budgets lifted), loads ``--presences`` sites and ``--units``
units, and then sends each kind of request to the ASGI callable itself, ``--concurrency`` at a
time on one uvloop event loop (so the group commit batches as it does under load). It prints the
process CPU (all threads: the event loop, the group-commit writer, the timers) per request, and
how it splits between the event loop's thread (``loop``) and the others (``others``). Every
durable request is still answered only after its fsync.

Run it on the code before and after a change: the difference is what the change saves per
request, without uvicorn's share (``bench_http.py --floors`` measures that one).

    PYTHONPATH=src:. .venv/bin/python bench/bench_asgi.py --requests 3000 --repeat 3
    PYTHONPATH=src:. .venv/bin/python bench/bench_asgi.py --profile /tmp/asgi.prof
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvloop
from bench.bench_http import point

from accord.bootstrap import runtime
from accord.core.model import ProbePolicy

KINDS = ("healthz", "heartbeat", "positions", "clearance")  # clearances stay open: last
ADMIN = "bench-admin-token-0123456789"


def stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class Driver:
    """Sends requests to an ASGI app and collects the answers."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def call(
        self, method: str, path: str, token: str | None = None, body: bytes | None = None
    ) -> tuple[int, bytes]:
        headers = [(b"host", b"bench")]
        if token is not None:
            headers.append((b"authorization", b"Bearer " + token.encode()))
        if body is not None:
            headers.append((b"content-type", b"application/json"))
            headers.append((b"content-length", str(len(body)).encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:  # the client stays connected: wait, as a server would
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body or b"", "more_body": False}

        status = 0
        out: list[bytes] = []

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                out.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, b"".join(out)


def bodies(kind: str, n: int, batch: int, units: int, seed: int) -> list[tuple[str, str, bytes]]:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    window = {"start": stamp(now + timedelta(minutes=1)), "end": stamp(now + timedelta(hours=1))}
    fix = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    out = []
    for _ in range(n):
        if kind == "healthz":
            out.append(("GET", "/healthz", b""))
        elif kind == "heartbeat":
            out.append(("POST", "/v1/heartbeat", b"{}"))
        elif kind == "clearance":
            body: Any = {
                "area": point(rng),
                "radius_m": 200,
                "hazard_m": round(rng.uniform(100, 2000), 1),
                "window": window,
            }
            out.append(("POST", "/v1/clearances", json.dumps(body).encode()))
        else:
            body = [
                {
                    "id": f"u{rng.randrange(units)}",
                    "location": point(rng),
                    "uncertainty_m": 20,
                    "time": fix,
                }
                for _ in range(batch)
            ]
            out.append(("POST", "/v1/positions", json.dumps(body).encode()))
    return out


async def load(d: Driver, token: str, sites: int, units: int) -> None:
    rng = random.Random(1)
    for kind, count, props in (
        ("s", sites, lambda: {"kind": "site", "uncertainty_m": rng.uniform(10, 100)}),
        ("u", units, lambda: {"kind": "unit", "uncertainty_m": 20, "max_speed_mps": 5}),
    ):
        for start in range(0, count, 1000):
            features = [
                {
                    "type": "Feature",
                    "id": f"{kind}{i}",
                    "geometry": point(rng),
                    "properties": props(),
                }
                for i in range(start, min(count, start + 1000))
            ]
            fc = {"type": "FeatureCollection", "features": features}
            status, text = await d.call("POST", "/v1/presences", token, json.dumps(fc).encode())
            assert status == 200, text


async def run(
    d: Driver, token: str, requests: list[tuple[str, str, bytes]], concurrency: int
) -> tuple[float, float, float]:
    """Send ``requests``, ``concurrency`` at a time; (process CPU s, the event loop thread's CPU
    s, wall s). The rest of the process CPU is the other threads': the group-commit writer's
    above all."""
    it = iter(requests)

    async def worker() -> None:
        for method, path, body in it:
            status, text = await d.call(method, path, token, body or None)
            if status >= 400:
                raise RuntimeError(f"{path}: {status} {text[:300]!r}")

    cpu, loop, wall = time.process_time(), time.thread_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.process_time() - cpu, time.thread_time() - loop, time.perf_counter() - wall


class GCTime:
    """Time spent in the cyclic garbage collector (all generations), from ``gc.callbacks``."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._start = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--kinds", default=",".join(KINDS), help=f"default {','.join(KINDS)}")
    ap.add_argument("--requests", type=int, default=3000, help="requests per kind and round")
    ap.add_argument("--batch", type=int, default=500, help="updates per positions request")
    ap.add_argument("--repeat", type=int, default=3, help="rounds (the median is printed)")
    ap.add_argument("--concurrency", type=int, default=32, help="requests in flight (default 32)")
    ap.add_argument("--presences", type=int, default=10_000, help="sites loaded (default 10^4)")
    ap.add_argument("--units", type=int, default=1000, help="units loaded (default 1000)")
    ap.add_argument("--profile", metavar="FILE", help="cProfile the last round into FILE")
    args = ap.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    os.environ["ACCORD_ADMIN_TOKEN"] = ADMIN
    uvloop.install()
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory() as tmp, runtime(Path(tmp), policy=ProbePolicy(0, 0)) as rt:
        d = Driver(rt.app)
        committer = rt.service._committer  # its counters: records per durable batch

        async def session() -> None:
            status, text = await d.call(
                "POST", "/v1/parties", ADMIN, b'{"id": "south", "name": "South"}'
            )
            assert status == 201, text
            token = json.loads(text)["token"]
            await load(d, token, args.presences, args.units)
            print(
                f"{'request':10} {'CPU us/request: median':>23} {'min':>6} {'loop':>6} "
                f"{'others':>6} {'wall/s':>8} "
                f"{'GC us/request':>14} {'records/fsync':>13}  rounds"
            )
            gc_time = GCTime()
            for kind in kinds:
                n = args.requests if kind != "positions" else max(1, args.requests // 50)
                cpus: list[float] = []
                loops: list[float] = []
                rates: list[float] = []
                gcs: list[float] = []
                batches: list[float] = []
                for r in range(args.repeat):
                    reqs = bodies(kind, n, args.batch, args.units, seed=r)
                    prof = (
                        cProfile.Profile(time.thread_time)
                        if args.profile and r == args.repeat - 1
                        else None
                    )
                    if prof is not None:
                        prof.enable()
                    gc0 = gc_time.seconds
                    b0, r0 = committer.batches_committed, committer.records_committed
                    cpu, loop, wall = await run(d, token, reqs, args.concurrency)
                    gcs.append(1e6 * (gc_time.seconds - gc0) / n)
                    batches.append(
                        (committer.records_committed - r0)
                        / max(1, committer.batches_committed - b0)
                    )
                    if prof is not None:
                        prof.disable()
                        prof.dump_stats(f"{args.profile}.{kind}")
                    cpus.append(1e6 * cpu / n)
                    loops.append(1e6 * loop / n)
                    rates.append(n / wall)
                shown = " ".join(f"{c:.0f}" for c in cpus)
                print(
                    f"{kind:10} {statistics.median(cpus):23.0f} {min(cpus):6.0f} "
                    f"{statistics.median(loops):6.0f} "
                    f"{statistics.median(c - lp for c, lp in zip(cpus, loops, strict=True)):6.0f} "
                    f"{statistics.median(rates):8.0f} {statistics.median(gcs):14.0f} "
                    f"{statistics.median(batches):13.1f}  {shown}",
                    flush=True,
                )

        asyncio.run(session())
    print(f"load {os.getloadavg()[0]:.2f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
