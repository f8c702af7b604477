"""Which workers an instance runs: each can run alone (`PROCESSING_RUN_CONSUMER`, `_RUN_RELAY`,
`_RUN_PORTAL`), Kafka is only needed by the consumer and the relay, and `/readyz` checks what runs:
a stopped worker and a stalled consumer are named."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from dossier_processing.operations import consumer_progressing, readiness_checks, workers_running
from dossier_processing.settings import ProcessingSettings
from dossier_processing.workers import Workers

PORTAL = "https://portal.example/api/DongBoHoSoMC"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RUN_CONSUMER", "RUN_RELAY", "RUN_PORTAL", "RUN_FEEDBACK", "PORTAL_URL"):
        monkeypatch.delenv(f"PROCESSING_{name}", raising=False)


def test_by_default_the_consumer_and_the_relay_run_and_the_push_worker_follows_the_portal_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert ProcessingSettings().workers() == ["consumer", "outbox-relay", "feedback"]
    monkeypatch.setenv("PROCESSING_PORTAL_URL", PORTAL)
    assert ProcessingSettings().workers() == [
        "consumer",
        "outbox-relay",
        "portal-push",
        "portal-sync-state",
        "feedback",
    ]
    monkeypatch.setenv("PROCESSING_RUN_PORTAL", "false")
    assert ProcessingSettings().workers() == ["consumer", "outbox-relay", "feedback"]


ALONE = ["database", "workers"]
WITH_KAFKA = ["database", "kafka", "workers"]
NO_KAFKA = {"RUN_CONSUMER": "false", "RUN_RELAY": "false"}


@pytest.mark.parametrize(
    ("environment", "workers", "uses_kafka", "checks"),
    [
        (
            {"RUN_RELAY": "false", "RUN_PORTAL": "false"},
            ["consumer", "feedback"],
            True,
            [*WITH_KAFKA, "consumer"],
        ),
        ({**NO_KAFKA, "RUN_PORTAL": "false", "RUN_FEEDBACK": "true"}, ["feedback"], True, WITH_KAFKA),
        ({"RUN_CONSUMER": "false", "RUN_PORTAL": "false"}, ["outbox-relay"], True, WITH_KAFKA),
        ({**NO_KAFKA, "RUN_PORTAL": "true"}, ["portal-push", "portal-sync-state"], False, ALONE),
        ({**NO_KAFKA, "RUN_PORTAL": "false"}, [], False, ALONE),
    ],
)
def test_each_worker_can_run_alone(
    monkeypatch: pytest.MonkeyPatch,
    environment: dict[str, str],
    workers: list[str],
    uses_kafka: bool,
    checks: list[str],
) -> None:
    monkeypatch.setenv("PROCESSING_PORTAL_URL", PORTAL)
    for name, value in environment.items():
        monkeypatch.setenv(f"PROCESSING_{name}", value)
    settings = ProcessingSettings()
    assert settings.workers() == workers
    assert settings.uses_kafka is uses_kafka
    assert [check.name for check in readiness_checks(settings)] == checks


async def test_a_stalled_consumer_and_a_stopped_worker_are_named() -> None:
    workers, stopping, stalled = Workers(), asyncio.Event(), [False]
    workers.start("consumer", stopping.set, stopping.wait(), progressing=lambda: not stalled[0])
    state = SimpleNamespace(workers=workers)  # the probes read only the workers
    assert await consumer_progressing(state) is None  # type: ignore[arg-type]
    assert await workers_running(state) is None  # type: ignore[arg-type]
    stalled[0] = True
    reason = await consumer_progressing(state)  # type: ignore[arg-type]
    assert reason is not None and "consumer" in reason
    await workers.stop(5.0)
    reason = await workers_running(state)  # type: ignore[arg-type]
    assert reason is not None and "stopped" in reason


def test_the_push_worker_cannot_run_without_a_portal_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROCESSING_RUN_PORTAL", "true")
    with pytest.raises(ValidationError, match="PROCESSING_PORTAL_URL"):
        ProcessingSettings()
