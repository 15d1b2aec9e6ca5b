"""The API's strict JSON reader: what Python's json lets through and the contract refuses."""

import json

import pytest

from accord.api.strict_json import MAX_DEPTH, strict_loads


def nested(depth: int, open_: bytes = b"[", close: bytes = b"]") -> bytes:
    return open_ * depth + close * depth


def test_nesting_up_to_the_limit_is_read() -> None:
    assert strict_loads(nested(MAX_DEPTH)) == json.loads(nested(MAX_DEPTH))
    assert strict_loads(b'{"a":' * MAX_DEPTH + b"1" + b"}" * MAX_DEPTH)


@pytest.mark.parametrize(
    "body",
    [
        nested(MAX_DEPTH + 1),
        b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1),
        b'[{"a":' + nested(MAX_DEPTH) + b"}]",
        nested(200_000),  # deeper than the parser itself goes
    ],
    ids=["lists", "objects", "mixed", "very deep"],
)
def test_deeper_nesting_is_refused(body: bytes) -> None:
    with pytest.raises(json.JSONDecodeError, match=f"nested deeper than {MAX_DEPTH} levels"):
        strict_loads(body)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"a": 1, "b": 2, "a": 3}', "duplicate key 'a'"),
        (b'[{"x": {"y": 1, "y": 1}}]', "duplicate key 'y'"),
        (b"[NaN]", "NaN is not a number"),
        (b'{"v": -Infinity}', "-Infinity is not a number"),
        (b"[1,", "Expecting value"),
    ],
)
def test_what_json_allows_but_the_contract_refuses(body: bytes, message: str) -> None:
    with pytest.raises(json.JSONDecodeError, match=message):
        strict_loads(body)


def test_plain_values_are_read() -> None:
    assert strict_loads(b'[{"id": "u1", "a": [1, 2.5, "x", null, true]}]') == [
        {"id": "u1", "a": [1, 2.5, "x", None, True]}
    ]
