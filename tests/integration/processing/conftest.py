"""Fixtures for the processing integration tests: private topics, group and schema per test."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "processing"))

from dossier_processing.settings import ProcessingSettings
from dossier_runtime.api_keys import create_key


@pytest.fixture
def processing_keys(tmp_path: Path) -> Path:
    """The test's PROCESSING_API_KEYS_FILE."""
    return tmp_path / "processing-keys.csv"


@pytest.fixture
def processing_key(processing_keys: Path) -> str:
    """A key of `processing_keys` that reads every agency (send it as `Authorization: Bearer`)."""
    return create_key(processing_keys, "test-reader", "*")


@pytest.fixture
def processing_settings(
    kafka_bootstrap: str,
    database_url: str,
    topic_suffix: str,
    db_schema: str,
    processing_keys: Path,
    processing_key: str,
) -> ProcessingSettings:
    return ProcessingSettings(
        api_keys_file=processing_keys,
        kafka_bootstrap_servers=kafka_bootstrap,
        database_url=database_url,
        db_schema=db_schema,
        events_topic="dossier.events.v1" + topic_suffix,
        status_topic="dossier.status.v1" + topic_suffix,
        dlq_topic="dossier.events.dlq.v1" + topic_suffix,
        portal_sync_topic="portal.sync.v1" + topic_suffix,
        consumer_group="processing" + topic_suffix,
        topic_partitions=3,
        poll_timeout_ms=100,
        relay_idle_s=0.05,
        portal_idle_s=0.05,
        portal_backoff_base_s=0.05,
        portal_backoff_max_s=0.5,
        retry_max_backoff_s=1.0,
        shutdown_timeout_s=15,
    )
