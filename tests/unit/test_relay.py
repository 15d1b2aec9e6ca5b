"""accord.api.relay: requests handed over in frames on a real Unix socket and a real event loop,
answered whole, in any order, to the caller that asked; a broken connection fails the calls
waiting on it, and nothing malformed is answered."""

from __future__ import annotations

import asyncio
import socket
import struct
from pathlib import Path

import pytest
from starlette.responses import Response
from tests.support.loop import in_a_loop

from accord.api.relay import (
    MAX_FRAME,
    RelayClient,
    Relayed,
    RelayError,
    Reply,
    relay_answer,
    serve_relay,
)


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
