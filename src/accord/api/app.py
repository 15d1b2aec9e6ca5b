"""The HTTP API of SPEC.md: ``create_app(service, auth)`` returns the ASGI application."""

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import re
import secrets
import socket
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
from anyio import to_thread
from fastapi import Body, Depends, FastAPI, Header, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.models import Schema
from fastapi.responses import FileResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import AwareDatetime, BaseModel, TypeAdapter, ValidationError
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from accord.api.basemap import MBTiles
from accord.api.problems import (
    REQUIRED,
    BodyLimit,
    StrictJSONRoute,
    answer_for,
    install_problem_handlers,
    parse_body,
    read_body,
)
from accord.api.relay import Relayed, Reply, serve_relay
from accord.api.schemas import (
    CLEARANCE,
    CLEARANCE_COMMAND,
    AckIn,
    AlertIn,
    AnswerIn,
    AorIn,
    ClearanceIn,
    LayerIn,
    PartyIn,
    PositionIn,
    PresenceIn,
    clearance_from_frame,
)
from accord.core import Command
from accord.core import commands as cmd
from accord.core import disclosure as views
from accord.core.state import State
from accord.errors import (
    AccordError,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
)
from accord.geo.discrepancy import BoundaryLayer, discrepancy_zones
from accord.geo.parse import shape_to_geojson
from accord.service import Service

__all__ = ["ADMIN", "Auth", "create_app", "new_token"]

ADMIN = "admin"
MAX_BODY = 8 * 1024 * 1024
MAX_BATCH = 10_000
SSE_KEEPALIVE_S = 15.0
BUSIEST = ("/healthz", "/v1/clearances", "/v1/positions", "/v1/heartbeat", "/v1/presences/{id}")
WEB_DIR = Path(__file__).resolve().parent.parent / "web" / "static"

T = TypeVar("T")

_log = logging.getLogger(__name__)


TOKEN_PREFIX = "accord_"


def new_token() -> str:
    """A new bearer token: 256 random bits, URL-safe. The prefix keeps it from starting with
    ``-``, which a command line would read as an option (``--token -x...``), and says what it is."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Auth:
    """Bearer tokens, stored hashed: the admin's and each party's."""

    TOKEN_META = "token:"

    def __init__(self, service: Service, admin_token: str) -> None:
        self.service = service
        self._admin = token_hash(admin_token)
        # the hashes of tokens found in the store, and their party: a token is never changed or
        # withdrawn, so what the store once said holds (the store is read for unknown ones only)
        self._known: dict[str, str] = {}

    def issue(self, party: str) -> str:
        token = new_token()
        digest = token_hash(token)
        self.service.store.put_meta(self.TOKEN_META + digest, party.encode())
        self._known[digest] = party
        return token

    def party_of(self, token: str) -> str:
        digest = token_hash(token)
        if secrets.compare_digest(digest, self._admin):
            return ADMIN
        name = self._known.get(digest)
        if name is None:
            party = self.service.store.get_meta(self.TOKEN_META + digest)
            if party is None:
                raise Unauthorized("the token is not valid")
            name = self._known[digest] = party.decode()
        if not self.service.read(lambda s: name in s.parties):
            raise Unauthorized("the token's party is not registered")
        return name


class _Pulse:
    """Wakes event streams (on the event loop) when the durable log grows (on a writer thread)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event = asyncio.Event()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def fire(self, _size: int) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._fire)

    def _fire(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    def waiter(self) -> asyncio.Event:
        return self._event


class _Durability:
    """Awaits the group commit on the event loop. The requests of one batch share its future:
    it is carried over to the loop once (one wake-up, one loop future), and each request awaits
    it through a shield of its own, so that a request given up does not cancel the others."""

    def __init__(self) -> None:
        self._batches: dict[Future[int], asyncio.Future[int]] = {}

    def shared(self, durable: Future[int]) -> asyncio.Future[int]:
        """The loop's future of the batch ``durable``: done (on the loop) when it is. Nothing
        may cancel it: the requests of the batch share it."""
        shared = self._batches.get(durable)
        if shared is None:
            shared = self._batches[durable] = asyncio.wrap_future(durable)
            shared.add_done_callback(lambda _: self._batches.pop(durable, None))
        return shared

    async def wait(self, durable: Future[int]) -> None:
        await asyncio.shield(self.shared(durable))


def create_app(
    service: Service,
    auth: Auth,
    basemap: MBTiles | None = None,
    relay: socket.socket | None = None,
) -> FastAPI:
    """The app; with ``relay``, a listening Unix socket, it also answers the requests that front
    processes hand over on it (:mod:`accord.api.relay`) while it runs."""
    pulse = _Pulse()
    service.add_listener(pulse.fire)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pulse.bind(asyncio.get_running_loop())
        server = None if relay is None else await serve_relay(relay, relayed)
        try:
            yield
        finally:
            if server is not None:
                server.close()

    app = FastAPI(
        title="Accord",
        version="1",
        summary="Multi-party deconfliction: is anyone inside the hazard area?",
        lifespan=lifespan,
        # no OpenTelemetry: without this, FastAPI looks for its providers on every request
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.router.route_class = StrictJSONRoute
    install_problem_handlers(app)
    documents = _Documents()
    fastapi_openapi = app.openapi
    app.openapi = lambda: documents.complete(fastapi_openapi())  # type: ignore[method-assign]
    app.add_middleware(BodyLimit, limit=MAX_BODY)

    def bearer(authorization: str | None) -> str:
        if not authorization or not authorization.startswith("Bearer "):
            raise Unauthorized("send Authorization: Bearer <token>")
        return auth.party_of(authorization.removeprefix("Bearer ").strip())

    # the dependencies read the header themselves: one level of dependencies per request
    async def caller(authorization: Annotated[str | None, Header()] = None) -> str:
        return bearer(authorization)

    async def party(authorization: Annotated[str | None, Header()] = None) -> str:
        return acting(bearer(authorization))

    def acting(who: str) -> str:
        if who == ADMIN:
            raise Forbidden("the admin token registers parties; act with a party's token")
        return who

    async def optional_caller(authorization: Annotated[str | None, Header()] = None) -> str | None:
        return bearer(authorization) if authorization else None

    Party = Annotated[str, Depends(party)]  # noqa: N806 (a type alias for the endpoints)

    def party_of(request: Request) -> str:
        """What ``who: Party`` gives, for the endpoints that take the Request itself."""
        return acting(bearer(request.headers.get("authorization")))

    # Endpoints that work in memory are coroutines, run on the event loop: a write is decided,
    # logged and applied there, and the answer waits for the group commit without holding a
    # thread. Endpoints that read the disk or parse large inputs are plain functions, which
    # FastAPI runs in its threadpool (they write with the blocking ``service.execute``).
    # The busiest (BUSIEST) take the Request itself: ``party_of`` for the token, ``read_body``
    # for the body, ``_json`` for the answer; Starlette runs them without FastAPI's handler
    # (StrictJSONRoute), and ``documents.body`` keeps their OpenAPI entries as they were.

    durability = _Durability()

    async def execute(command: Command) -> list[dict[str, Any]]:
        """Run ``command``; its events once they are durable (invariant 4)."""
        written = service.submit(command)
        if written is None:  # a store shared with other processes: execute holds its lock
            return await to_thread.run_sync(service.execute, command)
        if written.durable is not None:
            with contextlib.suppress(Exception):  # finish raises it, as a StorageError
                await durability.wait(written.durable)
        return service.finish(written)

    async def answered(prepared: Prepared) -> Response:
        """The answer of a busy endpoint's ``prepared`` command, once it is durable."""
        command, answer = prepared
        return answer(await execute(command))

    def read(fn: Callable[[State], T]) -> T:
        return service.read(fn)

    def found(value: T | None, what: str) -> T:
        if value is None:
            raise NotFound(f"no {what} visible to you")
        return value

    # -- parties ---------------------------------------------------------------------------------

    @app.post("/v1/parties", status_code=201, tags=["parties"])
    def register_party(body: PartyIn, who: Annotated[str, Depends(caller)]) -> dict[str, Any]:
        if who != ADMIN:
            raise Forbidden("only the admin registers parties")
        service.execute(body.command())
        return {"id": body.id, "name": body.name, "token": auth.issue(body.id)}

    @app.get("/v1/parties", tags=["parties"])
    async def list_parties(who: Party) -> list[dict[str, Any]]:
        now = service.clock()
        return read(lambda s: views.parties_view(s, now))

    @app.get("/v1/me", tags=["parties"])
    async def me(who: Party) -> dict[str, Any]:
        """The party the token belongs to (the console asks once per sign-in)."""
        name = read(lambda s: s.parties[who].name)
        return {"party": who, "name": name}

    @app.put("/v1/parties/{id}/aor", tags=["parties"])
    async def set_aor(id: str, body: AorIn, who: Party) -> dict[str, Any]:
        if id != who:
            raise Forbidden("a party sets only its own area of responsibility")
        events = await execute(body.command(who))
        return {"party": who, "max_staleness_s": body.max_staleness_s, "log_index": _last(events)}

    @app.post(
        "/v1/heartbeat",
        tags=["parties"],
        response_model=dict[str, Any],
        openapi_extra=documents.body(dict[str, Any] | None, required=False),
    )
    async def heartbeat(request: Request) -> Response:
        who = party_of(request)
        return await answered(heartbeat_of(who, await read_body(request, _HEARTBEAT, None), ""))

    def heartbeat_of(who: str, _: dict[str, Any] | None, __: str) -> Prepared:
        def answer(events: list[dict[str, Any]]) -> Response:
            return _json({"party": who, "time": events[-1]["time"], "log_index": _last(events)})

        return cmd.Heartbeat(party=who), answer

    # -- presences -------------------------------------------------------------------------------

    @app.put(
        "/v1/presences/{id}",
        tags=["presences"],
        response_model=None,
        openapi_extra=documents.body(PresenceIn, path="id"),
    )
    async def put_presence(request: Request) -> Response:
        who = party_of(request)
        body = await read_body(request, _PRESENCE)
        return await answered(presence_of(who, body, request.path_params["id"]))

    def presence_of(who: str, body: PresenceIn, id: str) -> Prepared:
        _check_id(id)

        def answer(events: list[dict[str, Any]]) -> Response:
            view = read(lambda s: views.presence_view(s, id, who))
            created = any(e.get("version") == 1 for e in events if e["type"] == "presence_upserted")
            return _json(view, 201 if created else 200)

        return body.command(who, id), answer

    @app.get("/v1/presences/{id}", tags=["presences"])
    async def get_presence(id: str, who: Party) -> dict[str, Any]:
        return found(read(lambda s: views.presence_view(s, id, who)), "presence")

    @app.delete("/v1/presences/{id}", status_code=204, tags=["presences"])
    async def delete_presence(id: str, who: Party) -> Response:
        await execute(cmd.RemovePresence(party=who, id=id))
        return Response(status_code=204)

    @app.post("/v1/presences", tags=["presences"])
    def bulk_presences(who: Party, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        items = _feature_commands(body, who)
        service.execute(cmd.UpsertPresences(party=who, items=tuple(items)))
        return {"upserted": len(items)}

    @app.get("/v1/presences", tags=["presences"])
    def list_presences(who: Party, bbox: str | None = None) -> dict[str, Any]:
        box = _bbox(bbox) if bbox else None
        return read(lambda s: views.presence_features(s, who, box))

    @app.post(
        "/v1/positions",
        tags=["presences"],
        response_model=dict[str, Any],
        openapi_extra=documents.body(list[dict[str, Any]]),
    )
    async def positions(request: Request) -> Response:
        who = party_of(request)
        return await answered(positions_of(who, await read_body(request, _OBJECTS), ""))

    def positions_of(who: str, body: list[dict[str, Any]], _: str) -> Prepared:
        if len(body) > MAX_BATCH:
            raise PayloadTooLarge("body", f"at most {MAX_BATCH} positions per request")
        items = _validated(_POSITIONS, body, "")  # all at once: one call into pydantic
        updates = [item.update(f"[{i}]") for i, item in enumerate(items)]
        accepted = _json({"accepted": len(updates)})
        return cmd.UpdatePositions(party=who, updates=tuple(updates)), lambda _: accepted

    # -- layers ----------------------------------------------------------------------------------

    @app.post("/v1/layers", status_code=201, tags=["layers"])
    def add_layer(body: LayerIn, who: Party) -> dict[str, Any]:
        events = service.execute(body.command(who))
        added = next(e for e in events if e["type"] == "layer_added")
        return {
            "id": added["id"],
            "name": body.name,
            "role": body.role,
            "party": who,
            "log_index": added["log_index"],
        }

    @app.get("/v1/discrepancies", tags=["layers"])
    def discrepancies(
        who: Party, tolerance_m: Annotated[float, Query(gt=0, le=100_000)] = 100.0
    ) -> dict[str, Any]:
        layers = read(lambda s: [BoundaryLayer(r.id, r.geometry) for r in s.layers.values()])
        return {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": shape_to_geojson(zone.area),
                    "properties": {
                        "layers": list(zone.layers),
                        "max_separation_m": round(zone.max_separation_m, 1),
                    },
                }
                for zone in discrepancy_zones(layers, tolerance_m)
            ],
        }

    # -- clearances ------------------------------------------------------------------------------

    @app.post(
        "/v1/clearances",
        status_code=201,
        tags=["clearances"],
        response_model=dict[str, Any],
        openapi_extra=documents.body(ClearanceIn),
    )
    async def request_clearance(request: Request) -> Response:
        who = party_of(request)
        return await answered(clearance_of(who, await read_body(request, CLEARANCE), ""))

    def clearance_of(who: str, body: ClearanceIn, _: str) -> Prepared:
        return requesting(body.command(who))

    def requesting(command: cmd.RequestClearance) -> Prepared:
        def answer(events: list[dict[str, Any]]) -> Response:
            cid = next(e["id"] for e in events if e["type"] == "clearance_requested")
            view = found(read(lambda s: views.clearance_view(s, cid, command.party)), "clearance")
            return _json(view, 201)

        return command, answer

    @app.get("/v1/clearances/{id}", tags=["clearances"])
    async def get_clearance(id: str, who: Party) -> dict[str, Any]:
        return found(read(lambda s: views.clearance_view(s, id, who)), "clearance")

    @app.post("/v1/clearances/{id}/answers", tags=["clearances"])
    async def answer(id: str, body: AnswerIn, who: Party) -> dict[str, Any]:
        await execute(cmd.AnswerClearance(party=who, id=id, answer=body.answer, note=body.note))
        return found(read(lambda s: views.clearance_view(s, id, who)), "clearance")

    @app.post("/v1/clearances/{id}/close", tags=["clearances"])
    async def close(id: str, who: Party) -> dict[str, Any]:
        await execute(cmd.CloseClearance(party=who, id=id))
        return found(read(lambda s: views.clearance_view(s, id, who)), "clearance")

    @app.post("/v1/clearances/{id}/ack", tags=["clearances"])
    async def ack_clearance(id: str, body: AckIn, who: Party) -> dict[str, Any]:
        await execute(cmd.AckClearance(party=who, id=id, version=body.version))
        return found(read(lambda s: views.clearance_view(s, id, who)), "clearance")

    # -- alerts ----------------------------------------------------------------------------------

    @app.post("/v1/alerts", status_code=201, tags=["alerts"])
    async def raise_alert(body: AlertIn, who: Party) -> dict[str, Any]:
        events = await execute(body.command(who))
        raised = next(e for e in events if e["type"] == "alert_raised")
        return {"id": raised["id"], "notified": raised["notified"]}

    @app.get("/v1/alerts/{id}", tags=["alerts"])
    async def get_alert(id: str, who: Party) -> dict[str, Any]:
        return found(read(lambda s: views.alert_view(s, id, who)), "alert")

    @app.post("/v1/alerts/{id}/ack", tags=["alerts"])
    async def ack_alert(id: str, who: Party) -> dict[str, Any]:
        await execute(cmd.AckAlert(party=who, id=id))
        return found(read(lambda s: views.alert_view(s, id, who)), "alert")

    # -- events, timeline ------------------------------------------------------------------------

    @app.get("/v1/events", tags=["events"], response_class=StreamingResponse)
    async def events(
        request: Request,
        who: Party,
        last_event_id: Annotated[str | None, Header()] = None,
        since: Annotated[
            int | None, Query(ge=-1, description="resume after this log index")
        ] = None,
    ) -> StreamingResponse:
        after = _resume_point(last_event_id, since, service.durable_size)
        return StreamingResponse(
            _stream(request, who, after),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def _stream(request: Request, who: str, after: int) -> AsyncIterator[bytes]:
        yield b"retry: 1000\n\n"
        while not await request.is_disconnected():
            waiter = pulse.waiter()
            size = service.durable_size
            if size > after + 1:
                last, batch = await to_thread.run_sync(_views_for, who, after + 1, size)
                for index, view in batch:
                    data = json.dumps(view, separators=(",", ":"))
                    yield f"id: {index}\nevent: {view['type']}\ndata: {data}\n\n".encode()
                    if view["type"] == "check_fire" and view.get("party") == who:
                        await to_thread.run_sync(_delivered, who, view)
                # advance only past what was read: never skip an event the store had not shown yet
                if last > after:
                    after = last
                else:  # durable, but not yet visible to this read: look again shortly
                    await asyncio.sleep(0.05)
                continue
            try:
                await asyncio.wait_for(waiter.wait(), SSE_KEEPALIVE_S)
            except TimeoutError:
                yield b": keep-alive\n\n"

    def _views_for(who: str, start: int, stop: int) -> tuple[int, list[tuple[int, dict[str, Any]]]]:
        """The views of events [start, stop) ``who`` may see, and the last index read."""
        out = []
        last = start - 1
        for event, _salt in service.events(start, stop):
            last = event["log_index"]
            view = read(lambda s, e=event: views.event_view(s, e, who))  # type: ignore[misc]
            if view is not None:
                out.append((last, view))
        return last, out

    def _delivered(who: str, view: dict[str, Any]) -> None:
        service.execute(
            cmd.MarkDelivered(party=who, alert=view["alert"], clearance=view["clearance"])
        )

    @app.get("/v1/timeline", tags=["events"])
    def timeline(
        who: Party,
        start: AwareDatetime | None = None,
        end: AwareDatetime | None = None,
        bbox: str | None = None,
    ) -> list[dict[str, Any]]:
        box = _bbox(bbox) if bbox else None
        logged = [event for event, _salt in service.events(0)]
        return read(lambda s: views.timeline(s, logged, who, start, end, box))

    # -- the log ---------------------------------------------------------------------------------

    @app.get("/v1/log/head", tags=["log"])
    def log_head() -> dict[str, Any]:
        return service.head().to_json()

    @app.get("/v1/log/key", tags=["log"])
    async def log_key() -> dict[str, Any]:
        return service.signer.public_key_json()

    @app.get("/v1/log/entries/{index}", tags=["log"])
    def log_entry(
        index: int, who: Annotated[str | None, Depends(optional_caller)] = None
    ) -> dict[str, Any]:
        rec = service.record(index)
        if rec is None:
            raise NotFound(f"no log entry {index}")
        out: dict[str, Any] = {"index": index, "leaf_hash": rec.leaf_hash.hex()}
        event = json.loads(rec.event)
        if who is not None and (who == ADMIN or read(lambda s: views.may_see_raw(s, event, who))):
            out["event"] = event
            out["salt"] = rec.salt.hex()
        return out

    @app.get("/v1/log/proof/inclusion", tags=["log"])
    async def inclusion(
        index: Annotated[int, Query(ge=0)], tree_size: Annotated[int, Query(ge=1)]
    ) -> dict[str, Any]:
        _check_size(tree_size, service.durable_size, "tree_size")
        if index >= tree_size:
            raise InvalidInput("index", f"must be below tree_size ({tree_size})")
        path = service.inclusion(index, tree_size)
        return {"index": index, "tree_size": tree_size, "path": [h.hex() for h in path]}

    @app.get("/v1/log/proof/consistency", tags=["log"])
    async def consistency(
        first: Annotated[int, Query(ge=1)], second: Annotated[int, Query(ge=1)]
    ) -> dict[str, Any]:
        _check_size(second, service.durable_size, "second")
        if first > second:
            raise InvalidInput("first", f"must not exceed second ({second})")
        path = service.consistency(first, second)
        return {"first": first, "second": second, "path": [h.hex() for h in path]}

    # -- the offline basemap --------------------------------------------------------------------

    @app.get("/v1/basemap/style.json", tags=["basemap"])
    def basemap_style(request: Request, who: Party) -> dict[str, Any]:
        if basemap is None:
            raise NotFound("this server has no basemap (accord serve --basemap FILE)")
        return basemap.style(str(request.base_url).rstrip("/") + "/v1/basemap/tiles/{z}/{x}/{y}")

    @app.get("/v1/basemap/tiles/{z}/{x}/{y}", tags=["basemap"])
    def basemap_tile(z: int, x: int, y: int, who: Party) -> Response:
        tile = None if basemap is None else basemap.tile(z, x, y)
        if tile is None or basemap is None:
            raise NotFound(f"no basemap tile {z}/{x}/{y}")
        headers = {"Cache-Control": "private, max-age=3600"}
        if basemap.format == "pbf" and tile[:2] == b"\x1f\x8b":
            headers["Content-Encoding"] = "gzip"
        return Response(tile, media_type=basemap.media_type, headers=headers)

    @app.get("/healthz", tags=["health"], response_model=dict[str, str])
    async def healthz(_: Request) -> Response:
        return Response(_HEALTHY, media_type="application/json")

    # -- the console -----------------------------------------------------------------------------

    if (WEB_DIR / "index.html").is_file():
        app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

        @app.get("/", include_in_schema=False)
        def console() -> FileResponse:
            return FileResponse(WEB_DIR / "index.html")

    # -- the relay: the busiest requests, handed over by front processes ----------------------

    def parsed(
        adapter: TypeAdapter[M], default: Any, prepare: Callable[[str, M, str], Prepared]
    ) -> Callable[[str, Relayed], Prepared]:
        """``prepare`` of the body the front handed over, read as its endpoint reads it."""

        def prepared(who: str, r: Relayed) -> Prepared:
            return prepare(who, parse_body(r.body, r.content_type, adapter, default), r.id)

        return prepared

    hot: dict[str, Callable[[str, Relayed], Prepared]] = {
        "clearance": parsed(CLEARANCE, REQUIRED, clearance_of),
        # a clearance request the front has read and checked (front.py): its command, as is
        CLEARANCE_COMMAND: lambda who, r: requesting(clearance_from_frame(r.body, who)),
        "heartbeat": parsed(_HEARTBEAT, None, heartbeat_of),
        "positions": parsed(_OBJECTS, REQUIRED, positions_of),
        "presence": parsed(_PRESENCE, REQUIRED, presence_of),
    }

    def relayed(request: Relayed, reply: Reply) -> None:
        """A request a front handed over (:mod:`accord.api.relay`), answered as its endpoint
        answers it: the token, then the body, then the endpoint's work, its answer sent once its
        events are durable. Here, on the loop, as the frame arrives: the command is decided and
        applied at once, and the answer is made in the callback of its commit."""
        kind = request.kind
        try:
            if kind == "healthz":
                reply(Response(_HEALTHY, media_type="application/json"))
                return
            prepare = hot[kind]
            who = acting(bearer(request.authorization))
            command, answer = prepared = prepare(who, request)
            written = service.submit(command)
        except Exception as exc:
            reply(failed(kind, exc))
            return
        if written is None:  # a store shared with other processes: the write takes a thread
            task = asyncio.ensure_future(relay_shared(kind, prepared, reply))
            shared_writes.add(task)
            task.add_done_callback(shared_writes.discard)
            return

        def durable(_: object = None) -> None:
            try:
                response = answer(service.finish(written))
            except Exception as exc:
                response = failed(kind, exc)
            reply(response)

        if written.durable is None:
            durable()
        else:
            durability.shared(written.durable).add_done_callback(durable)

    shared_writes: set[asyncio.Future[None]] = set()

    async def relay_shared(kind: str, prepared: Prepared, reply: Reply) -> None:
        try:
            response = await answered(prepared)  # execute's own way to a shared store
        except Exception as exc:
            response = failed(kind, exc)
        reply(response)

    def failed(kind: str, exc: Exception) -> Response:
        """``exc`` answered as the app's exception handlers answer it."""
        if not isinstance(exc, AccordError | RequestValidationError):
            _log.exception("a relayed %s request failed", kind, exc_info=exc)
        return answer_for(exc)

    # The router tries its routes in turn, FastAPI's own (the documentation pages) first: the
    # busiest go before them all. No two paths overlap, and the routes of one path keep their
    # order (a 405's Allow header is the first one's), so every request finds the same route.
    # The OpenAPI document lists its paths in this order too: the same document, in another order.
    rank = {path: i for i, path in enumerate(BUSIEST)}
    app.router.routes.sort(key=lambda route: rank.get(getattr(route, "path", ""), len(rank)))
    return app


# -- helpers -------------------------------------------------------------------------------------

M = TypeVar("M")
_POSITIONS = TypeAdapter(list[PositionIn])
_PRESENCE = TypeAdapter(PresenceIn)
_HEARTBEAT = TypeAdapter(dict[str, Any] | None)
_OBJECTS = TypeAdapter(list[dict[str, Any]])
_HEALTHY = b'{"status":"ok"}'

Prepared = tuple[Command, Callable[[list[dict[str, Any]]], Response]]
"""A busy endpoint's work before the write: the command, and what makes the answer from its
events once they are durable (the same for a request over HTTP and one handed over by a front)."""


def _json(value: Any, status: int = 200) -> Response:
    """``value`` as a JSON answer, serialised once (by orjson)."""
    return Response(orjson.dumps(value), status_code=status, media_type="application/json")


# -- the OpenAPI document of the endpoints that take the Request ----------------------------------

_AUTHORIZATION = {
    "name": "authorization",
    "in": "header",
    "required": False,
    "schema": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Authorization"},
}
_VALIDATION_ERROR = {
    "description": "Validation Error",
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}
    },
}
_REF = "#/components/schemas/{model}"


class _Documents:
    """The OpenAPI entries of the endpoints that take the Request and read their inputs
    themselves: what FastAPI documents for the same endpoint declared with its path parameter,
    ``who: Party`` and its body, so that the published document stays as it was."""

    def __init__(self) -> None:
        self._models: dict[str, type[BaseModel]] = {}

    def body(self, body: Any, *, required: bool = True, path: str = "") -> dict[str, Any]:
        """For ``openapi_extra``: the string path parameter ``path``, the token header, a body
        of type ``body`` (required, or with a default) and the validation error."""
        parameters = [_AUTHORIZATION]
        if path:
            schema = {"type": "string", "title": path.title()}
            parameters.insert(0, {"name": path, "in": "path", "required": True, "schema": schema})
        if isinstance(body, type) and issubclass(body, BaseModel):  # a component, once
            self._models[body.__name__] = body
            body_schema: dict[str, Any] = {"$ref": _REF.format(model=body.__name__)}
        else:
            body_schema = {**TypeAdapter(body).json_schema(ref_template=_REF), "title": "Body"}
        request_body: dict[str, Any] = {"content": {"application/json": {"schema": body_schema}}}
        if required:
            request_body["required"] = True
        return {
            "parameters": parameters,
            "requestBody": request_body,
            "responses": {"422": _VALIDATION_ERROR},
        }

    def complete(self, document: dict[str, Any]) -> dict[str, Any]:
        """FastAPI's ``document``, with the body models FastAPI did not see among its
        components (written as FastAPI writes its own: through its OpenAPI model, None left
        out)."""
        components = document.setdefault("components", {}).setdefault("schemas", {})
        if all(name in components for name in self._models):
            return document
        models: list[tuple[type[BaseModel], JsonSchemaMode]] = [
            (m, "validation") for m in self._models.values()
        ]
        _, top = models_json_schema(models, ref_template=_REF)
        for name, definition in top.get("$defs", {}).items():
            schema = Schema.model_validate(definition)
            components.setdefault(name, jsonable_encoder(schema, exclude_none=True))
        return document


def _validated(adapter: TypeAdapter[M], obj: Any, field: str) -> M:
    """``obj`` validated by ``adapter``; errors name their field below ``field``."""
    try:
        return adapter.validate_python(obj)
    except ValidationError as exc:
        errs = exc.errors()
        first, *rest = errs

        def name(e: Any) -> str:
            return field + "".join(
                f"[{p}]" if isinstance(p, int) else f".{p}" for p in e.get("loc", ())
            )

        raise InvalidInput(
            name(first), first["msg"], *(FieldError(name(e), e["msg"]) for e in rest)
        ) from exc


def _feature_commands(body: dict[str, Any], who: str) -> list[cmd.UpsertPresence]:
    if body.get("type") != "FeatureCollection" or not isinstance(body.get("features"), list):
        raise InvalidInput("type", "must be a GeoJSON FeatureCollection with a features list")
    features = body["features"]
    if len(features) > MAX_BATCH:
        raise PayloadTooLarge("features", f"at most {MAX_BATCH} features per request")
    out = []
    seen: set[str] = set()
    for i, feature in enumerate(features):
        field = f"features[{i}]"
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise InvalidInput(field, "must be a GeoJSON Feature")
        fid = feature.get("id")
        if not isinstance(fid, str):
            raise InvalidInput(f"{field}.id", "each feature needs a string id")
        _check_id(fid, f"{field}.id")
        if fid in seen:
            raise InvalidInput(f"{field}.id", f"duplicate id {fid!r} in the collection")
        seen.add(fid)
        props = feature.get("properties") or {}
        geometry = feature.get("geometry")
        if not isinstance(props, dict) or not isinstance(geometry, dict):
            raise InvalidInput(field, "needs a geometry object and a properties object")
        body_i = dict(props)
        if geometry.get("type") == "Point":
            body_i["location"] = geometry
        else:
            body_i["area"] = geometry
        out.append(_validated(_PRESENCE, body_i, f"{field}.properties").command(who, fid, field))
    return out


def _check_id(value: str, field: str = "id") -> None:
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", value):
        raise InvalidInput(field, "ids are 1-64 characters of a-z, 0-9, '.', '_', '-'")


def _bbox(text: str) -> tuple[float, float, float, float]:
    parts = text.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError as exc:
        raise InvalidInput("bbox", "must be minlon,minlat,maxlon,maxlat numbers") from exc
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise InvalidInput("bbox", "must be four finite numbers minlon,minlat,maxlon,maxlat")
    minlon, minlat, maxlon, maxlat = values
    if not (-180 <= minlon <= 180 and -180 <= maxlon <= 180):
        raise InvalidInput("bbox", "longitudes must lie in [-180, 180]")
    if not (-90 <= minlat <= maxlat <= 90):
        raise InvalidInput("bbox", "latitudes must lie in [-90, 90] with minlat <= maxlat")
    return minlon, minlat, maxlon, maxlat


def _resume_point(header: str | None, since: int | None, durable: int) -> int:
    if header is not None:
        try:
            return int(header)
        except ValueError as exc:
            raise InvalidInput("Last-Event-ID", "must be a log index") from exc
    if since is not None:
        return since
    return durable - 1


def _check_size(size: int, durable: int, field: str) -> None:
    if size > durable:
        raise InvalidInput(field, f"the log has only {durable} entries")


def _last(events: list[dict[str, Any]]) -> int | None:
    return events[-1]["log_index"] if events else None
