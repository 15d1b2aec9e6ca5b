"""The exception tree of Accord.

Every error Accord raises on purpose is an :class:`AccordError`. Foreign exceptions (from pyproj,
shapely, sqlite3, ...) are converted at the boundary where they occur, with ``raise ... from exc``.

::

    AccordError
    ├── InvalidInput        bad input: names each faulty field and why (HTTP 400/422, CLI exit 2)
    │   └── PayloadTooLarge a body or a geometry over the stated limits (HTTP 413)
    ├── NotFound            no such thing, or not visible to the caller (HTTP 404)
    ├── Forbidden           the caller may not do this (HTTP 403)
    ├── Unauthorized        no valid credentials (HTTP 401)
    ├── Conflict            the request contradicts the current state (HTTP 409)
    ├── RateLimited         a probing budget or similar limit is exhausted (HTTP 429)
    ├── StorageError        the store failed; nothing was acknowledged (HTTP 503)
    │   └── Superseded      a head or snapshot older than one stored (another process's)
    └── VerificationError   a signature, proof or consistency check failed (CLI exit 1)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AccordError",
    "Conflict",
    "FieldError",
    "Forbidden",
    "InvalidInput",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "StorageError",
    "Superseded",
    "Unauthorized",
    "VerificationError",
]


class AccordError(Exception):
    """Base class of every error Accord raises on purpose."""


@dataclass(frozen=True, slots=True)
class FieldError:
    """One fault in one field of an input: ``field`` is a dotted path such as
    ``area.coordinates``."""

    field: str
    message: str


class InvalidInput(AccordError):
    """Input that cannot be accepted. Carries one or more :class:`FieldError`."""

    def __init__(self, field: str, message: str, *more: FieldError) -> None:
        self.errors: tuple[FieldError, ...] = (FieldError(field, message), *more)
        super().__init__(
            "; ".join(f"{e.field}: {e.message}" if e.field else e.message for e in self.errors)
        )

    @property
    def field(self) -> str:
        return self.errors[0].field

    def prefixed(self, prefix: str) -> InvalidInput:
        """The same error with every field path placed under ``prefix``."""
        errs = [
            FieldError(f"{prefix}.{e.field}" if e.field else prefix, e.message) for e in self.errors
        ]
        new = InvalidInput(errs[0].field, errs[0].message, *errs[1:])
        new.__cause__ = self.__cause__
        return new


class PayloadTooLarge(InvalidInput):
    """A body, a geometry or a batch larger than the stated limits."""


class NotFound(AccordError):
    """No such object, or one the caller may not see (the two are indistinguishable on purpose)."""


class Forbidden(AccordError):
    """The caller is authenticated but may not do this."""


class Unauthorized(AccordError):
    """Missing or invalid credentials."""


class Conflict(AccordError):
    """The request contradicts the current state (for example a closed clearance)."""


class RateLimited(AccordError):
    """A budget is exhausted (for example the probing defence's request budget)."""


class StorageError(AccordError):
    """The store failed; whatever was being written was not acknowledged."""


class Superseded(StorageError):
    """A tree head or snapshot was refused because a later one is stored already (on a store
    that several processes share, another process stored it first)."""


class VerificationError(AccordError):
    """A signature, an inclusion proof or a consistency proof did not verify."""
