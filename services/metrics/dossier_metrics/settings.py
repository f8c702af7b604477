"""Metrics configuration, read from `METRICS_*` variables (plus the shared ones of SPEC §7)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from dossier_contracts import STATUS_TOPIC
from dossier_contracts.portal_sync import PORTAL_SYNC_TOPIC
from dossier_runtime.db import schema_name
from dossier_runtime.settings import DEFAULT_DATABASE_URL, ServiceSettings, shared_field


class MetricsSettings(ServiceSettings):  # type: ignore[misc, unused-ignore]
    model_config = SettingsConfigDict(env_prefix="METRICS_")

    port: int = Field(default=8003, ge=1, le=65535)
    database_url: str = shared_field("DATABASE_URL", "METRICS_", DEFAULT_DATABASE_URL)  # type: ignore[assignment, unused-ignore]
    db_schema: str = "metrics"
    status_topic: str = STATUS_TOPIC
    status_topic_partitions: int = Field(default=12, ge=1)
    consumer_group: str = "dossier-metrics"
    #: citizen feedback states (`dossier_metrics.feedback`) and the group every instance reads them in
    feedback_status_topic: str = "feedback.status.v1"
    feedback_consumer_group: str = "dossier-metrics-feedback"
    #: each agency's sync state with the national portal, from processing (`dossier_metrics.portal_sync`)
    portal_sync_topic: str = PORTAL_SYNC_TOPIC
    portal_sync_consumer_group: str = "dossier-metrics-portal-sync"
    # One batch of records is applied in one transaction together with its offsets.
    max_batch_records: int = Field(default=500, ge=1)
    poll_timeout_ms: int = Field(default=500, ge=1)
    kafka_startup_timeout_s: float = Field(default=30.0, gt=0)
    shutdown_grace_s: float = Field(default=10.0, ge=0)
    # How often an instance that does not export the province-wide counters asks for the exporter's
    # lock (and the exporter checks it still holds it): the longest time without an exporter after one
    # stops, besides the next scrape (see docs/metrics.md, "Several instances").
    counter_exporter_retry_s: float = Field(default=1.0, gt=0, le=60)
    # Longest pause between two attempts while PostgreSQL or Kafka does not answer.
    max_backoff_s: float = Field(default=5.0, gt=0)
    # Readers' keys (SPEC §5): without a file every report and live-stats read is refused (401).
    api_keys_file: Path | None = None
    # Reports run on a pool of their own, at most this many at once; one more is refused (503).
    report_concurrency: int = Field(default=2, ge=1, le=32)
    # PostgreSQL `statement_timeout` of every report query; a report that hits it is a 503.
    report_statement_timeout_ms: int = Field(default=30_000, ge=1)
    # PostgreSQL `work_mem` of a report connection: a whole country's groups are hashed in memory
    # instead of sorted on disk. At most `report_concurrency` reports use it at once.
    report_work_mem_mb: int = Field(default=32, ge=1, le=1024)
    # How long a report may wait for a connection of its pool before it is refused (503).
    report_pool_timeout_s: float = Field(default=5.0, gt=0)
    # `Retry-After` of a refused report.
    report_retry_after_s: int = Field(default=5, ge=1)
    # A named period is filed (frozen) this long after its last day ends: by default at the end of
    # the 3rd day after the period closes.
    filing_delay_days: float = Field(default=3.0, ge=0, le=366)
    # Whether the service files the named periods by itself (see docs/metrics.md, Filing).
    filing_auto: bool = True
    # The freezer files a period only this long after its filing instant, so that the events
    # accepted before that instant have reached the projection.
    filing_settle_s: float = Field(default=300.0, ge=0)
    # How often the freezer looks for periods to file.
    filing_check_s: float = Field(default=60.0, gt=0)

    # The console (`/`): how long a session lasts without being used, at most how many are kept at
    # once, and when its cookie is `Secure` (`auto`: when the request came over HTTPS, as seen by the
    # service or said by a proxy's `X-Forwarded-Proto` that uvicorn trusts; see docs/console.md).
    console_session_ttl_s: float = Field(default=8 * 3600, gt=0, le=7 * 24 * 3600)
    console_max_sessions: int = Field(default=10_000, ge=1)
    console_secure_cookie: Literal["auto", "always", "never"] = "auto"
    # Rows per page of the worklist (the CSV export holds every row).
    console_page_rows: int = Field(default=100, ge=10, le=1000)

    @field_validator("db_schema")
    @classmethod
    def _plain_schema_name(cls, value: str) -> str:
        return schema_name(value)
