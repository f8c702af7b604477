"""Hostile events on the real topic, consumed by the real app into the real database: each one is set
aside alone (or is a duplicate), with its reason on the dead-letter topic, and the stream goes on."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from processing_factory import START, Sent, event, resent, with_id
from processing_harness import db, produce, read_topic, running_app, scalar, wait_until

from dossier_contracts.snapshot_codec import decode_snapshot
from dossier_core.calendar import VN_TZ
from dossier_processing.settings import ProcessingSettings

pytestmark = pytest.mark.integration

A = "000.00.18.H49-250303-0001"
B = "000.00.18.H49-250303-0002"
C = "000.00.18.H49-250303-0003"


def received(code: str, at: datetime = START, **data: Any) -> Sent:
    return event("received", code, at, procedure_code="1.004194", channel="direct", **data)


async def stored(s: ProcessingSettings, event_id: str) -> bool:
    return bool(await scalar(s, "select count(*) from events where event_id = $1", event_id))


async def letters(s: ProcessingSettings, n: int) -> list[Any]:
    """The dead letters, once there are at least `n`."""
    found: list[Any] = []

    async def enough() -> bool:
        found[:] = await read_topic(s.kafka_bootstrap_servers, s.dlq_topic)
        return len(found) >= n

    await wait_until(enough, what=f"{n} dead letters")
    return found


def headers(letter: Any) -> dict[str, str]:
    return {k: v.decode() for k, v in letter.headers}


async def test_an_id_of_another_dossier_is_a_conflict_and_a_later_dossier_is_applied(
    processing_settings: ProcessingSettings,
) -> None:
    s = processing_settings
    original = received(A)
    hostile = with_id(received(B), original.event_id)
    same = resent(original)  # the same event again, recorded later by intake: a duplicate
    fresh = received(C)
    await produce(s, [original])
    async with running_app(s) as client:
        await wait_until(lambda: stored(s, original.event_id), what="the original applied")
        await produce(s, [hostile, same, fresh])
        await wait_until(lambda: stored(s, fresh.event_id), what="the dossier after the conflict applied")
        (letter,) = await letters(s, 1)
        metrics = (await client.get("/metrics")).text
    assert letter.value == hostile.raw and letter.key == B.encode()
    h = headers(letter)
    assert h["dlq-reason"] == "event_id_conflict" and h["dlq-event-id"] == original.event_id
    assert "dossier_code" in h["dlq-error"]
    assert 'processing_dlq_messages_total{reason="event_id_conflict"} 1.0' in metrics
    assert "processing_events_duplicate_total 1.0" in metrics
    async with db(s) as conn:
        assert (
            await conn.fetchval("select dossier_code from events where event_id = $1", original.event_id) == A
        )
        assert await conn.fetchval("select count(*) from dossiers where dossier_code = $1", B) == 0
        assert await conn.fetchval("select event_count from dossiers where dossier_code = $1", A) == 1


async def test_the_501st_event_of_a_dossier_is_dead_lettered_and_the_dossier_flagged(
    processing_settings: ProcessingSettings, processing_key: str
) -> None:
    s = processing_settings
    history = [received(A)] + [
        event("processing", A, START + timedelta(minutes=n), step=f"bước {n}") for n in range(1, 501)
    ]
    fresh = received(B)
    await produce(s, history[:-1])
    async with running_app(s) as client:
        await wait_until(lambda: _count(s, 500), what="500 events applied")
        await produce(s, [history[-1]])  # alone in its batch: the dossier is full when it comes
        (letter,) = await letters(s, 1)
        await produce(s, [fresh])
        await wait_until(lambda: stored(s, fresh.event_id), what="the next dossier applied")
        await wait_until(lambda: _flag_published(s), what="the flagged snapshot published")
        view = (
            await client.get(f"/v1/dossiers/{A}", headers={"Authorization": f"Bearer {processing_key}"})
        ).json()
        metrics = (await client.get("/metrics")).text
    assert headers(letter)["dlq-reason"] == "dossier_event_limit" and letter.value == history[-1].raw
    assert view["event_count"] == 500 and "event_limit_reached" in view["anomalies"]
    assert 'processing_dlq_messages_total{reason="dossier_event_limit"} 1.0' in metrics
    assert not await stored(s, history[-1].event_id)


async def _flag_published(s: ProcessingSettings) -> bool:
    snapshots = [
        decode_snapshot(m.value) for m in await read_topic(s.kafka_bootstrap_servers, s.status_topic)
    ]
    return any(m.dossier_code == A and "event_limit_reached" in m.anomalies for m in snapshots)


async def test_one_unstorable_event_among_good_ones_of_its_dossier_is_set_aside_alone(
    processing_settings: ProcessingSettings,
) -> None:
    """An `applicant_type` no smallint holds (no intake would send it) makes PostgreSQL refuse the
    dossier's row: the batch is split until that event is alone; its neighbours are all applied."""
    s = processing_settings
    h = lambda n: START + timedelta(hours=n)  # noqa: E731
    bad = received(A, h(0), applicant_type=40_000)
    rest_of_a = [
        event("processing", A, h(1), step="thẩm định"),
        event("supplement_requested", A, h(2), reason="thiếu"),
        event("supplement_received", A, h(3)),
        event("resolved", A, h(4), result="cấp"),
    ]
    b = [received(B, h(0)), event("resolved", B, h(5))]
    c = [received(C, h(0), applicant_type=2), event("processing", C, h(1))]
    sent = [b[0], c[0], bad, *rest_of_a, b[1], c[1]]
    await produce(s, sent)
    async with running_app(s) as client:
        (letter,) = await letters(s, 1)
        await wait_until(lambda: _count(s, len(sent) - 1), what="the neighbours applied")
        metrics = (await client.get("/metrics")).text
    assert headers(letter)["dlq-reason"] == "unstorable" and letter.value == bad.raw
    error = headers(letter)["dlq-error"]
    assert "SQLSTATE 22" in error and "40000" in error and "insert into" not in error, error
    assert 'processing_dlq_messages_total{reason="unstorable"} 1.0' in metrics
    async with db(s) as conn:
        rows = {r["dossier_code"]: r for r in await conn.fetch("select * from dossiers")}
    assert rows[A]["event_count"] == 4 and rows[A]["received_at"] is None  # waits for a valid receipt
    assert rows[B]["status_code"] == 9 and rows[C]["applicant_type"] == 2


async def _count(s: ProcessingSettings, n: int) -> bool:
    return (await scalar(s, "select count(*) from events")) == n


async def test_instants_outside_the_contract_from_a_raw_producer_are_dead_lettered(
    processing_settings: ProcessingSettings,
) -> None:
    s = processing_settings
    minus5 = timezone(timedelta(hours=-5))
    hostile = [
        received(B, datetime(1900, 1, 1, tzinfo=VN_TZ)),
        received(B, datetime(2100, 1, 1, tzinfo=VN_TZ)),
        event("rescheduled", A, START + timedelta(hours=1), new_appointment_at="2150-01-01T08:00:00+07:00"),
    ]
    beyond = received(C, datetime(9999, 12, 31, 23, 59, 59, tzinfo=minus5))  # year 10000 in UTC
    good = [received(A), event("processing", A, START + timedelta(hours=2)), received(C)]
    await produce(s, [hostile[0], good[0], hostile[1], hostile[2], beyond, good[1], good[2]])
    async with running_app(s) as client:
        found = await letters(s, 4)
        await wait_until(lambda: _count(s, len(good)), what="the good events applied")
        metrics = (await client.get("/metrics")).text
    by_reason = sorted((headers(m)["dlq-reason"], m.value) for m in found)
    assert by_reason == sorted([*(("out_of_bounds", e.raw) for e in hostile), ("undecodable", beyond.raw)])
    assert 'processing_dlq_messages_total{reason="out_of_bounds"} 3.0' in metrics
    assert await scalar(s, "select event_count from dossiers where dossier_code = $1", A) == 2
    assert await scalar(s, "select count(*) from dossiers where dossier_code = $1", B) == 0
