"""A reason read back from its JSON (as a replay does) equals the reason it was written from, with
every number of its geometry a float, whatever the geometry (R15: replay rebuilds the state); an
event's ReasonList is committed to as RFC 8785 writes its JSON."""

from __future__ import annotations

from typing import Any

import rfc8785
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from accord.core.model import PointGeometry, Reason, ReasonList, reasons_of
from accord.ledger.commitment import canonical_json

numbers = st.integers(-180, 180) | st.floats(-180.0, 180.0, allow_nan=False)
json_values = st.recursive(
    st.none() | st.booleans() | numbers | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=8,
)
geometries = (
    st.fixed_dictionaries({"type": st.just("Point"), "coordinates": st.lists(numbers, max_size=3)})
    | st.fixed_dictionaries({"type": st.just("Point"), "coordinates": json_values})
    | st.dictionaries(st.sampled_from(["type", "coordinates", "bbox"]), json_values)
)


def as_floats(obj: Any) -> Any:
    """The oracle: numbers (not booleans) as floats, containers copied."""
    if isinstance(obj, dict):
        return {k: as_floats(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [as_floats(v) for v in obj]
    if isinstance(obj, int | float) and not isinstance(obj, bool):
        return float(obj)
    return obj


@settings(suppress_health_check=[HealthCheck.too_slow])  # recursive JSON is slow to draw
@given(geometries)
def test_r15_a_reason_read_back_has_its_geometry_with_float_numbers(geometry: Any) -> None:
    r = Reason.from_json({"code": "conflict", "party": "p", "presence": "x", "geometry": geometry})
    assert r.geometry == as_floats(geometry)
    assert all(
        type(a) is type(b)
        for a, b in zip(_leaves(r.to_json()["geometry"]), _leaves(as_floats(geometry)), strict=True)
    )
    assert Reason.from_json(r.to_json()) == r


def _leaves(obj: Any) -> list[Any]:
    if isinstance(obj, dict):
        return [x for k in sorted(obj) for x in _leaves(obj[k])]
    if isinstance(obj, list):
        return [x for v in obj for x in _leaves(v)]
    return [obj]


# numbers a reason may hold, the awkward ones included: integral, -0.0, exponents both ways
reason_numbers = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(
    [0.0, -0.0, 100.0, 1e-7, 1e-4, 123.4, 1e16, 1e21, -180.0, 2.0**53, 2.0**54]
)
reasons = st.builds(
    Reason,
    code=st.sampled_from(["conflict", "stale_track", "checking"]),
    party=st.none() | st.just("p"),
    presence=st.none() | st.text(max_size=3),
    distance_m=st.none() | reason_numbers,
    geometry=st.none()
    | st.builds(PointGeometry, reason_numbers, reason_numbers)
    | st.fixed_dictionaries({"type": st.just("Polygon"), "coordinates": st.lists(numbers)}),
    layers=st.lists(st.text(max_size=2), max_size=2).map(tuple),
)


@given(st.lists(reasons, max_size=4))
@example(
    [
        Reason(
            "conflict", party="p", presence="x", distance_m=1e-6, geometry=PointGeometry(71.0, -0.0)
        )
    ]
)  # JCS: 0.000001, 0
@example(
    [
        Reason(
            "conflict", party="p", presence="x", distance_m=12.5, geometry=PointGeometry(1e16, 1e-7)
        )
    ]
)
@example(
    [
        Reason(
            "stale_track",
            party="p",
            presence="x",
            distance_m=2.0**53,
            geometry={"type": "Polygon", "coordinates": []},
        )
    ]
)
def test_r15_a_reason_list_is_committed_to_as_rfc8785_writes_its_json(rs: list[Reason]) -> None:
    listed = ReasonList(tuple(rs))
    event = {"type": "verdict_changed", "radius_m": 200.0, "reasons": listed}
    assert canonical_json(event) == rfc8785.dumps({**event, "reasons": [r.to_json() for r in rs]})
    assert reasons_of(listed) is listed.reasons
    assert reasons_of(list(listed)) == tuple(rs)  # read back from its JSON: the same reasons
