"""Wire models of the HTTP API (pydantic) and their conversion to core commands.

Geometry and locations arrive as JSON objects and are read by :mod:`accord.geo`, which names the
faulty field; everything else is checked here. Conversions stay at this edge: the core sees typed
commands only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from accord.core import commands as cmd
from accord.core.model import Disclosure, shape_from_json, shape_to_json
from accord.errors import InvalidInput
from accord.geo.discrepancy import parse_boundary_features
from accord.geo.location import parse_location
from accord.geo.parse import parse_geometry
from accord.geo.shapes import Area

__all__ = [
    "CLEARANCE",
    "CLEARANCE_COMMAND",
    "AckIn",
    "AlertIn",
    "AnswerIn",
    "AorIn",
    "ClearanceIn",
    "DisclosureIn",
    "LayerIn",
    "PartyIn",
    "PositionIn",
    "PresenceIn",
    "clearance_frame",
    "clearance_from_frame",
]

Id = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
Level = Literal["exact", "coarse", "conflict-only"]
Metres = Annotated[float, Field(ge=0, le=1_000_000, allow_inf_nan=False)]
GeoJSON = dict[str, Any]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_max_length=10_000)


class PartyIn(_In):
    id: Id
    name: Annotated[str, Field(min_length=1, max_length=200)]

    def command(self) -> cmd.RegisterParty:
        return cmd.RegisterParty(party="admin", id=self.id, name=self.name)


class AorIn(_In):
    area: GeoJSON
    max_staleness_s: Annotated[int, Field(ge=1, le=7 * 86_400)]

    def command(self, party: str) -> cmd.SetAor:
        area = parse_geometry(self.area, "area")
        if not isinstance(area, Area):
            raise InvalidInput(
                "area", "an area of responsibility must be a Polygon or MultiPolygon"
            )
        return cmd.SetAor(
            party=party, area=area, area_json=self.area, max_staleness_s=self.max_staleness_s
        )


class DisclosureIn(_In):
    default: Level = "conflict-only"
    parties: dict[Id, Level] = Field(default_factory=dict)

    def value(self) -> Disclosure:
        return Disclosure(default=self.default, parties=dict(self.parties))


class PresenceIn(_In):
    kind: Literal["site", "unit"]
    label: Annotated[str, Field(max_length=200)] = ""
    location: GeoJSON | None = None
    uncertainty_m: Metres = 0.0
    area: GeoJSON | None = None
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None
    max_speed_mps: Annotated[float, Field(ge=0, le=400, allow_inf_nan=False)] | None = None
    disclosure: DisclosureIn = Field(default_factory=DisclosureIn)

    def command(self, party: str, id: str, field: str = "") -> cmd.UpsertPresence:
        pre = f"{field}." if field else ""
        if (self.location is None) == (self.area is None):
            raise InvalidInput(f"{pre}location", "give exactly one of location or area")
        position = parse_location(self.location, f"{pre}location") if self.location else None
        area = None
        if self.area is not None:
            shape = parse_geometry(self.area, f"{pre}area")
            if not isinstance(shape, Area):
                raise InvalidInput(f"{pre}area", "must be a Polygon or MultiPolygon")
            area = shape
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise InvalidInput(f"{pre}valid_until", "must be after valid_from")
        return cmd.UpsertPresence(
            party=party,
            id=id,
            kind=self.kind,
            label=self.label,
            position=position,
            uncertainty_m=self.uncertainty_m,
            area=area,
            area_json=self.area,
            valid_from=self.valid_from,
            valid_until=self.valid_until,
            max_speed_mps=self.max_speed_mps,
            disclosure=self.disclosure.value(),
        )


class PositionIn(_In):
    id: Id
    location: GeoJSON
    uncertainty_m: Metres = 0.0
    time: AwareDatetime

    def update(self, field: str) -> cmd.PositionUpdate:
        return cmd.PositionUpdate(
            id=self.id,
            position=parse_location(self.location, f"{field}.location"),
            uncertainty_m=self.uncertainty_m,
            time=self.time,
        )


class LayerIn(_In):
    id: Id | None = None
    name: Annotated[str, Field(min_length=1, max_length=200)]
    role: Literal["boundary"]
    features: GeoJSON

    def command(self, party: str) -> cmd.AddLayer:
        return cmd.AddLayer(
            party=party,
            id=self.id,
            name=self.name,
            role=self.role,
            features=self.features,
            geometry=parse_boundary_features(self.features, "features"),
        )


class Window(_In):
    start: AwareDatetime
    end: AwareDatetime


class ClearanceIn(_In):
    id: Id | None = None
    area: GeoJSON
    radius_m: Metres | None = None
    width_m: Metres | None = None
    hazard_m: Metres
    window: Window
    purpose: Annotated[str, Field(max_length=2000)] = ""
    confirm: Annotated[list[Id], Field(max_length=50)] = Field(default_factory=list)

    def command(self, party: str) -> cmd.RequestClearance:
        shape = parse_geometry(self.area, "area", radius_m=self.radius_m, width_m=self.width_m)
        if self.window.end <= self.window.start:
            raise InvalidInput("window.end", "must be after window.start")
        return cmd.RequestClearance(
            party=party,
            id=self.id,
            area=shape,
            area_json=self.area,
            radius_m=self.radius_m,
            width_m=self.width_m,
            hazard_m=self.hazard_m,
            window_start=self.window.start,
            window_end=self.window.end,
            purpose=self.purpose,
            confirm=tuple(self.confirm),
        )


CLEARANCE = TypeAdapter(ClearanceIn)
"""Reads a clearance request's body (:func:`accord.api.problems.parse_body`)."""

CLEARANCE_COMMAND = "clearance-command"
"""The relay's kind (:mod:`accord.api.relay`) of a frame that carries :func:`clearance_frame`."""


def clearance_frame(command: cmd.RequestClearance) -> bytes:
    """``command`` without its party, as compact JSON: what a front that has read and checked a
    clearance request hands the core (:func:`clearance_from_frame`), so that the core does not
    parse and validate it again. Raises ``TypeError`` for what orjson cannot write exactly (an
    integer beyond 64 bits, a lone surrogate): the front then hands over the body as it came."""
    return orjson.dumps(
        {
            "id": command.id,
            "area": command.area_json,
            "shape": shape_to_json(command.area),
            "radius_m": command.radius_m,
            "width_m": command.width_m,
            "hazard_m": command.hazard_m,
            "start": command.window_start.isoformat(),
            "end": command.window_end.isoformat(),
            "purpose": command.purpose,
            "confirm": command.confirm,
        }
    )


def clearance_from_frame(data: bytes, party: str) -> cmd.RequestClearance:
    """The command :func:`clearance_frame` wrote, for ``party``: equal to the one the front read
    (the times as aware datetimes of the same instants)."""
    d = orjson.loads(data)
    return cmd.RequestClearance(
        party=party,
        id=d["id"],
        area=shape_from_json(d["shape"]),
        area_json=d["area"],
        radius_m=d["radius_m"],
        width_m=d["width_m"],
        hazard_m=d["hazard_m"],
        window_start=datetime.fromisoformat(d["start"]),
        window_end=datetime.fromisoformat(d["end"]),
        purpose=d["purpose"],
        confirm=tuple(d["confirm"]),
    )


class AnswerIn(_In):
    answer: Literal["absent", "present", "checking"]
    note: Annotated[str, Field(max_length=2000)] | None = None


class AckIn(_In):
    version: Annotated[int, Field(ge=0)]


class AlertIn(_In):
    kind: Literal["under_fire", "troops_in_contact"]
    location: GeoJSON
    radius_m: Annotated[float, Field(gt=0, le=100_000, allow_inf_nan=False)]

    def command(self, party: str) -> cmd.RaiseAlert:
        return cmd.RaiseAlert(
            party=party,
            kind=self.kind,
            position=parse_location(self.location, "location"),
            radius_m=self.radius_m,
        )
