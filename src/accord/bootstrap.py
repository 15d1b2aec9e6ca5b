"""The one place that wires store, clock, signer, service, timers and the HTTP app together."""

from __future__ import annotations

import gc
import os
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from accord.api.app import Auth, create_app, new_token
from accord.api.basemap import MBTiles
from accord.compiled import check as check_compiled
from accord.core.model import ProbePolicy
from accord.service import Clock, Service, system_clock
from accord.store import open_store

__all__ = ["GC_THRESHOLDS", "Runtime", "admin_token", "collector", "runtime"]

ADMIN_TOKEN_FILE = "admin-token"
TIMER_POLL_S = 0.2
GC_THRESHOLDS = (10_000, 0, 20)
"""The cyclic collector's thresholds while the service runs (:func:`collector`).

A young collection goes over every object made since the last one that is still alive, and a
clearance leaves ~19 of them in the state (its record, its reasons, their geometries, the index
entries' sets). At Python's (700, 10, 10), collections during a 500-update positions request
found its tens of thousands of objects alive and promoted them, and full collections then went
over the whole state again and again: half the CPU of such a request. At (100000, 0, 20) they were
rare, but each went over ~100,000 live objects in one go: 30-80 ms with the event loop stopped,
every few seconds at 1,000-2,000 clearances/s, which set the p99 of every request of those
seconds (49-54 ms at 1,500/s, open loop). At 10,000 a collection stops the loop for a few ms, and
the collector's share of a 500-update request is no larger (``bench/bench_asgi.py``,
docs/PERF-http.md). A threshold of 0 for the middle generation collects it at every second
collection, so that what is frozen after it (:func:`_freeze_survivors`) has been seen twice."""


def _freeze_survivors(phase: str, info: dict[str, int]) -> None:
    """A ``gc.callbacks`` hook: once a collection of the middle or the oldest generation is over,
    freeze what survived it (``gc.freeze`` moves lists and visits nothing), so that no later
    collection goes over it again."""
    if phase == "stop" and info["generation"] >= 1:
        gc.freeze()


@contextmanager
def collector() -> Iterator[None]:
    """The cyclic collector as the service runs it: :data:`GC_THRESHOLDS`, and what outlives a
    collection of the middle generation frozen; Python's settings again on exit.

    What outlives two collections is the state: presences, clearances and their reasons, millions
    of objects at 10^6 presences. Left to Python, each collection of the middle generation went
    over everything promoted since the last one: 1.5-2.3 s every ~75 s of clearances at 25
    presences per km² (~130 reasons a clearance), long enough to hold up the timers that must
    turn time into events within a second. Frozen, they are never visited again, and the longest
    collection at that density is ~12 ms. The objects are still freed by reference counting. A
    garbage cycle whose objects had lived through a middle collection would stay allocated: after
    mixed traffic (clearances, bulk position updates, malformed requests, event streams dropped,
    short connections), a full collection of everything unfrozen found none
    (``bench/bench_pauses.py --leaks``, docs/PERFORMANCE.md)."""
    thresholds = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    gc.callbacks.append(_freeze_survivors)
    try:
        yield
    finally:
        gc.callbacks.remove(_freeze_survivors)
        gc.set_threshold(*thresholds)


def admin_token(data_dir: Path) -> tuple[str, bool]:
    """The admin token: ``ACCORD_ADMIN_TOKEN``, or the one stored in the data directory, or a new
    one (stored with mode 0600). Returns (token, newly_generated)."""
    from_env = os.environ.get("ACCORD_ADMIN_TOKEN")
    if from_env:
        return from_env, False
    path = data_dir / ADMIN_TOKEN_FILE
    if path.is_file():
        return path.read_text().strip(), False
    token = new_token()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    return token, True


@dataclass
class Runtime:
    service: Service
    auth: Auth
    app: FastAPI
    token: str


def _timers(service: Service, stop: threading.Event) -> None:
    """Turn time into events: wake at the core's next deadline (polling so new ones are seen)."""
    while not stop.wait(TIMER_POLL_S):
        deadline = service.next_deadline()
        if deadline is not None and service.clock() >= deadline:
            try:
                service.run_timers()
            except Exception as exc:  # keep the timer alive; the failure is reported
                print(f"accord: timer run failed: {exc}", file=sys.stderr)
        service.maybe_snapshot()


@contextmanager
def runtime(
    data_dir: Path,
    store_url: str | None = None,
    clock: Clock = system_clock,
    policy: ProbePolicy | None = None,
    basemap: Path | None = None,
    *,
    relay: socket.socket | None = None,
) -> Iterator[Runtime]:
    """Open the store, restore the state, start the timers; close everything on exit. ``relay``:
    a listening Unix socket on which the app answers front processes (``serve --workers``)."""
    check_compiled()  # refuse to serve the code of an older build
    tiles = MBTiles(basemap) if basemap is not None else None  # refuse a bad file first
    data_dir.mkdir(parents=True, exist_ok=True)
    token, new = admin_token(data_dir)
    if new:
        print(
            f"accord: admin token (shown once, kept in {data_dir / ADMIN_TOKEN_FILE}): {token}",
            file=sys.stderr,
        )
    store = open_store(store_url or "sqlite://", data_dir)
    service = Service(store, clock, policy)
    with collector():
        auth = Auth(service, token)
        stop = threading.Event()
        timer = threading.Thread(
            target=_timers, args=(service, stop), name="accord-timers", daemon=True
        )
        timer.start()
        try:
            app = create_app(service, auth, tiles, relay)
            yield Runtime(service=service, auth=auth, app=app, token=token)
        finally:
            stop.set()
            timer.join(timeout=5)
            service.snapshot()
            service.close()
