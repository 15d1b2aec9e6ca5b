"""Errors as RFC 9457 problem details, mapped once from the exception tree; strict JSON bodies.

Bodies are read with a JSON decoder that refuses what Python's would let through (NaN, Infinity,
duplicate keys, deep nesting: :mod:`accord.api.strict_json`), and with a size limit, so bad input
never reaches the domain.
"""

from __future__ import annotations

import inspect
import json
import typing
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, request_response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accord.api.strict_json import strict_loads
from accord.errors import (
    AccordError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    StorageError,
    Unauthorized,
)

__all__ = [
    "REQUIRED",
    "BodyLimit",
    "StrictJSONRoute",
    "answer_for",
    "install_problem_handlers",
    "parse_body",
    "problem",
    "read_body",
]

T = TypeVar("T")

PROBLEM = "application/problem+json"

_STATUS: list[tuple[type[AccordError], int, str]] = [
    (PayloadTooLarge, 413, "Payload too large"),
    (InvalidInput, 422, "Invalid input"),
    (Unauthorized, 401, "Unauthorized"),
    (Forbidden, 403, "Forbidden"),
    (NotFound, 404, "Not found"),
    (Conflict, 409, "Conflict"),
    (RateLimited, 429, "Too many requests"),
    (StorageError, 503, "Storage unavailable"),
]


def problem(
    status: int,
    title: str,
    detail: str,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": f"https://accord.invalid/problems/{title.lower().replace(' ', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _from_accord(exc: AccordError) -> Response:
    for cls, status, title in _STATUS:
        if isinstance(exc, cls):
            errors = None
            if isinstance(exc, InvalidInput):
                errors = [{"field": e.field, "message": e.message} for e in exc.errors]
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            return problem(status, title, str(exc), errors, headers)
    return problem(500, "Internal error", "an unexpected error occurred")


def _loc_to_field(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    field = ""
    for p in parts:
        field += f"[{p}]" if p.isdigit() else (f".{p}" if field else p)
    return field or "body"


def _from_validation(exc: RequestValidationError) -> Response:
    errors = []
    for err in exc.errors():
        message = err.get("msg", "invalid")
        ctx = err.get("ctx") or {}
        field = _loc_to_field(tuple(err.get("loc", ())))
        if err.get("type") == "json_invalid" and "error" in ctx:
            field, message = "body", f"malformed JSON: {ctx['error']}"
        errors.append({"field": field, "message": message})
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return problem(422, "Invalid input", detail, errors)


def answer_for(exc: Exception) -> Response:
    """The problem an endpoint's exception is answered with, as the app's handlers answer it
    (:func:`install_problem_handlers`), for code that runs an endpoint outside the app (the
    relay, :mod:`accord.api.relay`); anything unforeseen is a 500."""
    if isinstance(exc, AccordError):
        return _from_accord(exc)
    if isinstance(exc, RequestValidationError):
        return _from_validation(exc)
    return problem(500, "Internal error", "an unexpected error occurred")


def install_problem_handlers(app: FastAPI) -> None:
    async def accord_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, AccordError)
        return _from_accord(exc)

    async def validation_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return _from_validation(exc)

    async def http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if isinstance(exc.__cause__, AccordError):  # FastAPI's 400 for a body it could not read
            return _from_accord(exc.__cause__)  # (too large, say): the reason itself
        headers = dict(exc.headers) if exc.headers else None
        return problem(exc.status_code, _title(exc.status_code), str(exc.detail), None, headers)

    app.add_exception_handler(AccordError, accord_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)


def _title(status: int) -> str:
    return {404: "Not found", 405: "Method not allowed", 400: "Bad request"}.get(status, "Error")


def _is_json(content_type: str | None) -> bool:
    """Whether FastAPI reads a body with this Content-Type as JSON: ``application/json`` or
    ``application/...+json``, parsed as its ``email.message`` parse does (any other value, or
    none, leaves the body as bytes, which no JSON model accepts)."""
    if not content_type:
        return False
    ctype = content_type.partition(";")[0].strip().lower()
    if ctype.count("/") != 1:
        return False
    main, sub = ctype.split("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


class _Missing:
    """The default of a required body (:func:`read_body`)."""


REQUIRED: Any = _Missing()


async def read_body(request: Request, adapter: TypeAdapter[T], default: Any = REQUIRED) -> T:
    """The body of ``request``, read once, through :func:`strict_loads`, validated by ``adapter``.

    For endpoints that take the ``Request`` itself: it does what FastAPI does for a declared body
    parameter of that type (``default``: the value of an empty body; a required body by default),
    and fails alike, with a ``RequestValidationError`` whose errors are located under ``body``, so
    the problem sent back names the same fields.
    """
    return parse_body(await request.body(), request.headers.get("content-type"), adapter, default)


def parse_body(
    body: bytes, content_type: str | None, adapter: TypeAdapter[T], default: Any = REQUIRED
) -> T:
    """:func:`read_body` on a body already read, sent with ``content_type``."""
    if not body:
        if default is REQUIRED:
            missing = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
            raise RequestValidationError([missing])
        return cast(T, default)
    value: Any = body
    if _is_json(content_type):
        try:
            try:
                value = strict_loads(body)
            except UnicodeDecodeError as exc:
                raise json.JSONDecodeError("body is not UTF-8", "", 0) from exc
        except json.JSONDecodeError as exc:
            error = {
                "type": "json_invalid",
                "loc": ("body", exc.pos),
                "msg": "JSON decode error",
                "input": {},
                "ctx": {"error": exc.msg},
            }
            raise RequestValidationError([error], body=exc.doc) from exc
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from exc


class _StrictRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            try:
                body = await self.body()
                self._json = strict_loads(body)
            except UnicodeDecodeError as exc:
                raise json.JSONDecodeError("body is not UTF-8", "", 0) from exc
        return self._json


class StrictJSONRoute(APIRoute):
    """An APIRoute whose JSON bodies go through :func:`strict_loads`, and which turns a request
    for another path away by the path's static beginning before its regular expression.

    An endpoint that takes the ``Request`` only and returns a ``Response`` (the busiest ones: it
    checks the token and reads its body itself, :func:`read_body`) is run by Starlette directly:
    FastAPI's request handler would find nothing to do for it, at about 100 µs a request.

    The router tries its routes in turn, and a full match (the route path, the expression,
    FastAPI's look-up of an included router's context) costs 2-3 µs a route: about 100 µs for a
    request to the last of this app's routes. A path that does not start with the route's text
    before its first ``{parameter}`` cannot match the expression, so the answer is the same.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        self._static = path.split("{", 1)[0]
        if _takes_the_request_only(endpoint) and not self.dependencies:
            # nothing for FastAPI's request handler to do: no dependencies to solve, no body to
            # read, no answer to serialise; Starlette runs it, exceptions still go to the handlers
            self.app = request_response(endpoint)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        # without a root path, Starlette matches the expression against the path itself
        if (
            scope["type"] == "http"
            and not scope.get("root_path")
            and not scope["path"].startswith(self._static)
        ):
            return Match.NONE, {}
        return super().matches(scope)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(_StrictRequest(request.scope, request.receive))

        return strict


def _takes_the_request_only(endpoint: Callable[..., Any]) -> bool:
    """Whether ``endpoint`` is a coroutine function of one parameter, the ``Request``, annotated
    to return a ``Response``: it reads its inputs itself (:func:`read_body`) and answers ready."""
    if not inspect.iscoroutinefunction(endpoint):
        return False
    try:
        hints = typing.get_type_hints(endpoint)
    except NameError:  # an annotation this module cannot resolve: not one of these
        return False
    params = list(inspect.signature(endpoint).parameters)
    answer = hints.get("return")
    return (
        len(params) == 1
        and hints.get(params[0]) is Request
        and isinstance(answer, type)
        and issubclass(answer, Response)
    )


class BodyLimit:
    """ASGI middleware: refuse bodies over ``limit`` bytes with 413, before reading them whole."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise PayloadTooLarge("body", f"larger than {self.limit} bytes")
            return message

        await self.app(scope, limited, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(413, "Payload too large", f"the body is larger than {self.limit} bytes")
        await response(scope, receive, send)
