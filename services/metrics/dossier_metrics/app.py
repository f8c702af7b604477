"""Wiring: settings → catalog, engines, store, live index, consumer, collector, keys, routes.

`create_app` builds the FastAPI application; its lifespan owns the engines and the consumer task.
The consumer writes through one engine; reports read through a second one with a pool of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.ext.asyncio import AsyncEngine

from dossier_core.calendar import VN_TZ
from dossier_core.catalog import Catalog, load_catalog
from dossier_metrics import live, reports
from dossier_metrics.auth import KeyStore
from dossier_metrics.collector import AgencyRegistry, DossierCollector
from dossier_metrics.consumer import Backoff, StatusConsumer
from dossier_metrics.db import create_engine, create_report_engine, database_reachable
from dossier_metrics.index import Clock, LiveIndex
from dossier_metrics.migrations import upgrade
from dossier_metrics.openapi import install_openapi, problems
from dossier_metrics.operations import OperationsCollector, operations_text
from dossier_metrics.projector import Projector
from dossier_metrics.report_gate import ReportGate
from dossier_metrics.reports import ReportBuilder
from dossier_metrics.schemas import Health, Readiness
from dossier_metrics.settings import MetricsSettings
from dossier_metrics.store import ProjectionStore
from dossier_runtime.kafka import broker_reachable
from dossier_runtime.problems import Problem, install_problem_handlers, problem_response

log = logging.getLogger(__name__)
T = TypeVar("T")


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


def build_projection(
    settings: MetricsSettings, clock: Clock = wall_clock, catalog: Catalog | None = None
) -> Projection:
    catalog = catalog or load_catalog(settings.catalog_dir)
    calendar = catalog.calendar()
    engine = create_engine(settings.database_url, settings.db_schema)
    store = ProjectionStore(engine)
    index = LiveIndex(calendar, clock)
    projector = Projector(store, index, calendar)
    return Projection(catalog, engine, store, index, projector, StatusConsumer(settings, projector))


async def until_done(what: str, action: Callable[[], Awaitable[T]], maximum_s: float) -> T:
    """Run `action` until it succeeds (PostgreSQL may still be starting)."""
    backoff = Backoff(maximum_s)
    while True:
        try:
            return await action()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            delay = backoff.next()
            log.warning(
                f"cannot {what}; retrying", extra={"error": f"{type(exc).__name__}: {exc}", "in_s": delay}
            )
            await asyncio.sleep(delay)


def _reload_keys_on_sighup(keys: KeyStore) -> None:
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, keys.reload)


def create_app(settings: MetricsSettings | None = None, *, clock: Clock = wall_clock) -> FastAPI:
    settings = settings or MetricsSettings()
    catalog = load_catalog(settings.catalog_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        keys = KeyStore(settings.api_keys_file)
        projection = build_projection(settings, clock, catalog)
        report_engine = create_report_engine(
            settings.database_url,
            settings.db_schema,
            pool_size=settings.report_concurrency,
            statement_timeout_ms=settings.report_statement_timeout_ms,
            pool_timeout_s=settings.report_pool_timeout_s,
        )
        try:
            await until_done(
                "migrate the database",
                lambda: upgrade(projection.engine, settings.db_schema),
                settings.max_backoff_s,
            )
            collector = DossierCollector(projection.index, AgencyRegistry(catalog.agencies))
            gate = ReportGate(settings.report_concurrency, settings.report_retry_after_s)
            app.state.settings = settings
            app.state.keys = keys
            app.state.projection = projection
            app.state.collector = collector
            app.state.report_engine = report_engine
            app.state.reports = ReportBuilder(catalog, ProjectionStore(report_engine))
            app.state.report_gate = gate
            app.state.operations = OperationsCollector(projection.consumer, gate)
            _reload_keys_on_sighup(keys)
            task = asyncio.create_task(projection.consumer.run_forever(), name="status-consumer")
            app.state.consumer_task = task
            log.info(
                "metrics service started",
                extra={"schema": settings.db_schema, "topic": settings.status_topic, "keys": len(keys.ring)},
            )
            try:
                yield
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(task, settings.shutdown_grace_s)
        finally:
            await report_engine.dispose()
            await projection.engine.dispose()
            log.info("metrics service stopped")

    app = FastAPI(title="Dossier metrics", version="1", lifespan=lifespan)
    install_problem_handlers(app)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        """A defect: a problem without details (the traceback goes to the log)."""
        return problem_response(Problem(500, "Internal error"), request.url.path)

    install_openapi(app, sorted(catalog.agencies))
    app.include_router(reports.router)
    app.include_router(live.router)

    @app.get("/healthz", tags=["health"], response_model=Health)
    async def healthz() -> dict[str, str]:
        """Alive (no dependency is asked)."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], response_model=Readiness, responses=problems(503))
    async def readyz(request: Request) -> dict[str, Any]:
        """Ready while PostgreSQL and Kafka answer and the consumer stores what it reads."""
        projection: Projection = request.app.state.projection
        consumer = projection.consumer
        task: asyncio.Task[None] = request.app.state.consumer_task
        errors = []
        if not await database_reachable(projection.engine):
            errors.append({"field": "database", "message": "PostgreSQL does not answer"})
        if not await broker_reachable(settings.kafka_bootstrap_servers):
            errors.append({"field": "kafka", "message": "Kafka does not answer"})
        if task.done():
            errors.append({"field": "consumer", "message": "the status consumer has stopped"})
        elif consumer.failing is not None:
            errors.append({"field": "consumer", "message": f"cannot store what it reads: {consumer.failing}"})
        elif not consumer.assigned or consumer.pending:
            errors.append({"field": "consumer", "message": "partitions are being assigned or loaded"})
        if errors:
            raise Problem(503, "Not ready", errors=errors, headers={"Retry-After": "2"})
        return {"status": "ready", "partitions": sorted(consumer.owned)}

    @app.get(
        "/metrics",
        tags=["health"],
        response_class=PlainTextResponse,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    async def metrics(request: Request) -> Response:
        """The SPEC §5 series (Prometheus text format), then the service's own health series."""
        collector: DossierCollector = request.app.state.collector
        body = collector.render_text() + operations_text(request.app.state.operations)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return app
