"""What the bootstrap builds and the routes use: one `IntakeState` on `app.state.intake`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from dossier_runtime.state import StateSlot

if TYPE_CHECKING:  # the modules below need the state at run time, not the other way round
    from dossier_core.catalog import Catalog
    from dossier_intake.applicant import ApplicantSealer
    from dossier_intake.limits import RateLimiter
    from dossier_intake.observability import IntakeMetrics
    from dossier_intake.publisher import EventPublisher
    from dossier_intake.settings import IntakeSettings
    from dossier_runtime.keys import KeyFile


@dataclass
class IntakeState:
    settings: IntakeSettings
    catalog: Catalog
    keys: KeyFile
    limiter: RateLimiter
    publisher: EventPublisher
    metrics: IntakeMetrics
    clock: Callable[[], datetime]  # aware; `occurred_at` may be at most 24 hours after it
    #: seals `dossier.received`'s applicant data; `None`: no public key, such events are refused
    sealer: ApplicantSealer | None = None


INTAKE = StateSlot("intake", IntakeState)
intake_state = INTAKE.of
