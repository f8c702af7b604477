"""SPEC §3 bounds over HTTP (real Kafka): each bad input is a 422 naming the field, nothing of it
reaches the topic, and the valid events next to it in a batch are still written."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from intake_harness import QN_AGENCY, Intake, Keys, Server, event, make_settings, read_topic, running

pytestmark = pytest.mark.integration

FULL_WIDTH = f"{QN_AGENCY}-261201-\uff10\uff10\uff10\uff11"
NON_ASCII_AGENCY = "000.00.10.H4\u0669"  # ARABIC-INDIC DIGIT NINE


def problem_fields(response: httpx.Response, status: int = 422) -> set[str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return {e["field"] for e in response.json()["errors"]}


def bad_events() -> list[tuple[str, dict[str, Any], set[str]]]:
    """(what, event, the fields its 422 names)."""
    return [
        ("year 9999", event(occurred_at="9999-12-31T23:59:59-05:00"), {"occurred_at"}),
        ("year 1900", event(occurred_at="1900-01-01T00:00:00+07:00"), {"occurred_at"}),
        ("due in 2100", event(due_at="2100-01-01T08:00:00+07:00"), {"data.due_at"}),
        (
            "appointment in 1999",
            event("dossier.rescheduled", reason="xin lỗi", new_appointment_at="1999-12-31T08:00:00+07:00"),
            {"data.new_appointment_at"},
        ),
        ("far future", event(occurred_at="2099-06-01T00:00:00+07:00"), {"occurred_at"}),
        ("full-width digits", event(dossier=FULL_WIDTH), {"dossier_code"}),
        (
            "non-ASCII agency",
            event(agency=NON_ASCII_AGENCY, dossier=f"{NON_ASCII_AGENCY}-250405-0001"),
            {"agency_code", "dossier_code"},
        ),
        ("non-ASCII procedure", event(procedure_code="1.00419\u0664"), {"data.procedure_code"}),
        ("2,001 characters", event("dossier.refused", reason="x" * 2001), {"data.reason"}),
        ("NUL", event("dossier.refused", reason="a\x00b"), {"data.reason"}),
        ("newline", event("dossier.resolved", result="line 1\nline 2"), {"data.result"}),
        ("RLO", event("dossier.processing", step="refund \u202egnp.exe"), {"data.step"}),
        ("FSI", event("dossier.processing", department="\u2068Phòng\u2069"), {"data.department"}),
        ("RLM", event("dossier.withdrawn", reason="\u200fxin rút"), {"data.reason"}),
    ]


@pytest.mark.parametrize(("what", "sent", "bad"), bad_events(), ids=[b[0] for b in bad_events()])
async def test_each_bound_is_a_422_naming_the_field(
    intake: Intake, what: str, sent: dict[str, Any], bad: set[str]
) -> None:
    response = await intake.post(sent)
    assert problem_fields(response) == bad
    assert response.json()["instance"] == "/v1/events"


async def test_occurred_at_is_compared_with_the_services_clock(
    kafka_bootstrap: str, topic_suffix: str, keys: Keys
) -> None:
    settings = make_settings(kafka_bootstrap, topic_suffix, keys)
    clock = datetime(2025, 4, 5, 2, 0, tzinfo=UTC)  # 09:00 in Vietnam
    async with running(settings, clock=lambda: clock) as client:
        on_the_edge = event(occurred_at="2025-04-06T09:00:00+07:00")
        response = await client.post("/v1/events", json=on_the_edge, headers=keys.auth())
        assert response.status_code == 202
        too_far = event(occurred_at="2025-04-06T09:00:00.000001+07:00")
        response = await client.post("/v1/events", json=too_far, headers=keys.auth())
        assert problem_fields(response) == {"occurred_at"}
        assert "(2025-04-05T09:00:00+07:00)" in response.json()["errors"][0]["message"]
    written = await read_topic(kafka_bootstrap, settings.events_topic)
    assert written.event_ids == [on_the_edge["event_id"]]


async def test_25_errors_list_20_and_count_the_rest(intake: Intake) -> None:
    sent = event() | {f"unknown_{i}": i for i in range(25)}
    response = await intake.post(sent)
    assert problem_fields(response) == {f"unknown_{i}" for i in range(20)}
    body = response.json()
    assert len(body["errors"]) == 20 and body["errors_truncated"] == 5
    assert "5 more were left out" in body["detail"]


def unknown_keys_body(limit: int) -> bytes:
    """An event with as many unknown keys as fit in `limit` bytes."""
    sent = event()
    body = orjson.dumps(sent)
    keys = [f'"k{i:07d}":0' for i in range((limit - len(body)) // 13)]
    return body[:-1] + b"," + ",".join(keys).encode() + b"}"


async def test_a_4_mib_body_of_unknown_keys_gets_a_small_answer(intake: Intake) -> None:
    body = unknown_keys_body(intake.settings.max_body_bytes)
    assert 4_000_000 < len(body) <= intake.settings.max_body_bytes
    response = await intake.client.post("/v1/events", content=body, headers=intake.keys.auth())
    assert response.status_code == 422
    assert len(response.content) < 16 * 1024
    answer = response.json()
    assert len(answer["errors"]) == 20 and answer["errors_truncated"] > 300_000

    batch = unknown_keys_body(intake.settings.max_body_bytes - 20)
    response = await intake.client.post(
        "/v1/events:batch", content=b'{"events": [' + batch + b"]}", headers=intake.keys.auth()
    )
    assert response.status_code == 200 and len(response.content) < 16 * 1024
    [result] = response.json()["results"]
    assert len(result["errors"]) == 20 and result["errors_truncated"] > 300_000


async def test_a_batch_envelope_with_many_unknown_members_gets_a_small_answer(intake: Intake) -> None:
    body = {"events": [event()]} | {f"m{i}": 0 for i in range(200_000)}
    response = await intake.client.post(
        "/v1/events:batch", content=orjson.dumps(body), headers=intake.keys.auth()
    )
    assert len(problem_fields(response)) == 20
    assert response.json()["errors_truncated"] == 200_000 - 20
    assert len(response.content) < 16 * 1024
    assert (
        await read_topic(intake.settings.kafka_bootstrap_servers, intake.settings.events_topic)
    ).event_ids == []


async def test_valid_events_beside_every_bad_one_are_written(intake: Intake) -> None:
    bad = [sent for _, sent, _ in bad_events()]
    many_errors = event() | {f"unknown_{i}": i for i in range(25)}
    good = [event("dossier.received", dossier=f"{QN_AGENCY}-250405-{n:04d}") for n in range(1, 4)]
    sent = [good[0], *bad[:7], good[1], many_errors, *bad[7:], good[2]]
    response = await intake.batch(sent)
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["event_id"] for r in results] == [e["event_id"] for e in sent]
    accepted = [r["event_id"] for r in results if r["status"] == "accepted"]
    assert accepted == [g["event_id"] for g in good]
    expected = {e["event_id"]: fields for _, e, fields in bad_events()}
    for result, item in zip(results, sent, strict=True):
        if item in good:
            continue
        assert result["status"] == "rejected" and result["status_code"] == 422
        assert len(result["errors"]) <= 20
        if item is many_errors:
            assert result["errors_truncated"] == 5
    bad_results = [r for r, item in zip(results, sent, strict=True) if item in bad]
    assert len(bad_results) == len(expected)
    written = await read_topic(intake.settings.kafka_bootstrap_servers, intake.settings.events_topic)
    assert sorted(written.event_ids) == sorted(accepted)


def test_the_log_line_of_a_huge_rejection_stays_small(server: Server, keys: Keys) -> None:
    body = unknown_keys_body(server.settings.max_body_bytes)
    response = httpx.post(server.url + "/v1/events", content=body, headers=keys.auth(), timeout=30)
    assert response.status_code == 422 and len(response.content) < 16 * 1024
    log = server.log()
    lines = [orjson.loads(line) for line in log.splitlines() if line.strip()]
    [rejected] = [line for line in lines if line["msg"] == "event rejected"]
    assert len(rejected["errors"]) == 20 and rejected["errors_truncated"] > 300_000
    assert len(log) < 64 * 1024
    assert max(len(line) for line in log.splitlines()) < 16 * 1024
