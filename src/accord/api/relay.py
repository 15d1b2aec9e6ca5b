"""The relay: the busiest requests handed from front processes to the core process, over a Unix
socket, in frames of their own.

``accord serve --workers N`` runs one *core* process, which holds the state, decides, and writes
the log (the one writer, as ever), and N *front* processes, which speak HTTP to the clients
(:mod:`accord.api.front`). A front reads a busy request (a clearance request, a heartbeat,
positions, a presence upsert, the health check) and hands the core only what the endpoint
reads: the token, the body's content type, the path's id and the body (for a clearance request
it has read and checked, the command instead: ``accord.api.schemas.CLEARANCE_COMMAND``). The
core answers it as
the endpoint does (the same code, :func:`accord.api.app.create_app`'s ``relayed``): the token
first, then the body, then the command, durable before the answer leaves. The front writes that
answer to its client. The core's share of such a request is then the endpoint's own work,
without the HTTP parsing, the connection's writes, the router and the middleware.

A frame is a 4-byte big-endian length and that many bytes. A request frame: a 4-byte call
number, then five fields (the kind, ``Authorization``, ``Content-Type``, the path's id, the
body), each a 4-byte length and its bytes. An answer frame: the call number, a 2-byte status,
then three fields (``Content-Type``, other headers as ``name: value`` lines, the body). Frames
of many calls share a connection, answered in any order. Nothing here is pickled: a frame is
bytes that the core parses, never code it runs; and the socket is in a directory only the
service's user may enter.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import Callable
from typing import NamedTuple, cast

from starlette.responses import Response

__all__ = [
    "Answer",
    "Handler",
    "RelayClient",
    "RelayError",
    "Relayed",
    "Reply",
    "relay_answer",
    "serve_relay",
]

_log = logging.getLogger(__name__)

_LENGTH = struct.Struct(">I")
_CALL = struct.Struct(">I")
_ANSWER = struct.Struct(">IH")
MAX_FRAME = 64 * 1024 * 1024  # beyond any body the API accepts (8 MiB) and its answer

Answer = tuple[int, bytes, bytes, bytes]
"""(status, content type, other headers as ``name: value`` lines, body)."""

Reply = Callable[[Response], None]
"""Sends the answer to one relayed request (once; after the connection is lost it does nothing)."""


class Relayed(NamedTuple):
    """A request as a front hands it over: what the endpoint reads of it."""

    kind: str
    authorization: str | None
    content_type: str | None
    id: str
    body: bytes


Handler = Callable[[Relayed, Reply], None]
"""The core's endpoint for relayed requests. It is called on the event loop as the frame
arrives and must not raise; it calls ``reply`` with the answer once, at once or later from the
loop (a durable write's answer, say, from the callback of its commit): no task or coroutine is
made per request."""


class RelayError(Exception):
    """The core could not be reached, or went away before it answered."""


def _fields(data: bytes | bytearray | memoryview, offset: int, count: int) -> list[bytes]:
    out = []
    for _ in range(count):
        (n,) = _LENGTH.unpack_from(data, offset)
        offset += 4
        if offset + n > len(data):
            raise ValueError("a field runs past the end of its frame")
        out.append(bytes(data[offset : offset + n]))
        offset += n
    if offset != len(data):
        raise ValueError("bytes after the last field of a frame")
    return out


def _frame(head: bytes, *fields: bytes) -> bytes:
    parts = [head]
    for f in fields:
        parts += (_LENGTH.pack(len(f)), f)
    body = b"".join(parts)
    return _LENGTH.pack(len(body)) + body


class _Frames(asyncio.Protocol):
    """A connection that cuts what it receives into frames (:meth:`frame` for each)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        start = 0
        while len(buffer) - start >= 4:
            (n,) = _LENGTH.unpack_from(buffer, start)
            if n > MAX_FRAME:
                _log.error("relay: a frame of %d bytes; closing the connection", n)
                assert self.transport is not None
                self.transport.close()
                return
            if len(buffer) - start - 4 < n:
                break
            self.frame(memoryview(buffer)[start + 4 : start + 4 + n].tobytes())
            start += 4 + n
        del buffer[:start]

    def frame(self, data: bytes) -> None:
        raise NotImplementedError


class _CoreSide(_Frames):
    """The core's end of one front's connection: each request frame answered by ``handler``."""

    def __init__(self, handler: Handler) -> None:
        super().__init__()
        self._handler = handler

    def frame(self, data: bytes) -> None:
        try:
            (call,) = _CALL.unpack_from(data)
            kind, authorization, content_type, id, body = _fields(data, 4, 5)
            request = Relayed(
                kind.decode(),
                authorization.decode("latin-1") if authorization else None,
                content_type.decode("latin-1") if content_type else None,
                id.decode(),
                body,
            )
        except (struct.error, ValueError) as exc:  # UnicodeDecodeError is a ValueError
            _log.error("relay: a malformed frame (%s); closing the connection", exc)
            if self.transport is not None:
                self.transport.close()
            return
        self._handler(request, lambda response: self._reply(call, response))

    def _reply(self, call: int, response: Response) -> None:
        headers = b"".join(
            name + b": " + value + b"\n"
            for name, value in response.raw_headers
            if name not in (b"content-type", b"content-length")
        )
        answer = _frame(
            _ANSWER.pack(call, response.status_code),
            (response.media_type or "").encode("latin-1"),
            headers,
            bytes(response.body),
        )
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(answer)


async def serve_relay(sock: socket.socket, handler: Handler) -> asyncio.AbstractServer:
    """Answer the fronts' frames arriving on the listening Unix socket ``sock`` with ``handler``
    (on the running loop, until the server returned is closed)."""
    loop = asyncio.get_running_loop()
    return await loop.create_unix_server(lambda: _CoreSide(handler), sock=sock)


class _FrontSide(_Frames):
    """A front's connection to the core: answer frames matched to the calls waiting for them."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting: dict[int, asyncio.Future[Answer]] = {}

    def frame(self, data: bytes) -> None:
        try:
            call, status = _ANSWER.unpack_from(data)
            content_type, headers, body = _fields(data, _ANSWER.size, 3)
        except (struct.error, ValueError) as exc:
            self._fail(RelayError(f"a malformed answer from the core ({exc})"))
            return
        waiter = self.waiting.pop(call, None)
        if waiter is not None and not waiter.done():
            waiter.set_result((status, content_type, headers, body))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(RelayError(f"the core closed the relay connection ({exc or 'at its end'})"))

    def _fail(self, error: RelayError) -> None:
        if self.transport is not None:
            self.transport.close()
        waiting, self.waiting = self.waiting, {}
        for waiter in waiting.values():
            if not waiter.done():
                waiter.set_exception(error)


def _open(connection: _FrontSide | None) -> bool:
    return (
        connection is not None
        and connection.transport is not None
        and not connection.transport.is_closing()
    )


class RelayClient:
    """A front's calls to the core over the Unix socket at ``path``: one connection, opened on
    the first call and again after it is lost, that carries every call of this front."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._connection: _FrontSide | None = None
        self._opening = asyncio.Lock()
        self._next = 0

    async def call(
        self, kind: str, authorization: str | None, content_type: str | None, id: str, body: bytes
    ) -> Answer:
        """Hand one request to the core; its answer. Raises :class:`RelayError` if the core
        cannot be reached or the connection is lost before the answer (the request may then
        have been carried out, as when a server fails after its commit)."""
        connection = await self._connected()
        self._next = (self._next + 1) & 0xFFFFFFFF
        call = self._next
        waiter: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        connection.waiting[call] = waiter
        assert connection.transport is not None
        connection.transport.write(
            _frame(
                _CALL.pack(call),
                kind.encode(),
                (authorization or "").encode("latin-1", "replace"),
                (content_type or "").encode("latin-1", "replace"),
                id.encode(),
                body,
            )
        )
        try:
            return await waiter
        finally:
            connection.waiting.pop(call, None)

    async def _connected(self) -> _FrontSide:
        if _open(self._connection):
            assert self._connection is not None
            return self._connection
        async with self._opening:
            if not _open(self._connection):
                loop = asyncio.get_running_loop()
                try:
                    _, self._connection = await loop.create_unix_connection(_FrontSide, self.path)
                except OSError as exc:
                    raise RelayError(f"the core cannot be reached ({exc})") from exc
            assert self._connection is not None
            return self._connection

    def close(self) -> None:
        if self._connection is not None and self._connection.transport is not None:
            self._connection.transport.close()
        self._connection = None


def relay_answer(answer: Answer) -> Response:
    """The core's ``answer`` as the front's HTTP response."""
    status, content_type, headers, body = answer
    response = Response(body, status_code=status, media_type=content_type.decode("latin-1") or None)
    for line in headers.split(b"\n"):
        name, sep, value = line.partition(b": ")
        if sep:
            response.raw_headers.append((name, value))
    return response
