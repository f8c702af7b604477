"""The processing app: its lifespan owns the engine, the Kafka producer, the consumer, the outbox relay
and the push worker; SIGTERM (via uvicorn) stops the consumer after the batch in flight."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaProducer
from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from dossier_core.catalog import load_catalog
from dossier_processing.api import router
from dossier_processing.api_models import install_openapi
from dossier_processing.consumer import EventConsumer
from dossier_processing.db import make_engine
from dossier_processing.dlq import DeadLetters
from dossier_processing.migrate import migrate
from dossier_processing.observability import Metrics
from dossier_processing.outbox import OutboxRelay
from dossier_processing.portal import PortalPusher
from dossier_processing.retry import until_done
from dossier_processing.settings import ProcessingSettings
from dossier_processing.state import AppState
from dossier_runtime.api_keys import ApiKeyRing
from dossier_runtime.kafka import broker_reachable, ensure_topics, retention
from dossier_runtime.problems import Problem, install_problem_handlers

log = logging.getLogger(__name__)


def load_keys(settings: ProcessingSettings) -> ApiKeyRing:
    return ApiKeyRing.load(settings.api_keys_file) if settings.api_keys_file else ApiKeyRing()


class Workers:
    """The background tasks of one app instance."""

    def __init__(self) -> None:
        self.stoppers: list[Any] = []
        self.tasks: list[asyncio.Task[None]] = []

    def start(self, name: str, stop: Any, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work, name=name)
        task.add_done_callback(_report_crash)
        self.stoppers.append(stop)
        self.tasks.append(task)

    async def stop(self, timeout_s: float) -> None:
        for stop in self.stoppers:
            stop()
        _done, pending = await asyncio.wait(self.tasks, timeout=timeout_s) if self.tasks else (set(), set())
        for task in pending:
            log.warning("worker did not stop in time; cancelling", extra={"worker": task.get_name()})
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*pending, return_exceptions=True)

    def alive(self) -> bool:
        return all(not t.done() for t in self.tasks)


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("worker stopped on an error", extra={"worker": task.get_name()}, exc_info=task.exception())


def create_app(settings: ProcessingSettings | None = None) -> FastAPI:
    settings = settings or ProcessingSettings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        catalog = load_catalog(settings.catalog_dir)
        engine = make_engine(settings.database_url, settings.db_schema, pool_size=settings.db_pool_size)
        state = AppState(settings, engine, catalog, catalog.calendar(), load_keys(settings), metrics)
        app.state.processing = state
        _reload_keys_on_sighup(state)
        await until_done("migrate the database", lambda: migrate(engine, settings.db_schema))
        topics = {
            t: settings.topic_partitions
            for t in (settings.events_topic, settings.status_topic, settings.dlq_topic)
        }
        dlq_configs = {settings.dlq_topic: retention(settings.dlq_retention_days)}
        await until_done(
            "create the topics",
            lambda: ensure_topics(settings.kafka_bootstrap_servers, topics, configs=dlq_configs),
        )
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
        )
        await until_done("start the Kafka producer", producer.start)
        workers = Workers()
        app.state.workers = workers
        relay = OutboxRelay(settings, engine, metrics) if settings.run_relay else None
        if settings.run_consumer:
            dead_letters = DeadLetters(producer, settings.dlq_topic, metrics)
            wake = relay.wake if relay is not None else None
            consumer = EventConsumer(settings, engine, catalog, dead_letters, metrics, on_commit=wake)
            workers.start("consumer", consumer.stop, consumer.run())
            app.state.consumer = consumer
        if relay is not None:
            workers.start("outbox-relay", relay.stop, relay.run())
        if settings.portal_url:
            pusher = PortalPusher(settings, engine, catalog, metrics)
            workers.start("portal-push", pusher.stop, pusher.run())
        log.info("processing started", extra={"schema": settings.db_schema, "topic": settings.events_topic})
        try:
            yield
        finally:
            await workers.stop(settings.shutdown_timeout_s)
            await producer.stop()
            await engine.dispose()
            log.info("processing stopped")

    app = FastAPI(title="Dossier processing", version="1", lifespan=lifespan)
    install_problem_handlers(app)
    app.include_router(router)
    install_openapi(app)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    async def readyz(request: Request) -> dict[str, Any]:
        state: AppState = request.app.state.processing
        checks = {
            "database": await _database_ok(state),
            "kafka": await broker_reachable(settings.kafka_bootstrap_servers),
        }
        checks["workers"] = request.app.state.workers.alive()
        consumer: EventConsumer | None = getattr(request.app.state, "consumer", None)
        if consumer is not None:  # retrying a database or Kafka step for too long
            checks["consumer"] = consumer.progressing()
        if not all(checks.values()):
            raise Problem(
                503,
                "Not ready",
                ", ".join(k for k, ok in checks.items() if not ok) + " unavailable",
                headers={"Retry-After": "5"},
            )
        return {"status": "ready", "checks": checks}

    @app.get("/metrics", tags=["operations"])
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


async def _database_ok(state: AppState) -> bool:
    try:
        async with asyncio.timeout(3):
            async with state.engine.connect() as conn:
                await conn.execute(text("select 1"))
        return True
    except Exception:
        return False


def _reload_keys_on_sighup(state: AppState) -> None:
    def reload() -> None:
        try:
            state.keys = load_keys(state.settings)
            log.info("API keys reloaded", extra={"keys": len(state.keys)})
        except Exception as exc:
            log.error("API keys not reloaded; keeping the previous ones", extra={"error": str(exc)})

    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reload)
