"""Bad input gets a problem+json naming the bad field, and nothing reaches the topic."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from intake_harness import Intake, event, make_settings, read_topic, running

pytestmark = pytest.mark.integration


def fields(response: httpx.Response) -> set[str]:
    assert response.headers["content-type"] == "application/problem+json"
    return {e["field"] for e in response.json()["errors"]}


async def assert_topic_empty(intake: Intake) -> None:
    written = await read_topic(intake.settings.kafka_bootstrap_servers, intake.settings.events_topic)
    assert written.event_ids == []


async def test_malformed_json_is_400(intake: Intake) -> None:
    response = await intake.client.post("/v1/events", content=b'{"event_id": ', headers=intake.keys.auth())
    assert response.status_code == 400
    assert fields(response) == {"body"}
    assert response.json()["title"] == "Malformed JSON"


@pytest.mark.parametrize(
    ("change", "bad_fields"),
    [
        ({"event_id": 12}, {"event_id"}),
        ({"event_id": "not-a-uuid"}, {"event_id"}),
        ({"occurred_at": "2025-04-05T09:15:00"}, {"occurred_at"}),  # naive
        ({"occurred_at": 1743819300}, {"occurred_at"}),  # Unix seconds are not taken
        ({"occurred_at": "5 April 2025"}, {"occurred_at"}),
        ({"type": "dossier.lost"}, {"type"}),
        ({"type": None}, {"type"}),
        ({"dossier_code": "000.00.10.H49-250405-1"}, {"dossier_code"}),  # sequence too short
        ({"dossier_code": "000.00.10.H49-251305-0001"}, {"dossier_code"}),  # month 13
        ({"dossier_code": "000.00.12.H49-250405-0001"}, {"dossier_code"}),  # another agency's dossier
        ({"surprise": 1}, {"surprise"}),
        ({"data": {"channel": "direct"}}, {"data.procedure_code"}),
        ({"data": {"procedure_code": "1.004194", "channel": "fax"}}, {"data.channel"}),
        ({"data": {"procedure_code": 1004194, "channel": "direct"}}, {"data.procedure_code"}),
        (
            {"data": {"procedure_code": "1.004194", "channel": "direct", "applicant_type": 5}},
            {"data.applicant_type"},
        ),
        (
            {"data": {"procedure_code": "1.004194", "channel": "direct", "applicant_type": "1"}},
            {"data.applicant_type"},
        ),
        ({"data": {"procedure_code": "1.004194", "channel": "direct", "on_site": "yes"}}, {"data.on_site"}),
        (
            {"data": {"procedure_code": "1.004194", "channel": "direct", "due_at": "2025-04-10"}},
            {"data.due_at"},
        ),
        ({"data": {"procedure_code": "1.004194", "channel": "direct", "note": "x"}}, {"data.note"}),
    ],
)
async def test_invalid_received_event_is_422_naming_the_field(
    intake: Intake, change: dict[str, Any], bad_fields: set[str]
) -> None:
    response = await intake.post(event("dossier.received") | change)
    assert response.status_code == 422, response.text
    assert fields(response) == bad_fields
    body = response.json()
    assert body["status"] == 422 and body["instance"] == "/v1/events"


@pytest.mark.parametrize(
    ("event_type", "data", "bad_fields"),
    [
        ("dossier.fee_requested", {"amount": -1}, {"data.amount"}),
        ("dossier.fee_requested", {"amount": 1.5}, {"data.amount"}),
        ("dossier.fee_requested", {"amount": True}, {"data.amount"}),
        ("dossier.supplement_requested", {}, {"data.reason"}),
        ("dossier.refused", {"reason": "   "}, {"data.reason"}),
        ("dossier.rescheduled", {"reason": "xin lỗi"}, {"data.new_appointment_at"}),
        (
            "dossier.rescheduled",
            {"reason": "xin lỗi", "new_appointment_at": "2025-04-14T09:00:00"},
            {"data.new_appointment_at"},
        ),
        ("dossier.fee_paid", {"amount": 5}, {"data.amount"}),
        ("dossier.submitted", {"procedure_code": "1.004194"}, {"data.channel"}),
    ],
)
async def test_missing_or_wrong_data_is_422(
    intake: Intake, event_type: str, data: dict[str, Any], bad_fields: set[str]
) -> None:
    response = await intake.post(event(event_type) | {"data": data})
    assert response.status_code == 422, response.text
    assert fields(response) == bad_fields


async def test_unknown_agency_and_procedure_are_422(intake: Intake) -> None:
    response = await intake.post(event("dossier.received", agency="000.00.99.H49"))
    assert response.status_code == 422
    assert fields(response) == {"agency_code"}
    response = await intake.post(event("dossier.received", procedure_code="9.999999"))
    assert response.status_code == 422
    assert fields(response) == {"data.procedure_code"}
    await assert_topic_empty(intake)


async def test_no_key_or_unknown_key_is_401(intake: Intake) -> None:
    response = await intake.client.post("/v1/events", json=event())
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"] == "application/problem+json"
    response = await intake.post(event(), key="dk_not-a-key")
    assert response.status_code == 401
    response = await intake.client.post(
        "/v1/events:batch", json={"events": []}, headers={"Authorization": "Basic x"}
    )
    assert response.status_code == 401
    await assert_topic_empty(intake)


async def test_other_agencys_key_is_403(intake: Intake) -> None:
    response = await intake.post(event("dossier.received"), key=intake.keys.other)
    assert response.status_code == 403
    assert fields(response) == {"agency_code"}
    response = await intake.batch([event("dossier.received")], key=intake.keys.other)
    assert response.status_code == 200
    assert response.json()["results"][0]["status_code"] == 403
    await assert_topic_empty(intake)


async def test_oversize_body_is_413(intake: Intake) -> None:
    limit = intake.settings.max_body_bytes
    big = event("dossier.resolved", result="x" * 10) | {"padding": "x" * limit}
    response = await intake.post(big)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while reading
        for _ in range(limit // 65536 + 2):
            yield b" " * 65536

    response = await intake.client.post("/v1/events:batch", content=chunks(), headers=intake.keys.auth())
    assert response.status_code == 413
    await assert_topic_empty(intake)


async def test_batch_over_the_limit_is_422_and_writes_nothing(intake: Intake) -> None:
    events = [event("dossier.processing") for _ in range(1001)]
    response = await intake.batch(events)
    assert response.status_code == 422
    assert fields(response) == {"events"}
    assert response.json()["title"] == "Batch too large"
    await assert_topic_empty(intake)


@pytest.mark.parametrize(
    "body", [[], {"events": {}}, {"event": []}, {"events": [], "more": 1}, "events", None], ids=repr
)
async def test_not_a_batch_is_422(intake: Intake, body: Any) -> None:
    response = await intake.client.post(
        "/v1/events:batch", content=orjson.dumps(body), headers=intake.keys.auth()
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_rate_limit_per_key_is_429_with_retry_after(
    kafka_bootstrap: str, topic_suffix: str, keys: Any
) -> None:
    settings = make_settings(kafka_bootstrap, topic_suffix, keys, rate_limit_per_s=0.5, rate_limit_burst=2)
    async with running(settings) as client:
        statuses = [
            (await client.post("/v1/events", json=event(), headers=keys.auth())).status_code for _ in range(3)
        ]
        assert statuses == [202, 202, 429]
        limited = await client.post("/v1/events", json=event(), headers=keys.auth())
        assert limited.headers["content-type"] == "application/problem+json"
        assert 1 <= int(limited.headers["retry-after"]) <= 2
        # another key has its own bucket
        other = await client.post(
            "/v1/events", json=event(agency="000.00.10.H22"), headers=keys.auth(keys.other)
        )
        assert other.status_code == 422  # not 429: the H22 agency is simply not in the sample catalog
