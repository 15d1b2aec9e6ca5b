"""Commands: what a party asks the core to do. Each is a frozen dataclass; ``party`` is the acting
party id (``"admin"`` for administrative actions). The API layer builds them from wire JSON with
:mod:`accord.geo` already applied, so geometry and positions arrive parsed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

from accord.core.model import Disclosure
from accord.geo.location import Position
from accord.geo.shapes import Area, Shape

__all__ = [
    "AckAlert",
    "AckClearance",
    "AddLayer",
    "AnswerClearance",
    "CloseClearance",
    "Command",
    "Heartbeat",
    "MarkDelivered",
    "PositionUpdate",
    "RaiseAlert",
    "RegisterParty",
    "RemovePresence",
    "RequestClearance",
    "SetAor",
    "UpdatePositions",
    "UpsertPresence",
    "UpsertPresences",
]


@dataclass(frozen=True, slots=True)
class RegisterParty:
    party: str
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class SetAor:
    party: str
    area: Area
    area_json: Mapping[str, Any]
    max_staleness_s: int


@dataclass(frozen=True, slots=True)
class Heartbeat:
    party: str


@dataclass(frozen=True, slots=True)
class UpsertPresence:
    party: str
    id: str
    kind: Literal["site", "unit"]
    label: str
    position: Position | None
    uncertainty_m: float
    area: Area | None
    area_json: Mapping[str, Any] | None
    valid_from: datetime | None
    valid_until: datetime | None
    max_speed_mps: float | None
    disclosure: Disclosure = field(default_factory=Disclosure)


@dataclass(frozen=True, slots=True)
class UpsertPresences:
    party: str
    items: tuple[UpsertPresence, ...]


@dataclass(frozen=True, slots=True)
class RemovePresence:
    party: str
    id: str


# Sent by the thousand: their own compiled __init__, read-only fields (see accord.compiled).
@dataclass(init=False, unsafe_hash=True, slots=True)
class PositionUpdate:
    id: Final[str]
    position: Final[Position]
    uncertainty_m: Final[float]
    time: Final[datetime]

    def __init__(self, id: str, position: Position, uncertainty_m: float, time: datetime) -> None:
        self.id = id
        self.position = position
        self.uncertainty_m = uncertainty_m
        self.time = time


@dataclass(init=False, unsafe_hash=True, slots=True)
class UpdatePositions:
    party: Final[str]
    updates: Final[tuple[PositionUpdate, ...]]

    def __init__(self, party: str, updates: tuple[PositionUpdate, ...]) -> None:
        self.party = party
        self.updates = updates


@dataclass(frozen=True, slots=True)
class AddLayer:
    party: str
    id: str | None
    name: str
    role: str
    features: Mapping[str, Any]
    geometry: Any  # shapely geometry from accord.geo.discrepancy.parse_boundary_features


@dataclass(frozen=True, slots=True)
class RequestClearance:
    party: str
    id: str | None
    area: Shape
    area_json: Mapping[str, Any]
    radius_m: float | None
    width_m: float | None
    hazard_m: float
    window_start: datetime
    window_end: datetime
    purpose: str
    confirm: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AnswerClearance:
    party: str
    id: str
    answer: Literal["absent", "present", "checking"]
    note: str | None = None


@dataclass(frozen=True, slots=True)
class CloseClearance:
    party: str
    id: str


@dataclass(frozen=True, slots=True)
class AckClearance:
    party: str
    id: str
    version: int


@dataclass(frozen=True, slots=True)
class RaiseAlert:
    party: str
    kind: Literal["under_fire", "troops_in_contact"]
    position: Position
    radius_m: float


@dataclass(frozen=True, slots=True)
class AckAlert:
    party: str
    id: str


@dataclass(frozen=True, slots=True)
class MarkDelivered:
    party: str
    alert: str
    clearance: str


Command = (
    RegisterParty
    | SetAor
    | Heartbeat
    | UpsertPresence
    | UpsertPresences
    | RemovePresence
    | UpdatePositions
    | AddLayer
    | RequestClearance
    | AnswerClearance
    | CloseClearance
    | AckClearance
    | RaiseAlert
    | AckAlert
    | MarkDelivered
)
