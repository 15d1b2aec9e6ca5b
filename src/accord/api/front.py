"""A front process's ASGI app (``accord serve --workers N``): HTTP for the clients, the work for
the core.

The busiest requests (a clearance request, a heartbeat, positions, a presence upsert, the health
check: the kinds the core's ``relayed`` answers) are read here and handed to the core in a relay
frame (:mod:`accord.api.relay`); the core's answer is written back as it came. A clearance
request's body is also parsed and checked here, and handed over as its command
(:func:`~accord.api.schemas.clearance_frame`), which the core trusts as it would its own reading:
only the service's own processes reach the relay's socket. Every other
request (reads, event streams, the console, the OpenAPI document, the rarer writes) is passed on
whole to the core's HTTP server on a Unix socket and its answer streamed back, so that a front
answers every endpoint as the core does. A front holds no state: it decides nothing and writes
nothing, and a request it cannot hand over is answered 503. :func:`front_app` puts it behind the
core's own body limit (:class:`~accord.api.problems.BodyLimit`).
"""

from __future__ import annotations

import re

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from accord.api.problems import REQUIRED, BodyLimit, answer_for, parse_body, problem
from accord.api.relay import RelayClient, RelayError, relay_answer
from accord.api.schemas import CLEARANCE, CLEARANCE_COMMAND, clearance_frame
from accord.errors import PayloadTooLarge

__all__ = ["Front", "front_app"]

_HOT: dict[tuple[str, str], str] = {
    ("POST", "/v1/clearances"): "clearance",
    ("POST", "/v1/heartbeat"): "heartbeat",
    ("POST", "/v1/positions"): "positions",
    ("GET", "/healthz"): "healthz",
}
_PRESENCE = re.compile(r"/v1/presences/([^/]+)")
_HOP_BY_HOP = frozenset(
    (
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    )
)


class Front:
    """The ASGI app of a front process: relays to the core at ``relay_path``, passes everything
    else on to the core's HTTP server at ``http_path`` (both Unix sockets). A body that
    :class:`~accord.api.problems.BodyLimit` stops while it is read is answered 413 here."""

    def __init__(self, relay_path: str, http_path: str) -> None:
        self._relay = RelayClient(relay_path)
        self._http = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=http_path),
            base_url="http://accord-core",
            timeout=httpx.Timeout(None, connect=30.0),  # event streams stay open for hours
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        kind = _HOT.get((scope["method"], path))
        id = ""
        if kind is None and scope["method"] == "PUT":
            match = _PRESENCE.fullmatch(path)
            if match is not None:
                kind, id = "presence", match.group(1)
        if kind is None:
            response = await self._pass_on(Request(scope, receive))
        else:
            response = await self._hand_over(kind, id, scope, receive)
        await response(scope, receive, send)

    async def _hand_over(self, kind: str, id: str, scope: Scope, receive: Receive) -> Response:
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:  # the first of each, as the core's endpoints read
            headers.setdefault(name, value)
        try:
            body = await self._body(receive)
        except PayloadTooLarge as exc:
            return answer_for(exc)
        if body is None:  # the client left before its body was in: nothing to hand over
            return Response(status_code=400)
        authorization = headers.get(b"authorization")
        content_type = headers.get(b"content-type")
        ctype = None if content_type is None else content_type.decode("latin-1")
        if kind == "clearance":
            kind, body = _read_clearance(body, ctype)
        try:
            answer = await self._relay.call(
                kind,
                None if authorization is None else authorization.decode("latin-1"),
                ctype,
                id,
                body,
            )
        except RelayError as exc:
            return problem(503, "Service unavailable", f"the core process did not answer: {exc}")
        return relay_answer(answer)

    async def _body(self, receive: Receive) -> bytes | None:
        parts: list[bytes] = []
        while True:
            message: Message = await receive()
            if message["type"] != "http.request":  # the client left
                return None
            parts.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(parts)

    async def _pass_on(self, request: Request) -> Response:
        """``request`` sent on to the core's HTTP server; its answer, streamed back."""
        headers = [(k, v) for k, v in request.headers.raw if k not in _HOP_BY_HOP]
        has_body = request.method not in ("GET", "HEAD", "OPTIONS", "DELETE")
        # the path as the client sent it (an escaped "/" stays escaped), and its query
        target = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
        if request.scope["query_string"]:
            target += "?" + request.scope["query_string"].decode("latin-1")
        outgoing = self._http.build_request(
            request.method,
            target,
            headers=headers,
            content=request.stream() if has_body else None,
        )
        try:
            answer = await self._http.send(outgoing, stream=True)
        except PayloadTooLarge as exc:  # raised by BodyLimit while the body was sent on
            return answer_for(exc)
        except httpx.HTTPError as exc:
            return problem(503, "Service unavailable", f"the core process did not answer: {exc}")
        kept = [(k, v) for k, v in answer.headers.raw if k.lower() not in _HOP_BY_HOP]
        response = StreamingResponse(
            answer.aiter_raw(),
            status_code=answer.status_code,
            background=BackgroundTask(answer.aclose),
        )
        response.raw_headers = kept
        return response

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self._relay.close()
                await self._http.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _read_clearance(body: bytes, content_type: str | None) -> tuple[str, bytes]:
    """A clearance request's body read and checked here, as the core's endpoint reads it, and
    handed over as its command (``CLEARANCE_COMMAND``): the core then checks the token and writes,
    without parsing the body again. A body with anything wrong with it goes over as it came, and
    the core answers what is wrong after the token, as its endpoint does."""
    try:
        command = parse_body(body, content_type, CLEARANCE, REQUIRED).command("")
        return CLEARANCE_COMMAND, clearance_frame(command)
    except Exception:
        return "clearance", body


def front_app(relay_path: str, http_path: str, max_body: int) -> BodyLimit:
    """A front process's app: :class:`Front` behind the body limit the core's app has, so that
    a body over ``max_body`` bytes is refused alike, declared or found too large as it comes."""
    return BodyLimit(Front(relay_path, http_path), limit=max_body)
