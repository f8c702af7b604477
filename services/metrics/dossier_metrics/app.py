"""Wiring: settings → catalog, engines, store, live index, consumer, collector, keys, routes.

`build_state` builds every part of the service into one `MetricsState` without opening anything;
`running` is the bootstrap (migrations, the consumer task, and closing it all); `create_app` builds the
FastAPI application, whose lifespan runs that bootstrap. The consumer writes through one engine;
reports read through a second one with a pool of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncEngine

from dossier_core.calendar import VN_TZ
from dossier_core.catalog import Catalog, load_catalog
from dossier_metrics import catalogue, live, reports
from dossier_metrics.auth import KeyStore
from dossier_metrics.collector import AgencyRegistry, DossierCollector
from dossier_metrics.console import install_console
from dossier_metrics.console.sessions import SessionStore
from dossier_metrics.console.state import ConsoleState
from dossier_metrics.consumer import StatusConsumer
from dossier_metrics.counter_export import CounterExporter
from dossier_metrics.db import create_engine, create_report_engine
from dossier_metrics.facts_backfill import backfill_facts
from dossier_metrics.feedback import FeedbackConsumer, live_text_or_none, period_feedback
from dossier_metrics.feedback import router as feedback_router
from dossier_metrics.filing import Freezer
from dossier_metrics.index import Clock, LiveIndex
from dossier_metrics.migrations import upgrade
from dossier_metrics.on_site_backfill import backfill_on_site
from dossier_metrics.openapi import install_openapi
from dossier_metrics.operations import OperationsCollector, operations_text
from dossier_metrics.portal_sync import PortalSyncConsumer
from dossier_metrics.projector import Projector
from dossier_metrics.report_gate import ReportGate
from dossier_metrics.report_store import ReportStore
from dossier_metrics.reports import ReportBuilder
from dossier_metrics.schemas import Readiness
from dossier_metrics.settings import MetricsSettings
from dossier_metrics.state import STATE, MetricsState, Projection
from dossier_metrics.store import ProjectionStore
from dossier_runtime.docs_pages import service_app
from dossier_runtime.health import Check, Reason, database_check, health_router, kafka_check
from dossier_runtime.problems import Problem, install_problem_handlers, problem_response
from dossier_runtime.retry import Backoff, until_done
from dossier_runtime.state import lifespan

log = logging.getLogger(__name__)
#: `/readyz` answers 503 with this `Retry-After` while the service is not ready.
READY_RETRY_AFTER_S = 2

Migrate = Callable[[AsyncEngine, str], Awaitable[None]]
Consume = Callable[[], Coroutine[Any, Any, None]]


def wall_clock() -> datetime:
    return datetime.now(VN_TZ)


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


def build_state(
    settings: MetricsSettings, *, clock: Clock = wall_clock, catalog: Catalog | None = None
) -> MetricsState:
    """Every part of the service, wired, before anything is opened: the keys file is read, but no
    connection is made and no task started (so a test builds it without Kafka or PostgreSQL)."""
    keys = KeyStore(settings.api_keys_file)  # a bad file stops the start, naming file and line
    projection = build_projection(settings, clock, catalog)
    report_engine = create_report_engine(
        settings.database_url,
        settings.db_schema,
        pool_size=settings.report_concurrency,
        statement_timeout_ms=settings.report_statement_timeout_ms,
        pool_timeout_s=settings.report_pool_timeout_s,
        work_mem_mb=settings.report_work_mem_mb,
    )
    gate = ReportGate(settings.report_concurrency, settings.report_retry_after_s)
    report_store = ReportStore(report_engine, projection.catalog.calendar(), writer=projection.engine)
    delay = timedelta(days=settings.filing_delay_days)
    exporter = CounterExporter(
        projection.engine,
        projection.store.counter_totals,
        f"dossier-metrics counters {settings.db_schema}",
        retry_s=settings.counter_exporter_retry_s,
    )
    return MetricsState(
        settings=settings,
        catalog=projection.catalog,
        keys=keys,
        projection=projection,
        collector=DossierCollector(projection.index, AgencyRegistry(projection.catalog.agencies), exporter),
        report_engine=report_engine,
        reports=ReportBuilder(
            projection.catalog,
            report_store,
            delay,
            feedback=functools.partial(period_feedback, report_engine, projection.catalog),
        ),
        report_gate=gate,
        operations=OperationsCollector(projection.consumer, gate, exporter),
        freezer=Freezer(report_store, delay, timedelta(seconds=settings.filing_settle_s), clock),
        console=ConsoleState(SessionStore(settings.console_session_ttl_s, settings.console_max_sessions)),
    )


def prepare_schema(catalog: Catalog) -> Migrate:
    """The schema at the latest revision, and the report facts of dossiers stored before it had them."""

    async def prepare(engine: AsyncEngine, schema: str) -> None:
        await upgrade(engine, schema)
        await backfill_facts(engine, catalog.calendar())
        await backfill_on_site(engine)

    return prepare


@asynccontextmanager
async def running(
    state: MetricsState, *, migrate: Migrate | None = None, consume: Consume | None = None
) -> AsyncIterator[MetricsState]:
    """The bootstrap: bring the schema to the latest revision (tried again while PostgreSQL does not
    answer), run the status consumer (`consume`, by default the real one) as `state.consumer_task`;
    on leaving, stop the consumer and close both engines."""
    settings = state.settings
    try:
        await until_done(
            "migrate the database",
            lambda: (migrate or prepare_schema(state.catalog))(state.projection.engine, settings.db_schema),
            Backoff(max_s=settings.max_backoff_s),
        )
        work = consume() if consume is not None else state.projection.consumer.run_forever()
        task = state.consumer_task = asyncio.create_task(work, name="status-consumer")
        exporter = state.collector.exporter
        if exporter is not None:
            # asked once before serving, so a lone instance exports from its first scrape
            with contextlib.suppress(Exception):
                await exporter.try_lead()
            state.exporter_task = asyncio.create_task(exporter.run_forever(), name="counter-exporter")
        if consume is None:  # the real service: its feedback consumer too
            feedback = FeedbackConsumer(settings, state.projection.engine).run_forever()
            state.feedback_task = asyncio.create_task(feedback, name="feedback-consumer")
            portal_sync = PortalSyncConsumer(settings, state.projection.engine).run_forever()
            state.portal_sync_task = asyncio.create_task(portal_sync, name="portal-sync-consumer")
        if settings.filing_auto:
            filing = state.freezer.run_forever(settings.filing_check_s)
            state.freezer_task = asyncio.create_task(filing, name="freezer")
        log.info(
            "metrics service started",
            extra={"schema": settings.db_schema, "topic": settings.status_topic, "keys": len(state.keys)},
        )
        try:
            yield state
        finally:
            if state.freezer_task is not None:
                state.freezer_task.cancel()
            if state.feedback_task is not None:
                state.feedback_task.cancel()
            if state.portal_sync_task is not None:
                state.portal_sync_task.cancel()
            if state.exporter_task is not None:
                state.exporter_task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await state.exporter_task
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, settings.shutdown_grace_s)
    finally:
        await state.report_engine.dispose()
        await state.projection.engine.dispose()
        log.info("metrics service stopped")


async def consumer_ready(state: MetricsState) -> Reason:
    """`consumer`: running, storing what it reads, with its assignment loaded."""
    consumer, task = state.projection.consumer, state.consumer_task
    if task is None or task.done():
        return "the status consumer has stopped"
    if consumer.failing is not None:
        return f"cannot store what it reads: {consumer.failing}"
    if not consumer.assigned or consumer.pending:
        return "partitions are being assigned or loaded"
    return None


def readiness_checks(settings: MetricsSettings) -> list[Check[MetricsState]]:
    """What `/readyz` asks, in this order: PostgreSQL, Kafka, the status consumer."""
    return [
        database_check(lambda state: state.projection.engine),
        kafka_check(settings.kafka),
        Check("consumer", consumer_ready),
    ]


async def exposition(state: MetricsState) -> bytes:
    """`/metrics`: the SPEC §5 series (Prometheus text format), then the service's own health series."""
    feedback = await live_text_or_none(state.projection.engine, datetime.now(VN_TZ), state.catalog.agencies)
    return await state.collector.render() + feedback + operations_text(state.operations)


def create_app(settings: MetricsSettings | None = None, *, clock: Clock = wall_clock) -> FastAPI:
    settings = settings or MetricsSettings()
    catalog = load_catalog(settings.catalog_dir)

    @asynccontextmanager
    async def open_state() -> AsyncIterator[MetricsState]:
        state = build_state(settings, clock=clock, catalog=catalog)
        async with running(state) as started:
            with started.keys.reloading_on_sighup():
                yield started

    app = service_app(title="Dossier metrics", version="1", lifespan=lifespan(STATE, open_state))
    install_problem_handlers(app)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        """A defect: a problem without details (the traceback goes to the log)."""
        return problem_response(Problem(500, "Internal error"), request.url.path)

    install_openapi(app, sorted(catalog.agencies))
    app.include_router(reports.router)
    app.include_router(catalogue.router)
    app.include_router(feedback_router)
    app.include_router(live.router)
    install_console(app)
    app.include_router(
        health_router(
            STATE.of,
            readiness_checks(settings),
            render=exposition,
            retry_after_s=READY_RETRY_AFTER_S,
            ready_when="PostgreSQL and Kafka answer and the consumer stores what it reads",
            ready_model=Readiness,
            ready_details=lambda state: {"partitions": sorted(state.projection.consumer.owned)},
            tags=["health"],
        )
    )
    return app
