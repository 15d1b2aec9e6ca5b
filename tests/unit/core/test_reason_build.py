"""The verdict builds a reason for every presence in conflict by its own, faster means: the reason
and its rounded distance must be those the plain constructors give (R1, R9)."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.core.model import PointGeometry, Reason, presence_reason
from accord.core.verdict import _tenths

# distances of the verdict's range, and decimals of a tenth and a half (where rounding turns)
metres = st.floats(0.0, 2e8) | st.integers(0, 10**9).map(lambda n: n / 20.0)


@settings(max_examples=2000, deadline=None)
@given(x=metres, steps=st.integers(-3, 3))
def test_tenths_is_round_to_one_decimal(x: float, steps: int) -> None:
    for _ in range(abs(steps)):
        x = math.nextafter(x, math.inf if steps > 0 else 0.0)
    assert repr(_tenths(x)) == repr(round(x, 1))


@pytest.mark.parametrize(
    "x", [0.0, -0.0, 0.05, 0.45, 2.25, 1e8 - 0.05, 5e8, 1e9, 1e300, math.inf, math.nan]
)
def test_tenths_at_halves_and_out_of_range(x: float) -> None:
    assert repr(_tenths(x)) == repr(round(x, 1))


names = st.text(max_size=4)


@settings(max_examples=300, deadline=None)
@given(
    code=st.sampled_from(["conflict", "stale_track"]),
    party=names,
    presence=names,
    d=st.floats(0.0, 1e7),
    lon=st.floats(-180.0, 180.0),
    lat=st.floats(-90.0, 90.0),
)
def test_presence_reason_is_the_reason(
    code: str, party: str, presence: str, d: float, lon: float, lat: float
) -> None:
    g = PointGeometry(lon, lat)
    fast = presence_reason(code, party, presence, d, g)
    plain = Reason(code, party, presence, d, g)
    assert type(fast) is Reason
    assert fast == plain
    for r in (fast, plain):  # a geometry is a mapping: neither reason has a hash
        with pytest.raises(TypeError, match="unhashable"):
            hash(r)
    assert repr(fast) == repr(plain)
    assert fast.to_json() == plain.to_json()
    assert Reason.from_json(fast.to_json()) == plain
    assert dataclasses.astuple(fast) == dataclasses.astuple(plain)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.code = "other"  # type: ignore[misc]
