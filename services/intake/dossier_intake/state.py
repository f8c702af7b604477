"""What the lifespan builds and the routes use: one object on `app.state.intake`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from starlette.requests import Request

if TYPE_CHECKING:  # the modules below need the state at run time, not the other way round
    from dossier_core.catalog import Catalog
    from dossier_intake.auth import KeyStore
    from dossier_intake.limits import RateLimiter
    from dossier_intake.observability import IntakeMetrics
    from dossier_intake.publisher import EventPublisher
    from dossier_intake.settings import IntakeSettings


@dataclass
class IntakeState:
    settings: IntakeSettings
    catalog: Catalog
    keys: KeyStore
    limiter: RateLimiter
    publisher: EventPublisher
    metrics: IntakeMetrics
    clock: Callable[[], datetime]  # aware; `occurred_at` may be at most 24 hours after it


def intake_state(request: Request) -> IntakeState:
    state: IntakeState = request.app.state.intake
    return state
