"""Strict JSON: the parser of every request body (:func:`strict_loads`).

It refuses what Python's decoder lets through: NaN and Infinity, duplicate keys (the last would
silently win), and nesting deeper than :data:`MAX_DEPTH`. The module is compiled
(:mod:`accord.compiled`): the decoder calls the duplicate-key hook once per object, and the depth
walk visits every container, so a bulk positions body of 500 updates is read in 2.4 ms rather
than 3.2 ms (docs/PERF-http.md).
"""

from __future__ import annotations

import json
from typing import Any, Final

__all__ = ["MAX_DEPTH", "strict_loads"]

MAX_DEPTH: Final = 32
"""The deepest nesting of containers a body may have (``[]`` is depth 1)."""


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key!r}")
            seen.add(key)
    return out


def _too_deep(value: Any, depth: int = 1) -> bool:
    """Whether ``value``, a dict or a list, nests containers deeper than MAX_DEPTH (``[]`` is
    depth 1)."""
    if depth > MAX_DEPTH:
        return True
    for v in value.values() if type(value) is dict else value:
        t = type(v)
        if (t is dict or t is list) and _too_deep(v, depth + 1):
            return True
    return False


# what json.loads(text, parse_constant=..., object_pairs_hook=...) builds on every call
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, object_pairs_hook=_no_duplicates)


def strict_loads(body: bytes) -> Any:
    """Parse JSON refusing NaN/Infinity, duplicate keys and nesting deeper than MAX_DEPTH.

    Raises ``json.JSONDecodeError`` (which FastAPI turns into a validation problem) on any fault.
    The depth is checked on the parsed value; nesting too deep for the parser itself (it stops
    at the interpreter's recursion limit, far above MAX_DEPTH) is refused alike.
    """
    text = body.decode("utf-8", errors="strict") if body else ""
    deep = f"nested deeper than {MAX_DEPTH} levels"
    try:
        value = _DECODER.decode(text)
    except RecursionError as exc:
        raise json.JSONDecodeError(deep, text, 0) from exc
    except ValueError as exc:
        if isinstance(exc, json.JSONDecodeError):
            raise
        raise json.JSONDecodeError(str(exc), text, 0) from exc
    if (type(value) is dict or type(value) is list) and _too_deep(value):
        raise json.JSONDecodeError(deep, text, 0)
    return value
