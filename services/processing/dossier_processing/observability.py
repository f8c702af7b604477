"""Prometheus metrics of one app instance, on its own registry (a fresh one per app and per test)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from dossier_processing.ingest.failures import Reason
from dossier_processing.portal.state import SYNC_STATES, AgencySync

_BATCH_SIZES = (1, 10, 100, 500, 1000, 2000, 5000, 10000)
_LATENCIES = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _OutboxAge(Collector):
    """Age of the oldest unpublished outbox row, computed against the clock at scrape time."""

    def __init__(self) -> None:
        self.oldest: datetime | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        age = 0.0 if self.oldest is None else max(0.0, time.time() - self.oldest.timestamp())
        yield GaugeMetricFamily(
            "processing_outbox_oldest_age_seconds", "Age of the oldest snapshot not yet published", value=age
        )


class _ConsumerStalled(Collector):
    """How long the consumer has been retrying a step without progress (0 while it progresses)."""

    def __init__(self) -> None:
        self.seconds: Callable[[], float] = lambda: 0.0

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "processing_consumer_stalled_seconds",
            "Seconds the consumer has been retrying a database or Kafka step without progress",
            value=self.seconds(),
        )


class PortalSync(Collector):
    """Each agency's dossiers towards the national portal (`portal/state.py`), as the push worker last
    read them: `processing_portal_dossiers{agency_code,state}`, `processing_portal_failed{agency_code,
    reason}` and `processing_portal_parked{agency_code,error_code}` (only the reasons and codes an agency
    has) and `processing_portal_oldest_unsynced_seconds{agency_code}`
    (0 when every received dossier is synced), its age computed against the clock at scrape time. The
    families are declared (without samples) where no push worker runs."""

    def __init__(self) -> None:
        self.agencies: dict[str, AgencySync] = {}
        #: when `agencies` was read (None: never); the portal sync publisher sends it as `as_of`
        self.read_at: datetime | None = None

    def observe(self, agencies: dict[str, AgencySync], read_at: datetime | None = None) -> None:
        self.agencies = dict(agencies)
        self.read_at = read_at or datetime.now(UTC)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        dossiers = GaugeMetricFamily(
            "processing_portal_dossiers",
            "Received dossiers by agency and state towards the national portal: synced (its latest"
            " version accepted), failed (the last attempt failed; retried), pending (not yet attempted"
            " since its latest change), parked (rejected for good; waits for an operator or a newer"
            " version)",
            labels=["agency_code", "state"],
        )
        failed = GaugeMetricFamily(
            "processing_portal_failed",
            "Received dossiers whose last attempt towards the national portal failed, by agency and"
            " reason (timeout, unreachable, http_error, rejected, session, unrecordable, other)",
            labels=["agency_code", "reason"],
        )
        parked = GaugeMetricFamily(
            "processing_portal_parked",
            "Received dossiers the national portal rejected for good (parked for an operator), by agency"
            " and the portal's error_code",
            labels=["agency_code", "error_code"],
        )
        oldest = GaugeMetricFamily(
            "processing_portal_oldest_unsynced_seconds",
            "Seconds since the latest change of the agency's longest-waiting received dossier that the"
            " national portal lacks (0 when all are synced)",
            labels=["agency_code"],
        )
        now = time.time()
        for code, agency in sorted(self.agencies.items()):
            for state in SYNC_STATES:
                dossiers.add_metric([code, state], agency.count(state))
            for reason, count in sorted(agency.failed.items()):
                failed.add_metric([code, reason.value], count)
            for error_code, count in sorted(agency.parked.items()):
                parked.add_metric([code, error_code], count)
            since = agency.oldest_unsynced_at
            oldest.add_metric([code], 0.0 if since is None else max(0.0, now - since.timestamp()))
        yield dossiers
        yield failed
        yield parked
        yield oldest


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        self.events_applied = Counter(
            "processing_events_applied_total",
            "Events stored and folded into their dossier",
            ["type"],
            registry=r,
        )
        self.duplicates = Counter(
            "processing_events_duplicate_total",
            "Events ignored because their event_id was already applied",
            registry=r,
        )
        self.anomalies = Counter(
            "processing_anomalies_total",
            "Anomalies newly recorded on dossiers (odd transitions, data quality)",
            registry=r,
        )
        self.dlq = Counter(
            "processing_dlq_messages_total", "Messages sent to the dead-letter topic", ["reason"], registry=r
        )
        for reason in Reason:  # every reason has a series from the start, so increase() sees the first one
            self.dlq.labels(reason.value)
        self.consumer_stalled = _ConsumerStalled()
        r.register(self.consumer_stalled)
        self.batch_size = Histogram(
            "processing_batch_events", "Messages per consumed batch", buckets=_BATCH_SIZES, registry=r
        )
        self.batch_latency = Histogram(
            "processing_batch_duration_seconds",
            "From getmany() to offsets committed",
            buckets=_LATENCIES,
            registry=r,
        )
        self.batch_retries = Counter(
            "processing_batch_retries_total", "Batches retried after a database or Kafka error", registry=r
        )
        self.consumer_lag = Gauge(
            "processing_consumer_lag_messages",
            "High watermark minus position, per partition",
            ["partition"],
            registry=r,
        )
        self.outbox_backlog = Gauge(
            "processing_outbox_backlog", "Snapshots written but not yet published", registry=r
        )
        self.outbox_published = Counter(
            "processing_outbox_published_total", "Snapshots published to the status topic", registry=r
        )
        self.outbox_parked = Gauge(
            "processing_outbox_parked_snapshots",
            "Snapshots set aside because the status topic refuses them for good (needs an operator)",
            registry=r,
        )
        self.outbox_parked_total = Counter(
            "processing_outbox_parked_total",
            "Snapshots parked instead of published, by reason (too_large, rejected)",
            ["reason"],
            registry=r,
        )
        self.outbox_age = _OutboxAge()
        r.register(self.outbox_age)
        self.portal_records = Counter(
            "processing_portal_records_total",
            "Dossier records pushed to the national portal",
            ["result"],
            registry=r,
        )
        self.portal_requests = Counter(
            "processing_portal_requests_total", "Requests to the national portal", ["outcome"], registry=r
        )
        self.portal_pending = Gauge(
            "processing_portal_pending_dossiers", "Dossiers whose latest version the portal lacks", registry=r
        )
        self.portal_sync_ratio = Gauge(
            "processing_portal_sync_ratio",
            "Received dossiers whose latest version the portal holds ÷ received",
            registry=r,
        )
        self.portal_sync = PortalSync()
        r.register(self.portal_sync)
