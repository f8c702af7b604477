"""The event endpoints: parse, admit each event, write the admitted ones, answer per SPEC §3.
(`/healthz`, `/readyz` and `/metrics` are the services' shared routes, added by `app.py`.)"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from starlette.routing import Match, Route
from starlette.types import Scope

from dossier_contracts.event_codec import encode_event, event_to_proto, to_timestamp
from dossier_core.events import DossierEvent
from dossier_intake.admission import Admission, Rejection
from dossier_intake.auth import authenticate
from dossier_intake.errors import ErrorsProblem, bounded_error, first_errors
from dossier_intake.limits import batch_too_large, read_body
from dossier_intake.openapi import (
    BATCH_RESPONSES,
    EVENT_RESPONSES,
    SECURED,
    batch_body,
    event_body,
)
from dossier_intake.publisher import KafkaUnavailable, Record
from dossier_intake.schemas import Accepted, BatchResult
from dossier_intake.state import IntakeState, intake_state
from dossier_runtime.api_keys import ApiKey
from dossier_runtime.problems import Problem

log = logging.getLogger(__name__)
router = APIRouter()


class DirectRoute(Route):
    """A plain Starlette route for the two event endpoints, placed before their FastAPI twins.

    The handlers read and check the body themselves, so FastAPI's per-request parameter solving
    only costs time on the hot path; the FastAPI routes stay for the OpenAPI document."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self  # the metrics label
        return match, child_scope


_TITLES = {403: "Forbidden agency", 422: "Invalid event"}


def _json(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _parse(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        error = bounded_error("body", str(exc))
        raise Problem(400, "Malformed JSON", error["message"], errors=[error]) from None


def records(events: Sequence[DossierEvent], recorded_at: datetime, source: str) -> list[Record]:
    """The Kafka records of a request's events: key the dossier code, value the protobuf envelope.

    The same bytes as `encode_event(event_to_proto(event, recorded_at=recorded_at, source=source))`,
    with `recorded_at` converted once for the whole request."""
    recorded = to_timestamp(recorded_at)
    out: list[Record] = []
    for event in events:
        msg = event_to_proto(event, source=source)
        msg.recorded_at.CopyFrom(recorded)
        out.append((event.dossier_code.encode(), encode_event(msg)))
    return out


async def _write(state: IntakeState, events: Sequence[DossierEvent], key: ApiKey, now: datetime) -> None:
    try:
        await state.publisher.publish(records(events, now, key.name))
    except KafkaUnavailable:
        retry = str(state.settings.retry_after_s)
        detail = (
            "Kafka did not acknowledge the write; no event of this request is accepted. "
            "Retry later with the same event_ids."
        )
        raise Problem(503, "Event log unavailable", detail, headers={"Retry-After": retry}) from None
    for event_type, count in Counter(e.type for e in events).items():
        state.metrics.accepted.labels(event_type).inc(count)
    if events:
        ids = [e.event_id for e in events]
        log.info("events accepted", extra={"key_name": key.name, "count": len(ids), "event_ids": ids})


def _rejected(state: IntakeState, rejection: Rejection, key: ApiKey) -> None:
    state.metrics.event_rejected(rejection.event_type, rejection.status_code)
    log.info(
        "event rejected",
        extra={
            "key_name": key.name,
            "event_id": rejection.event_id,
            "status": rejection.status_code,
            "errors": rejection.errors,
            "errors_truncated": rejection.errors_truncated,
        },
    )


def _result(rejection: Rejection) -> dict[str, Any]:
    result = {
        "event_id": rejection.event_id,
        "status": "rejected",
        "status_code": rejection.status_code,
        "errors": rejection.errors,
    }
    if rejection.errors_truncated:
        result["errors_truncated"] = rejection.errors_truncated
    return result


@router.post(
    "/v1/events",
    status_code=202,
    summary="Record one dossier event",
    response_model=Accepted,
    responses=EVENT_RESPONSES,
    openapi_extra={"requestBody": event_body(), "security": SECURED},
)
async def post_event(request: Request) -> Response:
    key = authenticate(request)
    state = intake_state(request)
    raw = _parse(await read_body(request, state.settings.max_body_bytes))
    now = state.clock()
    grace = state.settings.agency_validity_grace_days
    outcome = Admission(key, state.catalog, now, grace, takes_applicant=state.sealer is not None).admit(raw)
    if isinstance(outcome, Rejection):
        _rejected(state, outcome, key)
        status = outcome.status_code
        raise ErrorsProblem(
            status,
            _TITLES[status],
            "The event was not accepted.",
            errors=outcome.errors,
            errors_truncated=outcome.errors_truncated,
        )
    event = outcome.to_domain(state.sealer)
    await _write(state, [event], key, now)
    return _json({"event_id": event.event_id, "status": "accepted"}, 202)


@router.post(
    "/v1/events:batch",
    summary="Record up to 1,000 dossier events; one result per event, in order",
    response_model=BatchResult,
    responses=BATCH_RESPONSES,
    openapi_extra={"requestBody": batch_body(1000), "security": SECURED},
)
async def post_batch(request: Request) -> Response:
    key = authenticate(request)
    state = intake_state(request)
    raw = _parse(await read_body(request, state.settings.max_body_bytes))
    if not isinstance(raw, dict) or not isinstance(raw.get("events"), list):
        errors = [{"field": "events", "message": "the body must be an object with an `events` array"}]
        raise Problem(422, "Invalid batch", errors=errors)
    if len(raw) > 1:
        extra = [name for name in raw if name != "events"]
        listed, truncated = first_errors(
            (bounded_error(name, "Extra inputs are not permitted", "extra_forbidden") for name in extra),
            len(extra),
        )
        detail = 'The body must be {"events": [...]} and nothing else.'
        raise ErrorsProblem(422, "Invalid batch", detail, errors=listed, errors_truncated=truncated)
    items: list[Any] = raw["events"]
    if len(items) > state.settings.max_batch_events:
        raise batch_too_large(len(items), state.settings.max_batch_events)
    now = state.clock()
    admission = Admission(
        key,
        state.catalog,
        now,
        state.settings.agency_validity_grace_days,
        takes_applicant=state.sealer is not None,
    )
    outcomes: list[DossierEvent | Rejection] = []
    for item in items:
        outcome = admission.admit(item)
        outcomes.append(outcome if isinstance(outcome, Rejection) else outcome.to_domain(state.sealer))
    await _write(state, [o for o in outcomes if not isinstance(o, Rejection)], key, now)
    results: list[dict[str, Any]] = []
    for event in outcomes:
        if isinstance(event, Rejection):
            _rejected(state, event, key)
            results.append(_result(event))
        else:
            results.append({"event_id": event.event_id, "status": "accepted"})
    return _json({"results": results})


def direct_routes() -> list[DirectRoute]:
    return [
        DirectRoute("/v1/events", post_event, methods=["POST"]),
        DirectRoute("/v1/events:batch", post_batch, methods=["POST"]),
    ]
