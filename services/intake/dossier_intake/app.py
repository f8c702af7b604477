"""Wiring: settings → catalog, keys, topics, producer → routes.

`running` is the bootstrap: it opens one `IntakeState` (the producer flushed and the keys' SIGHUP
handler removed when it closes), with the Kafka parts replaceable so a test can open it without a
broker. `create_app` builds the FastAPI application, whose lifespan runs that bootstrap, with the
event routes and the shared `/healthz`, `/readyz` (Kafka answers within 2 s) and `/metrics`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI

from dossier_core.catalog import load_catalog
from dossier_intake import __doc__ as DESCRIPTION
from dossier_intake.applicant import sealer_from_key
from dossier_intake.draining import UnreadBodyDrain
from dossier_intake.feedback import feedback_routes
from dossier_intake.feedback import router as feedback_router
from dossier_intake.limits import RateLimiter
from dossier_intake.observability import IntakeMetrics, RequestMetricsMiddleware
from dossier_intake.openapi import install_openapi
from dossier_intake.publisher import EventPublisher
from dossier_intake.routes import direct_routes, router
from dossier_intake.settings import IntakeSettings
from dossier_intake.state import INTAKE, IntakeState
from dossier_runtime.docs_pages import service_app
from dossier_runtime.health import health_router, kafka_check
from dossier_runtime.kafka import ensure_topics, retention
from dossier_runtime.keys import KeyFile
from dossier_runtime.problems import install_problem_handlers
from dossier_runtime.state import lifespan

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
#: `ensure_topics`' shape: bootstrap, partitions by topic, then `timeout_s` and `configs`.
CreateTopics = Callable[..., Awaitable[None]]
NewPublisher = Callable[[IntakeSettings, IntakeMetrics], EventPublisher]


def system_clock() -> datetime:
    return datetime.now(UTC)


@asynccontextmanager
async def running(
    settings: IntakeSettings,
    metrics: IntakeMetrics,
    clock: Clock = system_clock,
    *,
    create_topics: CreateTopics = ensure_topics,
    new_publisher: NewPublisher = EventPublisher,
) -> AsyncIterator[IntakeState]:
    """The bootstrap: catalog, keys file, topics, a started producer. On leaving, the SIGHUP handler
    is removed and the producer flushes whatever is still buffered."""
    catalog = load_catalog(settings.catalog_dir)  # CatalogError names file, line and column
    sealer = sealer_from_key(settings.applicant_public_key)  # ValueError for a malformed key
    keys = KeyFile(settings.api_keys_file, setting="INTAKE_API_KEYS_FILE", observer=metrics)
    topics = {
        settings.events_topic: settings.topic_partitions,
        settings.dlq_topic: settings.topic_partitions,
        settings.feedback_topic: settings.topic_partitions,
    }
    configs: Mapping[str, Mapping[str, str]] = {
        settings.events_topic: retention(settings.kafka_events_retention_days),
        settings.feedback_topic: retention(settings.kafka_events_retention_days),
        settings.dlq_topic: retention(settings.dlq_retention_days),
    }
    await create_topics(
        settings.kafka,
        topics,
        timeout_s=settings.kafka_startup_timeout_s,
        configs=configs,
        policy=settings.topic_policy,
    )
    publisher = new_publisher(settings, metrics)
    await publisher.start(settings.kafka_startup_timeout_s)
    limiter = RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst)
    state = IntakeState(settings, catalog, keys, limiter, publisher, metrics, clock, sealer)
    try:
        with keys.reloading_on_sighup():
            log.info(
                "intake ready",
                extra={
                    "topic": settings.events_topic,
                    "keys": len(keys),
                    "agencies": len(catalog.agencies),
                    "applicant_data": "sealed" if sealer is not None else "refused",
                },
            )
            yield state
    finally:
        await publisher.stop()  # flushes whatever is still buffered
        log.info("intake stopped; producer flushed")


def create_app(settings: IntakeSettings | None = None, clock: Clock = system_clock) -> FastAPI:
    """The intake app; `clock` (aware) is what `occurred_at` is compared with."""
    settings = settings or IntakeSettings()
    metrics = IntakeMetrics()

    app = service_app(
        title="Dossier intake",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan(INTAKE, lambda: running(settings, metrics, clock)),
        docs_url="/docs",
    )
    app.include_router(router)
    app.include_router(feedback_router)
    app.include_router(
        health_router(
            INTAKE.of,
            [kafka_check(settings.kafka, timeout_s=2.0)],
            render=metrics.registry,
            retry_after_s=settings.retry_after_s,
            ready_when="Kafka answers",
        )
    )
    app.router.routes[:0] = [*direct_routes(), *feedback_routes()]
    install_problem_handlers(app)
    install_openapi(app)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    # outermost, so that every early answer (413, 401, 429, …) waits until the body is read
    app.add_middleware(UnreadBodyDrain, max_bytes=settings.drain_max_bytes, max_seconds=settings.drain_max_s)
    return app
