"""What the bootstrap builds and the routes use: one `MetricsState` on `app.state.metrics`.

`metrics_state(request)` gives it back with its type (`STATE.of_app(app)` outside a request); nothing
else of the service is kept on `app.state`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dossier_runtime.state import StateSlot

if TYPE_CHECKING:  # the modules below are wired by the bootstrap; they never need the state
    from sqlalchemy.ext.asyncio import AsyncEngine

    from dossier_core.catalog import Catalog
    from dossier_metrics.auth import KeyStore
    from dossier_metrics.collector import DossierCollector
    from dossier_metrics.console.state import ConsoleState
    from dossier_metrics.consumer import StatusConsumer
    from dossier_metrics.filing import Freezer
    from dossier_metrics.index import LiveIndex
    from dossier_metrics.operations import OperationsCollector
    from dossier_metrics.projector import Projector
    from dossier_metrics.report_gate import ReportGate
    from dossier_metrics.reports import ReportBuilder
    from dossier_metrics.settings import MetricsSettings
    from dossier_metrics.store import ProjectionStore


@dataclass
class Projection:
    """The parts that together keep and expose the projection (shared by `serve` and `rebuild`)."""

    catalog: Catalog
    engine: AsyncEngine
    store: ProjectionStore
    index: LiveIndex
    projector: Projector
    consumer: StatusConsumer


@dataclass
class MetricsState:
    """Every part of a running metrics service. `consumer_task` is set once the consumer runs."""

    settings: MetricsSettings
    catalog: Catalog
    keys: KeyStore
    projection: Projection
    collector: DossierCollector
    report_engine: AsyncEngine
    reports: ReportBuilder
    report_gate: ReportGate
    operations: OperationsCollector
    freezer: Freezer
    console: ConsoleState
    consumer_task: asyncio.Task[None] | None = None
    freezer_task: asyncio.Task[None] | None = None
    exporter_task: asyncio.Task[None] | None = None
    feedback_task: asyncio.Task[None] | None = None
    portal_sync_task: asyncio.Task[None] | None = None


STATE = StateSlot("metrics", MetricsState)
metrics_state = STATE.of
