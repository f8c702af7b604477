"""Secured clients on the 3-node cluster: nobody gets in without SCRAM credentials over TLS, and each
service's user may do only what its ACLs allow (deploy/kafka/cluster/acls)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.conn import create_conn
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    KafkaConnectionError,
    SaslAuthenticationFailed,
    TopicAuthorizationFailedError,
)
from aiokafka.helpers import create_ssl_context

from tests.cluster.conftest import KafkaCluster, Say

pytestmark = pytest.mark.cluster


async def _topics(**options: Any) -> set[str]:
    admin = AIOKafkaAdminClient(request_timeout_ms=10_000, **options)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def _produce(topic: str, *, idempotent: bool = False, **options: Any) -> None:
    producer = AIOKafkaProducer(request_timeout_ms=10_000, enable_idempotence=idempotent, **options)
    try:
        await producer.start()
        await producer.send_and_wait(topic, b"probe", key=b"probe")
    finally:
        await producer.stop()


async def _read(topic: str, **options: Any) -> None:
    consumer = AIOKafkaConsumer(group_id=None, auto_offset_reset="earliest", **options)
    try:
        await consumer.start()
        consumer.assign([TopicPartition(topic, 0)])
        await consumer.getmany(timeout_ms=5_000)
    finally:
        await consumer.stop()


def test_clients_without_credentials_are_refused(kafka_cluster: KafkaCluster, say: Say) -> None:
    bootstrap, ca = kafka_cluster.bootstrap, kafka_cluster.ca_file
    host, port = bootstrap.split(",")[0].rsplit(":", 1)

    # The same question with the service's real credentials is answered: the refusals below are
    # about credentials, not about a cluster that does not answer.
    assert kafka_cluster.events_topic in asyncio.run(_topics(**kafka_cluster.client_options("intake")))

    with pytest.raises(KafkaConnectionError):
        asyncio.run(_topics(bootstrap_servers=bootstrap))
    say("PLAINTEXT client on the SASL_SSL port: connection closed by every node")

    with pytest.raises(KafkaConnectionError):
        asyncio.run(
            _topics(
                bootstrap_servers=bootstrap,
                security_protocol="SSL",
                ssl_context=create_ssl_context(cafile=ca),
            )
        )
    say("TLS client without SASL: connection closed by every node")

    async def connect(password: str) -> None:
        options = kafka_cluster.client_options("intake", password=password)
        conn = await create_conn(
            host,
            int(port),
            security_protocol="SASL_SSL",
            ssl_context=options["ssl_context"],
            sasl_mechanism=options["sasl_mechanism"],
            sasl_plain_username="intake",
            sasl_plain_password=password,
        )
        conn.close()

    with pytest.raises(SaslAuthenticationFailed):
        asyncio.run(connect("not-the-password"))
    say("intake with a wrong password: SaslAuthenticationFailed")


def test_each_service_may_do_only_what_its_acls_allow(kafka_cluster: KafkaCluster, say: Say) -> None:
    intake = kafka_cluster.client_options("intake")
    metrics = kafka_cluster.client_options("metrics")
    processing = kafka_cluster.client_options("processing")

    # What they need works (idempotent producers, as the services run them) ...
    asyncio.run(_produce(kafka_cluster.events_topic, idempotent=True, **intake))
    asyncio.run(_produce(kafka_cluster.status_topic, idempotent=True, **processing))
    asyncio.run(_read(kafka_cluster.events_topic, **processing))
    asyncio.run(_read(kafka_cluster.status_topic, **metrics))
    say("allowed: intake writes events, processing reads events and writes status, metrics reads status")

    # ... and nothing more.
    with pytest.raises(TopicAuthorizationFailedError):
        asyncio.run(_produce(kafka_cluster.status_topic, **intake))
    with pytest.raises(TopicAuthorizationFailedError):
        asyncio.run(_read(kafka_cluster.events_topic, **intake))
    say("intake: writing status and reading events refused (TopicAuthorizationFailedError)")

    for topic in (kafka_cluster.status_topic, kafka_cluster.events_topic, kafka_cluster.dlq_topic):
        with pytest.raises(TopicAuthorizationFailedError):
            asyncio.run(_produce(topic, **metrics))
    with pytest.raises(ClusterAuthorizationFailedError):
        asyncio.run(_produce(kafka_cluster.status_topic, idempotent=True, **metrics))
    say("metrics: every write refused (TopicAuthorizationFailedError, ClusterAuthorizationFailedError)")
