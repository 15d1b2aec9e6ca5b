"""R12 disclosure: exact / coarse / conflict-only views of presences, events, reasons, bboxes."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.core import commands as cmd
from accord.core.disclosure import (
    alert_view,
    clearance_view,
    event_view,
    may_see_raw,
    parties_view,
    presence_features,
    presence_view,
    shape_reasons,
    timeline,
)
from accord.core.model import Disclosure, PointGeometry, Reason
from accord.errors import InvalidInput
from accord.geo.cells import coarse_cell
from accord.geo.location import parse_location

from .conftest import LAT0, LON0, World, offset, point, rect

LEVELS = Disclosure("conflict-only", {"bravo": "exact", "charlie": "coarse"})


def _setup(world: World) -> tuple[float, float]:
    lon, lat = offset(LON0, LAT0, 123.456, 78.9)
    world.unit("alpha", "u1", lon, lat, 25.0, 5.0, disclosure=LEVELS)
    world.party("delta")
    return lon, lat


def test_r12_presence_view_per_level(world: World) -> None:
    """R12: owner sees all, exact sees the geometry, coarse only the cell, others get None."""
    lon, lat = _setup(world)
    own = presence_view(world.state, "u1", "alpha")
    assert own is not None
    assert own["input"] == point(lon, lat)
    assert own["wgs84"]["coordinates"] == [lon, lat] and own["transformation"] is not None
    assert own["disclosure"] == LEVELS.to_json()
    exact = presence_view(world.state, "u1", "bravo")
    assert exact is not None
    assert exact["location"]["coordinates"] == [lon, lat]
    assert exact["input"] == point(lon, lat)
    assert "disclosure" not in exact
    coarse = presence_view(world.state, "u1", "charlie")
    assert coarse is not None
    assert coarse["cell"]["id"] == coarse_cell(lon, lat).id
    text = json.dumps(coarse)
    assert str(lon)[:8] not in text
    assert str(lat)[:8] not in text
    assert presence_view(world.state, "u1", "delta") is None
    assert presence_view(world.state, "nothing", "delta") is None


def test_r12_bbox_matches_coarse_presences_by_their_cell(world: World) -> None:
    """R12: a bbox that misses the exact position but meets the cell returns the coarse
    presence (as its cell) to charlie, nothing to delta, and nothing to bravo (exact: position
    outside the bbox)."""
    lon, lat = _setup(world)
    cell = coarse_cell(lon, lat)
    w, s, e, n = cell.bbox
    # a small box inside the cell that does not contain the point
    box = (w, s, w + 0.001, s + 0.001) if lon > w + 0.002 else (e - 0.001, n - 0.001, e, n)
    assert not (box[0] <= lon <= box[2] and box[1] <= lat <= box[3])
    got = presence_features(world.state, "charlie", box)["features"]
    assert [f["properties"]["cell"]["id"] for f in got] == [cell.id]
    assert got[0]["geometry"] == cell.geojson()
    assert presence_features(world.state, "delta", box)["features"] == []
    assert presence_features(world.state, "delta", None)["features"] == []
    assert presence_features(world.state, "bravo", box)["features"] == []
    tight = (lon - 1e-4, lat - 1e-4, lon + 1e-4, lat + 1e-4)
    assert len(presence_features(world.state, "bravo", tight)["features"]) == 1


def test_r12_clearance_reasons_are_shaped_per_viewer(world: World) -> None:
    """R12: the same conflict reason reads with id+distance+geometry for an exact viewer, a cell
    for a coarse one, and only the party for a conflict-only one; the verdict is the same."""
    lon, lat = _setup(world)
    for who in ("bravo", "charlie", "delta"):
        world.request(who, LON0, LAT0, 100, 500, cid=f"c-{who}")
    views = {w: clearance_view(world.state, f"c-{w}", w) for w in ("bravo", "charlie", "delta")}
    assert {v["status"] for v in views.values() if v} == {"conflict"}
    rb = views["bravo"]["reasons"][0]  # type: ignore[index]
    assert (rb["presence"], rb["geometry"]["coordinates"]) == ("u1", [lon, lat])
    assert rb["distance_m"] > 0
    rc = views["charlie"]["reasons"][0]  # type: ignore[index]
    assert set(rc) == {"code", "party", "cell"}
    rd = views["delta"]["reasons"][0]  # type: ignore[index]
    assert rd == {"code": "conflict", "party": "alpha"}
    assert clearance_view(world.state, "c-bravo", "charlie") is None


def test_r12_several_conflict_only_presences_read_as_one(world: World) -> None:
    """R12: the count of a party's hidden presences is not revealed."""
    for i in range(3):
        world.site("alpha", f"s{i}", *offset(LON0, LAT0, 50.0 * i, 0.0))
    world.request("bravo", LON0, LAT0, cid="c1")
    v = clearance_view(world.state, "c1", "bravo")
    assert v is not None
    assert v["reasons"] == [{"code": "conflict", "party": "alpha"}]
    assert len(world.state.clearances["c1"].reasons) == 3


_LEVELS_ANY = Disclosure("conflict-only", {"bravo": "exact", "charlie": "coarse"})


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    picks=st.lists(
        st.tuples(
            st.sampled_from(["s0", "s1", "s2", "gone", None]),  # None: a reason of no presence
            st.sampled_from(["conflict", "stale_track", "checking"]),
            st.sampled_from([12.5, 40.0, None]),
        ),
        max_size=12,
    ),
    viewer=st.sampled_from(["alpha", "bravo", "charlie", "delta"]),
)
def test_r12_shape_reasons_shows_each_shaped_reason_once(
    world: World, picks: list[tuple[str | None, str, float | None]], viewer: str
) -> None:
    """R12: a reason list is shown as its reasons shaped one by one, each distinct one once, in
    order (whatever mix of levels, codes, distances and repeats; a presence since removed reads
    as conflict-only)."""
    if world.state.presences.get("alpha:s0") is None:  # the world is shared by the examples
        for i, east in enumerate((0.0, 100.0, 40_000.0)):  # s0, s1 in one coarse cell; s2 not
            world.site("alpha", f"s{i}", *offset(LON0, LAT0, east, 0.0), disclosure=_LEVELS_ANY)
        world.party("delta")
    reasons = [
        Reason(code, party="alpha", presence=pid, distance_m=d, geometry=PointGeometry(LON0, LAT0))
        if pid is not None
        else Reason(code, party="alpha")
        for pid, code, d in picks
    ]
    one_by_one = [shape_reasons(world.state, [r], viewer)[0] for r in reasons]
    expected = [x for i, x in enumerate(one_by_one) if x not in one_by_one[:i]]
    assert shape_reasons(world.state, reasons, viewer) == expected


def test_r12_event_views_and_raw_access(world: World) -> None:
    """R12: presence_upserted raw to owner and exact viewers; a cell to coarse viewers; nothing to
    conflict-only ones; positions_updated likewise per item."""
    _setup(world)
    up = next(e for e in world.log if e["type"] == "presence_upserted")
    assert may_see_raw(world.state, up, "alpha")
    assert may_see_raw(world.state, up, "bravo")
    assert not may_see_raw(world.state, up, "charlie")
    assert not may_see_raw(world.state, up, "delta")
    cv = event_view(world.state, up, "charlie")
    assert cv is not None
    assert set(cv) >= {"cell", "id"}
    assert not {"position", "input", "wgs84", "transformation"} & set(cv)
    assert event_view(world.state, up, "delta") is None
    world.move("alpha", "u1", *offset(LON0, LAT0, 140.0, 60.0))
    pu = world.log[-1]
    assert pu["type"] == "positions_updated"
    assert event_view(world.state, pu, "delta") is None
    cview = event_view(world.state, pu, "charlie")
    assert cview is not None
    assert "location" not in cview["updates"][0]
    assert not may_see_raw(world.state, pu, "charlie")
    assert may_see_raw(world.state, pu, "bravo")


def test_r12_timeline_bbox_uses_visible_geometry(world: World) -> None:
    """R12: a timeline with a bbox shows delta nothing about a conflict-only presence, and shows
    charlie the presence only through its cell."""
    lon, lat = _setup(world)
    box = (lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01)
    assert [e["type"] for e in timeline(world.state, world.log, "delta", None, None, box)] == []
    got = timeline(world.state, world.log, "charlie", None, None, box)
    assert [e["type"] for e in got] == ["presence_upserted"]
    assert not {"position", "input", "wgs84", "transformation"} & set(got[0])
    everything = timeline(world.state, world.log, "delta", None, None, None)
    assert {e["type"] for e in everything} == {"party_registered"}


def test_r12_alert_position_stays_with_the_alerting_party(world: World) -> None:
    """R12/R8: only the alerting party sees the alert's location; the notified one sees kind and
    its own notification; others nothing."""
    world.request("alpha", LON0, LAT0, cid="c1")
    raised = world.run(
        cmd.RaiseAlert("bravo", "under_fire", parse_location(point(LON0, LAT0)), 900)
    )[0]
    mine = alert_view(world.state, raised["id"], "bravo")
    theirs = alert_view(world.state, raised["id"], "alpha")
    assert mine is not None
    assert theirs is not None
    assert "location" in mine
    assert "location" not in theirs
    assert str(LON0) not in json.dumps(theirs)
    assert alert_view(world.state, raised["id"], "charlie") is None
    assert event_view(world.state, raised, "alpha") is None
    assert may_see_raw(world.state, raised, "bravo")


def test_parties_view_reports_staleness(world: World) -> None:
    world.party("delta", aor=rect(LON0, LAT0, LON0 + 0.1, LAT0 + 0.1), staleness=60)
    rows = {r["id"]: r for r in parties_view(world.state, world.now)}
    assert rows["delta"]["aor"] is True
    assert rows["delta"]["stale"] is False
    assert rows["alpha"]["aor"] is False
    later = {r["id"]: r for r in parties_view(world.state, world.now + timedelta(seconds=61))}
    assert later["delta"]["stale"] is True


@pytest.mark.parametrize("bbox", [(10, 20, 11), (0, 95, 1, 96), (float("nan"), 0, 1, 1)])
def test_bbox_is_validated(world: World, bbox: tuple[float, ...]) -> None:
    with pytest.raises(InvalidInput, match="bbox"):
        presence_features(world.state, "alpha", bbox)  # type: ignore[arg-type]
