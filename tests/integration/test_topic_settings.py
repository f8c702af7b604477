"""Topics the services create carry their settings: the DLQ keeps dead letters for good by default, and
the replication policy (`KAFKA_REPLICATION_FACTOR`, `KAFKA_MIN_INSYNC_REPLICAS`) reaches the broker."""

from __future__ import annotations

import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from dossier_runtime.kafka import DLQ_RETENTION_DAYS, TopicPolicy, ensure_topics, retention

pytestmark = pytest.mark.integration


async def _topic_config(bootstrap: str, topic: str, name: str) -> str:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (response,) = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        await admin.close()
    (resource,) = response.resources
    entries = {entry[0]: entry[1] for entry in resource[4]}
    return str(entries[name])


async def _retention_ms(bootstrap: str, topic: str) -> str:
    return await _topic_config(bootstrap, topic, "retention.ms")


async def test_topics_are_created_with_their_settings(kafka_bootstrap: str) -> None:
    dlq, month = f"dlq.{uuid.uuid4().hex[:8]}", f"month.{uuid.uuid4().hex[:8]}"
    await ensure_topics(
        kafka_bootstrap,
        {dlq: 1, month: 1},
        configs={dlq: retention(DLQ_RETENTION_DAYS), month: retention(30)},
    )
    assert await _retention_ms(kafka_bootstrap, dlq) == "-1"
    assert await _retention_ms(kafka_bootstrap, month) == str(30 * 86_400_000)
    # an existing topic is left as it is
    await ensure_topics(kafka_bootstrap, {month: 1}, configs={month: retention(1)})
    assert await _retention_ms(kafka_bootstrap, month) == str(30 * 86_400_000)


async def test_the_replication_policy_is_set_on_created_topics(kafka_bootstrap: str) -> None:
    topic = f"policy.{uuid.uuid4().hex[:8]}"
    # the local broker's default is 1 too, so ask for a value it would not give by itself
    with pytest.raises(Exception, match=r"(?i)replication|insync|invalid"):
        await ensure_topics(kafka_bootstrap, {topic: 1}, policy=TopicPolicy(2, 2))
    await ensure_topics(
        kafka_bootstrap, {topic: 2}, policy=TopicPolicy(1, 1), configs={topic: {"segment.ms": "3600000"}}
    )
    assert await _topic_config(kafka_bootstrap, topic, "min.insync.replicas") == "1"
    assert await _topic_config(kafka_bootstrap, topic, "segment.ms") == "3600000"
