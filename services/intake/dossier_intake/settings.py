"""Intake configuration, read from `INTAKE_*` variables (plus the shared ones of SPEC §7)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from dossier_core.restructuring import DEFAULT_GRACE_DAYS
from dossier_runtime.kafka import DLQ_RETENTION_DAYS
from dossier_runtime.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_")

    port: int = Field(default=8001, ge=1, le=65535)
    api_keys_file: Path = Path("intake_api_keys.csv")
    events_topic: str = "dossier.events.v1"
    dlq_topic: str = "dossier.events.dlq.v1"
    #: citizen feedback events (`dossier_intake.feedback`), keyed by feedback code
    feedback_topic: str = "feedback.events.v1"
    #: days the DLQ topic keeps dead letters when this service creates it (-1: for good)
    dlq_retention_days: int = Field(default=DLQ_RETENTION_DAYS, ge=-1)
    topic_partitions: int = Field(default=12, ge=1)
    #: days after an agency's `valid_to` during which its events are still taken (the dossiers it had
    #: open when it was abolished keep its code): one reporting quarter by default
    agency_validity_grace_days: int = Field(default=DEFAULT_GRACE_DAYS, ge=0, le=36500)

    #: processing's X25519 public key (standard base64) that `dossier.received`'s applicant data is
    #: sealed to before it is written; unset: events carrying applicant data are refused (422)
    applicant_public_key: str | None = None

    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    max_batch_events: int = Field(default=1000, ge=1)
    # Before answering a request whose body was not read to its end (413, 401, 429, …), read and
    # discard the rest, up to this many bytes and seconds, so that a client that sends its whole
    # body before reading (no `Expect: 100-continue`) receives the answer, not a connection reset.
    drain_max_bytes: int = Field(default=64 * 1024 * 1024, ge=0)
    drain_max_s: float = Field(default=30.0, ge=0)
    # Token bucket per API key, counted in requests (a batch is one request); 0 turns it off.
    rate_limit_per_s: float = Field(default=200.0, ge=0)
    rate_limit_burst: int = Field(default=400, ge=1)

    # How long a request waits for Kafka to acknowledge its events before answering 503.
    kafka_send_timeout_s: float = Field(default=5.0, gt=0)
    kafka_linger_ms: int = Field(default=2, ge=0)
    kafka_max_batch_bytes: int = Field(default=1024 * 1024, ge=16 * 1024)
    kafka_startup_timeout_s: float = Field(default=30.0, gt=0)
    retry_after_s: int = Field(default=5, ge=1)
    shutdown_grace_s: int = Field(default=15, ge=0)
