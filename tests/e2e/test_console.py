"""The map console in a real browser: Debian's Chromium, driven by Playwright, against the real
``accord serve`` process. Each test is a scenario a coordination cell lives through; screenshots of
the main states are saved to docs/img/ when ACCORD_SCREENSHOTS=1 (a plain test run leaves the
tree as it is)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Request, sync_playwright
from tests.support.server import ServerProcess, register

pytestmark = pytest.mark.slow  # a real browser rendering WebGL in software: ~2 minutes in all

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("ACCORD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
TABLET = {"width": 768, "height": 1024}


@pytest.fixture(scope="session")
def console_browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run scripts/dev setup (apt chromium)")
    if not (ROOT / "src/accord/web/static/vendor/maplibre-gl.mjs").exists():
        pytest.fail("the console's vendor files are missing: run scripts/build-web")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def console_server(make_server: Callable[..., ServerProcess]) -> ServerProcess:
    return make_server()


@dataclass
class ConsolePage:
    """One party's console in its own browser context (its own sessionStorage)."""

    page: Page
    context: BrowserContext
    party: str
    token: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def console_open(
    console_browser: Browser, console_server: ServerProcess
) -> Iterator[Callable[..., ConsolePage]]:
    """Open a console page for a party token; ``sign_in=False`` leaves it at the sign-in form."""
    contexts: list[BrowserContext] = []

    def open_page(
        party: str, token: str, viewport: dict[str, int] | None = None, sign_in: bool = True
    ) -> ConsolePage:
        context = console_browser.new_context(
            viewport=viewport or DESKTOP, accept_downloads=True, locale="en-GB"
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        cp = ConsolePage(page, context, party, token)

        def on_request(request: Request) -> None:
            cp.requests.append(request.url)

        page.on("request", on_request)
        page.on("pageerror", lambda exc: cp.errors.append(str(exc)))
        page.goto(console_server.base_url + "/")
        if sign_in:
            console_sign_in(cp)
        return cp

    yield open_page
    for context in contexts:
        context.close()


def console_sign_in(cp: ConsolePage) -> None:
    page = cp.page
    page.fill("#token", cp.token)
    page.click("#signin-button")
    # the API has no "who am I" call: the first sign-in in a tab asks which party this is
    page.wait_for_selector("#app:not([hidden]), #party-pick:not([hidden])")
    if page.locator("#party-pick").is_visible():
        page.select_option("#party-select", cp.party)
        page.click("#signin-button")
    page.wait_for_selector("#app:not([hidden])")
    page.wait_for_selector("#conn.live")


@pytest.fixture
def console_parties(console_server: ServerProcess) -> Callable[..., dict[str, str]]:
    """Register parties on the console server; return their tokens."""

    def make(*parties: str) -> dict[str, str]:
        clients = register(console_server, *parties)
        out = {}
        for pid, client in clients.items():
            out[pid] = client.headers["Authorization"].removeprefix("Bearer ")
            client.close()
        return out

    return make


IMG = ROOT / "docs" / "img"
POST_A = [71.0917, 34.9183]

Open = Callable[..., ConsolePage]
Parties = Callable[..., dict[str, str]]


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def window() -> dict[str, str]:
    now = datetime.now(UTC)
    return {"start": iso(now - timedelta(minutes=1)), "end": iso(now + timedelta(hours=2))}


def shot(page: Page, name: str) -> None:
    if os.environ.get("ACCORD_SCREENSHOTS") == "1":
        IMG.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(IMG / name))


SETTLED = """() => new Promise((resolve) => {
    // two animation frames, then until the map has nothing left to load or move
    const m = window.accordConsole.map;
    const check = () => (m.loaded() && !m.isMoving() ? resolve() : setTimeout(check, 30));
    requestAnimationFrame(() => requestAnimationFrame(check));
})"""


def jump(page: Page, lon: float, lat: float, zoom: float) -> None:
    page.bring_to_front()  # a page behind another gets no animation frames: no map rendering
    page.evaluate(
        "([lon, lat, zoom]) => window.accordConsole.map.jumpTo({center: [lon, lat], zoom})",
        [lon, lat, zoom],
    )
    idle(page)


def idle(page: Page) -> None:
    page.bring_to_front()
    page.evaluate(SETTLED)


def pixel(page: Page, lon: float, lat: float) -> tuple[float, float]:
    x, y = page.evaluate(
        """([lon, lat]) => {
            const p = window.accordConsole.map.project([lon, lat]);
            const r = document.getElementById("map").getBoundingClientRect();
            return [r.left + p.x, r.top + p.y];
        }""",
        [lon, lat],
    )
    return float(x), float(y)


def click_map(page: Page, lon: float, lat: float) -> None:
    x, y = pixel(page, lon, lat)
    page.mouse.click(x, y)
    page.wait_for_timeout(450)  # two clicks in a row are not a double click


def source(page: Page, name: str) -> dict[str, Any]:
    data: dict[str, Any] = page.evaluate(
        "(name) => window.accordConsole.map.getSource(name).serialize().data", name
    )
    return data


def card(page: Page, clearance: str) -> Any:
    return page.locator(f'#clearance-list li[data-clearance="{clearance}"]')


def request_disc(
    page: Page,
    centre: tuple[float, float],
    edge_lon: float,
    *,
    hazard: int,
    confirm: list[str] | None = None,
) -> str:
    """Draw a disc with the mouse, fill the form, submit; return the new clearance's id."""
    lon, lat = centre
    jump(page, lon, lat, 13)
    page.keyboard.press("d")
    page.wait_for_selector("#draw-hint:not([hidden])")
    click_map(page, lon, lat)
    click_map(page, edge_lon, lat)
    page.fill("#hazard", str(hazard))
    for party in confirm or []:
        page.check(f'#confirm-list input[value="{party}"]')
    ids = "els => els.map(e => e.dataset.clearance)"
    before = set(page.eval_on_selector_all("#clearance-list > li", ids))
    page.click("#request-submit")
    page.wait_for_function(
        "(n) => document.querySelectorAll('#clearance-list > li').length > n", arg=len(before)
    )
    after = page.eval_on_selector_all("#clearance-list > li", ids)
    (new,) = set(after) - before
    return str(new)


def site(location: dict[str, Any], disclosure: str, label: str = "post") -> dict[str, Any]:
    return {
        "kind": "site",
        "label": label,
        "location": location,
        "uncertainty_m": 25,
        "disclosure": {"default": disclosure},
    }


# -- scenarios -------------------------------------------------------------------------------------


def test_sign_in_with_a_party_token_kept_for_the_tab_only(
    console_open: Open, console_parties: Parties, console_server: ServerProcess
) -> None:
    tokens = console_parties("north", "south")
    cp = console_open("north", tokens["north"], sign_in=False)
    page = cp.page
    page.fill("#token", "not-a-real-token")
    page.click("#signin-button")
    page.wait_for_selector("#signin-error:not(:empty)")
    assert "not valid" in page.inner_text("#signin-error")
    assert page.is_hidden("#app")

    console_sign_in(cp)
    assert "North" in page.inner_text("#me-name")
    assert page.inner_text("#conn") == "live"
    storage = page.evaluate("() => [sessionStorage.getItem('accord.token'), localStorage.length]")
    assert storage == [tokens["north"], 0]
    assert page.evaluate("() => document.cookie") == ""
    # the map really rendered with WebGL (a canvas with a drawing buffer)
    assert page.evaluate("() => !!window.accordConsole.map.getCanvas().getContext('webgl2')")
    # fully offline: every request went to this server (or stayed in the page)
    foreign = [
        u for u in cp.requests if not u.startswith((console_server.base_url, "data:", "blob:"))
    ]
    assert foreign == []
    assert cp.errors == []
    # a new tab (a new browsing context) does not inherit the token
    other = cp.context.new_page()
    other.goto(console_server.base_url + "/")
    assert other.is_visible("#signin")
    shot(page, "console-signed-in.png")
    page.click("#signout-button")
    page.wait_for_selector("#signin:not([hidden])")
    assert page.evaluate("() => sessionStorage.getItem('accord.token')") is None


def test_conflict_with_another_partys_post_shows_no_position(
    console_open: Open, console_parties: Parties, console_server: ServerProcess
) -> None:
    tokens = console_parties("north", "south")
    with console_server.client(tokens["south"]) as south:
        r = south.put(
            "/v1/presences/post-a",
            json=site({"type": "Point", "coordinates": POST_A}, "conflict-only", "Post A"),
        )
        assert r.status_code == 201, r.text
    cp = console_open("north", tokens["north"])
    page = cp.page
    cid = request_disc(page, (71.0950, 34.9250), 71.0985, hazard=1000)
    item = card(page, cid)
    item.locator(".badge", has_text="CONFLICT").wait_for()
    assert item.get_attribute("data-status") == "conflict"
    text = item.inner_text()
    assert "NOT CLEAR — CONFLICT" in text
    reason = item.locator('.reasons li[data-code="conflict"]').inner_text()
    assert "South" in reason and "not shown to you" in reason
    # nothing of south's post reaches this page: not its name, id, distance, nor a map feature
    body = page.inner_text("body")
    assert "Post A" not in body and "post-a" not in body and " m from" not in reason
    for name in ("presence-points", "presence-areas"):
        assert source(page, name)["features"] == []
    # the clearance is drawn on the map, in the conflict colour, with its label in words
    idle(page)
    drawn = page.evaluate(
        "() => window.accordConsole.map.queryRenderedFeatures({layers: ['clr-area-fill']})"
        ".map(f => f.properties.status)"
    )
    assert "conflict" in drawn
    assert page.locator(f'.map-label[data-key="clr:{cid}"]').inner_text().startswith("✖ CONFLICT")
    shot(page, "console-conflict.png")
    assert cp.errors == []


def test_checking_reads_not_clear_on_both_sides(
    console_open: Open, console_parties: Parties
) -> None:
    tokens = console_parties("north", "south")
    north = console_open("north", tokens["north"]).page
    south = console_open("south", tokens["south"]).page
    cid = request_disc(north, (10.0, 10.0), 10.002, hazard=500, confirm=["south"])
    item = card(north, cid)
    assert item.get_attribute("data-status") == "unresolved"
    answer = item.locator('.answers li[data-party="south"]')
    assert "NO ANSWER YET — NOT CLEAR" in answer.inner_text()

    # the asked party gets the prompt live, with its three answers
    prompt = south.locator(f'.prompt[data-clearance="{cid}"]')
    prompt.wait_for()
    assert "North (north) asks" not in prompt.inner_text()  # names, not "(you)" mix-ups
    assert "North asks: do you have people in this area?" in prompt.inner_text()
    buttons = prompt.locator(".answers-buttons button").all_inner_texts()
    assert [b.split(" — ")[0] for b in buttons] == ["○ Absent", "● Present", "… Checking"]
    assert south.inner_text("#prompt-count") == "1"
    prompt.locator('button[data-answer="checking"]').click()
    prompt.locator(".yours", has_text="CHECKING — NOT CLEAR").wait_for()

    # the requester sees CHECKING as NOT CLEAR, in words, live
    item.locator('.answers li[data-party="south"]', has_text="CHECKING — NOT CLEAR").wait_for()
    assert item.get_attribute("data-status") == "unresolved"
    assert "NOT CLEAR — UNRESOLVED" in item.inner_text()
    assert "still checking" in item.locator('.reasons li[data-code="checking"]').inner_text()
    # ... and so does the asked party's own list
    theirs = card(south, cid)
    assert "NOT CLEAR" in theirs.inner_text() and "CHECKING — NOT CLEAR" in theirs.inner_text()
    assert "CLEAR" not in theirs.locator(".badge").inner_text().replace("UNRESOLVED", "")
    jump(north, 10.0, 10.0, 13.5)
    shot(north, "console-checking.png")
    shot(south, "console-prompt.png")

    # after checking, "absent" clears it on the requester's page without a reload
    prompt.locator('button[data-answer="absent"]').click()
    north.locator(f'#clearance-list li[data-clearance="{cid}"][data-status="clear"]').wait_for()
    assert "CLEAR" in item.locator(".badge").inner_text()
    assert "ABSENT" in item.locator('.answers li[data-party="south"]').inner_text()
    assert south.is_hidden("#prompt-count")


def test_under_fire_reaches_the_other_party_as_check_fire_within_two_seconds(
    console_open: Open, console_parties: Parties, console_server: ServerProcess
) -> None:
    tokens = console_parties("north", "south")
    with console_server.client(tokens["north"]) as north_api:
        r = north_api.post(
            "/v1/clearances",
            json={
                "area": {"type": "Point", "coordinates": [40.0, 10.0]},
                "radius_m": 200,
                "hazard_m": 1000,
                "window": window(),
                "purpose": "close air support",
            },
        )
        assert r.status_code == 201 and r.json()["status"] == "clear", r.text
        cid = r.json()["id"]
    south = console_open("south", tokens["south"]).page
    north = console_open("north", tokens["north"]).page  # opened last: the page in front
    card(north, cid).locator(".badge", has_text="CLEAR").wait_for()
    assert north.is_hidden("#alert-banner")

    south.click("#under-fire-button")
    south.fill("#fire-location", "10.0, 40.01")
    south.fill("#fire-radius", "3000")
    start = time.monotonic()
    south.click("#fire-send")
    north.wait_for_selector("#alert-banner:not([hidden])", timeout=2000)
    elapsed = time.monotonic() - start
    assert elapsed < 2.0
    banner = north.locator("#alert-banner")
    assert banner.get_attribute("role") == "alert"
    text = banner.inner_text()
    assert "CHECK FIRE" in text and cid in text and "UNDER FIRE" in text
    assert "40.01" not in text  # the unit under fire does not give its position away
    width = north.evaluate("() => document.getElementById('alert-banner').offsetWidth")
    assert width == north.viewport_size["width"]  # type: ignore[index]
    first = int(north.evaluate("() => document.body.dataset.alarms"))
    assert first >= 1
    # the verdict became not clear as well
    card(north, cid).locator(".badge", has_text="REVOKED").or_(
        card(north, cid).locator(".badge", has_text="UNRESOLVED")
    ).or_(card(north, cid).locator(".badge", has_text="CONFLICT")).wait_for()
    shot(north, "console-checkfire.png")
    # unacknowledged, it keeps demanding attention
    north.wait_for_function(
        "(n) => Number(document.body.dataset.alarms) > n", arg=first, timeout=8000
    )

    # the alerting party sees its alert on its own map, and whom it reached
    south.wait_for_function(
        "() => window.accordConsole.map.getSource('alerts').serialize().data.features.length === 1"
    )
    # the alerting party sees whom it reached
    south.locator('#alert-list li .answers li[data-party="north"]').wait_for()
    alert_id = south.locator("#alert-list li").first.get_attribute("data-alert")
    assert alert_id
    north.keyboard.press("k")
    north.wait_for_selector(f'#alert-banner .fire-item[data-alert="{alert_id}"]', state="detached")
    # the verdict it had was revoked: that too waits for a person to acknowledge it
    revoked = north.locator(f'#alert-banner .revoked-item[data-clearance="{cid}"]')
    if card(north, cid).get_attribute("data-status") == "revoked":
        assert "NO LONGER CLEAR" in revoked.inner_text()
        north.keyboard.press("k")
    north.wait_for_selector("#alert-banner", state="hidden")
    with console_server.client(tokens["south"]) as south_api:
        shown = south_api.get(f"/v1/alerts/{alert_id}").json()
    entry = next(n for n in shown["notified"] if n["party"] == "north")
    assert entry["delivered_at"] and entry["acknowledged_at"]
    with console_server.client(tokens["north"]) as north_api:
        verdict = north_api.get(f"/v1/clearances/{cid}").json()
    assert verdict["acknowledged_version"] == verdict["version"]
    reached = south.locator('#alert-list li .answers li[data-party="north"]')
    reached.filter(has_text="acknowledged").wait_for()
    count = int(north.evaluate("() => document.body.dataset.alarms"))
    north.wait_for_timeout(5600)
    assert int(north.evaluate("() => document.body.dataset.alarms")) == count  # silent once acked
    shot(south, "console-alert-acknowledged.png")


def test_timeline_replays_a_window_and_exports_json_and_geojson(
    console_open: Open, console_parties: Parties, console_server: ServerProcess, tmp_path: Path
) -> None:
    tokens = console_parties("north", "south")
    first, second = [20.0, 5.0], [20.01, 5.004]
    with console_server.client(tokens["south"]) as south:
        for where in (first, second):
            south.put(
                "/v1/presences/patrol",
                json={
                    "kind": "unit",
                    "label": "Patrol",
                    "uncertainty_m": 30,
                    "location": {"type": "Point", "coordinates": where},
                    "disclosure": {"default": "exact"},
                },
            ).raise_for_status()
    with console_server.client(tokens["north"]) as north_api:
        cid = north_api.post(
            "/v1/clearances",
            json={
                "area": {"type": "Point", "coordinates": [20.03, 5.0]},
                "radius_m": 100,
                "hazard_m": 200,
                "window": window(),
            },
        ).json()["id"]
        page = console_open("north", tokens["north"]).page
        # the console confirms it received the verdict: that is an event of the timeline too
        card(page, cid).locator(".received", has_text="receipt sent").wait_for()
        expected = north_api.get("/v1/timeline").json()
    assert expected[-1]["type"] == "clearance_acknowledged"
    page.keyboard.press("t")
    page.wait_for_function(
        "(n) => document.querySelectorAll('#timeline-list li').length === n", arg=len(expected)
    )
    upserts = [i for i, e in enumerate(expected) if e["type"] == "presence_upserted"]
    assert len(upserts) == 2

    page.click("#tl-replay")
    assert page.is_visible("#replay-flag")
    page.locator("#tl-slider").fill(str(upserts[0]))
    points = source(page, "replay-points")["features"]
    assert [f["geometry"]["coordinates"] for f in points] == [first]
    assert "Event" in page.inner_text("#tl-now")
    page.locator("#tl-slider").fill(str(upserts[1]))
    points = source(page, "replay-points")["features"]
    assert [f["geometry"]["coordinates"] for f in points] == [second]
    page.locator("#tl-slider").fill(str(len(expected) - 1))
    fills = source(page, "replay-fill")["features"]
    assert any(f["properties"]["key"].startswith("c:") for f in fills)
    jump(page, 20.015, 5.002, 13)
    shot(page, "console-timeline.png")

    with page.expect_download() as got:
        page.click("#tl-export-json")
    exported = json.loads(Path(got.value.path()).read_text())
    assert exported == expected
    with page.expect_download() as got:
        page.click("#tl-export-geojson")
    assert got.value.suggested_filename.endswith(".geojson")
    fc = json.loads(Path(got.value.path()).read_text())
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == len(expected)
    moved = fc["features"][upserts[1]]
    assert moved["geometry"] == {"type": "Point", "coordinates": second}
    assert moved["properties"]["log_index"] == expected[upserts[1]]["log_index"]

    page.click("#tl-replay")
    assert page.is_hidden("#replay-flag")
    assert len(source(page, "presence-points")["features"]) == 1


def test_clicking_a_presence_shows_datum_input_and_uncertainty(
    console_open: Open, console_parties: Parties, console_server: ServerProcess
) -> None:
    tokens = console_parties("north")
    text = "34°55'06\"N 71°05'30\"E"
    with console_server.client(tokens["north"]) as north:
        r = north.put(
            "/v1/presences/post-k",
            json=site({"text": text, "crs": "EPSG:4145"}, "conflict-only", "Post K"),
        )
        assert r.status_code == 201, r.text
        lon, lat = r.json()["wgs84"]["coordinates"]
    page = console_open("north", tokens["north"]).page
    jump(page, lon, lat, 14)
    x, y = pixel(page, lon, lat)
    page.mouse.click(x, y)
    block = page.locator('#selection [data-presence="post-k"]')
    block.wait_for()
    details = block.inner_text()
    assert "EPSG:4145" in details
    assert text in details
    assert "Transformation" in details and "accuracy" in details
    assert re.search(r"Uncertainty\s+25 m stated \+ \d+ m", details), details
    assert "MGRS" in details
    shot(page, "console-presence.png")


def test_shared_picture_boundaries_discrepancy_coarse_cells_and_aor(
    console_open: Open, console_parties: Parties, console_server: ServerProcess
) -> None:
    tokens = console_parties("northland", "southland", "relief")
    lat0 = -25.5
    straight = [[133.40, lat0], [133.60, lat0]]
    bent = [
        [133.40, lat0],
        [133.46, lat0],
        [133.465, -25.5135],
        [133.525, -25.5135],
        [133.53, lat0],
        [133.60, lat0],
    ]

    def layer(coords: list[list[float]], name: str) -> dict[str, Any]:
        return {
            "name": name,
            "role": "boundary",
            "features": {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {},
                        "geometry": {"type": "LineString", "coordinates": coords},
                    }
                ],
            },
        }

    square = {
        "type": "Polygon",
        "coordinates": [
            [
                [133.38, -25.49],
                [133.62, -25.49],
                [133.62, -25.40],
                [133.38, -25.40],
                [133.38, -25.49],
            ]
        ],
    }
    with console_server.client(tokens["northland"]) as n:
        n.post("/v1/layers", json=layer(straight, "Northland survey")).raise_for_status()
        n.put(
            "/v1/parties/northland/aor", json={"area": square, "max_staleness_s": 3600}
        ).raise_for_status()
        n.put(
            "/v1/presences/hq",
            json=site(
                {"type": "Point", "coordinates": [133.50, -25.45]}, "conflict-only", "Northland HQ"
            ),
        ).raise_for_status()
    with console_server.client(tokens["southland"]) as s:
        s.post("/v1/layers", json=layer(bent, "Southland survey")).raise_for_status()
        s.put(
            "/v1/presences/patrol-7",
            json={
                "kind": "unit",
                "label": "Patrol 7",
                "uncertainty_m": 50,
                "max_speed_mps": 3,
                "location": {"type": "Point", "coordinates": [133.45, -25.56]},
                "disclosure": {"default": "coarse"},
            },
        ).raise_for_status()
        s.put(
            "/v1/presences/post-3",
            json=site({"type": "Point", "coordinates": [133.58, -25.53]}, "conflict-only"),
        ).raise_for_status()
    requests = [  # after both layers: the first touches the zone where they disagree
        (
            {"type": "Point", "coordinates": [133.495, -25.506]},
            {"radius_m": 300},
            500,
            "artillery registration",
            "unresolved",
        ),
        (
            {"type": "Point", "coordinates": [133.585, -25.525]},
            {"radius_m": 200},
            1000,
            "air strike",
            "conflict",
        ),
        (
            {
                "type": "LineString",
                "coordinates": [[133.41, -25.43], [133.45, -25.42], [133.47, -25.44]],
            },
            {"width_m": 300},
            300,
            "convoy",
            "clear",
        ),
    ]
    with console_server.client(tokens["northland"]) as n:
        n.post("/v1/heartbeat", json={}).raise_for_status()
        for area, size, hazard, purpose, status in requests:
            r = n.post(
                "/v1/clearances",
                json={
                    "area": area,
                    **size,
                    "hazard_m": hazard,
                    "window": window(),
                    "purpose": purpose,
                },
            )
            assert r.json()["status"] == status, r.text
    with console_server.client(tokens["relief"]) as rl:
        rl.put(
            "/v1/presences/clinic",
            json=site({"type": "Point", "coordinates": [133.56, -25.47]}, "exact", "Field clinic"),
        ).raise_for_status()
    page = console_open("northland", tokens["northland"]).page
    idle(page)
    boundaries = source(page, "boundaries")["features"]
    assert len({f["properties"]["style"] for f in boundaries}) == 2  # one style per party
    zones = source(page, "discrepancies")["features"]
    assert zones and all(f["properties"]["kind"] == "discrepancy" for f in zones)
    areas = source(page, "presence-areas")["features"]
    cells = [f for f in areas if f["properties"]["shape"] == "cell"]
    assert len(cells) == 1 and cells[0]["properties"]["party"] == "southland"
    assert "-25.56" not in json.dumps(cells) and "133.45," not in json.dumps(cells)
    points = source(page, "presence-points")["features"]
    assert {f["properties"]["party"] for f in points} == {"northland", "relief"}
    assert len(source(page, "aor")["features"]) == 1
    labels = page.locator(".map-label").all_inner_texts()
    assert any("something in this cell (coarse)" in t for t in labels), labels
    for start in (
        "? UNRESOLVED — NOT CLEAR · c-1",
        "✖ CONFLICT — NOT CLEAR · c-2",
        "✔ CLEAR · c-3",
    ):
        assert start in labels, labels
    page.keyboard.press("5")
    legend = page.inner_text("#legend")
    assert "Southland" in legend and "Boundary discrepancy zone" in legend
    page.keyboard.press("1")
    page.click('#clearance-list > li[data-clearance="c-1"] button:has-text("Show on map")')
    jump(page, 133.50, -25.485, 11.1)
    shot(page, "console-overview.png")
    # tablet width: the same picture, map above the panel
    page.set_viewport_size(TABLET)
    page.wait_for_timeout(300)
    jump(page, 133.50, -25.49, 10.6)
    shot(page, "console-tablet.png")
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0


def test_keyboard_only_request_at_tablet_width(
    console_open: Open, console_parties: Parties
) -> None:
    tokens = console_parties("north", "south")
    cp = console_open("north", tokens["north"], viewport=TABLET, sign_in=False)
    page = cp.page
    page.keyboard.type(tokens["north"])  # the token field has focus on arrival
    page.keyboard.press("Enter")
    page.wait_for_selector("#app:not([hidden]), #party-pick:not([hidden])")
    if page.locator("#party-pick").is_visible():
        page.keyboard.press("Tab")  # from the party list (north, first, is chosen) to the button
        page.keyboard.press("Enter")
    page.wait_for_selector("#conn.live")
    # Tab reaches the controls in order, with a visible focus ring
    seen: list[str] = []
    while "tab-clearances" not in seen and len(seen) < 12:
        page.keyboard.press("Tab")
        seen.append(page.evaluate("() => document.activeElement.id"))
        style = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
        what = page.evaluate("() => document.activeElement.outerHTML.slice(0, 120)")
        assert style != "none", what
    order = [
        seen.index(x)
        for x in ("under-fire-button", "help-button", "signout-button", "tab-clearances")
    ]
    assert order == sorted(order)
    page.keyboard.press("?")
    assert page.locator("#help-dialog").evaluate("d => d.open")
    assert "acknowledge the check-fire" in page.inner_text("#help-dialog")
    page.keyboard.press("Escape")
    page.keyboard.press("m")
    assert page.evaluate("() => document.activeElement.closest('#map') !== null")
    jump(page, -3.0, 52.0, 12)
    page.keyboard.press("d")
    page.keyboard.press("ArrowRight")  # pans the map; the cross-hair stays at its centre
    page.wait_for_timeout(400)
    centre = page.evaluate("() => window.accordConsole.map.getCenter().toArray()")
    page.keyboard.press("Enter")
    page.keyboard.press("f")
    assert page.evaluate("() => document.activeElement.id") == "request-submit"
    assert "radius 500 m" in page.inner_text("#shape-summary")
    page.keyboard.press("Enter")
    item = page.locator("#clearance-list > li").first
    item.wait_for()
    assert item.get_attribute("data-status") == "clear"
    assert "✔" in item.locator(".badge").inner_text()  # an icon and a word, not colour alone
    area = source(page, "clr-fill")["features"][0]
    ring = area["geometry"]["coordinates"][0]
    lon = sum(c[0] for c in ring[:-1]) / (len(ring) - 1)
    lat = sum(c[1] for c in ring[:-1]) / (len(ring) - 1)
    assert lon == pytest.approx(centre[0], abs=1e-6) and lat == pytest.approx(centre[1], abs=1e-6)
    assert cp.errors == []


# -- formatters against independent implementations ------------------------------------------------

POINTS = [
    (34.9183, 71.0917),
    (-25.5, 133.5),
    (0.0001, -0.0001),
    (51.4779, -0.0015),
    (60.39, 5.32),
    (78.22, 15.65),
    (-33.8568, 151.2153),
    (64.1466, -21.9426),
    (-85.0, 10.0),
    (86.0, -30.0),
    (-79.9, -170.0),
    (83.9, -70.0),
    (45.0, -179.999),
]


def _dms_seconds(text: str) -> list[float]:
    out = []
    for d, m, s, h in re.findall(r"(\d+)\D+(\d+)\D+([\d.]+)\D*?([NSEW])", text):
        v = int(d) * 3600 + int(m) * 60 + float(s)
        out.append(-v if h in "SW" else v)
    return out


def test_cursor_formatters_match_accord_convert_and_geographiclib(
    console_open: Open, console_parties: Parties
) -> None:
    tokens = console_parties("north")
    page = console_open("north", tokens["north"]).page
    js = page.evaluate(
        """async (points) => {
            const c = await import('/static/js/coords.js');
            return points.map(([lat, lon]) => ({
                mgrs: c.toMGRS(lat, lon), dms: c.formatDMS(lat, lon), dd: c.formatDecimal(lat, lon),
            }));
        }""",
        [list(p) for p in POINTS],
    )
    lines = "\n".join(f"{lat}, {lon}" for lat, lon in POINTS) + "\n"
    proc = subprocess.run(
        [sys.executable, "-m", "accord.cli", "convert", "--json"],
        input=lines,
        capture_output=True,
        text=True,
        check=True,
    )
    python = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert len(python) == len(POINTS)
    for (lat, lon), ours, theirs in zip(POINTS, js, python, strict=True):
        assert "error" not in theirs, theirs
        assert ours["mgrs"].replace(" ", "") == theirs["mgrs"], (lat, lon)
        assert ours["dms"] == theirs["dms"], (lat, lon)
        assert _dms_seconds(ours["dms"]) == pytest.approx([lat * 3600, lon * 3600], abs=0.006)
    if shutil.which("GeoConvert"):
        out = subprocess.run(
            ["GeoConvert", "-m", "-p", "0"],
            input="\n".join(f"{lat} {lon}" for lat, lon in POINTS) + "\n",
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert [j["mgrs"].replace(" ", "") for j in js] == out


def test_event_stream_resumes_with_last_event_id_after_a_dropped_connection(
    console_open: Open,
    console_parties: Parties,
    console_server: ServerProcess,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tokens = console_parties("north", "south")
    page = console_open("north", tokens["north"]).page
    resumed: list[str | None] = []
    page.on(
        "request",
        lambda r: (
            resumed.append(r.headers.get("last-event-id")) if r.url.endswith("/v1/events") else None
        ),
    )
    # the server goes away (the stream drops) and comes back on the same port and data;
    # meanwhile the page may not reconnect, so an event happens that it has not seen
    page.route("**/v1/events", lambda route: route.abort())
    port = console_server.port
    console_server.stop()
    page.wait_for_selector("#conn.down")
    monkeypatch.setattr("tests.support.server.free_port", lambda: port)
    console_server.start()
    with console_server.client(tokens["south"]) as south:
        r = south.post(
            "/v1/clearances",
            json={
                "area": {"type": "Point", "coordinates": [5.0, 5.0]},
                "radius_m": 100,
                "hazard_m": 100,
                "window": window(),
                "confirm": ["north"],
            },
        )
        assert r.status_code == 201, r.text
        asked = r.json()
    page.unroute("**/v1/events")
    # the request made while the page was cut off arrives once the stream resumes
    page.locator(f'.prompt[data-clearance="{asked["id"]}"]').wait_for()
    page.wait_for_selector("#conn.live")
    assert resumed and all(h is not None and int(h) < asked["log_index"] for h in resumed)


def test_event_stream_parser_handles_split_chunks_comments_and_line_endings(
    console_open: Open, console_parties: Parties
) -> None:
    tokens = console_parties("north")
    page = console_open("north", tokens["north"], sign_in=False).page
    stream = (
        "retry: 1500\r\n\r\n: keep-alive\n\nid: 7\nevent: heartbeat\n"
        'data: {"a":\ndata: 1}\n\n'
        "id: 8\r\ndata: two\r\n\r\nid: 9\rdata: three\r\r"
        "data: no id keeps the last\n\n"
    )
    for size in (1, 2, 3, 7, len(stream)):
        got = page.evaluate(
            """async ([text, size]) => {
                const { SseParser } = await import('/static/js/api.js');
                const out = []; let retry = null;
                const p = new SseParser((m) => out.push(m), (ms) => { retry = ms; });
                for (let i = 0; i < text.length; i += size) p.feed(text.slice(i, i + size));
                return { out, retry };
            }""",
            [stream, size],
        )
        assert got["retry"] == 1500
        assert got["out"] == [
            {"id": "7", "event": "heartbeat", "data": '{"a":\n1}'},
            {"id": "8", "event": "message", "data": "two"},
            {"id": "9", "event": "message", "data": "three"},
            {"id": "9", "event": "message", "data": "no id keeps the last"},
        ], size
