"""Wiring: settings → catalog, engine, store, live index, consumer, collector, routes.

`create_app` builds the FastAPI application; its lifespan owns the engine and the consumer task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from dossier_core.calendar import VN_TZ
from dossier_core.catalog import Catalog, load_catalog
from dossier_metrics import live, reports
from dossier_metrics.collector import AgencyRegistry, DossierCollector
from dossier_metrics.consumer import StatusConsumer
from dossier_metrics.db import create_engine, database_reachable
from dossier_metrics.index import Clock, LiveIndex
from dossier_metrics.migrations import upgrade
from dossier_metrics.projector import Projector
from dossier_metrics.reports import ReportBuilder
from dossier_metrics.settings import MetricsSettings
from dossier_metrics.store import ProjectionStore
from dossier_runtime.kafka import ensure_topics
from dossier_runtime.problems import Problem, install_problem_handlers, problem_response

log = logging.getLogger(__name__)


def wall_clock() -> datetime:
    return datetime.now(VN_TZ)


@dataclass
class Projection:
    """The parts that together keep and expose the projection (shared by `serve` and `rebuild`)."""

    catalog: Catalog
    engine: AsyncEngine
    store: ProjectionStore
    index: LiveIndex
    projector: Projector
    consumer: StatusConsumer


def build_projection(settings: MetricsSettings, clock: Clock = wall_clock) -> Projection:
    catalog = load_catalog(settings.catalog_dir)
    calendar = catalog.calendar()
    engine = create_engine(settings.database_url, settings.db_schema)
    store = ProjectionStore(engine)
    index = LiveIndex(calendar, clock)
    projector = Projector(store, index, calendar)
    return Projection(catalog, engine, store, index, projector, StatusConsumer(settings, projector))


async def _consume_forever(settings: MetricsSettings, consumer: StatusConsumer) -> None:
    """Run the group consumer; on a Kafka or database failure, log and start again."""
    delay = 1.0
    while True:
        try:
            await ensure_topics(
                settings.kafka_bootstrap_servers,
                {settings.status_topic: settings.status_topic_partitions},
                timeout_s=settings.kafka_startup_timeout_s,
            )
            await consumer.run_group()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("status consumer stopped; restarting", extra={"retry_in_s": delay})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


def create_app(settings: MetricsSettings | None = None, *, clock: Clock = wall_clock) -> FastAPI:
    settings = settings or MetricsSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        projection = build_projection(settings, clock)
        await upgrade(projection.engine, settings.db_schema)
        collector = DossierCollector(projection.index, AgencyRegistry(projection.catalog.agencies))
        registry = CollectorRegistry(auto_describe=False)
        registry.register(collector)
        app.state.settings = settings
        app.state.projection = projection
        app.state.collector = collector
        app.state.registry = registry
        app.state.reports = ReportBuilder(projection.catalog, projection.store)
        task = asyncio.create_task(_consume_forever(settings, projection.consumer), name="status-consumer")
        app.state.consumer_task = task
        log.info(
            "metrics service started", extra={"schema": settings.db_schema, "topic": settings.status_topic}
        )
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, settings.shutdown_grace_s)
            await projection.engine.dispose()
            log.info("metrics service stopped")

    app = FastAPI(title="Dossier metrics", version="1", lifespan=lifespan)
    install_problem_handlers(app)
    app.include_router(reports.router)
    app.include_router(live.router)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], response_model=None)
    async def readyz(request: Request) -> JSONResponse | dict[str, object]:
        projection: Projection = request.app.state.projection
        task: asyncio.Task[None] = request.app.state.consumer_task
        problems = []
        if not await database_reachable(projection.engine):
            problems.append({"field": "database", "message": "PostgreSQL does not answer"})
        if task.done() or not projection.consumer.assigned_once.is_set():
            problems.append(
                {"field": "kafka", "message": "the status consumer has no partition assignment yet"}
            )
        if problems:
            unready: JSONResponse = problem_response(
                Problem(503, "Not ready", errors=problems, headers={"Retry-After": "2"})
            )
            return unready
        return {"status": "ready", "partitions": sorted(projection.consumer.owned)}

    @app.get("/metrics", tags=["health"])
    async def metrics(request: Request) -> Response:
        collector: DossierCollector = request.app.state.collector
        return Response(collector.render_text(), media_type=CONTENT_TYPE_LATEST)

    return app
