"""``accord demo``: a built-in scenario in a fictional border region, narrated, then kept serving.

Two forces (Northland, Southland) and a relief agency share a coordination cell. Everything goes
through the real HTTP API of a real server on the embedded SQLite store, exactly as a party's own
system would use it; the narration says what was asked, what Accord answered and why, and what
would have gone wrong without it.
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import httpx
import uvicorn

from accord.bootstrap import runtime

__all__ = ["run_demo"]

# A fictional border along latitude 25.50 S. Southland's map draws 7 km of it 1.5 km further south.
BORDER_WEST, BORDER_EAST, BORDER_LAT = 133.40, 133.60, -25.50
BULGE_WEST, BULGE_EAST, BULGE_LAT = 133.46, 133.53, -25.5135

REASONS = {
    "conflict": "someone is inside the hazard area",
    "confirmed_present": "an asked party confirmed it has people there",
    "awaiting_confirmation": "an asked party has not answered yet",
    "checking": "an asked party is still checking, which is NOT a no",
    "stale": "a party responsible for the area has not confirmed its picture recently",
    "stale_track": "a moving unit's last known position is too old",
    "boundary_discrepancy": "the parties' maps disagree about where the border runs here",
    "alert": "a party reported being under fire nearby",
}


def _line(coords: list[tuple[float, float]]) -> dict[str, Any]:
    return {"type": "LineString", "coordinates": [list(c) for c in coords]}


def _layer(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {}, "geometry": g} for g in features],
    }


def _square(lon: float, lat: float, half_deg: float) -> dict[str, Any]:
    ring = [
        [lon - half_deg, lat - half_deg],
        [lon + half_deg, lat - half_deg],
        [lon + half_deg, lat + half_deg],
        [lon - half_deg, lat + half_deg],
        [lon - half_deg, lat - half_deg],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Narrator:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.step = 0

    def heading(self, text: str) -> None:
        self.step += 1
        print(f"\n{self.step}. {text}", file=self.out, flush=True)

    def say(self, text: str) -> None:
        print(f"   {text}", file=self.out, flush=True)

    def verdict(self, clearance: dict[str, Any]) -> None:
        status = clearance["status"].upper()
        shown = "NOT CLEAR" if status != "CLEAR" else "CLEAR"
        self.say(f"Accord: {status} ({shown})")
        for reason in clearance.get("reasons", []):
            words = REASONS.get(reason["code"], reason["code"])
            extra = ", ".join(
                f"{k}={v}" for k, v in reason.items() if k not in ("code", "geometry")
            )
            self.say(f"  - {reason['code']}: {words}" + (f" ({extra})" if extra else ""))
        if clearance.get("valid_until"):
            self.say(f"  clear until {clearance['valid_until']}")

    def without(self, text: str) -> None:
        self.say(f"Without Accord: {text}")


class Client:
    def __init__(self, base: str, token: str) -> None:
        self.http = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )

    def call(self, method: str, path: str, body: Any = None) -> Any:
        response = self.http.request(method, path, json=body)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path} -> {response.status_code}: {response.text}")
        return response.json() if response.content else None


def _listen(
    base: str,
    token: str,
    sink: list[dict[str, Any]],
    ready: threading.Event,
    stop: threading.Event,
) -> None:
    """Follow a party's event stream (server-sent events) into ``sink``; ``ready`` is set once the
    stream is open (from then on, nothing appended to the log is missed)."""
    headers = {"Authorization": f"Bearer {token}"}
    with (
        httpx.Client(base_url=base, headers=headers, timeout=None) as http,
        http.stream("GET", "/v1/events") as response,
    ):
        ready.set()
        for line in response.iter_lines():
            if stop.is_set():
                return
            if line.startswith("data: "):
                sink.append(json.loads(line[6:]))


def scenario(base: str, admin_token: str, out: TextIO) -> dict[str, str]:
    """Run the scenario against a server at ``base``; return the demo parties' tokens."""
    n = Narrator(out)
    admin = Client(base, admin_token)
    now = datetime.now(UTC)
    window = {"start": _iso(now + timedelta(minutes=5)), "end": _iso(now + timedelta(hours=2))}

    n.heading("Three parties join the coordination cell.")
    tokens = {}
    for pid, name in [
        ("northland", "Northland Defence Force"),
        ("southland", "Southland Army"),
        ("relief", "Relief Agency"),
    ]:
        tokens[pid] = admin.call("POST", "/v1/parties", {"id": pid, "name": name})["token"]
        n.say(f"registered {name} as '{pid}'")
    north, south, relief = (Client(base, tokens[p]) for p in ("northland", "southland", "relief"))

    n.heading("Each force loads its own map of the border. They do not agree.")
    north.call(
        "POST",
        "/v1/layers",
        {
            "name": "Northland border survey",
            "role": "boundary",
            "features": _layer([_line([(BORDER_WEST, BORDER_LAT), (BORDER_EAST, BORDER_LAT)])]),
        },
    )
    south.call(
        "POST",
        "/v1/layers",
        {
            "name": "Southland border survey",
            "role": "boundary",
            "features": _layer(
                [
                    _line(
                        [
                            (BORDER_WEST, BORDER_LAT),
                            (BULGE_WEST, BORDER_LAT),
                            (BULGE_WEST + 0.005, BULGE_LAT),
                            (BULGE_EAST - 0.005, BULGE_LAT),
                            (BULGE_EAST, BORDER_LAT),
                            (BORDER_EAST, BORDER_LAT),
                        ]
                    )
                ]
            ),
        },
    )
    zones = north.call("GET", "/v1/discrepancies?tolerance_m=100")["features"]
    for zone in zones:
        props = zone["properties"]
        n.say(
            f"discrepancy zone between layers {', '.join(props['layers'])}: the lines lie up to "
            f"{props['max_separation_m']:.0f} m apart"
        )
    n.without(
        "each side plans on its own map; a strike 'north of the border' can land on the "
        "other side's post."
    )

    n.heading("Southland registers its posts and a patrol, showing Northland no positions.")
    south.call(
        "PUT",
        "/v1/presences/post-3",
        {
            "kind": "site",
            "label": "Observation post 3",
            "location": {"text": "25°31'48\"S 133°34'48\"E"},
            "uncertainty_m": 25,
            "disclosure": {"default": "conflict-only", "parties": {"relief": "exact"}},
        },
    )
    n.say("post-3 given as DMS text, WGS84; Northland may only learn 'something is there'")
    south.call(
        "PUT",
        "/v1/presences/patrol-7",
        {
            "kind": "unit",
            "label": "Patrol 7",
            "location": {"type": "Point", "coordinates": [133.45, -25.56]},
            "uncertainty_m": 50,
            "max_speed_mps": 3,
            "disclosure": {"default": "coarse"},
        },
    )
    south.call(
        "POST",
        "/v1/positions",
        [
            {
                "id": "patrol-7",
                "location": {"type": "Point", "coordinates": [133.452, -25.558]},
                "uncertainty_m": 30,
                "time": datetime.now(UTC).isoformat(),
            }
        ],
    )
    n.say("patrol-7 reports its track; others see only its coarse cell")
    south.call(
        "PUT",
        "/v1/parties/southland/aor",
        {"area": _square(133.50, -25.56, 0.06), "max_staleness_s": 3600},
    )
    south.call("POST", "/v1/heartbeat", {})
    n.say("Southland declares its area of responsibility and confirms its picture is complete")

    n.heading("The relief agency registers a clinic, and an area it answers for.")
    relief.call(
        "PUT",
        "/v1/presences/clinic",
        {
            "kind": "site",
            "label": "Field clinic",
            "location": {"mgrs": "53JLM 5119 8439"},
            "uncertainty_m": 50,
            "disclosure": {"default": "exact"},
        },
    )
    clinic = relief.call("GET", "/v1/presences/clinic")
    lon, lat = clinic["wgs84"]["coordinates"]
    relief.call(
        "PUT",
        "/v1/parties/relief/aor",
        {"area": _square(lon, lat, 0.03), "max_staleness_s": 1},
    )
    n.say(
        f"clinic given in MGRS, stored at {lat:.5f}, {lon:.5f}; its AOR heartbeat is due every "
        "second and it has sent none"
    )

    n.heading("Northland asks to clear a fire mission right where the two maps disagree.")
    c1 = north.call(
        "POST",
        "/v1/clearances",
        {
            "area": {"type": "Point", "coordinates": [133.495, -25.506]},
            "radius_m": 300,
            "hazard_m": 500,
            "window": window,
            "purpose": "artillery registration",
        },
    )
    n.verdict(c1)
    n.without("on Northland's map the target is 700 m inside its own territory.")

    n.heading("Northland asks Southland's liaison to confirm an area further west.")
    events: list[dict[str, Any]] = []
    ready, stop = threading.Event(), threading.Event()
    listener = threading.Thread(
        target=_listen, args=(base, tokens["northland"], events, ready, stop), daemon=True
    )
    listener.start()
    ready.wait(10)  # Northland's system is listening before anything is asked
    c2 = north.call(
        "POST",
        "/v1/clearances",
        {
            "area": {"type": "Point", "coordinates": [133.42, -25.47]},
            "radius_m": 200,
            "hazard_m": 800,
            "window": window,
            "purpose": "close air support",
            "confirm": ["southland"],
        },
    )
    n.verdict(c2)
    c2 = south.call(
        "POST", f"/v1/clearances/{c2['id']}/answers", {"answer": "checking", "note": "let us check"}
    )
    n.say("Southland's liaison answers: 'no, but let us check'")
    n.verdict(north.call("GET", f"/v1/clearances/{c2['id']}"))
    n.without("'no, but let us check' reaches the ground as 'no'.")
    south.call("POST", f"/v1/clearances/{c2['id']}/answers", {"answer": "absent"})
    n.say("after checking, Southland answers: absent")
    c2 = north.call("GET", f"/v1/clearances/{c2['id']}")
    n.verdict(c2)

    n.heading("Northland asks to clear an area next to the relief agency's clinic area.")
    c3 = north.call(
        "POST",
        "/v1/clearances",
        {
            "area": {"type": "Point", "coordinates": [lon + 0.035, lat]},
            "radius_m": 200,
            "hazard_m": 600,
            "window": window,
            "purpose": "demolition",
        },
    )
    n.verdict(c3)
    n.without("silence from the agency would have been read as absence.")

    n.heading("Northland asks to clear a strike near Southland's observation post.")
    c4 = north.call(
        "POST",
        "/v1/clearances",
        {
            "area": {"type": "Point", "coordinates": [133.585, -25.525]},
            "radius_m": 200,
            "hazard_m": 1000,
            "window": window,
            "purpose": "air strike",
        },
    )
    n.verdict(c4)
    n.say("Northland learns that Southland has someone there, and not where.")
    n.without("Southland would have had to reveal its post, or stay silent.")

    n.heading("A Southland unit comes under fire near the cleared close-air-support area.")
    alert = south.call(
        "POST",
        "/v1/alerts",
        {
            "kind": "under_fire",
            "location": {"type": "Point", "coordinates": [133.425, -25.475]},
            "radius_m": 2000,
        },
    )
    n.say(f"alert {alert['id']} notified: {alert['notified']}")
    deadline = time.monotonic() + 5
    fired = None
    while fired is None and time.monotonic() < deadline:
        fired = next((e for e in events if e["type"] == "check_fire"), None)
        time.sleep(0.05)
    if fired is not None:
        n.say(f"Northland's system received CHECK FIRE for clearance {fired['clearance']}")
    n.verdict(north.call("GET", f"/v1/clearances/{c2['id']}"))
    north.call("POST", f"/v1/alerts/{alert['id']}/ack")
    n.say("Northland acknowledges: the check-fire reached the people who act on it")
    shown = north.call("GET", f"/v1/alerts/{alert['id']}")
    n.say(f"Southland sees delivery and acknowledgement: {shown['notified']}")
    n.without("the unit under fire must give away its position, or hope someone guesses.")
    stop.set()

    n.heading("Afterwards, every party can check the record on its own.")
    head = httpx.get(f"{base}/v1/log/head").json()
    n.say(f"signed tree head: {head['tree_size']} events, root {head['root_hash'][:16]}...")
    n.say(
        "run `accord verify --server URL --token TOKEN` to check signature, inclusion and "
        "consistency independently"
    )
    return tokens


@contextmanager
def _serving(app: Any, host: str, port: int) -> Iterator[uvicorn.Server]:
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="accord-http", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"could not serve on {host}:{port}")
        time.sleep(0.02)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(timeout=5)


def run_demo(
    host: str = "127.0.0.1",
    port: int = 8080,
    data: Path | None = None,
    out: TextIO = sys.stdout,
    keep_serving: Callable[[], None] | None = None,
) -> int:
    """Start the service, run the scenario, print the console URL and tokens, keep serving."""
    with tempfile.TemporaryDirectory(prefix="accord-demo-") as tmp:
        data_dir = data or Path(tmp)
        with runtime(data_dir) as rt, _serving(rt.app, host, port):
            base = f"http://{host}:{port}"
            print(f"Accord demo: serving on {base} (data in {data_dir})", file=out)
            tokens = scenario(base, rt.token, out)
            print(f"\nThe console: {base}/  (sign in with a token)", file=out)
            for party, token in tokens.items():
                print(f"  {party:10s} {token}", file=out)
            print("Ctrl-C to stop.", file=out, flush=True)
            if keep_serving is not None:
                keep_serving()
            else:
                try:
                    while True:
                        time.sleep(3600)
                except KeyboardInterrupt:
                    pass
    return 0
