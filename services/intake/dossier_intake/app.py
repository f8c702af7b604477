"""Wiring: settings → catalog, keys, topics, producer → routes. The lifespan owns the producer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

from fastapi import FastAPI

from dossier_core.catalog import load_catalog
from dossier_intake import __doc__ as DESCRIPTION
from dossier_intake.auth import KeyStore
from dossier_intake.draining import UnreadBodyDrain
from dossier_intake.limits import RateLimiter
from dossier_intake.observability import IntakeMetrics, RequestMetricsMiddleware
from dossier_intake.openapi import install_openapi
from dossier_intake.publisher import EventPublisher
from dossier_intake.routes import direct_routes, router
from dossier_intake.settings import IntakeSettings
from dossier_intake.state import IntakeState
from dossier_runtime.kafka import ensure_topics, retention
from dossier_runtime.problems import install_problem_handlers

log = logging.getLogger(__name__)


def system_clock() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: IntakeSettings | None = None, clock: Callable[[], datetime] = system_clock
) -> FastAPI:
    """The intake app; `clock` (aware) is what `occurred_at` is compared with."""
    settings = settings or IntakeSettings()
    metrics = IntakeMetrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        catalog = load_catalog(settings.catalog_dir)  # CatalogError names file, line and column
        keys = KeyStore(settings.api_keys_file, metrics)
        topics = {
            settings.events_topic: settings.topic_partitions,
            settings.dlq_topic: settings.topic_partitions,
        }
        await ensure_topics(
            settings.kafka_bootstrap_servers,
            topics,
            timeout_s=settings.kafka_startup_timeout_s,
            configs={settings.dlq_topic: retention(settings.dlq_retention_days)},
        )
        publisher = EventPublisher(settings, metrics)
        await publisher.start(settings.kafka_startup_timeout_s)
        limiter = RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst)
        app.state.intake = IntakeState(settings, catalog, keys, limiter, publisher, metrics, clock)
        reload_on_sighup = _watch_sighup(keys)
        log.info(
            "intake ready",
            extra={"topic": settings.events_topic, "keys": len(keys.ring), "agencies": len(catalog.agencies)},
        )
        try:
            yield
        finally:
            if reload_on_sighup:
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            await publisher.stop()  # flushes whatever is still buffered
            log.info("intake stopped; producer flushed")

    app = FastAPI(
        title="Dossier intake",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
    )
    app.include_router(router)
    app.router.routes[:0] = direct_routes()
    install_problem_handlers(app)
    install_openapi(app)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    # outermost, so that every early answer (413, 401, 429, …) waits until the body is read
    app.add_middleware(UnreadBodyDrain, max_bytes=settings.drain_max_bytes, max_seconds=settings.drain_max_s)
    return app


def _watch_sighup(keys: KeyStore) -> bool:
    """Reload the keys file on SIGHUP; possible only when the loop runs in the main thread."""
    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, keys.reload)
    except (RuntimeError, ValueError, NotImplementedError):
        log.warning("SIGHUP reload unavailable in this thread")
        return False
    return True
