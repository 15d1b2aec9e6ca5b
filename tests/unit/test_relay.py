"""accord.api.relay: requests handed over in frames on a real Unix socket and a real event loop,
answered whole, in any order, to the caller that asked; a broken connection fails the calls
waiting on it, and nothing malformed is answered."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.responses import Response
from tests.support.loop import in_a_loop

from accord.api.front import _read_clearance
from accord.api.problems import parse_body
from accord.api.relay import (
    MAX_FRAME,
    RelayClient,
    Relayed,
    RelayError,
    Reply,
    relay_answer,
    serve_relay,
)
from accord.api.schemas import CLEARANCE, CLEARANCE_COMMAND, clearance_from_frame


def listening(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.listen()
    return sock


def echo(request: Relayed, reply: Reply) -> None:
    """Says what it was handed: the kind as the status's last digits, the rest in the body."""
    kind, authorization, content_type, id, body = request
    text = f"{kind}|{authorization}|{content_type}|{id}|".encode() + body
    headers = {"WWW-Authenticate": "Bearer"} if authorization is None else None
    reply(Response(text, status_code=200 + len(kind), media_type="text/x-echo", headers=headers))


def test_a_call_is_answered_with_everything_it_handed_over(tmp_path: Path) -> None:
    path = tmp_path / "relay.sock"

    async def main() -> None:
        server = await serve_relay(listening(path), echo)
        client = RelayClient(str(path))
        body = bytes(range(256)) * 1000  # binary, and longer than one read
        status, ctype, headers, got = await client.call(
            "clearance", "Bearer t", "application/json", "p-1", body
        )
        assert (status, ctype) == (209, b"text/x-echo")
        assert got == b"clearance|Bearer t|application/json|p-1|" + body
        assert headers == b""
        empty = await client.call("heartbeat", None, None, "", b"")
        assert empty[3] == b"heartbeat|None|None||"
        answer = relay_answer(empty)
        assert answer.status_code == 209 and answer.media_type == "text/x-echo"
        assert (b"www-authenticate", b"Bearer") in answer.raw_headers
        assert answer.body == empty[3]
        client.close()
        server.close()

    in_a_loop(main)


def test_concurrent_calls_answered_out_of_order_reach_their_callers(tmp_path: Path) -> None:
    path = tmp_path / "relay.sock"

    async def main() -> None:
        waiting: list[tuple[str, Reply]] = []

        def later(request: Relayed, reply: Reply) -> None:
            waiting.append((request.kind, reply))
            if len(waiting) == 50:  # all in: answered last to first, a loop step apart
                loop = asyncio.get_running_loop()
                for i, (kind, answer) in enumerate(reversed(waiting)):
                    loop.call_later(0.001 * i, answer, Response(kind.encode(), status_code=200))

        server = await serve_relay(listening(path), later)
        client = RelayClient(str(path))
        answers = await asyncio.gather(
            *(client.call(str(k), None, None, "", b"") for k in range(50))
        )
        assert [a[3] for a in answers] == [str(k).encode() for k in range(50)]
        client.close()
        server.close()

    in_a_loop(main)


@pytest.mark.parametrize(
    "frame",
    [
        struct.pack(">I", 3) + b"abc",  # too short for a call number and its fields
        struct.pack(">I", 8) + struct.pack(">II", 1, 99),  # a field longer than the frame
        struct.pack(">I", MAX_FRAME + 1),  # a length beyond any frame
        # a kind that is not UTF-8: the call number, then the five fields
        struct.pack(">II", 25, 1)
        + struct.pack(">I", 1)
        + b"\xff"
        + struct.pack(">IIII", 0, 0, 0, 0),
    ],
    ids=["short", "overrun", "huge", "not UTF-8"],
)
def test_a_malformed_frame_closes_its_connection_only(tmp_path: Path, frame: bytes) -> None:
    path = tmp_path / "relay.sock"

    async def main() -> None:
        handled: list[str] = []

        def handler(request: Relayed, reply: Reply) -> None:
            handled.append(request.kind)
            reply(Response(b"ok"))

        server = await serve_relay(listening(path), handler)
        good = RelayClient(str(path))
        assert (await good.call("before", None, None, "", b""))[3] == b"ok"
        reader, writer = await asyncio.open_unix_connection(str(path))
        writer.write(frame)
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), timeout=5) == b""  # closed, unanswered
        writer.close()
        assert (await good.call("after", None, None, "", b""))[3] == b"ok"
        assert handled == ["before", "after"]
        good.close()
        server.close()

    in_a_loop(main)


def test_a_lost_connection_fails_the_waiting_calls_and_the_next_call_reconnects(
    tmp_path: Path,
) -> None:
    path = tmp_path / "relay.sock"

    async def main() -> None:
        async def dies(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(1)  # a call came in: the core goes away before it answers
            writer.close()

        dying = await asyncio.start_unix_server(dies, sock=listening(path))
        client = RelayClient(str(path))
        with pytest.raises(RelayError, match="closed the relay connection"):
            await client.call("x", None, None, "", b"")
        dying.close()
        path.unlink()
        with pytest.raises(RelayError, match="cannot be reached"):
            await client.call("x", None, None, "", b"")
        server = await serve_relay(listening(path), echo)
        assert (await client.call("y", None, None, "", b""))[3] == b"y|None|None||"
        client.close()
        server.close()

    in_a_loop(main)


# -- a clearance request read by the front and handed over as its command -------------------------

_COORD = st.tuples(
    st.floats(-179.0, 179.0, allow_nan=False), st.floats(-79.0, 79.0, allow_nan=False)
)
_TIME = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
) | st.datetimes(
    min_value=datetime(2020, 1, 1),
    max_value=datetime(2040, 1, 1),
    timezones=st.builds(lambda m: timezone(timedelta(minutes=m)), st.integers(-720, 840)),
)


@st.composite
def clearance_bodies(draw: st.DrawFn) -> dict[str, Any]:
    lon, lat = draw(_COORD)
    kind = draw(st.sampled_from(["Point", "LineString", "Polygon"]))
    body: dict[str, Any] = {"hazard_m": draw(st.floats(0, 1_000_000) | st.integers(0, 5000))}
    if kind == "Point":
        body["area"] = {"type": "Point", "coordinates": [lon, lat]}
        if draw(st.booleans()):
            body["radius_m"] = draw(st.floats(0, 100_000) | st.integers(0, 5000))
    elif kind == "LineString":
        end = [lon + draw(st.floats(0.001, 0.5)), lat + draw(st.floats(0.001, 0.5))]
        body["area"] = {"type": "LineString", "coordinates": [[lon, lat], end]}
        body["width_m"] = draw(st.floats(1, 10_000))
    else:
        d = draw(st.floats(0.001, 0.5))
        ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
        body["area"] = {"type": "Polygon", "coordinates": [ring]}
    start = draw(_TIME)
    end = start + draw(st.timedeltas(timedelta(seconds=1), timedelta(days=30)))
    body["window"] = {"start": start.isoformat(), "end": end.isoformat()}
    if draw(st.booleans()):
        body["id"] = draw(st.from_regex(r"\A[a-z0-9][a-z0-9._-]{0,20}\Z"))
    if draw(st.booleans()):
        body["purpose"] = draw(st.text(max_size=50))
    body["confirm"] = draw(st.lists(st.from_regex(r"\A[a-z][a-z0-9]{0,8}\Z"), max_size=3))
    return body


@settings(max_examples=300, deadline=None)
@given(clearance_bodies())
def test_a_clearance_read_by_a_front_reaches_the_core_as_the_same_command(
    body: dict[str, Any],
) -> None:
    """What the core rebuilds from a front's frame is the command it would have read itself."""
    data = json.dumps(body).encode()
    kind, frame = _read_clearance(data, "application/json")
    assert kind == CLEARANCE_COMMAND
    own = parse_body(data, "application/json", CLEARANCE).command("p1")
    rebuilt = clearance_from_frame(frame, "p1")
    assert rebuilt == own
    assert rebuilt.window_start.timestamp() == own.window_start.timestamp()
    assert json.dumps(rebuilt.area_json) == json.dumps(own.area_json)  # ints stay ints


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b'{"area": {"type": "Point", "coordinates": [1, 2]}}', "no hazard or window"),
        (b"{not json", "malformed"),
        (
            b'{"area": {"type": "Point", "coordinates": [1, 2], "n": 1180591620717411303424},'
            b' "hazard_m": 5, "window": {"start": "2030-01-01T00:00:00Z",'
            b' "end": "2030-01-01T01:00:00Z"}}',
            "an integer orjson cannot write",
        ),
        (
            b'{"area": {"type": "Point", "coordinates": [1, 2]}, "hazard_m": 5, "purpose":'
            b' "\\ud800", "window": {"start": "2030-01-01T00:00:00Z",'
            b' "end": "2030-01-01T01:00:00Z"}}',
            "a lone surrogate",
        ),
    ],
)
def test_a_clearance_body_the_front_cannot_carry_as_a_command_goes_over_as_it_came(
    body: bytes, why: str
) -> None:
    assert _read_clearance(body, "application/json") == ("clearance", body), why
