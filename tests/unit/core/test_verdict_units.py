"""R1, R6, R10 for units: the verdict, found through the unit index (and judging far units last,
only while the verdict may still be clear), against a scan of every unit with the rules' formulas.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Geod

from accord.core.model import UNIT_HORIZON_M
from accord.core.verdict import Scratch, evaluate
from accord.geo.distance import point_distance
from accord.geo.shapes import Disc

from .conftest import LAT0, LON0, World, rect

GEOD = Geod(ellps="WGS84")
EPS_M = 1e-6

# distances from the request's centre, around every threshold the rules and the index use
_BASES = (0.0, 1.0, 2_500.0, 4_950.0, 5_000.0, 5_001.0, 10_000.0, 12_000.0)


@st.composite
def unit_specs(draw: st.DrawFn) -> tuple[float, float, float, float | None]:
    """(distance from the hazard area's edge, bearing, uncertainty, max speed) of a unit."""
    edge = draw(st.sampled_from(_BASES)) + draw(st.floats(-30.0, 30.0))
    unc = draw(st.sampled_from([0.0, 10.0, 150.0]))
    speed = draw(st.sampled_from([None, 0.0, 5.0, 30.0]))
    return edge, draw(st.floats(0.0, 360.0)), unc, speed


def scan(w: World, cid: str, now: float) -> tuple[set[tuple[str, str]], float]:
    """The unit reasons and the earliest R10 flip, from every unit in the state."""
    c = w.state.clearances[cid]
    hz = c.hazard_m
    reasons: set[tuple[str, str]] = set()
    flips = [c.window_end]
    vmax = 0.0
    for p in w.state.presences.values():
        if not p.is_unit:
            continue
        vmax = max(vmax, p.speed)
        d = point_distance(p.lon, p.lat, c.area)
        lower = d.metres - d.error_m
        grown = p.unc + p.speed * max(0.0, now - p.fix)
        stale = now >= p.stale_time()
        if stale and lower <= hz + p.unc + EPS_M:
            reasons.add(("conflict", p.id))
        elif stale and lower <= hz + grown + EPS_M:
            reasons.add(("stale_track", p.id))
        elif not stale and lower <= hz + grown + EPS_M:
            reasons.add(("conflict", p.id))
        elif p.speed > 0.0:
            flips.append(p.fix + (lower - hz - p.unc) / p.speed)
    if vmax > 0.0:
        flips.append(now + UNIT_HORIZON_M / vmax)
    return reasons, min(flips)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    units=st.lists(unit_specs(), min_size=1, max_size=10),
    hazard=st.sampled_from([0.0, 300.0, 2_000.0]),
    site=st.booleans(),
    age=st.sampled_from([0.0, 30.0, 120.0, 400.0]),
)
def test_unit_reasons_and_valid_until_match_a_scan_of_every_unit(
    units: list[tuple[float, float, float, float | None]], hazard: float, site: bool, age: float
) -> None:
    w = World()
    for pid in ("alpha", "bravo"):
        w.party(pid)
    radius = 200.0
    for i, (edge, bearing, unc, speed) in enumerate(units):
        lon, lat, _ = GEOD.fwd(LON0, LAT0, bearing, max(0.0, radius + hazard + unc + edge))
        w.unit("bravo", f"u{i}", float(lon), float(lat), unc, speed)
    if site:  # a reason before any unit is judged: far units are then passed over
        w.site("bravo", "s", LON0, LAT0, 5.0)
    w.request("alpha", LON0, LAT0, radius, hazard, cid="c1")
    w.now += timedelta(seconds=age)
    now = w.now.timestamp()
    c = w.state.clearances["c1"]
    assert isinstance(c.area, Disc)
    ev = evaluate(Scratch(w.state), c, now)
    want, until = scan(w, "c1", now)
    got = {(r.code, r.presence) for r in ev.reasons if r.presence is not None and r.presence != "s"}
    assert got == want
    if ev.status == "clear":
        assert not site and not want
        assert ev.valid_until == until
    else:
        assert ev.valid_until is None
        assert site or want


def test_far_units_still_bound_a_clear_verdict() -> None:
    """A unit beyond every fresh disc's reach, whose grown disc arrives before the fastest unit's
    horizon: its flip is the valid_until (R10), so it is judged while the verdict is clear."""
    w = World()
    for pid in ("alpha", "bravo"):
        w.party(pid)
    lon, lat, _ = GEOD.fwd(LON0, LAT0, 0.0, 100.0 + 5_600.0)
    w.unit("bravo", "far", float(lon), float(lat), 150.0, 30.0)
    w.request("alpha", LON0, LAT0, 100.0, 500.0, cid="c1")
    c = w.state.clearances["c1"]
    assert c.status == "clear"
    p = w.state.presences["bravo:far"]
    d = point_distance(p.lon, p.lat, c.area)
    reach_at = p.fix + (d.metres - d.error_m - 500.0 - 150.0) / 30.0
    assert reach_at < w.now.timestamp() + UNIT_HORIZON_M / 30.0
    assert c.valid_until == reach_at


def test_r6_r10_a_stale_unit_beyond_its_grown_reach_bounds_valid_until() -> None:
    """A stale unit (R6) whose grown disc (30 km) stops 2 km short of the hazard area arrives in
    67 s, before the fastest unit's horizon (167 s): that arrival is the valid_until (R10)."""
    w = World()
    for pid in ("alpha", "bravo"):
        w.party(pid)
    lon, lat, _ = GEOD.fwd(LON0, LAT0, 0.0, 100.0 + 500.0 + 10.0 + 30_000.0 + 2_000.0)
    w.unit("bravo", "u", float(lon), float(lat), 10.0, 30.0)
    w.now += timedelta(seconds=1_000)
    w.request("alpha", LON0, LAT0, 100.0, 500.0, cid="c1")
    c = w.state.clearances["c1"]
    now = w.now.timestamp()
    ev = evaluate(Scratch(w.state), c, now)
    reasons, until = scan(w, "c1", now)
    assert ev.status == "clear" and not reasons
    assert until < now + 70.0
    assert ev.valid_until == until
    assert c.valid_until is not None and until - 1e-6 <= c.valid_until <= until  # as logged


@pytest.mark.parametrize("square", [False, True])
@pytest.mark.parametrize("start", [0.0, 60.0])
@pytest.mark.parametrize("side", [-2.0, 2.0])
def test_r10_a_unit_at_the_fastest_horizon_bounds_valid_until_exactly(
    square: bool, start: float, side: float
) -> None:
    """A unit of the fastest speed 2 m inside (outside) the distance from which it arrives
    before the fastest unit's horizon: its arrival is (is not) the valid_until. The verdict skips
    units without a geodesic only beyond that distance; about a disc (far units) and a square
    (every unit), judged now and for a window a minute ahead."""
    w = World()
    for pid in ("alpha", "bravo"):
        w.party(pid)
    speed, unc, hazard, radius = 5.0, 10.0, 300.0, 200.0
    # judged at t = fix + start, the unit arrives at fix + edge / speed and the horizon is
    # t + UNIT_HORIZON_M / speed: they meet at edge = UNIT_HORIZON_M + speed * start
    edge = UNIT_HORIZON_M + speed * start + side
    area = None
    if square:  # a square of ~2 m around the centre: due north, 0.1 m from the 1 m disc
        radius = 1.0
        area = rect(LON0 - 1e-5, LAT0 - 1e-5, LON0 + 1e-5, LAT0 + 1e-5)
    # due north: the box test is tightest there (a bearing between the axes has slack)
    lon, lat, _ = GEOD.fwd(LON0, LAT0, 0.0, radius + hazard + unc + edge)
    w.unit("bravo", "u", float(lon), float(lat), unc, speed)
    w.request("alpha", LON0, LAT0, radius, hazard, cid="c1", start=start, area=area)
    c = w.state.clearances["c1"]
    t = w.now.timestamp() + start
    ev = evaluate(Scratch(w.state), c, w.now.timestamp())
    reasons, until = scan(w, "c1", t)
    assert ev.status == "clear" and not reasons
    horizon = t + UNIT_HORIZON_M / speed
    assert (until < horizon) == (side < 0.0)
    assert ev.valid_until == until
    assert c.valid_until is not None and until - 1e-6 <= c.valid_until <= until  # as logged


def test_r6_r10_a_window_ahead_finds_units_as_far_as_they_grow_by_then() -> None:
    """A unit 4.9 km grown (not stale yet) and a window a minute ahead: by then its disc grows
    by another 1.8 km, so a unit 11 km beyond the hazard area's edge arrives before the fastest
    unit's horizon, and bounds valid_until, though the unit index alone (hazard +
    UNIT_HORIZON_M + TRACK_MAX_UNCERTAINTY_M) would not find it."""
    w = World()
    for pid in ("alpha", "bravo"):
        w.party(pid)
    speed, unc, hazard, radius = 30.0, 10.0, 300.0, 200.0
    lon, lat, _ = GEOD.fwd(LON0, LAT0, 0.0, radius + hazard + unc + 11_000.0)
    w.unit("bravo", "u", float(lon), float(lat), unc, speed)
    w.now += timedelta(seconds=163)  # grown 10 + 30 x 163 = 4,900 m
    w.request("alpha", LON0, LAT0, radius, hazard, cid="c1", start=60.0)
    c = w.state.clearances["c1"]
    t = w.now.timestamp() + 60.0
    reasons, until = scan(w, "c1", t)
    assert c.status == "clear" and not reasons
    assert until < t + UNIT_HORIZON_M / speed - 20.0
    assert c.valid_until is not None and until - 1e-6 <= c.valid_until <= until
