"""R11: a batch of position updates finds the clearances it may change through the open-clearance
index's halo first (SpatialIndex.declines_points) and looks at only the moves the halo does not
answer. Here the same commands, decided on the same state with its open clearances indexed without
a halo (every move through the full query of _affected_by_unit), must give the very same events,
byte for byte in canonical JSON, or the same refusal."""

from __future__ import annotations

from datetime import timedelta

import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.core import commands as cmd
from accord.core.decide import decide
from accord.errors import AccordError
from accord.geo.index import SpatialIndex
from accord.geo.location import parse_location

from .conftest import LAT0, LON0, World, offset, point

# places about a few anchors, at distances around the halo's (UNIT_HORIZON_M + 500 m) plus a
# clearance's reach, or far from all
ANCHORS = ((0.0, 0.0), (8_000.0, 0.0), (0.0, 13_000.0), (90_000.0, 0.0))
jitter = st.sampled_from([0.0, 0.0, 300.0, -300.0, 2_500.0, 6_000.0, -7_500.0])


@st.composite
def places(draw: st.DrawFn) -> tuple[float, float]:
    east, north = draw(st.sampled_from(ANCHORS))
    return offset(LON0, LAT0, east + draw(jitter), north + draw(jitter))


@st.composite
def scenes(draw: st.DrawFn) -> tuple[World, cmd.UpdatePositions]:
    """A world of a few clearances (some starting later) and units about them (some still, some
    in conflict, some stale), and a batch of updates (units moving once or more, far or near,
    with late, early or equal fixes)."""
    w = World()
    for party in ("alpha", "bravo"):
        w.party(party)
    n_units = draw(st.integers(1, 8))
    for k in range(n_units):
        x, y = draw(places())
        speed = draw(st.sampled_from([None, 0.0, 5.0, 30.0, 300.0]))
        w.unit("alpha", f"u{k}", x, y, draw(st.sampled_from([5.0, 20.0, 450.0, 800.0])), speed)
    for k in range(draw(st.integers(0, 4))):
        x, y = draw(places())
        start = draw(st.sampled_from([0.0, 0.0, 300.0, 4_000.0, 30_000.0]))
        hazard = draw(st.sampled_from([0.0, 2_000.0]))
        w.request("bravo", x, y, 300.0, hazard, cid=f"c{k}", start=start)
    w.advance(draw(st.sampled_from([1.0, 60.0, 200.0])))
    n = draw(st.integers(1, 12))
    # fixes mostly in order (a unit's fix older than its last one is refused), some late
    late = st.sampled_from([0.0, 0.0, 0.0, 0.5, 30.0, -3.0])
    lates = sorted(draw(st.lists(late, min_size=n, max_size=n)))
    if draw(st.integers(0, 9)) == 0:
        lates.reverse()
    ups = []
    for t in reversed(lates):
        x, y = draw(places())
        unc = draw(st.sampled_from([5.0, 5.0, 20.0, 600.0]))
        loc = parse_location(point(x, y))
        k = draw(st.integers(0, n_units - 1))
        ups.append(cmd.PositionUpdate(f"u{k}", loc, unc, w.now - timedelta(seconds=t)))
    return w, cmd.UpdatePositions("alpha", tuple(ups))


def _decided(w: World, command: cmd.UpdatePositions) -> str:
    try:
        return rfc8785.dumps(decide(w.state, command, w.now)).decode()
    except AccordError as exc:
        return f"{type(exc).__name__}: {exc}"


def _decided_without_halo(w: World, command: cmd.UpdatePositions) -> str:
    """``_decided`` on the state with its open clearances in an index of no halo, which declines
    nothing (SpatialIndex.declines and declines_points are False without one)."""
    haloed = w.state.open_clearances
    plain = SpatialIndex()
    for cid in haloed:
        c = w.state.clearances[cid]
        plain.insert(cid, c.area, c.hazard_m)
    assert plain.declines_points([0.0], [0.0], [1.0]) == [False]
    w.state.open_clearances = plain
    try:
        return _decided(w, command)
    finally:
        w.state.open_clearances = haloed


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenes())
def test_r11_the_halo_path_gives_the_events_of_the_full_queries(
    scene: tuple[World, cmd.UpdatePositions],
) -> None:
    w, command = scene
    assert _decided(w, command) == _decided_without_halo(w, command)


def test_r11_a_move_the_halo_declines_now_may_reach_a_later_window() -> None:
    # 13 km away, the unit's reach now (5 m + UNIT_HORIZON_M) is inside the halo's and far from
    # the clearance; by the window's start, 10 minutes on, it has grown by 18 km
    w = World()
    for party in ("alpha", "bravo"):
        w.party(party)
    w.unit("alpha", "u", *offset(LON0, LAT0, 0.0, 60_000.0), 5.0, 30.0)
    w.request("bravo", LON0, LAT0, 300.0, 0.0, cid="c", start=600.0)
    assert w.state.clearances["c"].basis == "clear"
    loc = parse_location(point(*offset(LON0, LAT0, 0.0, 13_000.0)))
    command = cmd.UpdatePositions("alpha", (cmd.PositionUpdate("u", loc, 5.0, w.now),))
    assert w.state.open_clearances.declines_points([loc.lon], [loc.lat], [5_005.0]) == [True]
    with_halo = _decided(w, command)
    assert '"verdict_changed"' in with_halo or '"clearance_revoked"' in with_halo
    assert _decided_without_halo(w, command) == with_halo
