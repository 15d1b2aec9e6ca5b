"""The verdict rules R1-R11 and R13 of docs/RULES.md, one scenario each, distances from PROJ."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from geographiclib.geodesic import Geodesic
from pyproj import Geod

from accord.core import commands as cmd
from accord.core.decide import decide, next_deadline, tick
from accord.core.model import ACK_TIMEOUT_S, ALERT_ACTIVE_S, TRACK_MAX_UNCERTAINTY_M, Disclosure
from accord.core.state import fingerprint, from_snapshot, to_snapshot
from accord.core.verdict import verdict
from accord.errors import Conflict, Forbidden, InvalidInput, NotFound
from accord.geo.discrepancy import parse_boundary_features
from accord.geo.location import parse_location
from accord.geo.shapes import Disc

from .conftest import (
    LAT0,
    LON0,
    World,
    offset,
    point,
    presence_cmd,
    reasons_text,
    rect,
    types,
)

GEOD = Geod(ellps="WGS84")
G = Geodesic.WGS84


def geod_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(GEOD.inv(a[0], a[1], b[0], b[1])[2])


# -- R1 conflict -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("east", "expected"), [(600.0, "conflict"), (612.0, "clear")])
def test_r1_site_within_hazard_plus_uncertainty_conflicts(
    world: World, east: float, expected: str
) -> None:
    """R1: disc r=100 m, hazard 500 m, site uncertainty 10 m: the threshold is 610 m from the
    centre (PROJ's geodesic distance); 600 m conflicts, 612 m does not."""
    lon, lat = offset(LON0, LAT0, east, 0.0)
    assert abs(geod_m((LON0, LAT0), (lon, lat)) - east) < 0.01
    world.site("bravo", "post-1", lon, lat, 10.0)
    world.request("alpha", LON0, LAT0, 100.0, 500.0, cid="c1")
    assert world.status("c1") == expected
    c = world.state.clearances["c1"]
    if expected == "conflict":
        (r,) = c.reasons
        assert (r.code, r.party, r.presence) == ("conflict", "bravo", "post-1")
        assert r.distance_m == pytest.approx(east - 100.0, abs=0.5)
    else:
        assert c.reasons == ()
        assert c.valid_until is not None


@pytest.mark.parametrize(
    ("beyond_m", "expected"),
    [
        (-1e-3, "conflict"),
        (0.5e-6, "conflict"),
        (1.5e-6, "clear"),
        (3e-6, "clear"),
        (1e-3, "clear"),
    ],
)
def test_r1_a_site_at_the_threshold_is_judged_by_its_geodesic(
    world: World, beyond_m: float, expected: str
) -> None:
    """R1 at the edge, where the chord's lower bound (which spares a geodesic to the sites it puts
    beyond the hazard area) must not decide: sites placed by GeographicLib at 610 m + ``beyond_m``
    (the threshold, disc r=100 m + hazard 500 m + uncertainty 10 m), with the distance's 1 µm
    bound counted towards conflict."""
    for i, azimuth in enumerate((0.0, 77.0, 181.0, 300.0)):
        far = G.Direct(LAT0, LON0, azimuth, 610.0 + beyond_m)
        world.site("bravo", f"post-{i}", far["lon2"], far["lat2"], 10.0)
    world.request("alpha", LON0, LAT0, 100.0, 500.0, cid="c1")
    assert world.status("c1") == expected
    assert len(world.state.clearances["c1"].reasons) == (4 if expected == "conflict" else 0)


def test_r1_the_requesters_own_presence_counts(world: World) -> None:
    """R1: the requester's own presences conflict like anyone's."""
    world.site("alpha", "own", *offset(LON0, LAT0, 200.0, 0.0))
    world.request("alpha", LON0, LAT0, cid="c1")
    assert world.status("c1") == "conflict"
    assert world.state.clearances["c1"].reasons[0].party == "alpha"


def test_r1_presence_counts_only_if_its_validity_overlaps_the_window(world: World) -> None:
    """R1: a site valid only after the window ends does not count; one overlapping it does."""
    lon, lat = offset(LON0, LAT0, 200.0, 0.0)
    world.site("bravo", "later", lon, lat, valid_from=world.now + timedelta(hours=3))
    world.request("alpha", LON0, LAT0, cid="c1", minutes=60)
    assert world.status("c1") == "clear"
    world.site("bravo", "during", lon, lat, valid_from=world.now + timedelta(minutes=30))
    assert world.status("c1") == "revoked"
    assert world.state.clearances["c1"].basis == "conflict"


def test_r1_moving_unit_revokes_when_its_grown_disc_reaches(world: World) -> None:
    """R1/R10: a unit 2 km away at 10 m/s: clear now, valid_until when its uncertainty has grown
    to the gap; at that time tick revokes."""
    world.unit("bravo", "patrol", *offset(LON0, LAT0, 2000.0, 0.0), unc=10.0, speed=10.0)
    world.request("alpha", LON0, LAT0, 100.0, 500.0, cid="c1")
    c = world.state.clearances["c1"]
    assert c.status == "clear"
    assert c.valid_until is not None
    # gap 2000 - 100 - 500 - 10 = 1390 m at 10 m/s: 139 s, less the distance's error bound
    assert 138.0 <= c.valid_until - world.now.timestamp() <= 139.0
    assert next_deadline(world.state) is not None
    assert world.advance(100.0) == []
    events = world.advance(40.0)
    assert types(events) == ["clearance_revoked"]
    assert events[0]["reasons"][0]["code"] == "conflict"
    assert world.status("c1") == "revoked"


# -- R2 R3 R4 answers ------------------------------------------------------------------------------


def test_r2_r3_r4_answers(world: World) -> None:
    """R3 awaiting_confirmation until answered; R4 checking stays unresolved; R2 present is a
    conflict; only absent clears."""
    world.request("alpha", LON0, LAT0, cid="c1", confirm=("bravo",))
    assert (world.status("c1"), world.codes("c1")) == ("unresolved", ["awaiting_confirmation"])
    world.run(cmd.AnswerClearance("bravo", "c1", "checking", "let us check"))
    assert (world.status("c1"), world.codes("c1")) == ("unresolved", ["checking"])
    world.run(cmd.AnswerClearance("bravo", "c1", "absent"))
    assert world.status("c1") == "clear"
    events = world.run(cmd.AnswerClearance("bravo", "c1", "present"))
    assert types(events) == ["clearance_answered", "clearance_revoked"]
    assert (world.state.clearances["c1"].basis, world.codes("c1")) == (
        "conflict",
        ["confirmed_present"],
    )


def test_r4_checking_never_counts_as_absent_even_with_nothing_nearby(world: World) -> None:
    """R4: a checking answer keeps the verdict unresolved however empty the map is."""
    world.request("alpha", LON0, LAT0, cid="c1", confirm=("bravo", "charlie"))
    world.run(cmd.AnswerClearance("bravo", "c1", "absent"))
    world.run(cmd.AnswerClearance("charlie", "c1", "checking"))
    assert world.status("c1") == "unresolved"
    world.advance(3600.0)
    assert world.status("c1") == "unresolved"


# -- R5 stale AOR ----------------------------------------------------------------------------------


def test_r5_stale_aor_makes_unresolved_and_a_heartbeat_clears(make_world: type[World]) -> None:
    """R5: a party whose AOR covers the area and who never sent a heartbeat is stale; a heartbeat
    clears; when it ages past max_staleness_s the clear verdict is revoked by tick."""
    w = make_world()
    w.party("alpha")
    aor = rect(LON0 - 0.1, LAT0 - 0.1, LON0 + 0.1, LAT0 + 0.1)
    w.party("bravo")
    w.run(cmd.SetAor("bravo", aor[0], aor[1], 300))
    w.request("alpha", LON0, LAT0, cid="c1")
    assert (w.status("c1"), w.codes("c1")) == ("unresolved", ["stale"])
    events = w.run(cmd.Heartbeat("bravo"))
    assert types(events) == ["heartbeat", "verdict_changed"]
    c = w.state.clearances["c1"]
    assert c.status == "clear"
    assert c.valid_until == pytest.approx(w.now.timestamp() + 300, abs=1e-3)
    assert w.advance(299.0) == []
    events = w.advance(1.0)
    assert types(events) == ["clearance_revoked"]
    assert events[0]["reasons"] == [{"code": "stale", "party": "bravo"}]


def test_r5_aor_far_away_does_not_matter(make_world: type[World]) -> None:
    """R5: only AORs touching the area + hazard count."""
    w = make_world()
    w.party("alpha")
    w.party("bravo", aor=rect(LON0 + 1.0, LAT0, LON0 + 1.1, LAT0 + 0.1))
    w.request("alpha", LON0, LAT0, cid="c1")
    assert w.status("c1") == "clear"


# -- R6 stale track --------------------------------------------------------------------------------


def test_r6_stale_track_when_the_grown_disc_reaches(world: World) -> None:
    """R6/R10: a unit 8 km away at 10 m/s goes stale once its uncertainty passes 5 km (~499 s);
    when its grown disc reaches the hazard area (~739 s) the verdict is unresolved with
    stale_track. valid_until is first the unit horizon (5 km / 10 m/s = 500 s), renewed then."""
    t0 = world.now.timestamp()
    world.unit("bravo", "u1", *offset(LON0, LAT0, 8000.0, 0.0), unc=10.0, speed=10.0)
    world.request("alpha", LON0, LAT0, 100.0, 500.0, cid="c1")
    c = world.state.clearances["c1"]
    assert c.status == "clear"
    assert c.valid_until == pytest.approx(t0 + 500.0, abs=1e-3)
    events = world.advance(500.0)
    assert types(events) == ["verdict_changed"]
    assert (events[0]["status"], events[0]["version"]) == ("clear", 2)
    c = world.state.clearances["c1"]
    assert c.valid_until is not None
    assert 738.0 <= c.valid_until - t0 <= 739.0
    world.advance(240.0)
    assert world.status("c1") == "revoked"
    assert world.codes("c1") == ["stale_track"]
    assert world.state.clearances["c1"].basis == "unresolved"
    # a fresh fix far away clears it again
    world.move("bravo", "u1", *offset(LON0, LAT0, 8000.0, 0.0))
    assert world.status("c1") == "clear"
    assert TRACK_MAX_UNCERTAINTY_M == 5000.0


def test_r6_unit_without_speed_goes_stale_after_an_hour_but_only_where_it_was(
    world: World,
) -> None:
    """R6: max_speed None means no growth; a unit right next to the area conflicts (R1) stale or
    not; one 3 km away never matters."""
    world.unit("bravo", "near", *offset(LON0, LAT0, 300.0, 0.0), speed=None)
    world.unit("bravo", "far", *offset(LON0, LAT0, 3000.0, 0.0), speed=None)
    world.request("alpha", LON0, LAT0, cid="c1", minutes=180)
    assert [r.presence for r in world.state.clearances["c1"].reasons] == ["near"]
    world.advance(3700.0)
    assert [r.presence for r in world.state.clearances["c1"].reasons] == ["near"]


# -- R7 boundary discrepancy -----------------------------------------------------------------------


def _line(lon: float) -> dict[str, object]:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {},
                "geometry": {
                    "type": "LineString",
                    "coordinates": [[lon, LAT0 - 0.05], [lon, LAT0 + 0.05]],
                },
            }
        ],
    }


def _layer(world: World, party: str, lid: str, lon: float) -> list[dict[str, object]]:
    fc = _line(lon)
    return world.run(
        cmd.AddLayer(party, lid, f"{party} border", "boundary", fc, parse_boundary_features(fc))
    )


def test_r7_boundary_discrepancy_until_the_other_layer_owner_confirms(world: World) -> None:
    """R7: alpha's and bravo's border lines ~900 m apart form a discrepancy zone; a request on it
    is unresolved naming both layers, until bravo (the other layer's owner) answers absent."""
    _layer(world, "alpha", "la", LON0)
    world.request("alpha", LON0 + 0.005, LAT0, 50.0, 50.0, cid="c0")
    assert world.status("c0") == "clear"
    events = _layer(world, "bravo", "lb", LON0 + 0.01)
    assert "clearance_revoked" in types(events)
    world.request("alpha", LON0 + 0.005, LAT0, 50.0, 50.0, cid="c1", confirm=("bravo",))
    reasons = world.state.clearances["c1"].reasons
    assert [r.code for r in reasons] == ["awaiting_confirmation", "boundary_discrepancy"]
    assert reasons[1].layers == ("la", "lb")
    world.run(cmd.AnswerClearance("bravo", "c1", "absent"))
    assert world.status("c1") == "clear"
    # far from the zone: nothing
    world.request("alpha", LON0 + 0.2, LAT0, 50.0, 50.0, cid="c2")
    assert world.status("c2") == "clear"


# -- R8 alerts -------------------------------------------------------------------------------------


def test_r8_alert_sends_check_fire_without_the_position_and_adds_a_reason(world: World) -> None:
    """R8/R13: an under-fire alert within its radius of an open clearance: check_fire to the
    requester naming clearance and alert only; the verdict gains `alert` (a conflict); after
    ALERT_ACTIVE_S it is clear again."""
    world.request("alpha", LON0, LAT0, cid="c1", minutes=180)
    world.request("alpha", LON0 + 1.0, LAT0, cid="far", minutes=180)
    alon, alat = offset(LON0, LAT0, 1500.0, 700.0)
    events = world.run(
        cmd.RaiseAlert("bravo", "under_fire", parse_location(point(alon, alat)), 2000)
    )
    assert types(events) == ["alert_raised", "check_fire", "clearance_revoked"]
    raised, fire, revoked = events
    assert raised["notified"] == [{"party": "alpha", "clearance": "c1"}]
    assert fire["party"] == "alpha"
    assert (fire["clearance"], fire["alert"]) == ("c1", raised["id"])
    text = repr(fire)
    assert str(alon)[:7] not in text
    assert str(alat)[:7] not in text
    assert "distance" not in text
    assert revoked["reasons"] == [{"code": "alert", "party": "bravo", "alert": raised["id"]}]
    assert world.status("far") == "clear"
    world.run(cmd.AckAlert("alpha", raised["id"]))
    world.run(cmd.AckClearance("alpha", "c1", world.state.clearances["c1"].version))
    world.advance(ALERT_ACTIVE_S - 1)
    assert world.status("c1") == "revoked"
    events = world.advance(1.0)
    assert types(events) == ["verdict_changed"]
    assert world.status("c1") == "clear"


# -- R9 R10 R11 ------------------------------------------------------------------------------------


def test_r9_conflict_wins_over_unresolved(world: World) -> None:
    """R9: any conflict reason makes conflict, whatever else is unknown."""
    world.site("bravo", "p", *offset(LON0, LAT0, 100.0, 0.0))
    world.request("alpha", LON0, LAT0, cid="c1", confirm=("charlie",))
    assert world.status("c1") == "conflict"
    assert world.codes("c1") == ["conflict", "awaiting_confirmation"]


def test_r10_revoked_stays_revoked_until_clear_again_and_versions_bump(world: World) -> None:
    """R10: clear -> revoked (clearance_revoked) -> revoked with other reasons (verdict_changed)
    -> clear (verdict_changed); each change bumps version by one."""
    world.request("alpha", LON0, LAT0, cid="c1", confirm=("charlie",))
    world.run(cmd.AnswerClearance("charlie", "c1", "absent"))
    assert (world.status("c1"), world.state.clearances["c1"].version) == ("clear", 2)
    e1 = world.site("bravo", "p", *offset(LON0, LAT0, 100.0, 0.0))
    assert types(e1) == ["presence_upserted", "clearance_revoked"]
    e2 = world.run(cmd.AnswerClearance("charlie", "c1", "checking"))
    assert types(e2) == ["clearance_answered", "verdict_changed"]
    assert (e2[1]["status"], e2[1]["basis"]) == ("revoked", "conflict")
    world.run(cmd.RemovePresence("bravo", "p"))
    assert (world.status("c1"), world.state.clearances["c1"].basis) == ("revoked", "unresolved")
    e4 = world.run(cmd.AnswerClearance("charlie", "c1", "absent"))
    assert e4[1]["status"] == "clear"
    assert world.state.clearances["c1"].version == 6


def test_r11_no_event_without_a_real_change(world: World) -> None:
    """R11: a presence far away, or a second presence in a clearance already in conflict for the
    same presence set, changes nothing: no verdict event."""
    world.request("alpha", LON0, LAT0, cid="c1")
    assert types(world.site("bravo", "far", LON0 + 0.5, LAT0)) == ["presence_upserted"]
    world.site("bravo", "near", *offset(LON0, LAT0, 100.0, 0.0))
    v = world.state.clearances["c1"].version
    # moving the conflicting site a little keeps the same reasons: no new version
    assert types(world.site("bravo", "near", *offset(LON0, LAT0, 120.0, 0.0))) == [
        "presence_upserted"
    ]
    assert world.state.clearances["c1"].version == v


def test_r11_affected_clearances_come_from_the_index(world: World) -> None:
    """R11: every open clearance sits in the open-clearance index with its hazard as reach; a
    closed one leaves it."""
    world.request("alpha", LON0, LAT0, cid="c1")
    world.request("alpha", LON0 + 2, LAT0, cid="c2")
    idx = world.state.open_clearances
    assert set(idx.query(world.state.clearances["c1"].area, 0.0)) == {"c1"}
    world.run(cmd.CloseClearance("alpha", "c1"))
    assert "c1" not in idx
    assert world.status("c1") == "closed"


def test_r11_clearances_of_later_windows_are_known_until_their_window_starts(
    world: World,
) -> None:
    """R11: a unit's move is checked against every open clearance whose window has not started
    (its grown disc may reach far by then); the service forgets them as their windows start, a
    closed one at once."""
    world.request("alpha", LON0, LAT0, cid="later", start=600)
    world.request("alpha", LON0 + 1, LAT0, cid="latest", start=1200)
    world.request("alpha", LON0 + 2, LAT0, cid="closed", start=900)
    world.run(cmd.CloseClearance("alpha", "closed"))
    assert world.state.future_clearances.keys() == {"later", "latest"}
    world.now += timedelta(seconds=900)
    world.request("alpha", LON0 + 3, LAT0, cid="now")
    assert world.state.future_clearances.keys() == {"latest"}
    world.now += timedelta(seconds=600)
    world.request("alpha", LON0 + 4, LAT0, cid="after")
    assert world.state.future_clearances == {}
    assert world.state.future_starts == []


def test_verdict_function_agrees_with_stored_verdict(world: World) -> None:
    world.site("bravo", "p", *offset(LON0, LAT0, 100.0, 0.0))
    world.request("alpha", LON0, LAT0, cid="c1")
    v = verdict(world.state, "c1", world.now)
    assert v.status == "conflict"
    assert v.reasons == world.state.clearances["c1"].reasons
    with pytest.raises(NotFound, match="clearance nope"):
        verdict(world.state, "nope", world.now)


# -- R13 acknowledgements --------------------------------------------------------------------------


def test_r13_unacknowledged_revocation_is_resent_and_reported(world: World) -> None:
    """R13: a revocation not acknowledged within 10 s is sent again (attempt 2) with an
    alert_unacknowledged to the requester; acknowledging that version stops it."""
    world.request("alpha", LON0, LAT0, cid="c1")
    world.site("bravo", "p", *offset(LON0, LAT0, 100.0, 0.0))
    deadline = next_deadline(world.state)
    assert deadline == world.now + timedelta(seconds=ACK_TIMEOUT_S)
    assert world.advance(9.0) == []
    events = world.advance(1.0)
    assert types(events) == ["clearance_revoked", "alert_unacknowledged"]
    assert events[0]["attempt"] == 2
    assert events[0]["version"] == world.state.clearances["c1"].version
    world.run(cmd.AckClearance("alpha", "c1", world.state.clearances["c1"].version))
    assert next_deadline(world.state) is None
    assert world.advance(60.0) == []


def test_r13_unacknowledged_check_fire_escalates_to_the_alerting_party(world: World) -> None:
    """R13: a check_fire not acknowledged in 10 s is re-sent and the alerting party told."""
    world.request("alpha", LON0, LAT0, cid="c1")
    raised = world.run(
        cmd.RaiseAlert("bravo", "troops_in_contact", parse_location(point(LON0, LAT0)), 500)
    )[0]
    world.run(cmd.AckClearance("alpha", "c1", world.state.clearances["c1"].version))
    world.run(cmd.MarkDelivered("alpha", raised["id"], "c1"))
    events = world.advance(ACK_TIMEOUT_S)
    assert types(events) == ["check_fire", "alert_unacknowledged"]
    assert events[0]["attempt"] == 2
    assert events[1]["party"] == "bravo"
    assert events[1]["delivered"] is True
    world.run(cmd.AckAlert("alpha", raised["id"]))
    assert world.advance(30.0) == []
    a = world.state.alerts[raised["id"]].notified[("alpha", "c1")]
    assert a.acknowledged_at is not None
    assert a.delivered_at is not None
    with pytest.raises(NotFound, match="alert"):
        decide(world.state, cmd.AckAlert("charlie", raised["id"]), world.now)


# -- R15 rejections change nothing -----------------------------------------------------------------


def _rejects(world: World, command: cmd.Command, exc: type[Exception], match: str) -> None:
    before = fingerprint(world.state)
    with pytest.raises(exc, match=match):
        decide(world.state, command, world.now)
    assert fingerprint(world.state) == before


def test_r15_rejected_commands_raise_precisely_and_change_nothing(world: World) -> None:
    """R15: each rejection names the field or the reason, and the state is untouched."""
    now = world.now
    world.request("alpha", LON0, LAT0, cid="c1", confirm=("bravo",))
    world.site("bravo", "hidden", LON0 + 0.01, LAT0)
    area = Disc(LON0, LAT0, 100.0)
    bad_window = cmd.RequestClearance(
        "alpha", None, area, point(LON0, LAT0), 100, None, 10, now, now - timedelta(1), "", ()
    )
    _rejects(world, bad_window, InvalidInput, "window.end")
    unknown = cmd.RequestClearance(
        "alpha", None, area, point(LON0, LAT0), 100, None, 10, now, now + timedelta(1), "", ("zz",)
    )
    _rejects(world, unknown, InvalidInput, "confirm.0: unknown party zz")
    dup = cmd.RequestClearance(
        "alpha", "c1", area, point(LON0, LAT0), 100, None, 10, now, now + timedelta(1), "", ()
    )
    _rejects(world, dup, Conflict, "clearance c1 already exists")
    # removing another party's hidden presence reads exactly like removing a missing one
    with pytest.raises(NotFound) as hidden:
        decide(world.state, cmd.RemovePresence("alpha", "hidden"), now)
    with pytest.raises(NotFound) as missing:
        decide(world.state, cmd.RemovePresence("alpha", "hidden2"), now)
    assert str(hidden.value).replace("hidden", "X") == str(missing.value).replace("hidden2", "X")
    _rejects(world, cmd.AnswerClearance("charlie", "c1", "absent"), NotFound, "clearance c1")
    _rejects(world, cmd.AnswerClearance("alpha", "c1", "absent"), Forbidden, "asked")
    _rejects(world, cmd.AckClearance("alpha", "c1", 99), InvalidInput, "version")
    _rejects(world, cmd.RegisterParty("alpha", "x", "X"), Forbidden, "administrator")
    _rejects(world, cmd.RegisterParty("admin", "alpha", "A"), Conflict, "already exists")
    future = cmd.PositionUpdate("hidden", parse_location(point(LON0, LAT0)), 1.0, now)
    _rejects(world, cmd.UpdatePositions("bravo", (future,)), InvalidInput, "updates.0.id")
    world.unit("bravo", "u", LON0, LAT0)
    late = cmd.PositionUpdate("u", parse_location(point(LON0, LAT0)), 1.0, now + timedelta(1))
    _rejects(world, cmd.UpdatePositions("bravo", (late,)), InvalidInput, "updates.0.time")
    world.run(cmd.CloseClearance("alpha", "c1"))
    _rejects(world, cmd.CloseClearance("alpha", "c1"), Conflict, "already closed")
    _rejects(world, cmd.AnswerClearance("bravo", "c1", "absent"), Conflict, "closed")


def test_r15_replay_and_snapshot_rebuild_an_equal_state(world: World) -> None:
    """R15: replaying the logged (JCS) events, or loading a snapshot, gives an equal state."""
    world.party("delta", aor=rect(LON0 - 0.2, LAT0 - 0.2, LON0 + 0.2, LAT0 + 0.2))
    world.site("bravo", "p", *offset(LON0, LAT0, 900.0, 0.0), disclosure=Disclosure("coarse", {}))
    world.unit("charlie", "u", *offset(LON0, LAT0, 3000.0, 0.0))
    area, area_json = rect(71, 35, 71.001, 35.001)  # integers in its GeoJSON, as a client sent it
    site = presence_cmd("bravo", "a", 71.0, 35.0)
    world.run(replace(site, position=None, area=area, area_json=area_json))
    world.request("alpha", 71.0, 35.0, cid="c2")  # conflicts with the area
    world.request("alpha", LON0, LAT0, cid="c1", confirm=("bravo",))
    world.run(cmd.AnswerClearance("bravo", "c1", "absent"))
    world.run(cmd.RaiseAlert("charlie", "under_fire", parse_location(point(LON0, LAT0)), 800))
    world.advance(12.0)
    world.move("charlie", "u", *offset(LON0, LAT0, 2500.0, 10.0))
    world.advance(400.0)
    live = fingerprint(world.state)
    assert fingerprint(world.replayed()) == live
    # and the reasons applied as decided are those read back, number types included
    assert [r.code for r in world.state.clearances["c2"].reasons] == ["conflict"]
    assert reasons_text(world.replayed()) == reasons_text(world.state)
    restored = from_snapshot(to_snapshot(world.state))
    assert fingerprint(restored) == live
    # and the restored state goes on deciding the same way
    later = world.now + timedelta(seconds=30)
    assert tick(restored, later) == tick(world.state, later)
