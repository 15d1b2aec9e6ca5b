"""Load harness: traffic against a real ``accord serve`` process over HTTP/1.1 on loopback.

Starts the server on a free loopback port with a fresh data directory (probing budgets lifted),
registers two parties, loads ``--presences`` sites and ``--units`` units, then runs one phase after
the other, each for ``--seconds``, from ``--clients`` client processes that each keep
``--connections`` keep-alive connections busy (a closed loop: a connection sends its next request
when the answer to the last one is in):

- ``healthz``: ``GET /healthz``, the peer: the rate of a request that does no work, with the same
  clients, so the other figures read as ratios that survive a noisy machine;
- ``heartbeat``: ``POST /v1/heartbeat``, the cheapest durable write (one event, no verdict): the
  ceiling of any request answered after an fsync;
- ``positions``: ``POST /v1/positions`` with ``--batch`` updates per request (each client moves
  its own slice of the units, so no update is older than the last one of its unit); by default
  before any clearance is open (open clearances make each move dearer: the count is printed);
- ``presences``: ``POST /v1/presences`` with ``--sites`` sites per request, each site an event of
  its own: durable log appends carried many to a request;
- ``clearance``: ``POST /v1/clearances``, each answered once its events are durable;
- ``mix``: 60 % clearances, 20 % single position updates (from the units' owner), 20 % presence
  upserts, as in the first version of this harness.

``--rate R`` turns each phase into an open loop: the clients offer R requests/s between them,
each request due at its own time, sent on the next free connection, and its latency counted from
when it was due (so a server that stalls is charged for every request it held up, as wrk2
counts). A closed loop measures the most a server does; an open loop, the latency at a given load.

The clients are lean so that they measure the server: raw sockets, bodies built before the clock
starts, a minimal HTTP/1.1 response reader, one ``selectors`` loop per process. For each phase
the harness prints the rate and p50/p99/p99.9 per kind of request, the log entries made durable
per second (from ``/v1/log/head``), the CPU the server and the clients used (in % of one core),
the machine's load average, and the server's resident memory. ``--profile DIR`` also records the
server with py-spy during each phase (raw flame-graph stacks, ``DIR/PHASE.txt``).

    .venv/bin/python bench/bench_http.py --clients 4 --seconds 60 --presences 10000
    .venv/bin/python bench/bench_http.py --phases healthz,mix --seconds 15 --profile /tmp/prof
    .venv/bin/python bench/bench_http.py --phases clearance --rate 2000 --seconds 30
"""

from __future__ import annotations

import argparse
import collections
import json
import multiprocessing as mp
import os
import random
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.server import ServerProcess, child_pids, register

REGION = (70.0, 34.0, 72.0, 36.0)
PHASES = ("healthz", "heartbeat", "positions", "presences", "clearance", "mix")
FLOORS = ("raw", "starlette", "fastapi-lean", "fastapi")  # bench/floor_apps.py
TICK = os.sysconf("SC_CLK_TCK")


def processes(pid: int) -> list[int]:
    """``pid`` and its child processes (``accord serve --workers N`` serves from children)."""
    return [pid, *child_pids(pid)]


def rss_kib(pid: int) -> int:
    """The resident memory of the server (``pid`` and its children), in KiB."""
    total = 0
    for p in processes(pid):
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of the server (``pid`` and its children, all their threads)."""
    user, system = cpu_split(pid)
    return user + system


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of each thread of the server: ``main`` (the event loop) and the others by
    thread id (Python does not name its threads for the kernel); a worker's threads are
    prefixed with its pid."""
    out: dict[str, float] = {}
    pids = processes(pid)
    for p in pids:
        prefix = "" if len(pids) == 1 else f"{p} "
        for task in Path(f"/proc/{p}/task").iterdir():
            try:
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # the thread ended meanwhile
                continue
            name = "main" if task.name == str(p) else f"thread {task.name}"
            out[prefix + name] = (int(fields[11]) + int(fields[12])) / TICK
    return out


def cpu_split(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of the server (``pid`` and its children)."""
    user = system = 0
    for p in processes(pid):
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        user += int(fields[11])
        system += int(fields[12])
    return user / TICK, system / TICK


def point(rng: random.Random) -> dict[str, object]:
    lon = rng.uniform(REGION[0], REGION[2])
    lat = rng.uniform(REGION[1], REGION[3])
    return {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]}


def stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def load(base: str, token: str, n: int, units: int) -> None:
    rng = random.Random(1)
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as http:
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
        for start in range(0, units, 1000):
            features = [
                {
                    "type": "Feature",
                    "id": f"u{i}",
                    "geometry": point(rng),
                    "properties": {"kind": "unit", "uncertainty_m": 20, "max_speed_mps": 5},
                }
                for i in range(start, min(units, start + 1000))
            ]
            r = http.post("/v1/presences", json={"type": "FeatureCollection", "features": features})
            r.raise_for_status()


# -- the lean client -------------------------------------------------------------------------


def request(method: str, path: str, token: str | None, body: object = None) -> bytes:
    """One HTTP/1.1 keep-alive request, ready to send."""
    head = f"{method} {path} HTTP/1.1\r\nHost: bench\r\n"
    if token is not None:
        head += f"Authorization: Bearer {token}\r\n"
    if body is None:
        return (head + "\r\n").encode()
    data = json.dumps(body, separators=(",", ":")).encode()
    head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    return head.encode() + data


@dataclass
class Job:
    """What one client process sends in one phase: a generator of (kind, request bytes)."""

    phase: str
    token: str
    owner: bool  # acts for the units' owner (moves units)
    units: list[int]  # the units this client moves
    batch: int
    seed: int
    connections: int
    rate: float = 0.0  # requests/s this client offers (an open loop); 0: a closed loop
    sites: int = 100  # sites per bulk presences request


def requests_for(job: Job) -> Callable[[], tuple[str, bytes]]:
    """Build the requests of ``job`` before the clock starts; return a cheap ``next``."""
    rng = random.Random(job.seed)
    now = datetime.now(UTC)
    window = {
        "start": stamp(now + timedelta(minutes=1)).replace(".000000", ""),
        "end": stamp(now + timedelta(hours=1)).replace(".000000", ""),
    }
    fix = stamp(now)  # one time for every update of this phase: never older than the last
    pool = 2000

    def clearances() -> list[bytes]:
        return [
            request(
                "POST",
                "/v1/clearances",
                job.token,
                {
                    "area": point(rng),
                    "radius_m": 200,
                    "hazard_m": round(rng.uniform(100, 2000), 1),
                    "window": window,
                },
            )
            for _ in range(pool)
        ]

    def positions(batch: int, count: int) -> list[bytes]:
        return [
            request(
                "POST",
                "/v1/positions",
                job.token,
                [
                    {
                        "id": f"u{rng.choice(job.units)}",
                        "location": point(rng),
                        "uncertainty_m": 20,
                        "time": fix,
                    }
                    for _ in range(batch)
                ],
            )
            for _ in range(count)
        ]

    if job.phase == "healthz":
        one = request("GET", "/healthz", None)
        return lambda: ("healthz", one)
    if job.phase == "heartbeat":
        beat = request("POST", "/v1/heartbeat", job.token, {})
        return lambda: ("heartbeat", beat)
    if job.phase == "clearance":
        bodies = clearances()
        it = iter(range(1 << 62))
        return lambda: ("clearance", bodies[next(it) % pool])
    if job.phase == "positions":
        bodies = positions(job.batch, 200)
        it = iter(range(1 << 62))
        return lambda: ("positions", bodies[next(it) % len(bodies)])
    if job.phase == "presences":  # each site of each request is an event of its own
        bodies = [
            request(
                "POST",
                "/v1/presences",
                job.token,
                {
                    "type": "FeatureCollection",
                    "features": [
                        {
                            "type": "Feature",
                            "id": f"b{job.seed}-{b}-{j}",
                            "geometry": point(rng),
                            "properties": {"kind": "site", "uncertainty_m": 30},
                        }
                        for j in range(job.sites)
                    ],
                },
            )
            for b in range(50)
        ]
        it = iter(range(1 << 62))
        return lambda: ("presences", bodies[next(it) % len(bodies)])
    # the mix
    kinds = rng.choices(["clearance", "positions", "presence"], [6, 2 * job.owner, 2], k=pool)
    made = {"clearance": clearances(), "positions": positions(1, pool) if job.owner else []}
    presence = json.dumps(
        {"kind": "site", "location": point(rng), "uncertainty_m": 30}, separators=(",", ":")
    ).encode()
    head = (
        f"HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {job.token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(presence)}\r\n\r\n"
    ).encode()
    counter = iter(range(1 << 62))

    def nxt() -> tuple[str, bytes]:
        i = next(counter)
        kind = kinds[i % pool]
        if kind == "presence":
            return kind, b"PUT /v1/presences/c%d-%d " % (job.seed, i) + head + presence
        return kind, made[kind][i % pool]

    return nxt


@dataclass
class Conn:
    sock: socket.socket
    kind: str = ""
    started: float = 0.0
    buf: bytearray = field(default_factory=bytearray)
    need: int = -1  # total bytes of the response once its head is read


def response_length(buf: bytearray) -> int:
    """The length of the response at the start of ``buf`` (head + body), -1 if not known yet."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return -1
    length = 0
    for line in bytes(buf[:end]).split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    return end + 4 + length


def client(port: int, job: Job, seconds: float, pipes: tuple[Any, Any]) -> None:
    """One client process for ``seconds``: ``job.connections`` connections in a closed loop, or,
    with ``job.rate``, an open loop that offers ``job.rate`` requests/s whatever the answers do.

    In the open loop request k is due at ``start + k / rate``. It goes out on a free connection
    at once, or, if all ``job.connections`` are busy, on the first one that frees up; its latency
    is counted from when it was due, not from when it went out, so a server that falls behind is
    charged for the wait of every request it held up (no coordinated omission, as wrk2 counts)."""
    ready, out = pipes
    nxt = requests_for(job)
    lat: dict[str, list[float]] = {}
    errors: list[str] = []
    sel = selectors.DefaultSelector()
    conns = []
    for _ in range(job.connections):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conns.append(Conn(s))
        sel.register(s, selectors.EVENT_READ, conns[-1])
    free = collections.deque(conns)  # in turn: no connection idles past the keep-alive timeout
    ready.wait()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    end = start + seconds
    interval = 1.0 / job.rate if job.rate else 0.0
    sent = 0  # requests sent so far; in the open loop request k is due at start + k * interval

    def send(c: Conn, due: float) -> None:
        c.kind, data = nxt()
        c.buf.clear()
        c.need = -1
        c.started = due
        c.sock.sendall(data)

    while True:
        now = time.perf_counter()
        while free and now < end:  # send what is due, on the free connections
            due = start + sent * interval if interval else now
            if due > now:
                break
            send(free.popleft(), due)
            sent += 1
        if len(free) == len(conns) and now >= end:
            break
        timeout = 1.0
        if interval and free and now < end:
            timeout = max(0.0, start + sent * interval - now)
        for key, _ in sel.select(timeout=timeout):
            c = key.data
            chunk = c.sock.recv(1 << 16)
            if not chunk:
                raise RuntimeError("the server closed a connection")
            c.buf += chunk
            if c.need < 0:
                c.need = response_length(c.buf)
            if c.need < 0 or len(c.buf) < c.need:
                continue
            elapsed = time.perf_counter() - c.started
            status = int(c.buf[9:12])
            if status >= 400:
                if len(errors) < 3:
                    errors.append(f"{c.kind}: {bytes(c.buf[: c.need])[-300:]!r}")
                lat.setdefault("errors", []).append(elapsed)
            else:
                lat.setdefault(c.kind, []).append(elapsed)
            free.append(c)
    for c in conns:
        c.sock.close()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    used = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
    out.put((lat, errors, used))


# -- the phases --------------------------------------------------------------------------------


def tree_size(base: str) -> int:
    return int(httpx.get(f"{base}/v1/log/head", timeout=30).json()["tree_size"])


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


@dataclass
class Result:
    phase: str
    wall: float
    lat: dict[str, list[float]]
    errors: list[str]
    events_per_s: float
    server_cpu: float  # in cores
    server_sys: float  # the share of it in the kernel
    client_cpu: float
    machine_cpu: float
    load: tuple[float, float, float]
    rss_mib: float
    threads: dict[str, float] = field(default_factory=dict)  # CPU in cores, by thread name


class FloorServer:
    """A trivial app of ``floor_apps.py`` under uvicorn with the settings of ``accord serve``."""

    def __init__(self, kind: str) -> None:
        from tests.support.server import free_port

        self.kind = kind
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> FloorServer:
        script = Path(__file__).resolve().parent / "floor_apps.py"
        self.proc = subprocess.Popen([sys.executable, str(script), self.kind, str(self.port)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"floor server {self.kind} exited")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError(f"floor server {self.kind} did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=15)


def run_floors(kinds: list[str], args: argparse.Namespace) -> None:
    """The healthz and heartbeat phases against each trivial app, with the same clients."""
    rows = []
    for kind in kinds:
        floor = FloorServer(kind).start()
        try:
            for phase in ("healthz", "heartbeat"):
                tokens = {"south": "floor", "north": "floor"}
                r = run_phase(phase, floor, tokens, args, f"floor-{kind}-{phase}")
                ok = sum(len(v) for k, v in r.lat.items() if k != "errors")
                assert not r.errors, r.errors
                rows.append((kind, phase, ok / r.wall, 1e6 * r.server_cpu * r.wall / max(1, ok), r))
        finally:
            floor.stop()
    print("\n== floors: trivial apps under the same uvicorn settings, the same clients")
    print(
        f"{'app':14} {'request':10} {'per s':>8} {'server CPU us':>14} {'server %':>9} "
        f"{'in kernel':>10} load"
    )
    for kind, phase, rate, cpu, r in rows:
        print(
            f"{kind:14} {phase:10} {rate:8.0f} {cpu:14.0f} {100 * r.server_cpu:9.0f} "
            f"{100 * r.server_sys:9.0f}% {r.load[0]:.2f}"
        )


def run_phase(
    phase: str,
    server: ServerProcess | FloorServer,
    tokens: dict[str, str],
    args: argparse.Namespace,
    label: str = "",
) -> Result:
    """Run ``phase`` against ``server``; with ``--profile``, py-spy's output is ``label``.txt
    (default: the phase's name)."""
    label = label or phase
    assert server.proc is not None
    pid = server.proc.pid
    logged = isinstance(server, ServerProcess)
    jobs = []
    owners = list(range(0, args.clients, 2)) if phase == "mix" else list(range(args.clients))
    for k in range(args.clients):
        # in the mix, even clients act for the units' owner (south), odd ones for north
        owner = phase != "mix" or k % 2 == 0
        slice_ = [u for u in range(args.units) if owner and u % len(owners) == owners.index(k)]
        token = tokens["south"] if owner else tokens["north"]
        seed = 1000 * k + len(phase)
        rate = args.rate / args.clients
        jobs.append(
            Job(phase, token, owner, slice_, args.batch, seed, args.connections, rate, args.sites)
        )
    ready = mp.Barrier(args.clients + 1)
    queue: mp.Queue[Any] = mp.Queue()
    procs = [
        mp.Process(target=client, args=(server.port, job, args.seconds, (ready, queue)))
        for job in jobs
    ]
    for p in procs:
        p.start()
    size0 = tree_size(server.base_url) if logged else 0
    ready.wait()
    t0 = time.perf_counter()
    cpu0 = cpu_seconds(pid)
    sys0 = cpu_split(pid)[1]
    threads0 = thread_cpu(pid)
    busy0, total0 = machine_busy()
    spy = None
    if args.profile:  # py-spy: the thread holding the GIL, sampled without pausing the server
        spy = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "py-spy"),
                *("record", "-p", str(pid), "-d", str(max(1, int(args.seconds) - 1))),
                *("-r", "200", "--nonblocking", "--gil", "--subprocesses", "-f", "raw"),
                *("-o", str(Path(args.profile) / f"{label}.txt")),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    results = [queue.get(timeout=args.seconds + 120) for _ in procs]
    wall = time.perf_counter() - t0
    cpu1 = cpu_seconds(pid)
    sys1 = cpu_split(pid)[1]
    threads1 = thread_cpu(pid)
    busy1, total1 = machine_busy()
    for p in procs:
        p.join()
    if spy is not None:
        spy.wait()
    size1 = tree_size(server.base_url) if logged else 0
    lat: dict[str, list[float]] = {}
    errors: list[str] = []
    client_cpu = 0.0
    for got, errs, used in results:
        for kind, samples in got.items():
            lat.setdefault(kind, []).extend(samples)
        errors += errs
        client_cpu += used
    cores = os.cpu_count() or 1
    return Result(
        phase=phase,
        wall=wall,
        lat=lat,
        errors=errors,
        events_per_s=(size1 - size0) / wall,
        server_cpu=(cpu1 - cpu0) / wall,
        server_sys=(sys1 - sys0) / max(1e-9, cpu1 - cpu0),
        threads={k: (v - threads0.get(k, 0.0)) / wall for k, v in threads1.items()},
        client_cpu=client_cpu / wall,
        machine_cpu=cores * (busy1 - busy0) / max(1, total1 - total0),
        load=os.getloadavg(),
        rss_mib=rss_kib(pid) / 1024,
    )


def report(r: Result, args: argparse.Namespace, peer: float | None, open_clearances: int) -> float:
    """Print the phase's figures; return its rate of successful requests."""
    loop = f"offered {args.rate:.0f}/s" if args.rate else "a closed loop"
    print(
        f"\n== {r.phase} ({r.wall:.1f} s, {loop}, {open_clearances} open clearances at its start)"
    )
    print(
        f"{'request':12} {'count':>8} {'per s':>8} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>8} "
        f"{'vs healthz':>10}"
    )
    ok = sum(len(v) for k, v in r.lat.items() if k != "errors")
    for kind in ("healthz", "heartbeat", "clearance", "positions", "presences", "presence"):
        samples = sorted(r.lat.get(kind, []))
        if not samples:
            continue
        rate = len(samples) / r.wall
        p99, p999 = (samples[min(len(samples) - 1, int(len(samples) * q))] for q in (0.99, 0.999))
        ratio = f"{rate / peer:10.3f}" if peer else ""
        print(
            f"{kind:12} {len(samples):8d} {rate:8.0f} {statistics.median(samples) * 1000:8.2f} "
            f"{p99 * 1000:8.2f} {p999 * 1000:8.2f} {ratio}"
        )
    if r.lat.get("errors"):
        print(f"{'errors':12} {len(r.lat['errors']):8d}")
    if r.phase == "positions":
        n = len(r.lat.get("positions", []))
        print(f"position updates: {n * args.batch / r.wall:.0f}/s ({args.batch} per request)")
    if r.phase == "presences":
        n = len(r.lat.get("presences", []))
        print(f"sites upserted: {n * args.sites / r.wall:.0f}/s ({args.sites} per request)")
    for e in r.errors:
        print(f"  error: {e}")
    per_request = 1e6 * r.server_cpu * r.wall / max(1, ok)
    print(
        f"durable log entries {r.events_per_s:.0f}/s; server CPU {per_request:.0f} us per request; "
        f"CPU in % of one core: server {100 * r.server_cpu:.0f} ({100 * r.server_sys:.0f} % of it "
        f"in the kernel), clients {100 * r.client_cpu:.0f}, "
        f"machine {100 * r.machine_cpu:.0f} of {100 * (os.cpu_count() or 1)}; "
        f"load {r.load[0]:.2f} {r.load[1]:.2f} {r.load[2]:.2f}; server RSS {r.rss_mib:.0f} MiB"
    )
    busy = sorted(((v, k) for k, v in r.threads.items() if v >= 0.005), reverse=True)
    print(
        "server threads, CPU in % of one core: " + ", ".join(f"{k} {100 * v:.0f}" for v, k in busy)
    )
    return ok / r.wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--clients", type=int, default=4, help="client processes (default 4)")
    ap.add_argument("--connections", type=int, default=8, help="connections per client (default 8)")
    ap.add_argument("--seconds", type=float, default=60, help="length of each phase (default 60)")
    ap.add_argument("--presences", type=int, default=10_000, help="sites loaded (default 10^4)")
    ap.add_argument("--units", type=int, default=1000, help="units loaded (default 1000)")
    ap.add_argument(
        "--batch", type=int, default=500, help="updates per bulk positions request (default 500)"
    )
    ap.add_argument(
        "--sites", type=int, default=100, help="sites per bulk presences request (default 100)"
    )
    ap.add_argument("--phases", default=",".join(PHASES), help=f"default {','.join(PHASES)}")
    ap.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="requests/s offered in each phase, spread over the clients (an open loop: latency "
        "counted from when each request was due); default 0, a closed loop",
    )
    ap.add_argument("--profile", metavar="DIR", help="record the server with py-spy per phase")
    ap.add_argument("--serve-args", default="", help="extra arguments for accord serve")
    ap.add_argument(
        "--floors",
        default="",
        help="after the phases, healthz and heartbeat against trivial apps served the same way: "
        f"a comma-separated list of {','.join(FLOORS)}, or 'all'",
    )
    args = ap.parse_args()
    floors = list(FLOORS) if args.floors == "all" else [f for f in args.floors.split(",") if f]
    for f in floors:
        if f not in FLOORS:
            ap.error(f"unknown floor {f!r}")
    phases = [p for p in args.phases.split(",") if p]
    for p in phases:
        if p not in PHASES:
            ap.error(f"unknown phase {p!r}")
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    version = sys.version.split()[0]
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, Python {version}")
    if phases:
        run_accord(phases, args)
    if floors:
        run_floors(floors, args)
    return 0


def run_accord(phases: list[str], args: argparse.Namespace) -> None:
    """Start ``accord serve``, load it, run ``phases`` one after the other."""
    with tempfile.TemporaryDirectory() as tmp:
        # a load test is not a probe: lift the per-party request budget (R14) for it
        server = ServerProcess(
            Path(tmp),
            None,
            "--request-budget",
            "0",
            "--probe-budget",
            "0",
            *args.serve_args.split(),
        ).start()
        try:
            parties = register(server, "north", "south")
            tokens = {
                name: client.headers["Authorization"].removeprefix("Bearer ")
                for name, client in parties.items()
            }
            server.close_clients()
            t = time.perf_counter()
            load(server.base_url, tokens["south"], args.presences, args.units)
            assert server.proc is not None
            rss = rss_kib(server.proc.pid) / 1024
            print(
                f"loaded {args.presences} sites and {args.units} units in "
                f"{time.perf_counter() - t:.1f} s; server RSS {rss:.0f} MiB"
            )
            print(
                f"{args.clients} client processes x {args.connections} connections, "
                f"{args.seconds:.0f} s per phase"
            )
            peer = None
            open_clearances = 0
            for phase in phases:
                result = run_phase(phase, server, tokens, args)
                rate = report(result, args, peer, open_clearances)
                open_clearances += len(result.lat.get("clearance", []))  # windows of an hour
                if phase == "healthz" and not args.rate:  # a fixed rate is no peer
                    peer = rate
        finally:
            server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
