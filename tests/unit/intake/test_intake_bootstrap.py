"""The intake bootstrap without Kafka: `running` with a fake topic creation and a fake producer opens
one typed `IntakeState`, tells the metrics how many keys are in force, and flushes the producer on
leaving."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest

from dossier_intake.app import running
from dossier_intake.observability import IntakeMetrics
from dossier_intake.settings import IntakeSettings
from dossier_intake.state import IntakeState
from dossier_runtime.api_keys import create_key


class FakePublisher:
    def __init__(self, settings: IntakeSettings, metrics: IntakeMetrics) -> None:
        self.started_with: float | None = None
        self.stopped = False

    async def start(self, timeout_s: float) -> None:
        self.started_with = timeout_s

    async def stop(self) -> None:
        self.stopped = True


@pytest.fixture
def settings(tmp_path: Path) -> IntakeSettings:
    keys = tmp_path / "keys.csv"
    create_key(keys, "counter", "*.H49")
    create_key(keys, "other", "*.H22")
    return IntakeSettings(api_keys_file=keys, kafka_startup_timeout_s=7, dlq_retention_days=3)


async def test_the_bootstrap_opens_one_typed_state(settings: IntakeSettings) -> None:
    created: list[tuple[str, dict[str, int], dict[str, Any]]] = []
    publishers: list[FakePublisher] = []

    async def create_topics(bootstrap: str, partitions: dict[str, int], **options: Any) -> None:
        created.append((bootstrap, partitions, options))

    def new_publisher(s: IntakeSettings, m: IntakeMetrics) -> Any:
        publishers.append(FakePublisher(s, m))
        return publishers[-1]

    metrics = IntakeMetrics()
    async with running(settings, metrics, create_topics=create_topics, new_publisher=new_publisher) as state:
        assert isinstance(state, IntakeState) and state.publisher is publishers[0]
        assert publishers[0].started_with == 7 and not publishers[0].stopped
        assert len(state.keys) == 2 and state.catalog.agencies
        assert "intake_api_keys 2.0" in generate_latest(metrics.registry).decode()
        (_bootstrap, partitions, options) = created[0]
        assert partitions == {settings.events_topic: 12, settings.dlq_topic: 12, settings.feedback_topic: 12}
        assert options["configs"] == {
            settings.events_topic: {"retention.ms": "-1"},
            settings.feedback_topic: {"retention.ms": "-1"},
            settings.dlq_topic: {"retention.ms": str(3 * 86_400_000)},
        }
        assert state.keys.reload() is True
        assert 'intake_api_keys_reloads_total{outcome="ok"} 1.0' in generate_latest(metrics.registry).decode()
    assert publishers[0].stopped
    assert not asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)  # removed on leaving
