"""Citizen feedback on the wire: domain `FeedbackEvent` ↔ protobuf `dossier.v1.FeedbackEvent` (topic
`feedback.events.v1`), and the folded `FeedbackState` ↔ `dossier.v1.FeedbackStatus` (topic
`feedback.status.v1`). Both topics are keyed by the feedback code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dossier_contracts.gen.dossier.v1 import feedback_pb2
from dossier_contracts.wire_values import from_offset_timestamp, from_timestamp, to_timestamp
from dossier_core.feedback import FeedbackEvent, FeedbackEventType, FeedbackStage, FeedbackState

__all__ = [
    "FEEDBACK_EVENTS_TOPIC",
    "FEEDBACK_STATUS_TOPIC",
    "FeedbackSnapshot",
    "decode_feedback_event",
    "decode_feedback_status",
    "encode_feedback_event",
    "encode_feedback_status",
]

FEEDBACK_EVENTS_TOPIC = "feedback.events.v1"
FEEDBACK_STATUS_TOPIC = "feedback.status.v1"

_PREFIX = "feedback."
_PB = feedback_pb2
_STAGE_TO_PROTO = {
    FeedbackStage.RECEIVED: _PB.FEEDBACK_STAGE_RECEIVED,
    FeedbackStage.ASSIGNED: _PB.FEEDBACK_STAGE_ASSIGNED,
    FeedbackStage.ANSWERED: _PB.FEEDBACK_STAGE_ANSWERED,
    FeedbackStage.PUBLISHED: _PB.FEEDBACK_STAGE_PUBLISHED,
    FeedbackStage.WITHDRAWN: _PB.FEEDBACK_STAGE_WITHDRAWN,
}
_STAGE_FROM_PROTO = {wire: stage for stage, wire in _STAGE_TO_PROTO.items()}
#: the optional text field of each payload, if it has one
_TEXT_FIELD = {
    FeedbackEventType.RECEIVED: "subject",
    FeedbackEventType.ASSIGNED: "handler",
    FeedbackEventType.ANSWERED: "note",
    FeedbackEventType.WITHDRAWN: "note",
}
_INSTANTS = ("received_at", "assigned_at", "answered_at", "published_at", "withdrawn_at", "due_at")


def encode_feedback_event(event: FeedbackEvent, *, recorded_at: datetime, source: str) -> bytes:
    offset = event.occurred_at.utcoffset()
    assert offset is not None  # FeedbackEvent refuses a naive instant
    msg = _PB.FeedbackEvent(
        event_id=event.event_id,
        feedback_code=event.feedback_code,
        agency_code=event.agency_code,
        occurred_at=to_timestamp(event.occurred_at),
        occurred_at_utc_offset_minutes=int(offset.total_seconds()) // 60,
        recorded_at=to_timestamp(recorded_at),
        source=source,
    )
    payload = getattr(msg, event.type.removeprefix(_PREFIX))
    payload.SetInParent()
    field = _TEXT_FIELD.get(event.type)
    value = getattr(event, field) if field else None
    if field and value is not None:
        setattr(payload, field, value)
    return msg.SerializeToString()


def decode_feedback_event(value: bytes, seq: int = 0) -> FeedbackEvent:
    """The domain event of a record's value; `ValueError` if it is not a feedback event."""
    msg = _PB.FeedbackEvent.FromString(value)
    name = msg.WhichOneof("payload")
    if name is None or not msg.HasField("occurred_at"):
        raise ValueError("a feedback event needs a payload and occurred_at")
    event_type = FeedbackEventType(_PREFIX + name)
    payload = getattr(msg, name)
    field = _TEXT_FIELD.get(event_type)
    text = getattr(payload, field) if field and payload.HasField(field) else None
    return FeedbackEvent(
        event_id=msg.event_id,
        type=event_type,
        feedback_code=msg.feedback_code,
        agency_code=msg.agency_code,
        occurred_at=from_offset_timestamp(msg.occurred_at, msg.occurred_at_utc_offset_minutes),
        subject=text if field == "subject" else None,
        handler=text if field == "handler" else None,
        note=text if field == "note" else None,
        seq=seq,
    )


@dataclass(frozen=True)
class FeedbackSnapshot:
    """One `feedback.status.v1` record: the item's state and its version (1, 2, 3 … per item)."""

    state: FeedbackState
    version: int


def encode_feedback_status(state: FeedbackState, version: int) -> bytes:
    msg = _PB.FeedbackStatus(
        feedback_code=state.feedback_code,
        agency_code=state.agency_code,
        version=version,
        stage=_STAGE_TO_PROTO[state.stage],
    )
    for name in _INSTANTS:
        instant = getattr(state, name)
        if instant is not None:
            getattr(msg, name).CopyFrom(to_timestamp(instant))
    return msg.SerializeToString()


def decode_feedback_status(value: bytes) -> FeedbackSnapshot:
    msg = _PB.FeedbackStatus.FromString(value)
    stage = _STAGE_FROM_PROTO.get(msg.stage)
    if stage is None or not msg.feedback_code:
        raise ValueError("a feedback status needs a code and a stage")
    instants = {name: _instant(msg, name) for name in _INSTANTS}
    state = FeedbackState(
        msg.feedback_code,
        msg.agency_code,
        stage,
        received_at=instants["received_at"],
        assigned_at=instants["assigned_at"],
        answered_at=instants["answered_at"],
        published_at=instants["published_at"],
        withdrawn_at=instants["withdrawn_at"],
        due_at=instants["due_at"],
    )
    return FeedbackSnapshot(state, msg.version)


def _instant(msg: feedback_pb2.FeedbackStatus, name: str) -> datetime | None:
    return from_timestamp(getattr(msg, name)) if msg.HasField(name) else None  # type: ignore[arg-type]
