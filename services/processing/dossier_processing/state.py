"""What the app's lifespan builds once and the request handlers share."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from dossier_core.calendar import WorkingCalendar
from dossier_core.catalog import Catalog
from dossier_processing.observability import Metrics
from dossier_processing.settings import ProcessingSettings
from dossier_runtime.api_keys import ApiKeyRing


@dataclass
class AppState:
    settings: ProcessingSettings
    engine: AsyncEngine
    catalog: Catalog
    calendar: WorkingCalendar
    keys: ApiKeyRing
    metrics: Metrics
