"""Faults in the middle of a stream: kill -9 of processing or metrics, a Kafka broker restart, a
PostgreSQL restart. Each run ends with the exact report and live series, and no accepted event lost."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PrivateKafka, PrivatePostgres
from tests.e2e.traffic import Traffic, live_series
from tests.support import System, running_system

pytestmark = pytest.mark.e2e


def _run_with_fault(system: System, traffic: Traffic, fault) -> None:  # type: ignore[no-untyped-def]
    plan = traffic.plan(size=250)
    sender = traffic.send_in_background(system.intake.url, system.intake_key, plan)
    traffic.wait_progress(traffic.event_count // 3)
    fault()
    sender.join(timeout=600)
    assert not sender.is_alive(), "the sender did not finish"
    assert traffic.sent is not None
    assert traffic.sent.rejected == 0, traffic.sent.errors
    assert traffic.sent.accepted == traffic.event_count
    assert traffic.report_differences(system.metrics.url, system.metrics_key, timeout=240) == []
    assert live_series(system.metrics.url) == traffic.expected_live()


def test_processing_killed_mid_stream(system: System) -> None:
    def fault() -> None:
        system.processing.kill()
        time.sleep(1)
        system.processing.start()

    _run_with_fault(system, Traffic.generate(1200, seed=41), fault)


def test_metrics_killed_mid_stream(system: System) -> None:
    traffic = Traffic.generate(1200, seed=42)

    def fault() -> None:
        # Let some snapshots reach metrics first, so the kill lands between committed batches.
        time.sleep(2)
        system.metrics.kill()
        time.sleep(1)
        system.metrics.start()

    _run_with_fault(system, traffic, fault)


@pytest.fixture
def system_on_private_kafka(
    tmp_path: Path, private_kafka: PrivateKafka, database_url: str
) -> Iterator[System]:
    with running_system(tmp_path, private_kafka.bootstrap, database_url) as started:
        yield started


def test_kafka_broker_restarted_mid_stream(
    system_on_private_kafka: System, private_kafka: PrivateKafka
) -> None:
    def fault() -> None:
        private_kafka.stop()
        time.sleep(3)
        private_kafka.start()

    _run_with_fault(system_on_private_kafka, Traffic.generate(1000, seed=43), fault)


@pytest.fixture
def system_on_private_postgres(
    tmp_path: Path, kafka_bootstrap: str, private_postgres: PrivatePostgres
) -> Iterator[System]:
    with running_system(tmp_path, kafka_bootstrap, private_postgres.url) as started:
        yield started


def test_postgres_restarted_mid_stream(
    system_on_private_postgres: System, private_postgres: PrivatePostgres
) -> None:
    def fault() -> None:
        private_postgres.stop()
        time.sleep(3)
        private_postgres.start()

    _run_with_fault(system_on_private_postgres, Traffic.generate(1000, seed=44), fault)
