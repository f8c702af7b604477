"""Kafka connections and administration shared by the services: how a client connects (TLS, SASL),
create topics with their replication, check the broker answers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code
from aiokafka.helpers import create_ssl_context

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KafkaConnection:
    """Where and how a client connects: the bootstrap list and, for a secured cluster, TLS (the CA
    that signed the brokers' certificates, optionally a client certificate) and SASL credentials."""

    bootstrap: str
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_ca_file: Path | None = None
    ssl_cert_file: Path | None = None
    ssl_key_file: Path | None = None
    ssl_check_hostname: bool = True

    def options(self) -> dict[str, Any]:
        """The keyword arguments of every aiokafka client (producer, consumer, admin)."""
        out: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap,
            "security_protocol": self.security_protocol,
        }
        if self.security_protocol in ("SSL", "SASL_SSL"):
            context = create_ssl_context(
                cafile=self.ssl_ca_file, certfile=self.ssl_cert_file, keyfile=self.ssl_key_file
            )
            context.check_hostname = self.ssl_check_hostname
            out["ssl_context"] = context
        if self.security_protocol.startswith("SASL"):
            out["sasl_mechanism"] = self.sasl_mechanism
            out["sasl_plain_username"] = self.sasl_username
            out["sasl_plain_password"] = self.sasl_password
        return out


def client_options(connection: KafkaConnection | str) -> dict[str, Any]:
    """aiokafka keyword arguments for `connection` (a bare bootstrap string: a plaintext cluster)."""
    if isinstance(connection, str):
        return {"bootstrap_servers": connection}
    return connection.options()


@dataclass(frozen=True)
class TopicPolicy:
    """Replication of the topics a service creates: `replication_factor` copies, of which
    `min_insync_replicas` must hold a write before an `acks=all` producer hears it acknowledged (None:
    the broker's default). RF 3 with min ISR 2 survives one broker down without refusing writes."""

    replication_factor: int = 1
    min_insync_replicas: int | None = None

    def configs(self) -> dict[str, str]:
        if self.min_insync_replicas is None:
            return {}
        return {"min.insync.replicas": str(self.min_insync_replicas)}


#: Dead letters wait for an operator to fix their cause and replay them; they are events that were
#: never applied, so by default they are kept for good (-1), not for a cluster's default 7 days.
DLQ_RETENTION_DAYS = -1


def retention(days: int) -> dict[str, str]:
    """Topic settings keeping messages `days` days (-1: for good)."""
    return {"retention.ms": str(days * 86_400_000 if days > 0 else -1)}


async def ensure_topics(
    connection: KafkaConnection | str,
    partitions: dict[str, int],
    *,
    timeout_s: float = 30.0,
    configs: Mapping[str, Mapping[str, str]] | None = None,
    policy: TopicPolicy | None = None,
) -> None:
    """Create each topic that does not exist yet with `policy`'s replication (default: 1, the local
    single broker) and its `configs` (topic settings such as `retention.ms`) if given. Existing topics
    are left as they are; one replicated less than `policy` asks is logged as a warning."""
    policy = policy or TopicPolicy()
    admin = AIOKafkaAdminClient(**client_options(connection), request_timeout_ms=int(timeout_s * 1000))
    await asyncio.wait_for(admin.start(), timeout_s)
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name=name,
                num_partitions=count,
                replication_factor=policy.replication_factor,
                topic_configs={**policy.configs(), **dict((configs or {}).get(name, {}))},
            )
            for name, count in partitions.items()
            if name not in existing
        ]
        if missing:
            # another instance may create one between our list and create
            with contextlib.suppress(TopicAlreadyExistsError):
                response = await admin.create_topics(missing)
                _raise_topic_errors(response.topic_errors)
            log.info("created topics", extra={"topics": [t.name for t in missing]})
        present = sorted(set(partitions) & existing)
        if present and policy.replication_factor > 1:
            await _warn_under_replicated(admin, present, policy.replication_factor)
    finally:
        await admin.close()


def _raise_topic_errors(topic_errors: list[Any]) -> None:
    """The create-topics answer carries an error per topic instead of raising: a replication factor the
    cluster cannot give (fewer brokers than replicas) must stop the start, not pass as created."""
    failed = [
        (entry[0], entry[1], entry[2] if len(entry) > 2 else "")  # v0 answers carry no message
        for entry in topic_errors
        if entry[1] not in (0, TopicAlreadyExistsError.errno)
    ]
    if failed:
        raise KafkaTopicError(
            "; ".join(f"{topic}: {for_code(code).__name__}: {message}" for topic, code, message in failed)
        )


class KafkaTopicError(RuntimeError):
    """The cluster refused to create a topic (its reason is in the message)."""


async def _warn_under_replicated(admin: AIOKafkaAdminClient, topics: list[str], wanted: int) -> None:
    for topic in await admin.describe_topics(topics):
        replicas = min((len(p["replicas"]) for p in topic.get("partitions", [])), default=wanted)
        if replicas < wanted:
            log.warning(
                "topic has fewer replicas than KAFKA_REPLICATION_FACTOR asks; reassign its partitions",
                extra={"topic": topic.get("topic"), "replicas": replicas, "wanted": wanted},
            )


async def broker_reachable(connection: KafkaConnection | str, *, timeout_s: float = 3.0) -> bool:
    """True when the cluster answers a metadata request within the timeout."""
    admin = AIOKafkaAdminClient(**client_options(connection), request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        await asyncio.wait_for(admin.list_topics(), timeout_s)
        return True
    except Exception:
        return False
    finally:
        await admin.close()
