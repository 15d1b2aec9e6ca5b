"""accord.core: the domain. State, commands, events, verdict rules, disclosure, probing defence.

Pure: no I/O, no clock (``now`` is an argument). The shell calls :func:`decide` (pure; raises on
rejection), logs the events, then :func:`evolve` (applies one event in place); :func:`tick` turns
the passing of time into events and :func:`next_deadline` says when it must next run. The rules
are listed with their ids in docs/RULES.md.
"""

from accord.core import commands
from accord.core.commands import (
    AckAlert,
    AckClearance,
    AddLayer,
    AnswerClearance,
    CloseClearance,
    Command,
    Heartbeat,
    MarkDelivered,
    PositionUpdate,
    RaiseAlert,
    RegisterParty,
    RemovePresence,
    RequestClearance,
    SetAor,
    UpdatePositions,
    UpsertPresence,
    UpsertPresences,
)
from accord.core.decide import Event, decide, evolve, next_deadline, tick
from accord.core.disclosure import (
    alert_view,
    clearance_view,
    event_view,
    may_see_raw,
    parties_view,
    presence_features,
    presence_view,
    timeline,
)
from accord.core.model import Disclosure, Level, Reason, Verdict
from accord.core.state import State, fingerprint, from_snapshot, to_snapshot
from accord.core.verdict import verdict

__all__ = [
    "AckAlert",
    "AckClearance",
    "AddLayer",
    "AnswerClearance",
    "CloseClearance",
    "Command",
    "Disclosure",
    "Event",
    "Heartbeat",
    "Level",
    "MarkDelivered",
    "PositionUpdate",
    "RaiseAlert",
    "Reason",
    "RegisterParty",
    "RemovePresence",
    "RequestClearance",
    "SetAor",
    "State",
    "UpdatePositions",
    "UpsertPresence",
    "UpsertPresences",
    "Verdict",
    "alert_view",
    "clearance_view",
    "commands",
    "decide",
    "event_view",
    "evolve",
    "fingerprint",
    "from_snapshot",
    "may_see_raw",
    "next_deadline",
    "parties_view",
    "presence_features",
    "presence_view",
    "tick",
    "timeline",
    "to_snapshot",
    "verdict",
]
