"""Citizen feedback (phản ánh, kiến nghị) through intake: `POST /v1/feedback/events` takes one
feedback event (docs/intake.md, "Citizen feedback"), checks its shape, the key's agencies and the
catalog as a dossier event is checked, and writes it to `feedback.events.v1` (key = feedback_code).

A rejection is an RFC 9457 problem naming each bad field, as for dossier events."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Request, Response
from pydantic import Field, TypeAdapter, ValidationError
from pydantic.functional_validators import AfterValidator

from dossier_contracts.feedback_codec import encode_feedback_event
from dossier_core.calendar import VN_TZ
from dossier_core.feedback import FEEDBACK_CODE, FeedbackEvent, FeedbackEventType
from dossier_core.restructuring import validity_refusal
from dossier_intake.admission import field_errors
from dossier_intake.auth import authenticate
from dossier_intake.bounded import Code, OccurredAt, Text
from dossier_intake.errors import ErrorsProblem, first_errors
from dossier_intake.limits import read_body
from dossier_intake.openapi import EVENT_RESPONSES, SECURED
from dossier_intake.publisher import KafkaUnavailable
from dossier_intake.routes import DirectRoute, _parse
from dossier_intake.schemas import Accepted, _Strict
from dossier_intake.state import IntakeState, intake_state
from dossier_runtime.problems import Problem

router = APIRouter()


def _feedback_code(value: str) -> str:
    if not FEEDBACK_CODE.fullmatch(value):
        raise ValueError("must be PAKN- followed by 1 to 60 letters, digits, dots, dashes or underscores")
    return value


FeedbackCode = Annotated[str, AfterValidator(_feedback_code)]


class _FeedbackEnvelope(_Strict):
    event_id: UUID
    agency_code: Code
    feedback_code: FeedbackCode
    occurred_at: OccurredAt


class ReceivedData(_Strict):
    subject: Text | None = None


class AssignedData(_Strict):
    handler: Text | None = None


class NoteData(_Strict):
    note: Text | None = None


class NoData(_Strict):
    pass


class FeedbackReceived(_FeedbackEnvelope):
    type: Literal["feedback.received"]
    data: ReceivedData = ReceivedData()


class FeedbackAssigned(_FeedbackEnvelope):
    type: Literal["feedback.assigned"]
    data: AssignedData = AssignedData()


class FeedbackAnswered(_FeedbackEnvelope):
    type: Literal["feedback.answered"]
    data: NoteData = NoteData()


class FeedbackPublished(_FeedbackEnvelope):
    type: Literal["feedback.published"]
    data: NoData = NoData()


class FeedbackWithdrawn(_FeedbackEnvelope):
    type: Literal["feedback.withdrawn"]
    data: NoteData = NoteData()


FeedbackJson = Annotated[
    FeedbackReceived | FeedbackAssigned | FeedbackAnswered | FeedbackPublished | FeedbackWithdrawn,
    Field(discriminator="type"),
]
FEEDBACK_ADAPTER: TypeAdapter[FeedbackJson] = TypeAdapter(FeedbackJson)


_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "description": "a feedback event (docs/intake.md)",
            },
            "example": {
                "event_id": "6f1c2b8e-1d2a-4c55-9a43-0b6f3f4f7a10",
                "type": "feedback.received",
                "feedback_code": "PAKN-2025-000123",
                "agency_code": "000.00.18.H49",
                "occurred_at": "2025-04-07T09:30:00+07:00",
                "data": {"subject": "Thời hạn giải quyết thủ tục cấp phép xây dựng"},
            },
        }
    },
}


def to_domain(model: FeedbackJson) -> FeedbackEvent:
    data = model.data.__dict__
    return FeedbackEvent(
        event_id=str(model.event_id),
        type=FeedbackEventType(model.type),
        feedback_code=model.feedback_code,
        agency_code=model.agency_code,
        occurred_at=model.occurred_at,
        subject=data.get("subject"),
        handler=data.get("handler"),
        note=data.get("note"),
    )


_TYPES = tuple(f"{t.value}." for t in FeedbackEventType)


def _named(error: dict[str, Any]) -> dict[str, Any]:
    """A field error with its path relative to the event (without the union's tag)."""
    name = error["field"]
    if error.get("type", "").startswith("union_tag"):
        return {**error, "field": "type"}
    for prefix in _TYPES:
        if name.startswith(prefix):
            return {**error, "field": name.removeprefix(prefix)}
    return error


def admit_feedback(raw: Any, state: IntakeState, allows: Any, now: datetime) -> FeedbackEvent:
    """The domain event of `raw`, or an `ErrorsProblem` (422 shape or catalog, 403 agency)."""
    try:
        model = FEEDBACK_ADAPTER.validate_python(raw, context={"now": now})
    except ValidationError as exc:
        errors = [_named(e) for e in field_errors(exc)]
        listed, truncated = first_errors(errors, len(errors))
        raise ErrorsProblem(
            422,
            "Invalid feedback event",
            "The event was not accepted.",
            errors=listed,
            errors_truncated=truncated,
        ) from None
    agency = model.agency_code
    if not allows(agency):
        message = f"this API key may not write events of agency {agency!r}"
        raise ErrorsProblem(
            403,
            "Forbidden agency",
            "The event was not accepted.",
            errors=[{"field": "agency_code", "message": message}],
        )
    known = state.catalog.agencies.get(agency)
    refusal = None
    if known is None:
        refusal = f"unknown agency {agency!r}"
    elif known.valid_from is not None or known.valid_to is not None:
        day = model.occurred_at.astimezone(VN_TZ).date()
        refusal = validity_refusal(known, day, state.settings.agency_validity_grace_days)
    if refusal is not None:
        raise ErrorsProblem(
            422,
            "Invalid feedback event",
            "The event was not accepted.",
            errors=[{"field": "agency_code", "message": refusal}],
        )
    return to_domain(model)


@router.post(
    "/v1/feedback/events",
    status_code=202,
    summary="Record one citizen feedback (phản ánh, kiến nghị) event",
    response_model=Accepted,
    responses=EVENT_RESPONSES,
    openapi_extra={"requestBody": _BODY, "security": SECURED},
)
async def post_feedback_event(request: Request) -> Response:
    key = authenticate(request)
    state = intake_state(request)
    raw = _parse(await read_body(request, state.settings.max_body_bytes))
    now = state.clock()
    event = admit_feedback(raw, state, key.allows, now)
    value = encode_feedback_event(event, recorded_at=now, source=key.name)
    try:
        await state.publisher.publish(
            [(event.feedback_code.encode(), value)], topic=state.settings.feedback_topic
        )
    except KafkaUnavailable:
        detail = (
            "Kafka did not acknowledge the write; the event is not accepted. "
            "Retry later with the same event_id."
        )
        headers = {"Retry-After": str(state.settings.retry_after_s)}
        raise Problem(503, "Event log unavailable", detail, headers=headers) from None
    state.metrics.accepted.labels(event.type.value).inc()
    return Response(
        b'{"event_id":"' + event.event_id.encode() + b'","status":"accepted"}',
        status_code=202,
        media_type="application/json",
    )


def feedback_routes() -> list[DirectRoute]:
    return [DirectRoute("/v1/feedback/events", post_feedback_event, methods=["POST"])]
