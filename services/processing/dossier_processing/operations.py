"""The open operations routes of one instance (`dossier_runtime.health`): `/healthz` (alive), `/readyz`
and `/metrics` (the instance's registry).

`/readyz` asks, in this order: the database; Kafka when a worker of the instance uses it (the consumer
or the relay); every worker still running; and, when the instance runs the consumer, that it is
progressing (not retrying one step for `PROCESSING_STALLED_UNREADY_AFTER_S`). A 503 problem names each
failing check; the ready answer lists the checks asked (`checks`, each `true`).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from dossier_processing.observability import Metrics
from dossier_processing.openapi import ResponseModel
from dossier_processing.settings import ProcessingSettings
from dossier_processing.state import PROCESSING, AppState
from dossier_runtime.health import Check, Reason, database_check, health_router, kafka_check

#: `Retry-After` of a 503 from `/readyz`
READY_RETRY_AFTER_S = 5


class ProcessingReady(ResponseModel):
    """The instance is ready: every check it asks passed."""

    status: Literal["ready"] = "ready"
    checks: dict[str, bool]


async def workers_running(state: AppState) -> Reason:
    """`workers`: none of the instance's workers has stopped."""
    return None if state.workers.alive() else "a worker of this instance has stopped"


async def consumer_progressing(state: AppState) -> Reason:
    """`consumer`: the consumer is not stuck retrying one database or Kafka step."""
    if state.workers.progress().get("consumer", True):
        return None
    return "the consumer cannot progress (it keeps retrying a database or Kafka step)"


def readiness_checks(settings: ProcessingSettings) -> list[Check[AppState]]:
    """What `/readyz` asks of an instance running the workers `settings` choose."""
    checks: list[Check[AppState]] = [database_check(lambda state: state.engine)]
    if settings.uses_kafka:
        checks.append(kafka_check(settings.kafka))
    checks.append(Check("workers", workers_running))
    if settings.run_consumer:
        checks.append(Check("consumer", consumer_progressing))
    return checks


def operations_router(settings: ProcessingSettings, metrics: Metrics) -> APIRouter:
    """`/healthz`, `/readyz` and `/metrics` of an instance with these settings and this registry."""
    checks = readiness_checks(settings)
    return health_router(
        PROCESSING.of,
        checks,
        render=metrics.registry,
        retry_after_s=READY_RETRY_AFTER_S,
        ready_when="The database, Kafka (when a worker uses it) and every worker of this instance are fine",
        ready_model=ProcessingReady,
        ready_details=lambda _state: {"checks": {check.name: True for check in checks}},
        tags=["operations"],
    )
