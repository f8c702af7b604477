"""Kafka administration shared by the services: create topics, check the broker answers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

log = logging.getLogger(__name__)

#: Dead letters wait for an operator to fix their cause and replay them; they are events that were
#: never applied, so by default they are kept for good (-1), not for a cluster's default 7 days.
DLQ_RETENTION_DAYS = -1


def retention(days: int) -> dict[str, str]:
    """Topic settings keeping messages `days` days (-1: for good)."""
    return {"retention.ms": str(days * 86_400_000 if days > 0 else -1)}


async def ensure_topics(
    bootstrap: str,
    partitions: dict[str, int],
    *,
    timeout_s: float = 30.0,
    configs: Mapping[str, Mapping[str, str]] | None = None,
) -> None:
    """Create each topic that does not exist yet (replication 1 on the local single broker), with
    its `configs` (topic settings such as `retention.ms`) if given. Existing topics are left as
    they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
    await asyncio.wait_for(admin.start(), timeout_s)
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name=name,
                num_partitions=count,
                replication_factor=1,
                topic_configs=dict((configs or {}).get(name, {})),
            )
            for name, count in partitions.items()
            if name not in existing
        ]
        if missing:
            # another instance may create one between our list and create
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
            log.info("created topics", extra={"topics": [t.name for t in missing]})
    finally:
        await admin.close()


async def broker_reachable(bootstrap: str, *, timeout_s: float = 3.0) -> bool:
    """True when the cluster answers a metadata request within the timeout."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        await asyncio.wait_for(admin.list_topics(), timeout_s)
        return True
    except Exception:
        return False
    finally:
        await admin.close()
