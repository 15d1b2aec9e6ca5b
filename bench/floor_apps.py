"""Trivial apps served like ``accord serve`` serves Accord: the floors ``bench_http --floors``
measures with the same clients, so that a request's cost can be split between uvicorn, Starlette,
FastAPI and Accord's own work.

Each app answers ``GET /healthz`` and ``POST /v1/heartbeat`` (the body is read and dropped, the
token is not checked) with a small JSON object:

- ``raw``: a bare ASGI callable: what uvicorn itself costs;
- ``starlette``: one Starlette ``Route`` per path returning a ready ``Response``: plus Starlette's
  middleware stack, routing and request/response objects;
- ``fastapi-lean``: FastAPI routes that take the ``Request`` and return a ready ``Response``:
  plus FastAPI's own stack and route handling, without dependencies, validation or serialisation;
- ``fastapi``: FastAPI used the usual way: a header dependency, a validated body, a returned dict
  serialised by FastAPI.

    python bench/floor_apps.py KIND PORT
"""

import sys
from typing import Annotated, Any

import uvicorn
from fastapi import Body, Depends, FastAPI, Header, Request, Response
from starlette.applications import Starlette
from starlette.routing import Route

KINDS = ("raw", "starlette", "fastapi-lean", "fastapi")
OK = b'{"status":"ok"}'
BEAT = b'{"party":"floor","time":"2026-12-02T00:00:00Z","log_index":0}'
_HEADERS = [(b"content-type", b"application/json")]


async def raw(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    body = BEAT if scope["path"] == "/v1/heartbeat" else OK
    headers = [*_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def app_of(kind: str) -> Any:
    if kind == "raw":
        return raw
    if kind == "starlette":

        async def healthz(_: Request) -> Response:
            return Response(OK, media_type="application/json")

        async def beat(request: Request) -> Response:
            await request.body()
            return Response(BEAT, media_type="application/json")

        return Starlette(
            routes=[Route("/healthz", healthz), Route("/v1/heartbeat", beat, methods=["POST"])]
        )
    app = FastAPI(
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False}
    )
    if kind == "fastapi-lean":

        @app.get("/healthz")
        async def lean_healthz() -> Response:
            return Response(OK, media_type="application/json")

        @app.post("/v1/heartbeat")
        async def lean_beat(request: Request) -> Response:
            await request.body()
            return Response(BEAT, media_type="application/json")

        return app

    async def party(authorization: Annotated[str | None, Header()] = None) -> str:
        return "floor"

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/heartbeat")
    async def beat(
        who: Annotated[str, Depends(party)],
        body: Annotated[dict[str, Any] | None, Body()] = None,
    ) -> dict[str, Any]:
        return {"party": who, "time": "2026-12-02T00:00:00Z", "log_index": 0}

    return app


def main() -> None:
    kind, port = sys.argv[1], int(sys.argv[2])
    try:  # the settings of ``accord serve`` where it names them
        from accord.api.serving import UVICORN_OPTIONS
    except ImportError:
        UVICORN_OPTIONS = {"log_level": "warning", "access_log": False}  # noqa: N806
    uvicorn.run(app_of(kind), host="127.0.0.1", port=port, **UVICORN_OPTIONS)


if __name__ == "__main__":
    main()
