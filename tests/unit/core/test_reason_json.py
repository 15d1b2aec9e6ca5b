"""A reason read back from its JSON (as a replay does) equals the reason it was written from, with
every number of its geometry a float, whatever the geometry (R15: replay rebuilds the state)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.core.model import Reason

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
