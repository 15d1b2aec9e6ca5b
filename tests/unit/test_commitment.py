"""A writer that canonicalises an event once commits to exactly what `commitment` commits to."""

import hashlib
import math

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.errors import InvalidInput
from accord.ledger import canonical_json, commitment, commitment_of_canonical

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(), JSON, max_size=6), st.binary(min_size=16, max_size=32))
def test_same_commitment(event: dict[str, object], salt: bytes) -> None:
    body = canonical_json(event)
    assert commitment_of_canonical(salt, body) == commitment(salt, event)
    assert commitment(salt, event) == hashlib.sha256(salt + body).digest()


# every kind of JSON value, with the numbers and strings where JCS and Python's JSON writers
# differ: integral and tiny floats, -0.0, integers near 2**53, non-ASCII and astral keys, lone
# surrogates, and what JSON cannot carry (NaN, infinities)
NUMBER = (
    st.floats(allow_nan=False, allow_infinity=False)
    | st.floats(min_value=-1e-3, max_value=1e-3)
    | st.integers(-(2**53) - 3, 2**53 + 3).map(float)
    | st.integers(-(2**53) - 3, 2**53 + 3)
    | st.sampled_from([0.0, -0.0, 100.0, 1e-7, 1e21, 1e16, 5e-324, 0.1 + 0.2, 2.0**53])
    | st.sampled_from([math.nan, math.inf, -math.inf])
    | st.sampled_from([1e-4, math.nextafter(1e-4, 0), -1e-4, math.nextafter(-1e-4, 0)])
)
TEXT = st.text() | st.text(st.characters(codec="utf-8")) | st.sampled_from(["\ud800", "é", "😀"])
ANY_JSON = st.recursive(
    st.none() | st.booleans() | NUMBER | TEXT,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(TEXT, inner, max_size=4)
    ),
    max_leaves=16,
)


@settings(max_examples=2000, deadline=None)
@given(ANY_JSON)
def test_canonical_json_is_rfc8785(value: object) -> None:
    """The standard-library fast path writes exactly what rfc8785 writes, or the same refusal."""
    try:
        expected = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, UnicodeError):  # rfc8785 cannot sort a lone surrogate
        with pytest.raises(InvalidInput, match="RFC 8785"):
            canonical_json(value)
        return
    assert canonical_json(value) == expected


def test_short_salt_refused() -> None:
    with pytest.raises(InvalidInput, match="at least 16 bytes"):
        commitment_of_canonical(b"short", b"{}")
