"""Citizen feedback from HTTP to the report, against the real Kafka and PostgreSQL: intake takes
`POST /v1/feedback/events` (a 422 problem names each bad field, a 403 the agency), writes
`feedback.events.v1`; the processing feedback worker folds the items into its `feedback` table and
publishes `feedback.status.v1`; the metrics service stores the newest version of each item, exposes
`dossier_feedback` / `dossier_feedback_overdue` and the report's feedback section. The quarter is
DOMAIN.md's Quảng Ninh mix: 2 received, 1 answered and published, 1 in progress."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from intake_harness import Intake, Keys, make_settings, running
from sqlalchemy import text

from dossier_contracts.feedback_codec import FeedbackSnapshot, decode_feedback_status
from dossier_core.calendar import VN_TZ
from dossier_core.catalog_csv import default_catalog_dir, load_catalog
from dossier_core.feedback import feedback_deadline
from dossier_core.periods import parse_period
from dossier_metrics import feedback as metrics_feedback
from dossier_metrics.db import create_engine as metrics_engine
from dossier_metrics.migrations import upgrade as metrics_upgrade
from dossier_processing.bootstrap import create_engine as processing_engine
from dossier_processing.feedback.worker import FeedbackWorker
from dossier_processing.migrations import MIGRATIONS
from dossier_processing.settings import ProcessingSettings
from dossier_runtime.kafka import ensure_topics
from tests.support import unique

pytestmark = pytest.mark.integration

CATALOG = load_catalog(default_catalog_dir())
AGENCY = next(
    a.code for a in sorted(CATALOG.agencies.values(), key=lambda a: a.code)
    if a.code.endswith(".H49") and a.is_valid_on(date(2021, 4, 1)) and a.is_valid_on(date(2021, 6, 30))
)  # fmt: skip
DEADLINE_DAYS = 10


def feedback(kind: str, code: str, occurred_at: str, **data: str) -> dict[str, object]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": f"feedback.{kind}",
        "feedback_code": code,
        "agency_code": AGENCY,
        "occurred_at": occurred_at,
        "data": data,
    }


@pytest.fixture
async def intake(kafka_bootstrap: str, topic_suffix: str, keys: Keys) -> AsyncIterator[Intake]:
    settings = make_settings(
        kafka_bootstrap, topic_suffix, keys, feedback_topic="feedback.events" + topic_suffix
    )
    async with running(settings) as client:
        yield Intake(client, settings, keys)


async def post(intake: Intake, body: object, key: str | None = None) -> tuple[int, Any]:
    response = await intake.client.post("/v1/feedback/events", json=body, headers=intake.keys.auth(key))
    return response.status_code, response.json()


async def test_bad_feedback_events_are_problems_naming_their_fields(intake: Intake) -> None:
    good = feedback("received", "PAKN-Q2-1", "2021-04-01T09:00:00+07:00")
    status, body = await post(intake, {**good, "feedback_code": "000.00.18.H49-210401-0001"})
    assert status == 422 and [e["field"] for e in body["errors"]] == ["feedback_code"]
    status, body = await post(intake, {**good, "type": "feedback.reopened"})
    assert status == 422 and [e["field"] for e in body["errors"]] == ["type"]
    status, body = await post(intake, {**good, "occurred_at": "2021-04-01T09:00:00", "data": {"x": 1}})
    fields = sorted(e["field"] for e in body["errors"])
    assert status == 422 and fields == ["data.x", "occurred_at"]
    status, body = await post(intake, {**good, "agency_code": "000.00.00.H99"})
    assert status == 403, body
    status, body = await post(intake, {**good, "agency_code": "000.00.99.H49"})
    assert status == 422 and body["errors"] == [
        {"field": "agency_code", "message": "unknown agency '000.00.99.H49'"}
    ]
    status, body = await post(intake, good, key=intake.keys.other)
    assert status == 403 and body["errors"][0]["field"] == "agency_code"


async def test_a_quarter_of_feedback_from_http_to_the_report(
    intake: Intake, kafka_bootstrap: str, database_url: str, db_schema: str, topic_suffix: str
) -> None:
    quarter = [
        feedback("received", "PAKN-Q2-1", "2021-04-01T09:00:00+07:00", subject="thời hạn cấp phép"),
        feedback("assigned", "PAKN-Q2-1", "2021-04-02T09:00:00+07:00", handler="Sở Xây dựng"),
        feedback("answered", "PAKN-Q2-1", "2021-04-08T09:00:00+07:00", note="đã trả lời"),
        feedback("published", "PAKN-Q2-1", "2021-04-09T09:00:00+07:00"),
        feedback("received", "PAKN-Q2-2", "2021-06-01T09:00:00+07:00"),
        feedback("assigned", "PAKN-Q2-2", "2021-06-02T09:00:00+07:00"),
    ]
    for body in [*quarter, quarter[0]]:  # the first once more: the same event_id, applied once
        status, answer = await post(intake, body)
        assert status == 202 and answer == {"event_id": body["event_id"], "status": "accepted"}

    settings = ProcessingSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        database_url=database_url,
        db_schema=db_schema,
        feedback_events_topic=intake.settings.feedback_topic,
        feedback_status_topic="feedback.status" + topic_suffix,
        feedback_consumer_group="feedback-test" + topic_suffix,
        feedback_deadline_days=DEADLINE_DAYS,
    )
    await ensure_topics(kafka_bootstrap, {settings.feedback_status_topic: 4})
    engine = processing_engine(settings)
    try:
        await MIGRATIONS.upgrade(engine, db_schema)
        worker = FeedbackWorker(settings, engine, CATALOG.calendar())
        task = asyncio.create_task(worker.run())
        try:
            rows = await _until_stored(engine, {"PAKN-Q2-1": "published", "PAKN-Q2-2": "assigned"})
        finally:
            worker.stop()
            await asyncio.wait_for(task, 30)
        async with engine.connect() as conn:
            events = (await conn.execute(text("select count(*) from feedback_events"))).scalar_one()
        assert events == len(quarter)
    finally:
        await engine.dispose()
    received = datetime(2021, 6, 1, 9, tzinfo=VN_TZ)
    assert rows["PAKN-Q2-2"]["due_at"] == feedback_deadline(received, DEADLINE_DAYS, CATALOG.calendar())

    snapshots = await _read_all(kafka_bootstrap, settings.feedback_status_topic)
    assert {s.state.feedback_code for s in snapshots} == {"PAKN-Q2-1", "PAKN-Q2-2"}
    metrics_schema = unique("t")
    engine = metrics_engine(database_url, metrics_schema)
    try:
        await metrics_upgrade(engine, metrics_schema)
        await metrics_feedback.store_snapshots(engine, reversed(snapshots))  # older versions come last
        await metrics_feedback.store_snapshots(engine, snapshots)
        now = datetime(2021, 6, 30, 12, tzinfo=VN_TZ)  # PAKN-Q2-2's ten working days ran out on 15 June
        exposed = (await metrics_feedback.live_text(engine, now)).decode()
        assert f'dossier_feedback{{agency="{AGENCY}",stage="published"}} 1' in exposed
        assert f'dossier_feedback{{agency="{AGENCY}",stage="assigned"}} 1' in exposed
        assert f'dossier_feedback{{agency="{AGENCY}",stage="received"}} 0' in exposed
        assert f'dossier_feedback_overdue{{agency="{AGENCY}"}} 1' in exposed
        period = parse_period("2021-Q3")  # reporting Q3: 2021-06-15 .. 2021-09-14, holds PAKN-Q2-2 only
        items = await metrics_feedback.received_in(engine, period.start_instant, period.end_instant)
        section = metrics_feedback.feedback_section(items, period.start_instant, period.end_instant)
        assert section["total"]["received"] == 0  # PAKN-Q2-2 was received on 1 June: reporting Q2
        period = parse_period("2021-Q2")
        items = await metrics_feedback.received_in(engine, period.start_instant, period.end_instant)
        section = metrics_feedback.feedback_section(items, period.start_instant, period.end_instant)
        assert section["rows"] == [
            {
                "agency": AGENCY,
                "received": 2,
                "in_progress": 1,
                "answered": 1,
                "published": 1,
                "withdrawn": 0,
                "overdue": 0,  # at the period's end (14 June, 24:00) PAKN-Q2-2 was still in time
                "answered_late": 0,
            }
        ]
    finally:
        await engine.dispose()
        drop = ["psql", database_url, "-qc", f"drop schema if exists {metrics_schema} cascade"]
        await asyncio.to_thread(subprocess.run, drop, check=False)


async def _until_stored(engine: object, stages: dict[str, str]) -> dict[str, dict[str, object]]:
    """The `feedback` rows once they hold `stages` (the worker runs concurrently)."""
    for _ in range(600):
        async with engine.connect() as conn:  # type: ignore[attr-defined]
            rows = (await conn.execute(text("select * from feedback"))).mappings().all()
        found = {r["feedback_code"]: dict(r) for r in rows}
        if {code: r["stage"] for code, r in found.items()} == stages:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"the worker did not store {stages}; found {found}")


async def _read_all(bootstrap: str, topic: str) -> list[FeedbackSnapshot]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        out = []
        for _ in range(100):
            batch = await consumer.getmany(timeout_ms=200)
            out += [decode_feedback_status(r.value) for msgs in batch.values() for r in msgs]
            if {s.state.feedback_code for s in out} == {"PAKN-Q2-1", "PAKN-Q2-2"} and not batch:
                return out
        return out
    finally:
        await consumer.stop()
