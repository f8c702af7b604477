"""Events from the topic to PostgreSQL rows, outbox snapshots on the status topic, and the API."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from processing_factory import START, event, interleave, stream
from processing_harness import db, produce, read_topic, running_app, scalar, wait_until

from dossier_contracts.snapshot_codec import decode_snapshot
from dossier_processing.settings import ProcessingSettings

pytestmark = pytest.mark.integration

CODE = "000.00.18.H49-250303-0001"
STATE_COLUMNS = ", ".join(
    [
        "dossier_code",
        "status_code",
        "procedure_code",
        "channel",
        "received_at",
        "legal_due_at",
        "appointment_at",
        "finished_at",
        "ended_at",
        "returned_at",
        "end_kind",
        "timeliness",
        "is_open",
        "paused_since",
        "pauses",
        "anomalies",
        "reschedule_count",
        "event_count",
    ]
)


def every_type() -> list:
    t = START
    h = lambda n: t + timedelta(hours=n)  # noqa: E731
    other = "000.00.18.H49-250303-0002"
    never = "000.00.18.H49-250303-0003"
    return [
        event("submitted", CODE, h(0), procedure_code="1.004194", channel="online"),
        event("received", CODE, h(1), procedure_code="1.004194", channel="online", applicant_type=1),
        event("processing", CODE, h(2), step="thẩm định", department="Phòng QLHC"),
        event("supplement_requested", CODE, h(3), reason="thiếu"),
        event("supplement_received", CODE, h(20)),
        event("fee_requested", CODE, h(21), amount=50000),
        event("fee_paid", CODE, h(22)),
        event("suspended", CODE, h(23), reason="chờ xác minh"),
        event("resumed", CODE, h(44)),
        event("rescheduled", CODE, h(45), new_appointment_at=h(200).isoformat(), reason="xin lỗi"),
        event("resolved", CODE, h(46), result="cấp"),
        event("returned", CODE, h(47)),
        event("received", other, h(1), procedure_code="1.004194", channel="direct"),
        event("withdrawn", other, h(2), reason="rút"),
        event("refused", other, h(3), reason="sau khi rút: bất thường"),
        event("submitted", never, h(0), procedure_code="1.004194", channel="postal"),
        event("not_accepted", never, h(1), reason="không đủ"),
    ]


async def test_every_event_type_is_applied_end_to_end(
    processing_settings: ProcessingSettings, processing_key: str
) -> None:
    s = processing_settings
    sent = every_type()
    await produce(s, sent)
    async with running_app(s) as client:
        client.headers["Authorization"] = f"Bearer {processing_key}"
        await wait_until(lambda: _count(s, "events", len(sent)), what="all events stored")
        await wait_until(lambda: _all_published(s), what="relay")
        view = (await client.get(f"/v1/dossiers/{CODE}")).json()
        assert view["status"] == {"code": 10, "name": "Đã trả kết quả"}
        assert view["channel"] == "online" and view["procedure_code"] == "1.004194"
        assert [p["kind"] for p in view["pauses"]] == ["supplement", "fee", "suspension"]
        assert all(p["ended_at"] for p in view["pauses"])
        assert view["timeliness"] in ("early", "on_time", "late") and view["finished_at"]
        assert view["reschedule_count"] == 1 and view["appointment_at"].startswith("2025-03-11")
        assert [e["type"] for e in view["events"]] == [e.type for e in sent[:12]]
        assert view["event_count"] == 12 and view["pending_state"] is None
        other = (await client.get("/v1/dossiers/000.00.18.H49-250303-0002")).json()
        assert other["status"]["code"] == 7 and other["end_kind"] == "withdrawn"
        assert any(a.startswith("invalid_transition") for a in other["anomalies"])
        never = (await client.get("/v1/dossiers/000.00.18.H49-250303-0003")).json()
        assert never["status"]["code"] == 3 and never["received_at"] is None
        missing = await client.get("/v1/dossiers/nope")
        assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
        metrics = (await client.get("/metrics")).text
        assert 'processing_events_applied_total{type="dossier.fee_paid"} 1.0' in metrics
        assert "processing_anomalies_total 1.0" in metrics
    snapshots = [
        decode_snapshot(m.value) for m in await read_topic(s.kafka_bootstrap_servers, s.status_topic)
    ]
    latest = max((m for m in snapshots if m.dossier_code == CODE), key=lambda m: m.version)
    assert latest.status_code == 10 and latest.event_count == 12
    for code in {m.dossier_code for m in snapshots}:
        versions = sorted(m.version for m in snapshots if m.dossier_code == code)
        assert versions == list(range(1, len(versions) + 1))


async def _count(s: ProcessingSettings, table: str, n: int) -> bool:
    return (await scalar(s, f"select count(*) from {table}")) == n


async def _all_published(s: ProcessingSettings) -> bool:
    return bool(await scalar(s, "select count(*) > 0 and count(sent_at) = count(*) from outbox"))


async def test_out_of_order_and_duplicated_deliveries_give_the_same_rows(
    processing_settings: ProcessingSettings, topic_suffix: str
) -> None:
    histories = list(stream(300, seed=11))
    ordered = [e for h in histories for e in h]
    rng = random.Random(5)
    scrambled = [e for h in histories for e in rng.sample(h, len(h))]  # per-dossier order broken
    scrambled += rng.sample(ordered, len(ordered) // 3)  # and a third of them delivered again
    rows = {}
    for name, events in (("ordered", interleave(histories, rng)), ("scrambled", scrambled)):
        s = processing_settings.model_copy(
            update={
                "events_topic": f"{processing_settings.events_topic}.{name}",
                "consumer_group": f"{processing_settings.consumer_group}.{name}",
                "db_schema": f"{processing_settings.db_schema}_{name[0]}",
                "run_relay": False,
            }
        )
        await produce(s, events)
        try:
            async with running_app(s):
                await wait_until(lambda s=s: _count(s, "events", len(ordered)), what=f"{name} events stored")
                await wait_until(lambda s=s: _no_lag(s), what=f"{name} consumed")
            async with db(s) as conn:
                rows[name] = await conn.fetch(f"select {STATE_COLUMNS} from dossiers order by dossier_code")
                assert await conn.fetchval("select count(*) from events") == len(ordered)
        finally:
            async with db(s) as conn:
                await conn.execute(f"drop schema if exists {s.db_schema} cascade")
    assert len(rows["ordered"]) == 300
    assert [dict(r) for r in rows["ordered"]] == [dict(r) for r in rows["scrambled"]]


async def _no_lag(s: ProcessingSettings) -> bool:
    return True
