"""Accepted events are on the topic exactly once, as protobuf, keyed by dossier_code, in order."""

from __future__ import annotations

import uuid

import pytest
from intake_harness import QN_AGENCY, Intake, event, read_topic

from dossier_contracts.event_codec import EVENT_TYPES, event_type_of, proto_to_event
from dossier_intake.examples import example_event

pytestmark = pytest.mark.integration


async def test_single_event_is_acknowledged_then_on_the_topic_once(intake: Intake) -> None:
    sent = event("dossier.received", due_at="2025-04-10T17:00:00+07:00", applicant_type=2, on_site=True)
    response = await intake.post(sent)
    assert response.status_code == 202
    assert response.json() == {"event_id": sent["event_id"], "status": "accepted"}

    written = await read_topic(intake.settings.kafka_bootstrap_servers, intake.settings.events_topic)
    assert written.event_ids == [sent["event_id"]]
    _, _, key, msg = written.messages[0]
    assert key == sent["dossier_code"].encode()
    assert msg.source == "counter-qn"
    assert msg.HasField("recorded_at")
    back = proto_to_event(msg)
    assert back["data"]["due_at"] == "2025-04-10T17:00:00+07:00"
    assert {k: back[k] for k in ("type", "dossier_code", "agency_code", "occurred_at")} == {
        k: sent[k] for k in ("type", "dossier_code", "agency_code", "occurred_at")
    }
    assert back["data"] | {"due_at": None} == sent["data"] | {"due_at": None}


async def test_every_event_type_goes_through(intake: Intake) -> None:
    events = [example_event(t, i) | {"event_id": str(uuid.uuid4())} for i, t in enumerate(EVENT_TYPES)]
    response = await intake.batch(events)
    assert response.status_code == 200
    assert [r["status"] for r in response.json()["results"]] == ["accepted"] * len(EVENT_TYPES)
    written = await read_topic(intake.settings.kafka_bootstrap_servers, intake.settings.events_topic)
    # one dossier: one partition, so the topic order is the batch order
    assert [event_type_of(m[3]) for m in written.messages] == list(EVENT_TYPES)
    assert written.event_ids == [e["event_id"] for e in events]


async def test_batch_keeps_each_dossier_in_order_on_one_partition(intake: Intake) -> None:
    dossiers = [f"{QN_AGENCY}-250405-{n:04d}" for n in range(1, 9)]
    lifecycle = ["dossier.received", "dossier.processing", "dossier.resolved", "dossier.returned"]
    events = [event(t, dossier=d) for t in lifecycle for d in dossiers]  # interleaved dossiers
    response = await intake.batch(events)
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["event_id"] for r in results] == [e["event_id"] for e in events]
    assert all(r["status"] == "accepted" for r in results)

    written = await read_topic(intake.settings.kafka_bootstrap_servers, intake.settings.events_topic)
    assert sorted(written.event_ids) == sorted(e["event_id"] for e in events)  # exactly once each
    for dossier in dossiers:
        mine = [m for m in written.messages if m[2] == dossier.encode()]
        assert len({m[0] for m in mine}) == 1
        assert [event_type_of(m[3]) for m in mine] == lifecycle


async def test_a_replayed_event_id_is_written_again_with_the_same_id(intake: Intake) -> None:
    sent = event("dossier.processing")
    assert (await intake.post(sent)).status_code == 202
    assert (await intake.post(sent)).status_code == 202
    written = await read_topic(intake.settings.kafka_bootstrap_servers, intake.settings.events_topic)
    assert written.event_ids == [sent["event_id"], sent["event_id"]]


async def test_valid_siblings_of_rejected_events_are_written(intake: Intake) -> None:
    good1, good2 = event("dossier.received"), event("dossier.fee_paid")
    bad_shape = event("dossier.received", channel="fax")
    other_province = event("dossier.fee_paid", agency="000.00.10.H22")
    unknown_agency = event("dossier.fee_paid", agency="000.00.99.H49")
    response = await intake.batch([good1, bad_shape, other_province, good2, unknown_agency, "not an event"])
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["status"], r.get("status_code")) for r in results] == [
        ("accepted", None),
        ("rejected", 422),
        ("rejected", 403),
        ("accepted", None),
        ("rejected", 422),
        ("rejected", 422),
    ]
    assert results[1]["errors"][0]["field"] == "data.channel"
    assert results[2]["errors"][0]["field"] == "agency_code"
    assert results[4]["errors"] == [{"field": "agency_code", "message": "unknown agency '000.00.99.H49'"}]
    assert results[5]["event_id"] is None
    written = await read_topic(intake.settings.kafka_bootstrap_servers, intake.settings.events_topic)
    assert sorted(written.event_ids) == sorted([good1["event_id"], good2["event_id"]])


async def test_metrics_count_requests_and_events(intake: Intake) -> None:
    await intake.batch([event("dossier.received"), event("dossier.received", channel="fax")])
    await intake.post(event("dossier.resolved"))
    text = (await intake.client.get("/metrics")).text
    assert 'intake_events_accepted_total{type="dossier.received"} 1.0' in text
    assert 'intake_events_accepted_total{type="dossier.resolved"} 1.0' in text
    assert 'intake_events_rejected_total{status="422",type="dossier.received"} 1.0' in text
    assert 'intake_http_requests_total{method="POST",route="/v1/events:batch",status="200"} 1.0' in text
    assert 'intake_http_request_duration_seconds_count{method="POST",route="/v1/events"} 1.0' in text
    assert "intake_kafka_send_duration_seconds_count 2.0" in text
