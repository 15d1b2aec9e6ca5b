"""The verdict rounds the distance of every presence in conflict by its own, faster means: it must
be what ``round(x, 1)`` gives (R1, R9)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
