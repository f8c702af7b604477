"""What the bootstrap builds once and the routes share: settings, engine, catalog, keys, metrics and the
running workers (one `AppState` on `app.state.processing`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from dossier_core.calendar import WorkingCalendar
from dossier_core.catalog import Catalog
from dossier_processing.observability import Metrics
from dossier_processing.settings import ProcessingSettings
from dossier_processing.workers import Workers
from dossier_runtime.api_keys import ApiKeyRing


@dataclass
class AppState:
    settings: ProcessingSettings
    engine: AsyncEngine
    catalog: Catalog
    calendar: WorkingCalendar
    keys: ApiKeyRing
    metrics: Metrics
    workers: Workers = field(default_factory=Workers)
