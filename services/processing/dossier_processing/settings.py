"""Settings of the processing service: environment variables prefixed `PROCESSING_` (SPEC §7).

`DATABASE_URL`, `KAFKA_BOOTSTRAP_SERVERS` and `DOSSIER_CATALOG_DIR` are read unprefixed; the prefixed
spelling (`PROCESSING_DATABASE_URL`) wins when both are set. `PROCESSING_RUN_CONSUMER`, `_RUN_RELAY` and
`_RUN_PORTAL` choose the workers an instance runs (`workers()`); the HTTP API always runs.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from dossier_contracts import EVENTS_DLQ_TOPIC, EVENTS_TOPIC, STATUS_TOPIC
from dossier_contracts.portal_sync import PORTAL_SYNC_TOPIC
from dossier_core.feedback import DEFAULT_DEADLINE_DAYS
from dossier_runtime.db import SCHEMA_PATTERN
from dossier_runtime.kafka import DLQ_RETENTION_DAYS
from dossier_runtime.settings import DEFAULT_DATABASE_URL, ServiceSettings, shared_field

PREFIX = "PROCESSING_"


class ProcessingSettings(ServiceSettings):  # type: ignore[misc,unused-ignore]
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore", populate_by_name=True)

    port: int = 8002
    database_url: str = shared_field("DATABASE_URL", PREFIX, DEFAULT_DATABASE_URL)  # type: ignore[assignment,unused-ignore]
    db_schema: str = Field(default="processing", pattern=SCHEMA_PATTERN)
    db_pool_size: int = 5

    events_topic: str = EVENTS_TOPIC
    status_topic: str = STATUS_TOPIC
    dlq_topic: str = EVENTS_DLQ_TOPIC
    #: days the DLQ topic keeps dead letters when this service creates it (-1: for good)
    dlq_retention_days: int = Field(default=DLQ_RETENTION_DAYS, ge=-1)
    topic_partitions: int = 12  # same default as intake and metrics: whoever starts first creates the topics
    consumer_group: str = "dossier-processing"
    batch_size: int = 5000
    history_cache_events: int = 100_000
    #: dossiers whose fold state is kept in memory, so later events resume it (about 2.5 kB each)
    fold_state_cache_dossiers: int = Field(default=50_000, ge=0)
    poll_timeout_ms: int = 500
    retry_max_backoff_s: float = 10.0
    #: SPEC §3: events a dossier holds at most; later ones are dead-lettered (`dossier_event_limit`)
    dossier_event_limit: int = Field(default=500, ge=1)
    #: `/readyz` reports the consumer unready once it has been unable to progress this long
    stalled_unready_after_s: float = Field(default=5.0, ge=0)

    #: month partitions of `events` created ahead of the current month, at start (`history/partitions.py`)
    events_months_ahead: int = Field(default=2, ge=0)
    #: `events archive`: a dossier with events in an archived month must have ended, and its newest event
    #: occurred, at least this long ago (no late event is expected to re-fold it any more)
    events_refold_horizon_days: int = Field(default=180, ge=1)
    #: `events archive`: a month is archived only once its quarter ended this long ago (the metrics
    #: service files a quarter METRICS_FILING_DELAY_DAYS after it, and late events revise it after that)
    events_archive_min_age_days: int = Field(default=90, ge=0)

    #: citizen feedback (`feedback/worker.py`): its events, its states and the consumer group reading them
    feedback_events_topic: str = "feedback.events.v1"
    feedback_status_topic: str = "feedback.status.v1"
    feedback_consumer_group: str = "dossier-processing-feedback"
    #: working days an agency has to answer a feedback item (docs/domain.md, "Citizen feedback")
    feedback_deadline_days: int = Field(default=DEFAULT_DEADLINE_DAYS, ge=1, le=365)

    relay_batch_size: int = 2000
    #: the relay producer's largest record (bytes); a bigger snapshot is parked, never retried
    relay_max_request_size: int = Field(default=1_048_576, ge=1024)
    relay_idle_s: float = 0.2
    outbox_retention_days: int = 7

    api_keys_file: Path | None = None
    #: the portal adapter's endpoint that takes `DongBoHoSoMC` and `CapNhatTienDoHoSoMC` calls
    portal_url: str | None = None
    portal_batch_size: int = 100
    portal_timeout_s: float = 10.0
    #: a static `Authorization: Bearer` token for a gateway in front of the adapter (the province's LGSP);
    #: independent of the adapter's own session (`portal_login_url`)
    portal_token: str | None = None
    #: the adapter's login endpoint: `{"username", "password"}` in, `{"error_code": 0, "session"}` out;
    #: unset = calls carry no session (an adapter that needs none, or a gateway-only deployment)
    portal_login_url: str | None = None
    portal_username: str | None = None
    portal_password: SecretStr | None = None
    #: X25519 private key (standard base64) that opens the applicant data intake sealed, for the sync
    #: feed and the push only (`applicant/`, docs/security.md); unset: the portal gets no applicant fields
    applicant_private_key: SecretStr | None = None
    #: `madonvi` sent in every call (the portal's code of the sending unit); unset = not sent
    portal_unit_code: str | None = None
    #: per-record `error_code`s that mean the session is invalid or expired (renew once, retry the call)
    portal_session_codes: frozenset[str] = frozenset({"2"})
    #: per-record `error_code`s that reject the record for good: the dossier is parked for an operator
    portal_permanent_codes: frozenset[str] = frozenset({"10", "11", "12"})
    portal_backoff_base_s: float = 1.0
    portal_backoff_max_s: float = 600.0
    portal_idle_s: float = 1.0
    portal_name: str = "dvcqg"
    #: each agency's sync state, published where the push worker runs (`portal/state_publisher.py`)
    portal_sync_topic: str = PORTAL_SYNC_TOPIC
    portal_sync_publish_s: float = Field(default=5.0, gt=0)

    run_consumer: bool = True
    run_relay: bool = True
    #: the feedback worker; unset = wherever the consumer runs
    run_feedback: bool | None = None
    #: the push worker; unset = on when `portal_url` is set (on needs `portal_url`)
    run_portal: bool | None = None
    shutdown_timeout_s: float = 30.0

    @model_validator(mode="after")
    def _portal_needs_a_url(self) -> ProcessingSettings:
        if self.run_portal and not self.portal_url:
            raise ValueError("PROCESSING_RUN_PORTAL=true needs PROCESSING_PORTAL_URL")
        if self.portal_login_url and not (self.portal_username and self.portal_password):
            raise ValueError(
                "PROCESSING_PORTAL_LOGIN_URL needs PROCESSING_PORTAL_USERNAME and PROCESSING_PORTAL_PASSWORD"
            )
        return self

    @property
    def portal_runs(self) -> bool:
        """Whether this instance runs the push worker."""
        return bool(self.portal_url) if self.run_portal is None else self.run_portal

    @property
    def uses_kafka(self) -> bool:
        """Whether a worker of this instance reads or writes Kafka (the consumer or the relay)."""
        return self.run_consumer or self.run_relay or self.feedback_runs

    @property
    def feedback_runs(self) -> bool:
        """Whether this instance runs the feedback worker."""
        return self.run_consumer if self.run_feedback is None else self.run_feedback

    def workers(self) -> list[str]:
        """The names of the workers this instance runs, in start order."""
        chosen = {
            "consumer": self.run_consumer,
            "outbox-relay": self.run_relay,
            "portal-push": self.portal_runs,
            "portal-sync-state": self.portal_runs,
            "feedback": self.feedback_runs,
        }
        return [name for name, runs in chosen.items() if runs]
