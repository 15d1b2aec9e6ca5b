"""uvicorn's httptools protocol, with each answer of known length written to the socket at once.

uvicorn writes an answer's status line and headers when the app sends ``http.response.start``,
and its body when the app sends ``http.response.body``: two writes, so two ``send`` system calls
(uvloop writes at once when nothing is queued), two TCP segments, and two wake-ups of the client.
On loopback a ``send`` also delivers the segment to the receiving socket in the sender's system
call, so the second one costs the server about as much as the first.

:class:`OnePieceProtocol` hands uvicorn a transport that holds back a head that announces a
``content-length`` and writes it together with the next write, the body, which Starlette sends
in the same step of the event loop. A head that nothing follows in that step (the answer to a
``HEAD`` request, a body that comes later) is written on the loop's next turn. Heads without a
length (event streams, chunked answers, ``100 Continue``) go out at once, as before.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["UVICORN_OPTIONS", "OnePieceProtocol"]


def _is_sized_head(data: bytes) -> bool:
    """Whether ``data`` is a whole status line and headers (uvicorn writes header names in lower
    case) that announce the body's length."""
    return (
        data.endswith(b"\r\n\r\n")
        and data.startswith(b"HTTP/1.1 ")
        and b"\r\ncontent-length:" in data
    )


class _OnePiece:
    """A transport that writes a held head together with the write that follows it."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        if self._held is not None:
            data, self._held = self._held + data, None
        elif _is_sized_head(data):
            self._held = data
            self._loop.call_soon(self._release)
            return
        self._transport.write(data)

    def _release(self) -> None:
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def close(self) -> None:
        self._release()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:  # everything else is the transport's own
        return getattr(self._transport, name)


class OnePieceProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol on a :class:`_OnePiece` transport (module docstring)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_OnePiece(transport, self.loop))  # type: ignore[arg-type]


UVICORN_OPTIONS: dict[str, Any] = {
    "loop": "uvloop",  # what "auto" picks when installed (the server extra): named, so that a
    "http": OnePieceProtocol,  # missing one fails at start, not at half the speed (h11, asyncio)
    "lifespan": "on",  # the app binds its event-stream wake-ups there
    "log_level": "warning",
    "access_log": False,
}
"""How ``accord serve`` runs uvicorn (``bench/floor_apps.py`` serves its floors the same way).
Dropping the ``server`` and ``date`` headers or the proxy-header middleware was measured and
made no difference beyond the noise (2026-12-02, ``bench_http.py --floors``): they stay."""
