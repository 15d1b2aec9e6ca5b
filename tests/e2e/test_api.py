"""End-to-end: the real ``accord serve`` process over HTTP, on a real SQLite file.

Every test runs twice: against one process, and against a core process behind two fronts
(``accord serve --workers 2``), which must answer every request alike."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.server import ADMIN_TOKEN, ServerProcess, problem, register

from accord.store import SQLiteStore

NOW = datetime.now(UTC)


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


WINDOW = {"start": iso(NOW - timedelta(minutes=1)), "end": iso(NOW + timedelta(hours=2))}
POST_A = {"type": "Point", "coordinates": [71.0917, 34.9183]}


def site(location: dict[str, Any], disclosure: str = "conflict-only", **kw: Any) -> dict[str, Any]:
    return {
        "kind": "site",
        "label": "post",
        "location": location,
        "uncertainty_m": 25,
        "disclosure": {"default": disclosure},
        **kw,
    }


def disc(lon: float, lat: float, radius: float = 200, hazard: float = 1000, **kw: Any) -> dict:
    return {
        "area": {"type": "Point", "coordinates": [lon, lat]},
        "radius_m": radius,
        "hazard_m": hazard,
        "window": WINDOW,
        "purpose": "test",
        **kw,
    }


@pytest.fixture(params=[(), ("--workers", "2")], ids=["one-process", "core-and-fronts"])
def serve_args(request: pytest.FixtureRequest) -> tuple[str, ...]:
    return tuple(request.param)


@pytest.fixture
def server(make_server: Any, serve_args: tuple[str, ...]) -> ServerProcess:
    server: ServerProcess = make_server(None, None, *serve_args)
    return server


def codes(clearance: dict[str, Any]) -> set[str]:
    return {r["code"] for r in clearance["reasons"]}


def test_health_and_openapi(server: ServerProcess) -> None:
    assert httpx.get(f"{server.base_url}/healthz").json() == {"status": "ok"}
    spec = httpx.get(f"{server.base_url}/openapi.json").json()
    for path in ["/v1/parties", "/v1/presences/{id}", "/v1/clearances", "/v1/log/head"]:
        assert path in spec["paths"]


OPENAPI = Path(__file__).resolve().parent.parent / "assets" / "openapi.json"


def test_answers_whole_on_one_connection_head_included(server: ServerProcess) -> None:
    """Served by accord.api.serving.OnePieceProtocol: an answer's head and body leave together,
    the head of an answer to HEAD (a length, and no body after it) still leaves, and answers on
    one keep-alive connection arrive whole and in order."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        # /healthz answers GET only: HEAD gets a 405 problem's head, with its length, no body
        for method, status in (("GET", 200), ("HEAD", 405), ("GET", 200)):
            s.sendall(f"{method} /healthz HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(4096)
                assert chunk, "the server closed the connection"
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            assert head.startswith(f"HTTP/1.1 {status} ".encode())
            lines = head.split(b"\r\n")
            length = int(next(h for h in lines if h.startswith(b"content-length:"))[15:])
            if method == "GET":
                while len(body) < length:
                    body += s.recv(4096)
                assert json.loads(body) == {"status": "ok"}
            else:
                assert length > 0 and body == b""


def test_openapi_document_is_unchanged(server: ServerProcess) -> None:
    """The published schema is the contract's documentation: how the server runs an endpoint must
    not change it. It is compared with tests/assets/openapi.json as a whole; after a deliberate
    change of the API, write that file anew with ACCORD_WRITE_OPENAPI=1."""
    spec = httpx.get(f"{server.base_url}/openapi.json").json()
    if os.environ.get("ACCORD_WRITE_OPENAPI") == "1":
        OPENAPI.write_text(json.dumps(spec, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    expected = json.loads(OPENAPI.read_text())
    for path in sorted(set(spec["paths"]) | set(expected["paths"])):
        assert spec["paths"].get(path) == expected["paths"].get(path), path
    assert spec == expected


def test_parties_tokens_and_roles(server: ServerProcess) -> None:
    c = register(server, "north", "south")
    listed = c["north"].get("/v1/parties").json()
    assert {p["id"] for p in listed} == {"north", "south"}
    assert all(set(p) >= {"id", "name", "aor", "last_heartbeat", "stale"} for p in listed)
    assert c["north"].get("/v1/me").json() == {"party": "north", "name": "North"}
    problem(c["north"].post("/v1/parties", json={"id": "x", "name": "X"}), 403)
    problem(httpx.get(f"{server.base_url}/v1/parties"), 401)
    problem(server.client("wrong").get("/v1/parties"), 401)
    problem(server.client().post("/v1/parties", json={"id": "north", "name": "again"}), 409)


def test_presence_lifecycle_and_disclosure(server: ServerProcess) -> None:
    c = register(server, "north", "south", "relief")
    body = site(POST_A, "conflict-only")
    body["disclosure"]["parties"] = {"relief": "exact"}
    r = c["south"].put("/v1/presences/post-a", json=body)
    assert r.status_code == 201, r.text
    own = r.json()
    assert own["version"] >= 1 and isinstance(own["log_index"], int)
    assert own["wgs84"]["coordinates"] == pytest.approx([71.0917, 34.9183])
    assert own["input"] == POST_A and own["transformation"]
    assert c["south"].put("/v1/presences/post-a", json=body).status_code == 200
    # relief sees it exactly; north may not see it at all
    assert c["relief"].get("/v1/presences/post-a").json()["wgs84"] == own["wgs84"]
    problem(c["north"].get("/v1/presences/post-a"), 404)
    fc = c["north"].get("/v1/presences", params={"bbox": "70,34,72,36"}).json()
    assert fc["type"] == "FeatureCollection" and fc["features"] == []
    assert "71.0917" not in json.dumps(fc)
    # only the owner deletes
    problem(c["north"].delete("/v1/presences/post-a"), 404)
    assert c["south"].delete("/v1/presences/post-a").status_code == 204
    problem(c["south"].get("/v1/presences/post-a"), 404)


def test_coarse_presence_shows_only_its_cell(server: ServerProcess) -> None:
    c = register(server, "north", "south")
    c["south"].put("/v1/presences/p", json=site(POST_A, "coarse")).raise_for_status()
    view = c["north"].get("/v1/presences/p").json()
    text = json.dumps(view)
    assert "71.0917" not in text and "34.9183" not in text
    assert view.get("cell")


def test_conflict_reason_hides_a_conflict_only_position(server: ServerProcess) -> None:
    c = register(server, "north", "south")
    c["south"].put("/v1/presences/post-a", json=site(POST_A)).raise_for_status()
    r = c["north"].post("/v1/clearances", json=disc(71.0950, 34.925, hazard=1000))
    assert r.status_code == 201, r.text
    cl = r.json()
    assert cl["status"] == "conflict"
    reason = next(x for x in cl["reasons"] if x["code"] == "conflict")
    assert reason["party"] == "south"
    assert not {"presence", "distance_m", "geometry"} & set(reason)
    assert "71.0917" not in r.text and "34.9183" not in r.text


def test_own_presence_conflicts_too_and_exact_shows_distance(server: ServerProcess) -> None:
    c = register(server, "north", "south")
    c["north"].put("/v1/presences/own", json=site(POST_A, "exact")).raise_for_status()
    cl = c["north"].post("/v1/clearances", json=disc(71.0917, 34.925)).json()
    assert cl["status"] == "conflict"
    reason = next(x for x in cl["reasons"] if x["code"] == "conflict")
    assert reason["party"] == "north" and reason["presence"] == "own"
    assert 400 < reason["distance_m"] < 600


def test_checking_is_never_clear_and_absent_clears(server: ServerProcess) -> None:
    c = register(server, "north", "south")
    cl = c["north"].post("/v1/clearances", json=disc(10.0, 10.0, confirm=["south"])).json()
    assert cl["status"] == "unresolved" and "awaiting_confirmation" in codes(cl)
    cid = cl["id"]
    after = c["south"].post(f"/v1/clearances/{cid}/answers", json={"answer": "checking"}).json()
    assert after["status"] == "unresolved" and "checking" in codes(after)
    assert c["north"].get(f"/v1/clearances/{cid}").json()["status"] == "unresolved"
    cleared = c["south"].post(f"/v1/clearances/{cid}/answers", json={"answer": "absent"}).json()
    assert cleared["status"] == "clear" and cleared["valid_until"]
    present = c["south"].post(f"/v1/clearances/{cid}/answers", json={"answer": "present"}).json()
    assert present["status"] in ("conflict", "revoked")
    assert "confirmed_present" in codes(present)
    # a party not asked may neither answer nor read
    problem(server.client(None).get(f"/v1/clearances/{cid}"), 401)
    problem(register(server, "other")["other"].get(f"/v1/clearances/{cid}"), 404)
    closed = c["north"].post(f"/v1/clearances/{cid}/close").json()
    assert closed["status"] == "closed"
    problem(c["south"].post(f"/v1/clearances/{cid}/answers", json={"answer": "absent"}), 409)


def test_stale_aor_is_unresolved(server: ServerProcess) -> None:
    c = register(server, "north", "relief")
    square = {
        "type": "Polygon",
        "coordinates": [[[20, 20], [20.1, 20], [20.1, 20.1], [20, 20.1], [20, 20]]],
    }
    r = c["relief"].put("/v1/parties/relief/aor", json={"area": square, "max_staleness_s": 60})
    assert r.status_code == 200, r.text
    cl = c["north"].post("/v1/clearances", json=disc(20.05, 20.05)).json()
    assert "stale" in codes(cl) and cl["status"] == "unresolved"
    c["relief"].post("/v1/heartbeat", json={}).raise_for_status()
    assert c["north"].get(f"/v1/clearances/{cl['id']}").json()["status"] == "clear"
    problem(
        c["north"].put("/v1/parties/relief/aor", json={"area": square, "max_staleness_s": 60}), 403
    )


def test_boundary_discrepancy(server: ServerProcess) -> None:
    c = register(server, "north", "south")

    def layer(coords: list[list[float]]) -> dict[str, Any]:
        geom = {"type": "LineString", "coordinates": coords}
        fc = {
            "type": "FeatureCollection",
            "features": [{"type": "Feature", "properties": {}, "geometry": geom}],
        }
        return {"name": "border", "role": "boundary", "features": fc}

    straight = [[30.0, 0.0], [30.2, 0.0]]
    bent = [
        [30.0, 0.0],
        [30.08, 0.0],
        [30.085, -0.0135],
        [30.115, -0.0135],
        [30.12, 0.0],
        [30.2, 0.0],
    ]
    l1 = c["north"].post("/v1/layers", json=layer(straight))
    assert l1.status_code == 201, l1.text
    l2 = c["south"].post("/v1/layers", json=layer(bent)).json()
    zones = c["north"].get("/v1/discrepancies", params={"tolerance_m": 100}).json()
    assert len(zones["features"]) == 1
    props = zones["features"][0]["properties"]
    assert set(props["layers"]) == {l1.json()["id"], l2["id"]}
    assert 1400 < props["max_separation_m"] < 1600
    cl = c["north"].post("/v1/clearances", json=disc(30.1, -0.006, radius=100, hazard=200)).json()
    assert cl["status"] == "unresolved" and "boundary_discrepancy" in codes(cl)
    far = c["north"].post("/v1/clearances", json=disc(30.1, 0.2, radius=100, hazard=200)).json()
    assert far["status"] == "clear"


def test_alert_reaches_the_requester_as_check_fire(server: ServerProcess) -> None:
    c = register(server, "north", "south")
    cl = c["north"].post("/v1/clearances", json=disc(40.0, 10.0)).json()
    assert cl["status"] == "clear"
    received: list[dict[str, Any]] = []
    ready = threading.Event()

    def listen() -> None:
        with (
            httpx.Client(
                base_url=server.base_url, timeout=10, headers=dict(c["north"].headers)
            ) as http,
            http.stream("GET", "/v1/events") as resp,
        ):
            ready.set()
            for line in resp.iter_lines():
                if line.startswith("data: "):
                    received.append(json.loads(line[6:]))
                    if received[-1]["type"] == "check_fire":
                        return

    t = threading.Thread(target=listen, daemon=True)
    t.start()
    ready.wait(5)
    time.sleep(0.2)
    start = time.monotonic()
    alert = (
        c["south"]
        .post(
            "/v1/alerts",
            json={
                "kind": "under_fire",
                "location": {"type": "Point", "coordinates": [40.01, 10.0]},
                "radius_m": 3000,
            },
        )
        .json()
    )
    assert alert["notified"] == [{"party": "north", "clearance": cl["id"]}]
    t.join(5)
    assert time.monotonic() - start < 1.0 + 1.0  # within a second of the alert, plus slack
    fire = next(e for e in received if e["type"] == "check_fire")
    assert fire["clearance"] == cl["id"]
    assert "40.01" not in json.dumps(fire)
    revoked = c["north"].get(f"/v1/clearances/{cl['id']}").json()
    assert revoked["status"] in ("revoked", "unresolved") and "alert" in codes(revoked)
    c["north"].post(f"/v1/alerts/{alert['id']}/ack").raise_for_status()
    shown = c["south"].get(f"/v1/alerts/{alert['id']}").json()
    entry = shown["notified"][0]
    assert entry["party"] == "north" and entry["acknowledged_at"] and entry["delivered_at"]


def test_sse_resume_without_gaps_or_duplicates(server: ServerProcess) -> None:
    c = register(server, "north")
    for i in range(5):
        c["north"].put(
            f"/v1/presences/p{i}", json=site({"type": "Point", "coordinates": [50 + i / 100, 5]})
        ).raise_for_status()

    def read(after: int | None, n: int) -> list[int]:
        headers = dict(c["north"].headers)
        params = {}
        if after is not None:
            headers["Last-Event-ID"] = str(after)
        else:
            params["since"] = "-1"
        ids: list[int] = []
        with (
            httpx.Client(base_url=server.base_url, timeout=10, headers=headers) as http,
            http.stream("GET", "/v1/events", params=params) as resp,
        ):
            for line in resp.iter_lines():
                if line.startswith("id: "):
                    ids.append(int(line[4:]))
                    if len(ids) == n:
                        break
        return ids

    first = read(None, 3)
    rest = read(first[-1], 3)
    assert first == sorted(first) and rest == sorted(rest)
    assert not set(first) & set(rest)
    all_ids = read(None, 6)
    assert all_ids == first + rest


def test_log_head_entries_and_proofs(server: ServerProcess) -> None:
    from accord.ledger import event_leaf_hash, public_key_from_json, verify_head, verify_inclusion

    c = register(server, "north", "south")
    c["south"].put("/v1/presences/p", json=site(POST_A)).raise_for_status()
    key = httpx.get(f"{server.base_url}/v1/log/key").json()
    head = httpx.get(f"{server.base_url}/v1/log/head").json()
    verify_head(head, public_key_from_json(key))
    size = head["tree_size"]
    assert size >= 3
    for index in range(size):
        public = httpx.get(f"{server.base_url}/v1/log/entries/{index}").json()
        assert "event" not in public and "salt" not in public
        proof = httpx.get(
            f"{server.base_url}/v1/log/proof/inclusion", params={"index": index, "tree_size": size}
        ).json()
        verify_inclusion(
            bytes.fromhex(public["leaf_hash"]),
            index,
            size,
            [bytes.fromhex(h) for h in proof["path"]],
            bytes.fromhex(head["root_hash"]),
        )
    # the owner reads its own event in plain and can recompute the leaf
    entries = [c["south"].get(f"/v1/log/entries/{i}").json() for i in range(size)]
    mine = [e for e in entries if e.get("event", {}).get("type") == "presence_upserted"]
    assert mine
    e = mine[0]
    assert event_leaf_hash(bytes.fromhex(e["salt"]), e["event"]).hex() == e["leaf_hash"]
    # north may not read south's exact presence event in plain
    assert "event" not in c["north"].get(f"/v1/log/entries/{e['index']}").json()
    problem(httpx.get(f"{server.base_url}/v1/log/entries/{size + 5}"), 404)


def test_restart_keeps_everything(
    make_server: Any, tmp_path: Any, serve_args: tuple[str, ...]
) -> None:
    data = tmp_path / "keep"
    s1 = make_server(data, None, *serve_args)
    c = register(s1, "north", "south")
    c["south"].put("/v1/presences/p", json=site(POST_A)).raise_for_status()
    cl = c["north"].post("/v1/clearances", json=disc(71.0917, 34.925)).json()
    token = c["north"].headers["Authorization"]
    head1 = httpx.get(f"{s1.base_url}/v1/log/head").json()
    s1.stop()
    s2 = make_server(data, None, *serve_args)
    north = s2.client(token.removeprefix("Bearer "))
    again = north.get(f"/v1/clearances/{cl['id']}").json()
    assert again["status"] == "conflict" and again["version"] == cl["version"]
    head2 = httpx.get(f"{s2.base_url}/v1/log/head").json()
    assert head2["tree_size"] == head1["tree_size"] and head2["root_hash"] == head1["root_hash"]


def test_sigterm_stops_the_server_as_ctrl_c_does_with_a_snapshot(
    make_server: Any, tmp_path: Any, serve_args: tuple[str, ...]
) -> None:
    """SIGTERM (what a service manager sends) shuts the server down gracefully: the state is
    snapshotted at the end of the log and the store closed, so a restart replays nothing (uvicorn
    raises the signal again once it has shut down, which killed the process before that)."""
    data = tmp_path / "term"
    s1 = make_server(data, None, *serve_args)
    north = register(s1, "north")["north"]
    for _ in range(5):
        north.post("/v1/heartbeat", json={}).raise_for_status()
    size = httpx.get(f"{s1.base_url}/v1/log/head").json()["tree_size"]
    s1.stop()
    assert s1.proc is not None and s1.proc.returncode == 0, s1.output()
    assert "accord: stopped (SIGTERM)" in s1.output()
    store = SQLiteStore(data / "accord.db")
    try:
        snap = store.latest_snapshot()
        assert snap is not None and snap.upto_index == size == store.next_index()
    finally:
        store.close()


def test_kill9_under_concurrent_writes_loses_nothing_acknowledged(
    make_server: Any, tmp_path: Any, serve_args: tuple[str, ...]
) -> None:
    data = tmp_path / "crash"
    s1 = make_server(data, None, *serve_args)
    c = register(s1, "north")
    token = c["north"].headers["Authorization"]
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(w: int) -> None:
        with httpx.Client(
            base_url=s1.base_url, headers={"Authorization": token}, timeout=5
        ) as http:
            i = 0
            while not stop.is_set():
                pid = f"w{w}-{i}"
                try:
                    r = http.put(
                        f"/v1/presences/{pid}",
                        json=site({"type": "Point", "coordinates": [60 + w / 10, i / 1000]}),
                    )
                except httpx.HTTPError:
                    return
                if r.status_code in (200, 201):
                    with lock:
                        acked.append(pid)
                i += 1

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(acked) < 60 and time.monotonic() < deadline:
        time.sleep(0.05)
    s1.kill9()
    stop.set()
    for t in threads:
        t.join()
    assert len(acked) > 20
    s2 = make_server(data, None, *serve_args)
    north = s2.client(token.removeprefix("Bearer "))
    missing = [p for p in acked if north.get(f"/v1/presences/{p}").status_code != 200]
    assert missing == []


BAD_INPUTS = [
    ("malformed JSON", "PUT", "/v1/presences/x", b'{"kind": "site",', "body"),
    (
        "NaN",
        "PUT",
        "/v1/presences/x",
        b'{"kind":"site","location":{"type":"Point","coordinates":[NaN, 1]}}',
        "body",
    ),
    (
        "latitude out of range",
        "PUT",
        "/v1/presences/x",
        site({"type": "Point", "coordinates": [10, 95]}),
        "location",
    ),
    (
        "self-intersecting area",
        "POST",
        "/v1/clearances",
        {
            "area": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
            "hazard_m": 100,
            "window": WINDOW,
        },
        "area",
    ),
    (
        "unknown datum",
        "PUT",
        "/v1/presences/x",
        site({"text": "34.9 71.0", "crs": "EPSG:999999"}),
        "location",
    ),
    (
        "ballpark datum",
        "PUT",
        "/v1/presences/x",
        site({"text": "34.9 71.0", "crs": "EPSG:4144"}),
        "location",
    ),
    (
        "window backwards",
        "POST",
        "/v1/clearances",
        {**disc(1, 1), "window": {"start": WINDOW["end"], "end": WINDOW["start"]}},
        "window",
    ),
    ("negative hazard", "POST", "/v1/clearances", {**disc(1, 1), "hazard_m": -5}, "hazard_m"),
    ("unknown field", "PUT", "/v1/presences/x", {**site(POST_A), "colour": "red"}, "colour"),
    ("bad id", "PUT", "/v1/presences/Bad%20Id", site(POST_A), "id"),
    ("deep nesting", "POST", "/v1/positions", b"[" * 100 + b"]" * 100, "body"),
    ("positions not a list", "POST", "/v1/positions", {"id": "u1"}, "body"),
    ("position not an object", "POST", "/v1/positions", [1], "[0]"),
    ("no clearance body", "POST", "/v1/clearances", None, "body"),
    ("clearance body a list", "POST", "/v1/clearances", [disc(1, 1)], "body"),
    ("heartbeat body a list", "POST", "/v1/heartbeat", [1], "body"),
    ("duplicate key", "POST", "/v1/clearances", b'{"hazard_m": 1, "hazard_m": 2}', "body"),
    ("unknown confirm party", "POST", "/v1/clearances", disc(1, 1, confirm=["nobody"]), "confirm"),
    ("bad bbox", "GET", "/v1/presences?bbox=1,2,3", None, "bbox"),
]


@pytest.mark.parametrize(
    ("name", "method", "path", "body", "field"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS]
)
def test_bad_input_is_a_problem_and_changes_nothing(
    server: ServerProcess, name: str, method: str, path: str, body: Any, field: str
) -> None:
    c = register(server, "north")
    before = httpx.get(f"{server.base_url}/v1/log/head").json()["tree_size"]
    kwargs: dict[str, Any] = {}
    if isinstance(body, bytes):
        kwargs = {"content": body, "headers": {"Content-Type": "application/json"}}
    elif body is not None:
        kwargs = {"json": body}
    r = c["north"].request(method, path, **kwargs)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")
    err = r.json()
    assert field in json.dumps(err.get("errors", [])) + err["detail"], err
    after = httpx.get(f"{server.base_url}/v1/log/head").json()["tree_size"]
    assert after == before


def test_a_body_not_sent_as_json_is_refused(server: ServerProcess) -> None:
    c = register(server, "north")
    before = httpx.get(f"{server.base_url}/v1/log/head").json()["tree_size"]
    for path in ["/v1/clearances", "/v1/positions", "/v1/presences/x", "/v1/heartbeat"]:
        method = "PUT" if path.startswith("/v1/presences") else "POST"
        body = json.dumps(site(POST_A) if method == "PUT" else disc(1, 1)).encode()
        r = c["north"].request(method, path, content=body, headers={"Content-Type": "text/plain"})
        assert problem(r, 422)["errors"][0]["field"] == "body", r.text
    assert c["north"].post("/v1/heartbeat").status_code == 200  # no body: none is needed
    after = httpx.get(f"{server.base_url}/v1/log/head").json()["tree_size"]
    assert after == before + 1


def test_oversized_body_is_413(server: ServerProcess) -> None:
    """Refused whether the body's length is declared or it comes in chunks, on the busiest
    endpoints (which fronts hand over) and the others (which they pass on) alike."""
    c = register(server, "north")
    big = b"[" + b"0," * 5_000_000 + b"0]"

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(big), 1 << 20):
            yield big[start : start + (1 << 20)]

    before = httpx.get(f"{server.base_url}/v1/log/head").json()["tree_size"]
    for path in ["/v1/positions", "/v1/presences"]:
        headers = {"Content-Type": "application/json"}
        problem(c["north"].post(path, content=big, headers=headers), 413)
        problem(c["north"].post(path, content=chunks(), headers=headers), 413)
    assert httpx.get(f"{server.base_url}/v1/log/head").json()["tree_size"] == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/clearances"),
        ("POST", "/v1/positions"),
        ("PUT", "/v1/presences/x"),
        ("POST", "/v1/heartbeat"),
    ],
)
def test_the_token_is_checked_before_the_body(
    server: ServerProcess, method: str, path: str
) -> None:
    """On the busiest endpoints (those a front hands over to the core), a request without a
    valid token is refused as such (401), whatever its body."""
    headers = {"Content-Type": "application/json"}
    for token in [None, "not-a-token"]:
        if token:
            headers["Authorization"] = f"Bearer {token}"
        r = httpx.request(method, server.base_url + path, content=b'{"bad', headers=headers)
        assert problem(r, 401)["detail"] in (
            "send Authorization: Bearer <token>",
            "the token is not valid",
        )


def test_a_valid_clearance_request_without_a_valid_party_token_writes_nothing(
    server: ServerProcess,
) -> None:
    """A front reads a well-formed clearance request itself and hands the core its command: the
    core still refuses it for its token (401, or 403 for the admin's) and logs nothing."""
    register(server, "north")
    before = httpx.get(f"{server.base_url}/v1/log/head").json()["tree_size"]
    body = disc(71.0, 34.9)
    for headers, status in [
        ({}, 401),
        ({"Authorization": "Bearer not-a-token"}, 401),
        ({"Authorization": f"Bearer {ADMIN_TOKEN}"}, 403),
    ]:
        r = httpx.post(f"{server.base_url}/v1/clearances", json=body, headers=headers)
        problem(r, status)
    assert httpx.get(f"{server.base_url}/v1/log/head").json()["tree_size"] == before


def test_wrong_party_cannot_touch_others(server: ServerProcess) -> None:
    """Presence ids are per owner: another party's PUT or DELETE of the same id touches only its
    own namespace (a 403 would reveal that a hidden presence of that id exists)."""
    c = register(server, "north", "south")
    c["south"].put("/v1/presences/p", json=site(POST_A, "conflict-only")).raise_for_status()
    elsewhere = {"type": "Point", "coordinates": [10.0, 10.0]}
    assert c["north"].put("/v1/presences/p", json=site(elsewhere)).status_code == 201
    problem(c["north"].delete("/v1/presences/q"), 404)
    assert c["south"].get("/v1/presences/p").json()["location"] == POST_A
    assert c["north"].get("/v1/presences/p").json()["location"] == elsewhere
    cl = c["north"].post("/v1/clearances", json=disc(5, 5)).json()
    problem(c["south"].post(f"/v1/clearances/{cl['id']}/close"), 404)
    problem(c["north"].get("/v1/clearances/nope"), 404)
