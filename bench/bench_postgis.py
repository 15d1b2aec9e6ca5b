"""Accord against PostGIS alone, by N: durable clearance requests, verdicts, memory, restart.

    PYTHONPATH=src:. .venv/bin/python bench/bench_postgis.py [--max-n 1000000] [--seconds 4]
        [--runs 3] [--agree 400] [--clients 1,2] [--parts compare,store] [--pg URL]
        [--out docs/PERFORMANCE.md] [--plot docs/img/bench-postgis.png]

Without ``--pg`` a throwaway PostgreSQL 15 + PostGIS cluster is started (tests/integration/pg.py)
and deleted afterwards. For N in 10^3, 10^4, ... up to ``--max-n``, N point presences are placed at
random in a 200 km x 200 km region (centre 34.9N 71.0E) with uncertainties of 10-100 m, and:

- PostGIS alone: ``presence(id, geog geography(Point), unc)`` with a GiST index. A clearance
  request (a point, ``radius_m`` 100, ``hazard_m`` 100-2000) is ONE statement in autocommit, so
  one transaction with ``synchronous_commit = on``: the ``ST_DWithin(geog, q, radius + hazard +
  100)`` prefilter (the largest reach, so the index is used), the exact per-row test
  ``ST_Distance(geog, q, true) <= radius + hazard + unc``, and the INSERT of the request row
  with its status and conflicting ids. The single statement (one round trip) is the most
  favourable form for PostGIS.
- Accord over HTTP: a real ``accord serve`` process with its SQLite store (:class:`AccordHTTP`),
  loaded through ``POST /v1/presences``; each client thread keeps one connection and POSTs
  /v1/clearances, answered once the request is durable.
- Accord in process: a :class:`accord.service.Service` (decide, Merkle leaf, evolve, durable
  group-committed append before the answer) with the SQLite store, and with the PostgreSQL store
  on the same server as PostGIS. Presences are loaded through the service (UpsertPresences of
  1,000). 64 requesting parties take turns and the injected clock advances 0.5 s per command,
  so no party exceeds the request budget of R14 (120 per hour). Requests are measured with the
  garbage collector as ``accord serve`` runs it (``bootstrap.collector``).

For each, requests/s and latency p50/p99 from 1 and 2 client threads (each PostGIS client has its
own connection), medians over ``--runs`` runs of ``--seconds`` each; the pure verdict latency
(``decide`` on the loaded state, nothing written); memory per presence (RSS growth of the
process while the service loads, so state, spatial index, Merkle tree and allocator slack); and
the verdicts of both on ``--agree`` random requests plus boundary cases placed 1 m, 1 cm, 1 mm
and 100 nm either side of one presence's threshold (distance from GeographicLib). Any
disagreement outside Accord's stated error bound is reported and makes the exit status 1.

At each N the server over HTTP also gives: its RSS growth per presence while loading, position
updates/s through ``POST /v1/positions`` (batches of 1,000 over 1,000 units, verdicts
recomputed), and its restart time (stop, which snapshots, then start until /healthz answers);
and durable appends/s of single records from 16 threads through a GroupCommitter on each store.

The ``writes`` part (not run by default) measures only the durable requests of PostGIS and of
Accord in process on both stores, and prints them: a quick comparison of write paths.

The ``store`` part measures the PostgreSQL store alone: durable appends/s through a
GroupCommitter, and how long a record takes to reach another store object's ``follow()``.

The tables go between the markers BEGIN and END in ``--out`` (docs/PERFORMANCE.md); the plot of
cost against N to ``--plot``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import http.client
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import psycopg
from geographiclib.geodesic import Geodesic
from psycopg import conninfo

from accord.bootstrap import collector
from accord.core import (
    Disclosure,
    RegisterParty,
    RequestClearance,
    State,
    UpsertPresence,
    decide,
)
from accord.core import UpsertPresences as UpsertMany
from accord.geo.distance import EPS_M
from accord.geo.location import parse_location
from accord.geo.shapes import Disc
from accord.ledger import canonical_json
from accord.service import Service
from accord.store import EventStore, GroupCommitter, LogRecord, SQLiteStore, StoredHead
from accord.store.postgres import PostgresStore

CENTRE = (71.0, 34.9)
HALF_LAT = 0.9  # ~100 km
HALF_LON = 1.1  # ~100 km at 34.9N
RADIUS_M = 100.0
HAZARD_M = (100.0, 2000.0)
UNC_M = (10.0, 100.0)
PARTIES = 64
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
DELTAS = (-1.0, -1e-2, -1e-3, -1e-7, 1e-7, 1e-3, 1e-2, 1.0)
BOUND_M = EPS_M  # Accord's stated bound for point-to-disc distances (accord.geo.distance)
WGS84 = Geodesic.WGS84


@dataclass(frozen=True, slots=True)
class Presence:
    id: str
    lon: float
    lat: float
    unc: float


@dataclass(frozen=True, slots=True)
class Query:
    lon: float
    lat: float
    radius: float
    hazard: float


@dataclass(frozen=True, slots=True)
class Answer:
    status: str  # conflict | clear
    ids: frozenset[str]


def presences(rng: random.Random, n: int) -> list[Presence]:
    return [
        Presence(
            f"p{i}",
            CENTRE[0] + rng.uniform(-HALF_LON, HALF_LON),
            CENTRE[1] + rng.uniform(-HALF_LAT, HALF_LAT),
            rng.uniform(*UNC_M),
        )
        for i in range(n)
    ]


def queries(rng: random.Random, count: int) -> list[Query]:
    return [
        Query(
            CENTRE[0] + rng.uniform(-HALF_LON, HALF_LON),
            CENTRE[1] + rng.uniform(-HALF_LAT, HALF_LAT),
            RADIUS_M,
            rng.uniform(*HAZARD_M),
        )
        for _ in range(count)
    ]


def boundary_queries(rng: random.Random, ps: Sequence[Presence], count: int) -> list[Query]:
    """Requests whose threshold for one presence is ``d + delta`` (d from GeographicLib)."""
    out = []
    for k in range(count):
        p = ps[rng.randrange(len(ps))]
        g = WGS84.Direct(p.lat, p.lon, rng.uniform(-180, 180), rng.uniform(300, 2500))
        d = WGS84.Inverse(g["lat2"], g["lon2"], p.lat, p.lon)["s12"]
        hazard = d - RADIUS_M - p.unc + DELTAS[k % len(DELTAS)]
        out.append(Query(g["lon2"], g["lat2"], RADIUS_M, hazard))
    return out


def percentile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    k = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[k]


def rss_bytes(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_per_presence(n: int) -> float:
    """RSS growth per presence of a fresh process while its service loads ``n`` presences
    (state, spatial index, Merkle tree and allocator slack; the store's file is not counted)."""
    done = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(n)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.split()[-1])


def memory_child(n: int) -> None:
    ps = presences(random.Random(20261122), n)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as d:
        store = SQLiteStore(Path(d) / "accord.db")
        gc.collect()
        before = rss_bytes()
        accord = Accord("memory", store, ps)
        gc.collect()
        grown = rss_bytes() - before
        accord.close()
    print(grown / n)


# -- targets ------------------------------------------------------------------------------------


class Target(Protocol):
    """Something that answers durable clearance requests; ``client()`` gives one client's
    request function (its own connection where there is one)."""

    name: str

    def client(self) -> contextlib.AbstractContextManager[Callable[[Query, int], Answer]]: ...

    def close(self) -> None: ...


def with_schema(url: str, schema: str, *extra: str) -> str:
    """``url`` with ``search_path`` set to ``schema`` (and ``extra`` schemas after it)."""
    path = ",".join((schema, *extra))
    return conninfo.make_conninfo(url, options=f"-csearch_path={path}")


def create_schema(url: str, schema: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE".encode())
        conn.execute(f"CREATE SCHEMA {schema}".encode())


POSTGIS_REQUEST = """
WITH q AS (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography AS g),
hits AS (
    SELECT p.id FROM presence p, q
    WHERE ST_DWithin(p.geog, q.g, %(reach)s)
      AND ST_Distance(p.geog, q.g, true) <= %(radius)s + %(hazard)s + p.unc
),
ins AS (
    INSERT INTO clearance (requester, geog, radius_m, hazard_m, status, conflicts)
    SELECT %(party)s, q.g, %(radius)s, %(hazard)s,
           CASE WHEN EXISTS (SELECT 1 FROM hits) THEN 'conflict' ELSE 'clear' END,
           ARRAY(SELECT id FROM hits ORDER BY id)
    FROM q
    RETURNING status, conflicts
)
SELECT status, conflicts FROM ins
"""

POSTGIS_ANSWER = """
WITH q AS (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography AS g)
SELECT p.id FROM presence p, q
WHERE ST_DWithin(p.geog, q.g, %(reach)s)
  AND ST_Distance(p.geog, q.g, true) <= %(radius)s + %(hazard)s + p.unc
"""


def params(q: Query, party: int) -> dict[str, Any]:
    return {
        "lon": q.lon,
        "lat": q.lat,
        "radius": q.radius,
        "hazard": q.hazard,
        "reach": q.radius + q.hazard + UNC_M[1],
        "party": f"r{party % PARTIES:02d}",
    }


class PostGIS:
    """PostGIS alone: the tables, the index, and one connection per client."""

    name = "PostGIS"

    def __init__(self, url: str, schema: str, ps: Sequence[Presence]) -> None:
        create_schema(url, schema)
        self.url = with_schema(url, schema, "public")
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE presence (id text PRIMARY KEY, "
                "geog geography(Point, 4326) NOT NULL, unc float8 NOT NULL)"
            )
            conn.execute(
                "CREATE TABLE clearance (id bigserial PRIMARY KEY, requester text NOT NULL, "
                "geog geography(Point, 4326) NOT NULL, radius_m float8 NOT NULL, "
                "hazard_m float8 NOT NULL, status text NOT NULL, conflicts text[] NOT NULL, "
                "requested_at timestamptz NOT NULL DEFAULT now())"
            )
            for k in range(0, len(ps), 50_000):
                chunk = ps[k : k + 50_000]
                conn.execute(
                    "INSERT INTO presence (id, geog, unc) "
                    "SELECT id, ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography, unc "
                    "FROM unnest(%s::text[], %s::float8[], %s::float8[], %s::float8[]) "
                    "AS t(id, lon, lat, unc)",
                    (
                        [p.id for p in chunk],
                        [p.lon for p in chunk],
                        [p.lat for p in chunk],
                        [p.unc for p in chunk],
                    ),
                )
            conn.execute("CREATE INDEX presence_geog ON presence USING gist (geog)")
            conn.execute("VACUUM ANALYZE presence")
            plan = conn.execute(
                b"EXPLAIN " + POSTGIS_ANSWER.encode(), params(Query(*CENTRE, 100, 1000), 0)
            ).fetchall()
            if "presence_geog" not in " ".join(str(r[0]) for r in plan):
                raise SystemExit("PostGIS does not use the GiST index: " + repr(plan))

    @contextlib.contextmanager
    def client(self) -> Iterator[Callable[[Query, int], Answer]]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("SET synchronous_commit = on")

            def request(q: Query, n: int) -> Answer:
                row = conn.execute(POSTGIS_REQUEST, params(q, n)).fetchone()
                assert row is not None
                return Answer(row[0], frozenset(row[1]))

            yield request

    def answers(self, qs: Sequence[Query]) -> list[Answer]:
        """What PostGIS answers, read only (for the agreement check)."""
        out = []
        with psycopg.connect(self.url, autocommit=True) as conn:
            for q in qs:
                ids = frozenset(r[0] for r in conn.execute(POSTGIS_ANSWER, params(q, 0)))
                out.append(Answer("conflict" if ids else "clear", ids))
        return out

    def close(self) -> None:
        pass


class Clock:
    """The injected clock: advances 0.5 s per command so 64 requesters stay within budget."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._t = T0

    def __call__(self) -> datetime:
        with self._lock:
            self._t += timedelta(seconds=0.5)
            return self._t

    def peek(self) -> datetime:
        with self._lock:
            return self._t


def clearance(q: Query, party: int, now: datetime) -> RequestClearance:
    return RequestClearance(
        party=f"r{party % PARTIES:02d}",
        id=None,
        area=Disc(q.lon, q.lat, q.radius),
        area_json={"type": "Point", "coordinates": [q.lon, q.lat]},
        radius_m=q.radius,
        width_m=None,
        hazard_m=q.hazard,
        window_start=now,
        window_end=now + timedelta(days=30),
        purpose="bench",
    )


def answer_of(event: dict[str, Any]) -> Answer:
    ids = frozenset(r["presence"] for r in event.get("reasons", ()) if r["code"] == "conflict")
    return Answer(event["status"], ids)


class Accord:
    """Accord's service in this process, on ``store``; presences loaded through the service."""

    def __init__(self, name: str, store: EventStore, ps: Sequence[Presence]) -> None:
        self.name = name
        self.clock = Clock()
        t0 = time.perf_counter()
        self.service = Service(store, self.clock)
        self.service.execute(RegisterParty("admin", "owner", "Owner"))
        for k in range(PARTIES):
            self.service.execute(RegisterParty("admin", f"r{k:02d}", f"Requester {k}"))
        for k in range(0, len(ps), 1000):
            items = tuple(
                UpsertPresence(
                    party="owner",
                    id=p.id,
                    kind="site",
                    label=f"post {p.id}",
                    position=parse_location({"type": "Point", "coordinates": [p.lon, p.lat]}),
                    uncertainty_m=p.unc,
                    area=None,
                    area_json=None,
                    valid_from=None,
                    valid_until=None,
                    max_speed_mps=None,
                    disclosure=Disclosure("exact"),  # no probe budget (R14) in the way
                )
                for p in ps[k : k + 1000]
            )
            self.service.execute(UpsertMany("owner", items))
        self.load_s = time.perf_counter() - t0
        for p in ps[:: max(1, len(ps) // 100)]:  # the service keeps exactly what PostGIS has
            rec = self.service.state.presences[f"owner:{p.id}"]
            assert (rec.lon, rec.lat, rec.unc) == (p.lon, p.lat, p.unc), (rec, p)

    @contextlib.contextmanager
    def client(self) -> Iterator[Callable[[Query, int], Answer]]:
        def request(q: Query, n: int) -> Answer:
            return answer_of(self.service.execute(clearance(q, n, self.clock.peek()))[0])

        # the collector as ``accord serve`` runs it (bootstrap.runtime), not as Python's defaults
        # (which at 10^6 presences spend a quarter of a request in collections)
        with collector():
            yield request

    def verdicts(self, qs: Sequence[Query]) -> tuple[list[Answer], list[float]]:
        """Pure verdicts (``decide`` on the loaded state, nothing logged) and their latencies;
        also the sizes of the request events and the time to canonicalise them (RFC 8785), which
        the service does before logging."""
        now = self.clock.peek()
        out, took = [], []
        self.event_bytes: list[int] = []
        self.jcs_s: list[float] = []
        for q in qs:
            command = clearance(q, 0, now)

            def judge(state: State, command: RequestClearance = command) -> list[Any]:
                return decide(state, command, now)

            t0 = time.perf_counter()
            events = self.service.read(judge)
            took.append(time.perf_counter() - t0)
            out.append(answer_of(events[0]))
            t0 = time.perf_counter()
            self.event_bytes.append(len(canonical_json(events[0])))
            self.jcs_s.append(time.perf_counter() - t0)
        return out, took

    def close(self) -> None:
        self.service.close()


class AccordHTTP:
    """A real ``accord serve`` process (tests/support/server.py) on its own data directory;
    presences loaded through ``POST /v1/presences`` (1,000 features a request, disclosed
    ``exact`` so the requester's answer names them). Each client keeps one HTTP/1.1 connection
    (the standard library's http.client, the leanest client at hand) and POSTs /v1/clearances;
    the answer arrives once the request's events are durable (invariant 4). The per-party
    request budget (R14) is lifted with ``--request-budget 0 --probe-budget 0``: a benchmark is
    not a probe."""

    name = "Accord over HTTP"

    def __init__(self, data: Path, ps: Sequence[Presence], store_url: str | None = None) -> None:
        from tests.support.server import ServerProcess, register  # the e2e tests' server

        data.mkdir(parents=True, exist_ok=True)
        self.server = ServerProcess(
            data, store_url, "--request-budget", "0", "--probe-budget", "0"
        ).start()
        assert self.server.proc is not None
        self.rss_before_load = rss_bytes(self.server.proc.pid)
        clients = register(self.server, "owner", "requester")
        self.tokens = {
            k: c.headers["Authorization"].removeprefix("Bearer ") for k, c in clients.items()
        }
        with self.connection("owner") as post:
            for k in range(0, len(ps), 1000):
                features = [
                    {
                        "type": "Feature",
                        "id": p.id,
                        "geometry": {"type": "Point", "coordinates": [p.lon, p.lat]},
                        "properties": {
                            "kind": "site",
                            "label": f"post {p.id}",
                            "uncertainty_m": p.unc,
                            "disclosure": {"default": "exact"},
                        },
                    }
                    for p in ps[k : k + 1000]
                ]
                post("/v1/presences", {"type": "FeatureCollection", "features": features})
        self.rss_after_load = rss_bytes(self.server.proc.pid)

    @contextlib.contextmanager
    def connection(self, party: str) -> Iterator[Callable[[str, Any], Any]]:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
        headers = {
            "Authorization": f"Bearer {self.tokens[party]}",
            "Content-Type": "application/json",
        }

        def post(path: str, body: Any) -> Any:
            conn.request("POST", path, json.dumps(body).encode(), headers)
            response = conn.getresponse()
            data = response.read()
            if response.status >= 300:
                raise RuntimeError(f"POST {path}: {response.status} {data[:300]!r}")
            return json.loads(data)

        try:
            yield post
        finally:
            conn.close()

    @contextlib.contextmanager
    def client(self) -> Iterator[Callable[[Query, int], Answer]]:
        start = datetime.now(UTC)
        window = {
            "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": (start + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        with self.connection("requester") as post:

            def request(q: Query, n: int) -> Answer:
                body = {
                    "area": {"type": "Point", "coordinates": [q.lon, q.lat]},
                    "radius_m": q.radius,
                    "hazard_m": q.hazard,
                    "window": window,
                    "purpose": "bench",
                }
                return answer_of(post("/v1/clearances", body))

            yield request

    def positions_rate(self, units: int, batch: int, seconds: float) -> float:
        """Position updates/s through ``POST /v1/positions`` in batches of ``batch`` (each
        answered once durable, the affected verdicts recomputed), over ``units`` units."""
        rng = random.Random(5)
        with self.connection("owner") as post:
            post("/v1/presences", _unit_features(rng, units))
            done = 0
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                stamp = datetime.now(UTC).isoformat()
                post(
                    "/v1/positions",
                    [
                        {
                            "id": f"u{rng.randrange(units)}",
                            "location": _random_point(rng),
                            "uncertainty_m": 20,
                            "time": stamp,
                        }
                        for _ in range(batch)
                    ],
                )
                done += batch
            return done / (time.perf_counter() - t0)

    def restart_s(self) -> float:
        """Stop the server (it snapshots at shutdown) and time its start until it answers."""
        self.server.stop(timeout=600)
        t0 = time.perf_counter()
        self.server.start(timeout=600)
        return time.perf_counter() - t0

    def close(self) -> None:
        self.server.stop()


def _random_point(rng: random.Random) -> dict[str, Any]:
    return {
        "type": "Point",
        "coordinates": [
            CENTRE[0] + rng.uniform(-HALF_LON, HALF_LON),
            CENTRE[1] + rng.uniform(-HALF_LAT, HALF_LAT),
        ],
    }


def _unit_features(rng: random.Random, units: int) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": f"u{k}",
                "geometry": _random_point(rng),
                "properties": {
                    "kind": "unit",
                    "uncertainty_m": 20,
                    "max_speed_mps": 5,
                    "disclosure": {"default": "exact"},  # the requester's answers name them
                },
            }
            for k in range(units)
        ],
    }


# -- measuring ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Run:
    rate: float
    p50_ms: float
    p99_ms: float


def measure(target: Target, qs: Sequence[Query], clients: int, seconds: float) -> Run:
    latencies: list[list[float]] = [[] for _ in range(clients)]
    counter = [0]
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)
    stop = [math.inf]
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            with target.client() as request:
                for _ in range(20):  # warm up: connections, prepared statements
                    with lock:
                        counter[0] += 1
                        n = counter[0]
                    request(qs[n % len(qs)], n)
                barrier.wait()
                mine = latencies[k]
                while time.perf_counter() < stop[0]:
                    with lock:
                        counter[0] += 1
                        n = counter[0]
                    t0 = time.perf_counter()
                    request(qs[n % len(qs)], n)
                    mine.append(time.perf_counter() - t0)
        except BaseException as exc:
            errors.append(exc)
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.abort()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    with contextlib.suppress(threading.BrokenBarrierError):
        barrier.wait()
    t0 = time.perf_counter()
    stop[0] = t0 + seconds
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise errors[0]
    done = sorted(x for mine in latencies for x in mine)
    return Run(len(done) / elapsed, percentile(done, 0.5) * 1e3, percentile(done, 0.99) * 1e3)


def median_run(runs: Sequence[Run]) -> Run:
    return Run(
        statistics.median(r.rate for r in runs),
        statistics.median(r.p50_ms for r in runs),
        statistics.median(r.p99_ms for r in runs),
    )


@dataclass
class Agreement:
    cases: int = 0
    same: int = 0
    within_bound: int = 0
    outside: list[str] | None = None


def compare(
    ps: dict[str, Presence], qs: Sequence[Query], a: Sequence[Answer], b: Sequence[Answer]
) -> Agreement:
    """Accord's answers ``a`` against PostGIS's ``b``; every differing presence is judged by
    GeographicLib's distance against the threshold."""
    out = Agreement(outside=[])
    for q, x, y in zip(qs, a, b, strict=True):
        out.cases += 1
        if x == y:
            out.same += 1
            continue
        worst = 0.0
        for pid in x.ids ^ y.ids:
            p = ps[pid]
            d = WGS84.Inverse(q.lat, q.lon, p.lat, p.lon)["s12"]
            worst = max(worst, abs(d - (q.radius + q.hazard + p.unc)))
        if worst <= BOUND_M and x.status in ("conflict", y.status):
            out.within_bound += 1
        else:
            assert out.outside is not None
            out.outside.append(
                f"{q}: Accord {x.status} {sorted(x.ids)}, PostGIS {y.status} {sorted(y.ids)}, "
                f"{worst:.3g} m from the threshold"
            )
    return out


def agreement_text(a: Agreement) -> str:
    return (
        f"{a.same}/{a.cases} identical, {a.within_bound} within the bound, "
        f"{len(a.outside or ())} outside"
    )


def print_disagreements(a: Agreement, where: str) -> None:
    for line in a.outside or ():
        print(f"  DISAGREEMENT ({where})", line, flush=True)


def oracle_misses(ps: Sequence[Presence], qs: Sequence[Query], answers: Sequence[Answer]) -> int:
    """Presences whose conflict membership contradicts GeographicLib beyond the bound (every
    presence within a generous planar prefilter of each request is checked)."""
    lons = np.array([p.lon for p in ps])
    lats = np.array([p.lat for p in ps])
    misses = 0
    for q, ans in zip(qs, answers, strict=True):
        kx = 111_320.0 * math.cos(math.radians(q.lat))
        approx = np.hypot((lons - q.lon) * kx, (lats - q.lat) * 110_574.0)
        reach = q.radius + q.hazard + UNC_M[1]
        near = np.flatnonzero(approx <= reach * 1.02 + 200.0)
        for k in near:
            p = ps[int(k)]
            d = WGS84.Inverse(q.lat, q.lon, p.lat, p.lon)["s12"]
            margin = d - (q.radius + q.hazard + p.unc)
            if (margin < -BOUND_M and p.id not in ans.ids) or (
                margin > BOUND_M and p.id in ans.ids
            ):
                misses += 1
        outside = set(ans.ids) - {ps[int(k)].id for k in near}
        misses += len(outside)  # named, yet far beyond the prefilter
    return misses


# -- the PostgreSQL store alone -----------------------------------------------------------------


def append_rate(open_store: Callable[[], EventStore], threads: int, seconds: float) -> float:
    """Durable appends/s of single records through a GroupCommitter from ``threads`` threads."""
    with contextlib.closing(open_store()) as store, GroupCommitter(store) as committer:
        lock = threading.Lock()
        next_free = [0]
        deadline = time.perf_counter() + seconds

        def client() -> None:
            while time.perf_counter() < deadline:
                with lock:
                    i = next_free[0]
                    next_free[0] += 1
                    done = committer.submit([store_record(i)])
                done.result()

        workers = [threading.Thread(target=client) for _ in range(threads)]
        t0 = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return next_free[0] / (time.perf_counter() - t0)


def postgres_store(url: str, schema: str) -> Callable[[], EventStore]:
    def opened() -> EventStore:
        create_schema(url, schema)
        return PostgresStore(with_schema(url, schema))

    return opened


def store_record(i: int) -> LogRecord:
    event = b'{"log_index":%d,"party":"coalition","type":"positions_updated"}' % i
    return LogRecord(i, "2026-11-22T10:00:00Z", event * 3, b"s" * 16, i.to_bytes(32, "big"))


def restart_figures(url: str, records: int, runs: int) -> dict[str, float]:
    """Opening a store of ``records`` records (checksums of all, or of the tail after a head),
    leaf_hashes() and reading every record."""
    schema = "bench_restart"
    create_schema(url, schema)
    dsn = with_schema(url, schema)
    with PostgresStore(dsn) as store:
        for first in range(0, records, 10_000):
            store.append([store_record(i) for i in range(first, min(records, first + 10_000))])
        head = StoredHead(max(0, records - 1000), b"\x00" * 32, "2026-11-22T10:00:00Z", b"", "b")
        store.put_head(head)

    def timed(fn: Callable[[], object]) -> float:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0

    def opened(verify: Literal["full", "tail"]) -> None:
        PostgresStore(dsn, verify=verify).close()

    with PostgresStore(dsn, verify="tail") as store:
        return {
            f"open, {records:,} records, every checksum (s)": statistics.median(
                timed(lambda: opened("full")) for _ in range(runs)
            ),
            f"open, {records:,} records, verify='tail' (s)": statistics.median(
                timed(lambda: opened("tail")) for _ in range(runs)
            ),
            f"leaf_hashes() of {records:,} records (s)": statistics.median(
                timed(store.leaf_hashes) for _ in range(runs)
            ),
            f"read() of {records:,} records (s)": statistics.median(
                timed(lambda: sum(1 for _ in store.read())) for _ in range(runs)
            ),
        }


def store_figures(url: str, seconds: float, runs: int, records: int) -> dict[str, float]:
    out: dict[str, float] = restart_figures(url, records, runs)
    for threads in (1, 4, 16):
        rates = [
            append_rate(postgres_store(url, f"bench_store_{threads}_{r}"), threads, seconds)
            for r in range(runs)
        ]
        out[f"durable appends/s, {threads} thread(s), batch 1"] = statistics.median(rates)

    schema = "bench_follow"
    create_schema(url, schema)
    with (
        PostgresStore(with_schema(url, schema)) as writer,
        PostgresStore(with_schema(url, schema)) as follower,
    ):
        sent: dict[int, float] = {}
        seen: dict[int, float] = {}
        count = 200

        def follow() -> None:
            have = 0
            while have < count:
                for r in follower.follow(have, timeout=5):
                    seen[r.index] = time.perf_counter()
                    have = r.index + 1

        thread = threading.Thread(target=follow)
        thread.start()
        for i in range(count):
            sent[i] = time.perf_counter()
            writer.append([store_record(i)])
            time.sleep(0.01)
        thread.join()
        delays = sorted(seen[i] - sent[i] for i in range(count))
        out["follow delay p50 ms"] = percentile(delays, 0.5) * 1e3
        out["follow delay p99 ms"] = percentile(delays, 0.99) * 1e3
        out["follow delay max ms"] = delays[-1] * 1e3
    return out


# -- main ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def server(url: str | None) -> Iterator[str]:
    if url is not None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        yield url
        return
    try:
        from tests.integration import pg  # only without --pg
    except ImportError as exc:
        raise SystemExit(
            "run from the repository root with PYTHONPATH=src:. (or give --pg)"
        ) from exc
    cluster = pg.cluster()
    try:
        yield cluster.url(cluster.new_database("bench", postgis=True))
    finally:
        pg.stop_cluster()


def compare_at(
    url: str,
    tmp: Path,
    ps: Sequence[Presence],
    *,
    random_qs: Sequence[Query],
    load_qs: Sequence[Query],
    rng: random.Random,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Everything measured at one N (the three targets' runs interleaved, so that a change in
    the machine's load hits all of them alike)."""
    n = len(ps)
    row: dict[str, Any] = {"n": n}
    print(f"N = {n:,}", flush=True)
    t0 = time.perf_counter()
    postgis = PostGIS(url, f"postgis_{n}", ps)
    row["postgis_load_s"] = time.perf_counter() - t0
    accord = Accord("Accord + SQLite", SQLiteStore(tmp / "accord.db"), ps)
    row["accord_load_s"] = accord.load_s
    row["bytes_per_presence"] = memory_per_presence(n)

    qs = [*random_qs, *boundary_queries(rng, ps, 8 * 25)]
    mine, took = accord.verdicts(qs)
    took = sorted(took[: len(random_qs)])
    row["verdict_p50_ms"] = percentile(took, 0.5) * 1e3
    row["verdict_p99_ms"] = percentile(took, 0.99) * 1e3
    theirs = postgis.answers(qs)
    by_id = {p.id: p for p in ps}
    a = row["agreement"] = compare(by_id, qs, mine, theirs)
    row["conflicts"] = sum(x.status == "conflict" for x in mine[: len(random_qs)])
    row["mean_ids"] = statistics.mean(len(x.ids) for x in theirs[: len(random_qs)])
    row["event_kib"] = statistics.median(accord.event_bytes[: len(random_qs)]) / 1024
    row["jcs_ms"] = statistics.median(accord.jcs_s[: len(random_qs)]) * 1e3
    row["oracle_accord"] = oracle_misses(ps, qs, mine)
    row["oracle_postgis"] = oracle_misses(ps, qs, theirs)
    print(
        f"  verdict p50/p99 {row['verdict_p50_ms']:.3f}/{row['verdict_p99_ms']:.3f} ms; "
        f"agreement {agreement_text(a)}; GeographicLib contradicts Accord "
        f"{row['oracle_accord']}, PostGIS {row['oracle_postgis']}; "
        f"{row['bytes_per_presence']:.0f} B/presence; load PostGIS {row['postgis_load_s']:.1f} s, "
        f"Accord {row['accord_load_s']:.1f} s",
        flush=True,
    )
    print_disagreements(a, "in process")

    t0 = time.perf_counter()
    over_http = AccordHTTP(tmp / "http", ps)
    row["http_load_s"] = time.perf_counter() - t0
    row["http_bytes_per_presence"] = (over_http.rss_after_load - over_http.rss_before_load) / n
    with over_http.client() as request:
        answers = [request(q, k) for k, q in enumerate(qs)]
    h = row["agreement_http"] = compare(by_id, qs, answers, theirs)
    print(
        f"  over HTTP: loaded in {row['http_load_s']:.1f} s, "
        f"{row['http_bytes_per_presence']:.0f} B/presence in the server; "
        f"agreement {agreement_text(h)}",
        flush=True,
    )
    print_disagreements(h, "over HTTP")
    targets: list[tuple[str, Target]] = [
        ("postgis", postgis),
        ("accord_sqlite", accord),
        ("accord_http", over_http),
    ]
    if n <= args.pg_store_max_n:  # loading 10^6 events into the PostgreSQL store takes long
        schema = f"accord_{n}"
        create_schema(url, schema)
        store = PostgresStore(with_schema(url, schema))
        targets.append(("accord_pg", Accord("Accord + PostgreSQL", store, ps)))
    row.update(interleaved(targets, load_qs, args))
    row["positions_per_s"] = over_http.positions_rate(1000, 1000, args.seconds)
    row["restart_s"] = over_http.restart_s()
    row["appends_sqlite"] = append_rate(lambda: SQLiteStore(tmp / "appends.db"), 16, args.seconds)
    row["appends_pg"] = append_rate(postgres_store(url, f"appends_{n}"), 16, args.seconds)
    print(
        f"  position updates over HTTP (batches of 1,000): {row['positions_per_s']:,.0f}/s; "
        f"restart {row['restart_s']:.1f} s; durable appends, 16 threads: SQLite "
        f"{row['appends_sqlite']:,.0f}/s, PostgreSQL {row['appends_pg']:,.0f}/s",
        flush=True,
    )
    for _, target in targets:
        target.close()
    gc.collect()
    return row


def interleaved(
    targets: Sequence[tuple[str, Target]], qs: Sequence[Query], args: argparse.Namespace
) -> dict[str, Run]:
    """Median runs of every target at every number of clients, keyed ``{target}_{clients}``;
    the targets take turns run by run, so that a change in the machine's load hits all alike."""
    runs: dict[str, list[Run]] = {}
    for _ in range(args.runs):
        for key, target in targets:
            for clients in args.clients:
                runs.setdefault(f"{key}_{clients}", []).append(
                    measure(target, qs, clients, args.seconds)
                )
    out: dict[str, Run] = {}
    for key, target in targets:
        for clients in args.clients:
            run = out[f"{key}_{clients}"] = median_run(runs[f"{key}_{clients}"])
            print(f"  {target.name}, {clients} client(s): {fmt_run(run)}", flush=True)
    return out


def writes_at(url: str, tmp: Path, ps: Sequence[Presence], args: argparse.Namespace) -> None:
    """The ``writes`` part: only the durable requests of PostGIS and of Accord in process on
    both stores at one N, printed (a quick comparison of write paths; nothing else is
    measured and no report is written)."""
    n = len(ps)
    print(f"N = {n:,} (writes)", flush=True)
    create_schema(url, f"accord_{n}")
    targets: list[tuple[str, Target]] = [
        ("postgis", PostGIS(url, f"postgis_{n}", ps)),
        ("accord_sqlite", Accord("Accord + SQLite", SQLiteStore(tmp / "accord.db"), ps)),
        (
            "accord_pg",
            Accord("Accord + PostgreSQL", PostgresStore(with_schema(url, f"accord_{n}")), ps),
        ),
    ]
    interleaved(targets, queries(random.Random(n), 5000), args)
    for _, target in targets:
        target.close()
    gc.collect()


def fmt_run(r: Run) -> str:
    return f"{r.rate:,.0f}/s ({r.p50_ms:.2f} / {r.p99_ms:.2f})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--max-n", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--agree", type=int, default=400, help="random requests compared per N")
    ap.add_argument("--pg", help="a PostgreSQL server with PostGIS (default: a throwaway one)")
    ap.add_argument(
        "--parts",
        default="compare,store",
        help="compare, store, and writes (durable requests only: PostGIS and Accord in process)",
    )
    ap.add_argument("--store-records", type=int, default=200_000)
    ap.add_argument(
        "--pg-store-max-n",
        type=int,
        default=100_000,
        help="the largest N at which Accord in process on the PostgreSQL store is measured",
    )
    ap.add_argument(
        "--clients",
        type=lambda text: [int(x) for x in text.split(",")],
        default=[1, 2],
        help="client threads, e.g. 1,2,8 (default 1,2)",
    )
    ap.add_argument("--out", type=Path, default=Path("docs/PERFORMANCE.md"))
    ap.add_argument("--plot", type=Path, default=Path("docs/img/bench-postgis.png"))
    ap.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child)
        return 0
    parts = set(args.parts.split(","))
    sizes = [n for n in (10**3, 10**4, 10**5, 10**6) if n <= args.max_n]
    rng = random.Random(20261122)
    all_ps = presences(rng, sizes[-1])
    random_qs = queries(rng, args.agree)
    load_qs = queries(rng, 5000)
    rows: list[dict[str, Any]] = []
    failed = False
    store_out: dict[str, float] = {}

    with server(args.pg) as url:
        for n in sizes if "compare" in parts else ():
            with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as d:
                row = compare_at(
                    url,
                    Path(d),
                    all_ps[:n],
                    random_qs=random_qs,
                    load_qs=load_qs,
                    rng=rng,
                    args=args,
                )
            failed |= bool(row["agreement"].outside or row["oracle_accord"])
            failed |= bool(row["agreement_http"].outside)
            failed |= bool(row["oracle_postgis"])
            rows.append(row)

        for n in sizes if "writes" in parts else ():
            with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as d:
                writes_at(url, Path(d), all_ps[:n], args)

        if "store" in parts:
            store_out = store_figures(url, args.seconds, args.runs, args.store_records)
            for k, v in store_out.items():
                print(f"  PostgresStore {k}: {v:,.1f}", flush=True)

    if rows:
        write_report(args, rows, store_out)
        plot(args.plot, rows, args.clients)
    return 1 if failed else 0


BEGIN = "<!-- bench_postgis: begin (written by bench/bench_postgis.py; edit outside) -->"
END = "<!-- bench_postgis: end -->"


def write_report(
    args: argparse.Namespace, rows: list[dict[str, Any]], store: dict[str, float]
) -> None:
    """Write the tables between BEGIN and END in ``args.out`` (docs/PERFORMANCE.md), keeping
    the rest of the file as it is."""
    cmd = "PYTHONPATH=src:. .venv/bin/python bench/bench_postgis.py " + " ".join(sys.argv[1:])
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        BEGIN,
        "",
        f"Machine: 2 vCPU shared, Python 3.11.7, {datetime.now(UTC):%Y-%m-%d}; PostgreSQL 15 + "
        "PostGIS 3.3 on the same machine (throwaway cluster, Unix socket, fsync and "
        "synchronous_commit on). "
        f"Command: `{cmd.strip()}`. Medians of {args.runs} runs of {args.seconds:g} s. "
        "How each side works: the docstring of bench/bench_postgis.py. "
        f"Load average at the end: {load}.",
        "",
        "Durable clearance requests: requests/s (latency p50 / p99 in ms) from each number of "
        "client threads; the ratio is Accord's rate over PostGIS's at the same number of clients.",
        "",
        "| N | clients | PostGIS | Accord over HTTP | ratio | Accord in process, SQLite | ratio "
        "| Accord in process, PostgreSQL store | ratio |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        for c in args.clients:
            base = r[f"postgis_{c}"]
            cells = [fmt_run(base)]
            for key in ("accord_http", "accord_sqlite", "accord_pg"):
                run = r.get(f"{key}_{c}")
                ratio = "—" if run is None else f"{run.rate / base.rate:.2f}"
                cells += ["—" if run is None else fmt_run(run), ratio]
            lines.append(f"| {r['n']:,} | {c} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Verdicts and agreement: the verdict in process (decide on the loaded state, nothing "
        "written); every random and boundary request answered by Accord (in process and over "
        "HTTP) and by PostGIS, differences judged by GeographicLib against Accord's 1 µm bound.",
        "",
        "| N | verdict p50 / p99 ms | requests compared | identical (in process / HTTP) | differ "
        "within 1 µm | differ outside | GeographicLib contradicts Accord / PostGIS | random "
        "requests in conflict | conflicting presences per request | request event (JCS), its "
        "canonicalisation |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        a, h = r["agreement"], r["agreement_http"]
        lines.append(
            f"| {r['n']:,} | {r['verdict_p50_ms']:.3f} / {r['verdict_p99_ms']:.3f} | {a.cases} "
            f"| {a.same} / {h.same} | {a.within_bound} / {h.within_bound} "
            f"| {len(a.outside or ())} / {len(h.outside or ())} "
            f"| {r['oracle_accord']} / {r['oracle_postgis']} "
            f"| {r['conflicts']} / {args.agree} | {r['mean_ids']:.1f} "
            f"| {r['event_kib']:.1f} KiB, {r['jcs_ms']:.2f} ms |"
        )
    lines += [
        "",
        "Loading, memory, updates, appends, restart:",
        "",
        "| N | load: PostGIS / Accord in process / over HTTP (s) | memory per presence: service "
        "in a fresh process / server RSS growth | position updates/s over HTTP (batches of 1,000) "
        "| durable appends/s, 16 threads: SQLite / PostgreSQL | restart of the server (s) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['n']:,} | {r['postgis_load_s']:.1f} / {r['accord_load_s']:.1f} / "
            f"{r['http_load_s']:.1f} | {r['bytes_per_presence']:,.0f} B / "
            f"{r['http_bytes_per_presence']:,.0f} B | {r['positions_per_s']:,.0f} "
            f"| {r['appends_sqlite']:,.0f} / {r['appends_pg']:,.0f} | {r['restart_s']:.1f} |"
        )
    if store:
        lines += ["", "The PostgreSQL store alone (same server):", ""]
        lines += [f"- {k}: {v:,.1f}" for k, v in store.items()]
    lines += ["", f"![cost against N](img/{args.plot.name})", "", END]
    text = args.out.read_text() if args.out.exists() else ""
    block = "\n".join(lines)
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n## Accord against PostGIS, by N\n\n" + block + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}")


def plot(path: Path, rows: list[dict[str, Any]], clients: Sequence[int]) -> None:
    import matplotlib  # only when writing the figure

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns = [r["n"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.4))
    series = [
        ("postgis", "PostGIS", "tab:blue"),
        ("accord_sqlite", "Accord + SQLite", "tab:green"),
        ("accord_pg", "Accord + PostgreSQL store", "tab:orange"),
        ("accord_http", "Accord over HTTP", "tab:red"),
    ]
    for key, label, colour in series:
        for c, style in zip(clients, ("-", "--", "-.", ":"), strict=False):
            at = [(r["n"], r[f"{key}_{c}"]) for r in rows if f"{key}_{c}" in r]
            xs = [x for x, _ in at]
            tag = f"{label}, {c} client{'s' if c > 1 else ''}"
            left.plot(xs, [r.rate for _, r in at], style, color=colour, marker="o", label=tag)
            right.plot(xs, [r.p99_ms for _, r in at], style, color=colour, marker="o", label=tag)
    right.plot(ns, [r["verdict_p99_ms"] for r in rows], ":", color="black", marker="s",
               label="Accord verdict alone (in process)")  # fmt: skip
    left.set(xscale="log", xlabel="presences N", ylabel="durable clearance requests / s")
    right.set(xscale="log", yscale="log", xlabel="presences N", ylabel="latency p99 (ms)")
    left.set_ylim(bottom=0)
    left.grid(alpha=0.3)
    right.grid(alpha=0.3)
    fig.legend(*right.get_legend_handles_labels(), loc="center right", fontsize=8)
    fig.suptitle("Durable clearance requests: Accord (over HTTP and in process) vs PostGIS")
    fig.tight_layout(rect=(0, 0, 0.77, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


if __name__ == "__main__":
    raise SystemExit(main())
