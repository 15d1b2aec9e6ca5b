"""Two ``accord serve`` processes on one PostgreSQL database stay one system (issue 6): a presence
written through one revokes, within a second, a clearance held through the other."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from tests.integration import pg
from tests.support.server import register


@pytest.mark.parametrize(
    "serve_args", [(), ("--workers", "2")], ids=["one-process", "core-and-fronts"]
)
def test_a_write_through_one_process_revokes_a_clearance_held_through_the_other(
    make_server: Any, serve_args: tuple[str, ...]
) -> None:
    """Also with each process a core behind fronts: the fronts hand the clearance request and
    the presence upsert to cores whose writes are turns at the shared log."""
    cluster = pg.cluster()
    url = cluster.url(cluster.new_database("two"))
    a = make_server(None, url, *serve_args)
    parties = register(a, "north", "south")
    tokens = {p: c.headers["Authorization"] for p, c in parties.items()}
    b = make_server(None, url, *serve_args)
    north_b = b.client(tokens["north"].removeprefix("Bearer "))
    south_a = parties["south"]
    now = datetime.now(UTC)
    window = {
        "start": (now + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end": (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    r = north_b.post(
        "/v1/clearances",
        json={
            "area": {"type": "Point", "coordinates": [40.0, 10.0]},
            "radius_m": 200,
            "hazard_m": 1000,
            "window": window,
        },
    )
    assert r.status_code == 201, r.text
    clearance = r.json()
    assert clearance["status"] == "clear"

    seen: list[dict[str, Any]] = []
    listening = threading.Event()

    def listen() -> None:
        with (
            httpx.Client(
                base_url=b.base_url, timeout=10, headers={"Authorization": tokens["north"]}
            ) as http,
            http.stream("GET", "/v1/events") as resp,
        ):
            listening.set()
            for line in resp.iter_lines():
                if line.startswith("data: "):
                    seen.append(json.loads(line[6:]))
                    if seen[-1]["type"] == "clearance_revoked":
                        return

    t = threading.Thread(target=listen, daemon=True)
    t.start()
    assert listening.wait(5)
    time.sleep(0.2)
    start = time.monotonic()
    put = south_a.put(
        "/v1/presences/post",
        json={
            "kind": "site",
            "location": {"type": "Point", "coordinates": [40.005, 10.0]},
            "uncertainty_m": 20,
            "disclosure": {"default": "conflict-only"},
        },
    )
    assert put.status_code == 201, put.text
    t.join(5)
    elapsed = time.monotonic() - start
    revoked = next(e for e in seen if e["type"] == "clearance_revoked")
    assert revoked["clearance"] == clearance["id"]
    assert elapsed < 2.0  # within a second of the write, plus the test's own slack
    after = north_b.get(f"/v1/clearances/{clearance['id']}").json()
    assert after["status"] == "revoked"
    assert {"code": "conflict", "party": "south"} in after["reasons"]
    # both processes serve the same signed log
    head_a = httpx.get(f"{a.base_url}/v1/log/head").json()
    head_b = httpx.get(f"{b.base_url}/v1/log/head").json()
    assert head_a["tree_size"] == head_b["tree_size"]
    assert head_a["root_hash"] == head_b["root_hash"]
