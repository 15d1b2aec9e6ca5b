"""accord.api.serving: an answer of known length leaves in one write; anything else as before.

The transport under test is a recording stand-in for asyncio's (not one of Accord's parts); the
event loop is a real one. The end-to-end tests serve every answer through the same protocol."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from tests.support.loop import in_a_loop

from accord.api.serving import _OnePiece

SIZED = b"HTTP/1.1 200 OK\r\ndate: x\r\ncontent-length: 5\r\ncontent-type: text/plain\r\n\r\n"
CHUNKED = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"


class Recorder:
    """What the socket would have been handed, write by write."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 80) if name == "sockname" else None


def run(steps: Callable[[_OnePiece], None]) -> Recorder:
    """Run ``steps(transport)`` in one step of a real loop, then let the loop turn twice."""
    recorder = Recorder()

    async def main() -> None:
        steps(_OnePiece(recorder, asyncio.get_running_loop()))  # type: ignore[arg-type]
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    in_a_loop(main)
    return recorder


def test_a_sized_head_and_its_body_are_one_write() -> None:
    def steps(t: _OnePiece) -> None:
        t.write(SIZED)
        t.write(b"hello")

    assert run(steps).writes == [SIZED + b"hello"]


def test_a_head_nothing_follows_is_written_on_the_next_turn() -> None:
    recorder = Recorder()

    async def main() -> None:
        t = _OnePiece(recorder, asyncio.get_running_loop())  # type: ignore[arg-type]
        t.write(SIZED)  # a HEAD answer: uvicorn writes no body
        assert recorder.writes == []
        await asyncio.sleep(0)
        assert recorder.writes == [SIZED]
        t.write(b"next")
        assert recorder.writes == [SIZED, b"next"]

    in_a_loop(main)


def test_heads_without_a_length_and_other_writes_go_out_at_once() -> None:
    def steps(t: _OnePiece) -> None:
        t.write(CHUNKED)
        t.write(b"5\r\nhello\r\n")
        t.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        t.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 3\r\n\r\nbad")  # head and body

    assert run(steps).writes == [
        CHUNKED,
        b"5\r\nhello\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 400 Bad Request\r\ncontent-length: 3\r\n\r\nbad",
    ]


def test_closing_writes_a_held_head_first_and_nothing_is_written_twice() -> None:
    def steps(t: _OnePiece) -> None:
        t.write(SIZED)
        t.close()

    recorder = run(steps)
    assert recorder.writes == [SIZED]
    assert recorder.closed


def test_the_rest_is_the_transport_s_own() -> None:
    recorder = Recorder()
    loop = asyncio.new_event_loop()
    try:
        t = _OnePiece(recorder, loop)  # type: ignore[arg-type]
        assert t.get_extra_info("sockname") == ("127.0.0.1", 80)
        assert t.is_closing() is False
    finally:
        loop.close()
