"""R15: a snapshot is a cache of the log. Loading one gives the state it was taken of (the same
facts, field by field and type by type, and the same derived structures as a replay); a snapshot
of another format, or a damaged one, is refused with a clear error.
"""

from __future__ import annotations

import json
import struct
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.core import commands as cmd
from accord.core.decide import decide, evolve
from accord.core.model import Disclosure
from accord.core.state import (
    SNAPSHOT_FORMAT,
    State,
    fingerprint,
    from_snapshot,
    presence_key,
    to_snapshot,
)
from accord.errors import InvalidInput
from accord.geo.location import parse_location

from .conftest import LAT0, LON0, World, derived, offset, rect

PARTIES = ("alpha", "bravo")

# Locations in every form, among them GeoJSON Points that are not the presence's own lon/lat
# (integers, an altitude, the keys in the other order): they must come back exactly as sent.
locations = st.one_of(
    st.builds(
        lambda e, n: {"type": "Point", "coordinates": list(offset(LON0, LAT0, e, n))},
        st.floats(-5000, 5000),
        st.floats(-5000, 5000),
    ),
    st.sampled_from(
        [
            {"type": "Point", "coordinates": [71, 35]},
            {"type": "Point", "coordinates": [71.0, 34.9, 120.0]},
            {"coordinates": [71.01, 34.91], "type": "Point"},
            {"type": "Point", "coordinates": [-0.0, 0.0]},
            {"x": 508432.1, "y": 3864421.7, "crs": "EPSG:32642"},
            {"mgrs": "42SXD 12345 67890"},
            {"text": "34.9 71.0", "crs": "EPSG:4326"},
            {"text": "34.9N 71.0E", "crs": "EPSG:4240", "allow_ballpark": True},
        ]
    ),
)
disclosures = st.builds(
    Disclosure,
    st.sampled_from(["exact", "coarse", "conflict-only"]),
    st.dictionaries(st.sampled_from(PARTIES), st.sampled_from(["exact", "coarse"]), max_size=2),
)
upserts = st.tuples(
    st.just("upsert"),
    st.sampled_from(PARTIES),
    st.integers(0, 5),
    st.sampled_from(["site", "unit"]),
    st.one_of(locations, st.just(None)),  # None: an area
    st.sampled_from([0.0, 5.0, 50.0, 12.345]),
    st.sampled_from([None, 0.0, 3.5, 30.0]),
    disclosures,
    st.text(max_size=8),
    st.booleans(),  # a validity window
)
ops = st.one_of(
    upserts,
    st.tuples(st.just("remove"), st.sampled_from(PARTIES), st.integers(0, 5)),
    st.tuples(st.just("move"), st.sampled_from(PARTIES), st.integers(0, 5), locations),
    st.tuples(st.just("wait"), st.floats(1.0, 900.0)),
    # a clearance over the presences: its reasons (points, areas, an asked party) go in the
    # snapshot's reason columns or, for the others, as JSON
    st.tuples(
        st.just("request"),
        st.sampled_from(PARTIES),
        st.floats(-3000, 3000),
        st.sampled_from([0.0, 2000.0, 6000.0]),
        st.booleans(),
    ),
)


def _upsert(w: World, op: tuple[Any, ...]) -> None:
    _, owner, n, kind, loc, unc, speed, disclosure, label, window = op
    area = None if loc is not None else rect(LON0, LAT0, LON0 + 0.01 * (n + 1), LAT0 + 0.01)
    w.run(
        cmd.UpsertPresence(
            party=owner,
            id=f"p{n}",
            kind=kind,
            label=label,
            position=None if loc is None else parse_location(loc),
            uncertainty_m=unc,
            area=None if area is None else area[0],
            area_json=None if area is None else area[1],
            valid_from=w.now - timedelta(hours=1) if window else None,
            valid_until=w.now + timedelta(hours=1) if window else None,
            max_speed_mps=speed if kind == "unit" else None,
            disclosure=disclosure,
        )
    )


def _run(w: World, op: tuple[Any, ...]) -> None:
    if op[0] == "upsert":
        _upsert(w, op)
        return
    if op[0] == "wait":
        w.advance(op[1])
        return
    if op[0] == "request":
        _, requester, east, hazard, ask = op
        lon, lat = offset(LON0, LAT0, east, 0.0)
        other = next(p for p in PARTIES if p != requester)
        w.request(requester, lon, lat, 200.0, hazard, confirm=(other,) if ask else ())
        return
    p = w.state.presences.get(presence_key(op[1], f"p{op[2]}"))
    if p is None:
        return
    if op[0] == "remove":
        w.run(cmd.RemovePresence(op[1], f"p{op[2]}"))
    elif p.kind == "unit" and p.area is None:
        upd = cmd.PositionUpdate(f"p{op[2]}", parse_location(op[3]), 7.0, w.now)
        w.run(cmd.UpdatePositions(op[1], (upd,)))


def _exact(state: State) -> list[str]:
    """Every presence and clearance field by field, with the JSON types (71 and 71.0 differ
    here)."""
    return [json.dumps(state.presences[k].to_json()) for k in sorted(state.presences)] + [
        json.dumps(state.clearances[k].to_json()) for k in sorted(state.clearances)
    ]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ops, min_size=1, max_size=25))
def test_r15_a_snapshot_gives_back_the_state_field_by_field(program: list[tuple[Any, ...]]) -> None:
    w = World()
    for pid in PARTIES:
        w.party(pid)
    for op in program:
        _run(w, op)
    restored = w.restored()
    assert fingerprint(restored) == fingerprint(w.state)
    assert _exact(restored) == _exact(w.state)
    assert [restored.presences[k].input for k in sorted(restored.presences)] == [
        w.state.presences[k].input for k in sorted(w.state.presences)
    ]
    assert derived(restored) == derived(w.replayed())
    # a snapshot of the restored state is the same snapshot
    assert to_snapshot(restored) == to_snapshot(w.state)


def test_r15_a_presence_applied_without_a_log_index_survives_a_snapshot(world: World) -> None:
    events = decide(
        world.state, cmd.UpsertPresence("alpha", "x", "site", "", parse_location(
            {"type": "Point", "coordinates": [LON0, LAT0]}), 5.0, None, None, None, None, None,
            Disclosure()), world.now)  # fmt: skip
    for e in events:
        evolve(world.state, e)
    assert world.state.presences["alpha:x"].log_index is None
    restored = world.restored()
    assert restored.presences["alpha:x"].log_index is None
    assert fingerprint(restored) == fingerprint(world.state)


def test_r15_snapshots_of_another_format_are_refused(world: World) -> None:
    world.site("alpha", "s", LON0, LAT0)
    with pytest.raises(InvalidInput, match=r"snapshot format 1 \(JSON\) is no longer read"):
        from_snapshot(b'{"format":1,"parties":[],"presences":[]}')
    with pytest.raises(InvalidInput, match="snapshot: not an Accord snapshot"):
        from_snapshot(b"PK\x03\x04 a zip file")
    good = to_snapshot(world.state)
    magic = good[:16]
    later = magic + struct.pack(">I", SNAPSHOT_FORMAT + 1) + good[20:]
    with pytest.raises(InvalidInput, match=f"unsupported snapshot format {SNAPSHOT_FORMAT + 1}"):
        from_snapshot(later)


def test_r15_damaged_snapshots_are_refused(world: World) -> None:
    for i in range(30):
        world.site("alpha", f"s{i}", *offset(LON0, LAT0, 100.0 * i, 0.0))
    world.unit("bravo", "u", LON0, LAT0)
    good = to_snapshot(world.state)
    assert fingerprint(from_snapshot(good)) == fingerprint(world.state)
    # cut anywhere: refused (never a smaller state)
    for cut in [*range(0, 40), *range(40, len(good), max(1, len(good) // 97))]:
        with pytest.raises(InvalidInput, match="snapshot: "):
            from_snapshot(good[:cut])
    with pytest.raises(InvalidInput, match="damaged snapshot: its length"):
        from_snapshot(good + b"\x00")
    header_len = struct.unpack(">Q", good[20:28])[0]
    header = json.loads(good[28 : 28 + header_len])
    for broken in (
        {**header, "presences": {**header["presences"], "id": header["presences"]["id"][:-1]}},
        {**header, "facts": {k: v for k, v in header["facts"].items() if k != "parties"}},
        {
            **header,
            "presences": {
                **header["presences"],
                "id": [header["presences"]["id"][0]] * len(header["presences"]["id"]),
            },
        },
    ):
        text = json.dumps(broken).encode()
        data = good[:20] + struct.pack(">Q", len(text)) + text + good[28 + header_len :]
        with pytest.raises(InvalidInput, match="damaged snapshot"):
            from_snapshot(data)
