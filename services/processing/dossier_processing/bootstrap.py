"""The one place the processing service is wired: settings → catalog, engine, keys (reloaded on SIGHUP),
schema migration, topics, the dead-letter producer, and the workers the settings ask for; and the
routers the app serves.

Each worker can run alone (`PROCESSING_RUN_CONSUMER`, `_RUN_RELAY`, `_RUN_PORTAL`), so instances can be
scaled per workload. Kafka is only set up when a worker uses it: the topics when the consumer or the
relay runs, the dead-letter producer when the consumer runs. Every step that waits on PostgreSQL or
Kafka is retried until it succeeds; shutdown stops the workers first (the consumer commits the batch in
flight), then the producer, then the engine.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from aiokafka import AIOKafkaProducer
from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncEngine

from dossier_core.catalog import load_catalog
from dossier_processing.feedback.worker import FeedbackWorker
from dossier_processing.ingest.consumer import EventConsumer
from dossier_processing.ingest.dlq import DeadLetters
from dossier_processing.ingest.failures import describe
from dossier_processing.migrations import MIGRATIONS
from dossier_processing.observability import Metrics
from dossier_processing.operations import operations_router
from dossier_processing.portal import feed, state_route
from dossier_processing.portal.pusher import PortalPusher
from dossier_processing.portal.state_publisher import SyncStatePublisher
from dossier_processing.relay.relay import OutboxRelay
from dossier_processing.settings import ProcessingSettings
from dossier_processing.state import AppState
from dossier_processing.views import routes
from dossier_runtime import db
from dossier_runtime.kafka import client_options, ensure_topics, retention
from dossier_runtime.keys import KeyFile
from dossier_runtime.retry import Backoff, until_done

log = logging.getLogger(__name__)

#: the pauses between attempts of a start-up step that waits on PostgreSQL or Kafka
STARTING = Backoff(0.2, 10.0)


def routers(settings: ProcessingSettings, metrics: Metrics) -> list[APIRouter]:
    """What the app serves, in this order: the operator views, the portal's change feed and sync state,
    operations."""
    return [routes.router, feed.router, state_route.router, operations_router(settings, metrics)]


def create_engine(settings: ProcessingSettings, *, pool_size: int | None = None) -> AsyncEngine:
    """The service's engine (`dossier_runtime.db`): every connection in `PROCESSING_DB_SCHEMA`, a pool of
    `PROCESSING_DB_POOL_SIZE` (+2 overflow) recycled every 30 min, 10 s to connect, 60 s per command,
    and no TLS to a database on the loopback address unless the URL asks for it."""
    return db.create_engine(
        settings.database_url,
        settings.db_schema,
        application_name="dossier-processing",
        pool_size=settings.db_pool_size if pool_size is None else pool_size,
        max_overflow=2,
        pool_recycle_s=1800,
        connect_timeout_s=10,
        command_timeout_s=60,
        plain_on_loopback=True,
    )


@contextlib.asynccontextmanager
async def running(settings: ProcessingSettings, metrics: Metrics) -> AsyncIterator[AppState]:
    """The service with its workers running, for as long as the context lasts."""
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(log.info, "processing stopped")  # the last thing on the way out
        catalog = load_catalog(settings.catalog_dir)
        engine = create_engine(settings)
        stack.push_async_callback(engine.dispose)
        keys = KeyFile(settings.api_keys_file, setting="PROCESSING_API_KEYS_FILE")
        state = AppState(settings, engine, catalog, catalog.calendar(), keys, metrics)
        stack.enter_context(state.keys.reloading_on_sighup())
        await until_done(
            "migrate the database",
            lambda: MIGRATIONS.upgrade(engine, settings.db_schema),
            STARTING,
            explain=describe,
        )
        if settings.uses_kafka:
            await _ensure_topics(settings)
        if settings.portal_runs:
            await _ensure_sync_topic(settings)
        producer = None
        if settings.run_consumer:
            producer = _dead_letter_producer(settings)
            await until_done("start the Kafka producer", producer.start, STARTING, explain=describe)
            stack.push_async_callback(producer.stop)
        stack.push_async_callback(state.workers.stop, settings.shutdown_timeout_s)
        _start_workers(state, producer)
        log.info(
            "processing started",
            extra={
                "schema": settings.db_schema,
                "topic": settings.events_topic,
                "workers": state.workers.names,
            },
        )
        yield state


async def _ensure_topics(settings: ProcessingSettings) -> None:
    topics = {
        t: settings.topic_partitions
        for t in (
            settings.events_topic,
            settings.status_topic,
            settings.dlq_topic,
            settings.feedback_events_topic,
            settings.feedback_status_topic,
        )
    }
    configs = {
        settings.feedback_events_topic: retention(settings.kafka_events_retention_days),
        settings.feedback_status_topic: retention(settings.kafka_status_retention_days),
        settings.events_topic: retention(settings.kafka_events_retention_days),
        settings.status_topic: retention(settings.kafka_status_retention_days),
        settings.dlq_topic: retention(settings.dlq_retention_days),
    }
    await until_done(
        "create the topics",
        lambda: ensure_topics(settings.kafka, topics, configs=configs, policy=settings.topic_policy),
        STARTING,
        explain=describe,
    )


async def _ensure_sync_topic(settings: ProcessingSettings) -> None:
    """`portal.sync.v1`, compacted: the latest record of each agency is its state."""
    await until_done(
        "create the portal sync topic",
        lambda: ensure_topics(
            settings.kafka,
            {settings.portal_sync_topic: settings.topic_partitions},
            configs={settings.portal_sync_topic: {"cleanup.policy": "compact"}},
            policy=settings.topic_policy,
        ),
        STARTING,
        explain=describe,
    )


def _dead_letter_producer(settings: ProcessingSettings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        **client_options(settings.kafka), enable_idempotence=True, acks="all", linger_ms=5
    )


def _start_workers(state: AppState, producer: AIOKafkaProducer | None) -> None:
    """Start the workers `settings.workers()` names. The consumer wakes the relay of its own instance
    after each commit; a relay elsewhere finds the rows at its next idle poll."""
    settings, workers = state.settings, state.workers
    relay = OutboxRelay(settings, state.engine, state.metrics) if settings.run_relay else None
    if settings.run_consumer:
        if producer is None:
            raise RuntimeError("the consumer needs the dead-letter producer")
        dead_letters = DeadLetters(producer, settings.dlq_topic, state.metrics)
        wake = relay.wake if relay is not None else None
        consumer = EventConsumer(
            settings, state.engine, state.catalog, dead_letters, state.metrics, on_commit=wake
        )
        workers.start("consumer", consumer.stop, consumer.run(), progressing=consumer.progressing)
    if relay is not None:
        workers.start("outbox-relay", relay.stop, relay.run())
    if settings.portal_runs:
        pusher = PortalPusher(settings, state.engine, state.catalog, state.metrics)
        workers.start("portal-push", pusher.stop, pusher.run())
        publisher = SyncStatePublisher(settings, state.engine, state.metrics.portal_sync)
        workers.start("portal-sync-state", publisher.stop, publisher.run())
    if settings.feedback_runs:
        feedback = FeedbackWorker(settings, state.engine, state.calendar)
        workers.start("feedback", feedback.stop, feedback.run())
