"""What the bootstrap builds once and the routes share: settings, engine, catalog, keys, metrics and the
running workers (one `AppState`, kept in the app's `PROCESSING` slot while the app runs)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from dossier_core.calendar import WorkingCalendar
from dossier_core.catalog import Catalog
from dossier_processing.observability import Metrics
from dossier_processing.settings import ProcessingSettings
from dossier_processing.workers import Workers
from dossier_runtime.keys import KeyFile
from dossier_runtime.state import StateSlot


@dataclass
class AppState:
    settings: ProcessingSettings
    engine: AsyncEngine
    catalog: Catalog
    calendar: WorkingCalendar
    keys: KeyFile
    metrics: Metrics
    workers: Workers = field(default_factory=Workers)


#: `app.state.processing`, read back with its type by `PROCESSING.of(request)`.
PROCESSING = StateSlot("processing", AppState)
