"""Which workers an instance runs: each can run alone (`PROCESSING_RUN_CONSUMER`, `_RUN_RELAY`,
`_RUN_PORTAL`), and Kafka is only needed by the consumer and the relay."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from dossier_processing.settings import ProcessingSettings

PORTAL = "https://portal.example/api/DongBoHoSoMC"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RUN_CONSUMER", "RUN_RELAY", "RUN_PORTAL", "PORTAL_URL"):
        monkeypatch.delenv(f"PROCESSING_{name}", raising=False)


def test_by_default_the_consumer_and_the_relay_run_and_the_push_worker_follows_the_portal_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert ProcessingSettings().workers() == ["consumer", "outbox-relay"]
    monkeypatch.setenv("PROCESSING_PORTAL_URL", PORTAL)
    assert ProcessingSettings().workers() == ["consumer", "outbox-relay", "portal-push"]
    monkeypatch.setenv("PROCESSING_RUN_PORTAL", "false")
    assert ProcessingSettings().workers() == ["consumer", "outbox-relay"]


@pytest.mark.parametrize(
    ("environment", "workers", "uses_kafka"),
    [
        ({"RUN_RELAY": "false", "RUN_PORTAL": "false"}, ["consumer"], True),
        ({"RUN_CONSUMER": "false", "RUN_PORTAL": "false"}, ["outbox-relay"], True),
        ({"RUN_CONSUMER": "false", "RUN_RELAY": "false", "RUN_PORTAL": "true"}, ["portal-push"], False),
        ({"RUN_CONSUMER": "false", "RUN_RELAY": "false", "RUN_PORTAL": "false"}, [], False),
    ],
)
def test_each_worker_can_run_alone(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], workers: list[str], uses_kafka: bool
) -> None:
    monkeypatch.setenv("PROCESSING_PORTAL_URL", PORTAL)
    for name, value in environment.items():
        monkeypatch.setenv(f"PROCESSING_{name}", value)
    settings = ProcessingSettings()
    assert settings.workers() == workers
    assert settings.uses_kafka is uses_kafka


def test_the_push_worker_cannot_run_without_a_portal_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROCESSING_RUN_PORTAL", "true")
    with pytest.raises(ValidationError, match="PROCESSING_PORTAL_URL"):
        ProcessingSettings()
