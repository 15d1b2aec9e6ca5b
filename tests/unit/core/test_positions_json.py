"""A positions_updated event is committed to as RFC 8785 writes its JSON, although canonical JSON
takes its items plain from the event's own shape (core.decide.PositionItems), not from the
general walk; and replaying the logged JSON rebuilds the live units (R15), the awkward numbers
included: integral floats, -0.0, exponents, every form of location."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import example, given, settings
from hypothesis import strategies as st

from accord.core import commands as cmd
from accord.core.decide import PositionItems, decide
from accord.geo.location import parse_location
from accord.ledger.commitment import PlainList, canonical_json

from .conftest import LAT0, LON0, World

# degrees a GeoJSON point may carry (integral ones as ints or floats, signed zeros, numbers JCS
# writes with an exponent) and uncertainties (the same awkwardness in metres)
lons = st.sampled_from([LON0, 71, 71.0, -0.0, 0.0, 1e-5, -1e-7, 0.0001, 179.99999999]) | st.floats(
    -180.0, 180.0
)
lats = st.sampled_from([LAT0, 35, 35.0, -0.0, 1e-6, -89.5]) | st.floats(-90.0, 90.0)
uncs = st.sampled_from([0, 0.0, 20, 20.0, 1e-7, 12.5, 1e16, 2.0**53, 2.0**54]) | st.floats(0.0, 1e6)
OTHER_FORMS = [
    {"mgrs": "42SXD 12345 67890"},
    {
        "text": "34.9183 71.0917",
        "crs": "EPSG:4230",
        "allow_ballpark": True,
    },  # ballpark, no accuracy
    {"text": "51.5 -0.1", "crs": "EPSG:4277"},  # OSGB36: a shift with a stated accuracy
    {"x": 508432.1, "y": 3864421.7, "crs": "EPSG:32642"},
    {"x": 508432, "y": 3864421, "crs": "EPSG:32642"},
]
locations = st.builds(lambda x, y: {"type": "Point", "coordinates": [x, y]}, lons, lats) | (
    st.sampled_from(OTHER_FORMS)
)


def _record(state: Any, uid: str) -> bytes:
    """The unit's position, as the state's fingerprint compares it (JCS: ``71`` is ``71.0``)."""
    p = state.presences[f"alpha:{uid}"]
    fields = (p.lon, p.lat, p.uncertainty_m, p.added_m, p.fix, p.input, p.transformation)
    return rfc8785.dumps([*fields, p.datum_warning])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), locations, uncs), min_size=1, max_size=6))
@example([(0, {"type": "Point", "coordinates": [71, -0.0]}, 20)])
@example([(0, {"type": "Point", "coordinates": [1e-5, 35.0]}, 0.0)])
@example([(1, OTHER_FORMS[1], 1e16)])
@example([(0, {"type": "Point", "coordinates": [1.5, 34.9]}, 2.0**53)])  # integral, not an int
def test_r15_a_positions_event_is_committed_to_as_rfc8785_writes_it_and_replays_alike(
    moves: list[tuple[int, dict[str, Any], float]],
) -> None:
    w = World()
    w.party("alpha")
    for k in range(3):
        w.unit("alpha", f"u{k}", LON0, LAT0, 20.0, 5.0)
    w.advance(10.0)
    ups = tuple(
        cmd.PositionUpdate(f"u{k}", parse_location(loc), unc, w.now) for k, loc, unc in moves
    )
    events = decide(w.state, cmd.UpdatePositions("alpha", ups), w.now)
    event = events[0]
    assert event["type"] == "positions_updated"
    assert canonical_json(event) == rfc8785.dumps(event)
    w.apply(events)
    replayed = w.replayed()
    for k in range(3):
        assert _record(w.state, f"u{k}") == _record(replayed, f"u{k}")


def test_a_positions_event_is_made_plain_by_its_shape_unless_a_number_needs_the_walk() -> None:
    # the common case is made plain by the items' shape; a number JCS writes with an exponent
    # sends it to the general walk, which refuses it (canonical JSON then asks rfc8785)
    w = World()
    w.party("alpha")
    w.unit("alpha", "u", LON0, LAT0, 20.0, 5.0)
    w.advance(10.0)

    def updates(lon: float) -> Any:
        loc = parse_location({"type": "Point", "coordinates": [lon, 35.0]})
        command = cmd.UpdatePositions("alpha", (cmd.PositionUpdate("u", loc, 20.0, w.now),))
        return decide(w.state, command, w.now)[0]["updates"]

    common = updates(71.25)
    assert type(common) is PositionItems
    assert common[0][1:5] == [71.25, 35.0, 20.0, 0.0]  # the state's values, as they were
    plain = common.plain_items()
    assert plain[0][1:5] == [71.25, 35, 20, 0]
    assert [type(v) for v in plain[0][1:5]] == [float, int, int, int]  # as JCS writes them
    assert plain[0][6] == {"type": "Point", "coordinates": [71.25, 35]}
    with pytest.raises(ValueError):
        updates(1e-5).plain_items()
    # a point of fractional degrees takes the shape's way; it gives what the walk gives
    loc = parse_location({"type": "Point", "coordinates": [71.25, 35.125]})
    command = cmd.UpdatePositions("alpha", (cmd.PositionUpdate("u", loc, 20.0, w.now),))
    fractional = decide(w.state, command, w.now)[0]["updates"]
    assert fractional.plain_items() == PlainList(fractional).plain_items()
    assert [type(v) for v in fractional.plain_items()[0][1:5]] == [float, float, int, int]
