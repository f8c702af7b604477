"""A request's records go out grouped by partition (batches of their own for large groups, the
producer's shared batches for small ones): each record on the partition the Kafka clients' default
partitioner gives its key, in request order, also when a partition's records need more than one
batch."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import DefaultPartitioner
from intake_harness import QN_AGENCY, Intake, Keys, event, make_settings, read_topic, running

from dossier_contracts.event_codec import event_type_of
from dossier_intake.publisher import OWN_BATCH_MIN

pytestmark = pytest.mark.integration

LIFECYCLE = ["dossier.received", "dossier.processing", "dossier.fee_requested", "dossier.fee_paid"]


def _interleaved(dossiers: int) -> list[dict[str, object]]:
    codes = [f"{QN_AGENCY}-250405-{n:06d}" for n in range(1, dossiers + 1)]
    return [event(t, dossier=d) for t in LIFECYCLE for d in codes]


async def _check_written(intake: Intake, sent: list[dict[str, object]]) -> None:
    settings = intake.settings
    written = await read_topic(settings.kafka_bootstrap_servers, settings.events_topic)
    assert sorted(written.event_ids) == sorted(str(e["event_id"]) for e in sent)  # each exactly once
    partitions = list(range(settings.topic_partitions))
    default = DefaultPartitioner()
    for partition, _, key, _ in written.messages:
        assert partition == default(key, partitions, partitions)
    order = {str(e["event_id"]): i for i, e in enumerate(sent)}
    for p in partitions:  # on each partition, the request's order
        on_p = [order[m[3].event_id] for m in written.messages if m[0] == p]
        assert on_p == sorted(on_p)
    for code in {str(e["dossier_code"]) for e in sent}:
        mine = [m for m in written.messages if m[2] == code.encode()]
        assert [event_type_of(m[3]) for m in mine] == [e["type"] for e in sent if e["dossier_code"] == code]


async def test_records_land_where_the_default_partitioner_puts_them(intake: Intake) -> None:
    sent = _interleaved(40)
    response = await intake.batch(sent)
    assert response.status_code == 200
    assert {r["status"] for r in response.json()["results"]} == {"accepted"}
    await _check_written(intake, sent)


async def test_large_and_small_groups_of_one_request(intake: Intake) -> None:
    big = f"{QN_AGENCY}-250405-999999"
    sent = [event(LIFECYCLE[i % len(LIFECYCLE)], dossier=big) for i in range(4 * OWN_BATCH_MIN)]
    sent += _interleaved(2)  # a few records on other partitions (or on the same one)
    response = await intake.batch(sent)
    assert response.status_code == 200
    assert {r["status"] for r in response.json()["results"]} == {"accepted"}
    await _check_written(intake, sent)


async def test_a_partition_that_needs_several_batches_keeps_its_order(
    kafka_bootstrap: str, topic_suffix: str, keys: Keys
) -> None:
    settings = make_settings(kafka_bootstrap, topic_suffix, keys, kafka_max_batch_bytes=16 * 1024)
    sent = _interleaved(250)  # about 150 KB of records over 4 partitions: 16 KB batches
    async with running(settings) as client:
        intake = Intake(client, settings, keys)
        first, second = await intake.batch(sent[:500]), await intake.batch(sent[500:])
        assert first.status_code == second.status_code == 200
        await _check_written(intake, sent)
