"""A small topic kept in a table: the loop that reads it in its consumer group and commits the offsets
once the batch's rows are stored (so a crash reads the batch again; the stores are idempotent). Used
for `feedback.status.v1` (`feedback`) and `portal.sync.v1` (`portal_sync`); a broken connection or
store restarts the consumer after `METRICS_MAX_BACKOFF_S`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer

from dossier_metrics.settings import MetricsSettings
from dossier_runtime.kafka import client_options

log = logging.getLogger(__name__)


async def follow_topic(
    settings: MetricsSettings,
    topic: str,
    group: str,
    store: Callable[[Sequence[Any]], Awaitable[None]],
    name: str,
) -> None:
    """Read `topic` in `group` forever from the earliest uncommitted offset, `store` each batch's
    records, then commit; `name` says which consumer restarts in the log."""
    while True:
        consumer = AIOKafkaConsumer(
            topic,
            **client_options(settings.kafka),
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        try:
            await consumer.start()
            while True:
                batch = await consumer.getmany(timeout_ms=settings.poll_timeout_ms)
                records = [r for msgs in batch.values() for r in msgs]
                if records:
                    await store(records)
                    await consumer.commit()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(f"{name} consumer restarting", extra={"error": repr(exc)})
            await asyncio.sleep(settings.max_backoff_s)
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()
