"""A writer that canonicalises an event once commits to exactly what `commitment` commits to."""

import hashlib

import pytest
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


def test_short_salt_refused() -> None:
    with pytest.raises(InvalidInput, match="at least 16 bytes"):
        commitment_of_canonical(b"short", b"{}")
