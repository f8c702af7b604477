"""What the bootstrap builds and the routes use: one `MetricsState` on `app.state.metrics`.

`metrics_state(request)` gives it back with its type. Until the report and live-stats routes (and the
tests that build an app by hand) read it that way, the few parts they read by name are also kept on
`app.state` under those names (`LEGACY_NAMES`), taken from this one object.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.applications import Starlette

from dossier_runtime.state import StateSlot

if TYPE_CHECKING:  # the modules below are wired by the bootstrap; they never need the state
    from sqlalchemy.ext.asyncio import AsyncEngine

    from dossier_core.catalog import Catalog
    from dossier_metrics.auth import KeyStore
    from dossier_metrics.collector import DossierCollector
    from dossier_metrics.consumer import StatusConsumer
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
    consumer_task: asyncio.Task[None] | None = None


#: What `reports.py`, `live.py`, `auth.reader` and some tests still read as `app.state.<name>`.
LEGACY_NAMES = ("settings", "keys", "projection", "collector", "report_engine", "reports", "report_gate")


class MetricsSlot(StateSlot[MetricsState]):
    """`app.state.metrics`, with the `LEGACY_NAMES` beside it while the state is in place."""

    def put(self, app: Starlette, state: MetricsState) -> None:
        super().put(app, state)
        for name in LEGACY_NAMES:
            setattr(app.state, name, getattr(state, name))

    def take(self, app: Starlette) -> None:
        super().take(app)
        for name in LEGACY_NAMES:
            if hasattr(app.state, name):
                delattr(app.state, name)


STATE = MetricsSlot("metrics", MetricsState)
metrics_state = STATE.of
