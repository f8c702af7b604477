"""Prometheus metrics of one app (its own `CollectorRegistry`) and the middleware that counts requests."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dossier_intake.admission import EVENT_TYPES
from dossier_runtime.keys import Outcome

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class IntakeMetrics:
    """The intake's series; also what the keys file tells how many keys are in force and how each
    reload went (a `dossier_runtime.keys.KeyObserver`)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "intake_http_requests_total",
            "HTTP requests by route and status",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "intake_http_request_duration_seconds",
            "Time from request start to the end of the response",
            ["route", "method"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.accepted = Counter(
            "intake_events_accepted_total", "Events written to Kafka and acknowledged", ["type"], registry=r
        )
        self.rejected = Counter(
            "intake_events_rejected_total",
            "Events refused, by type and the HTTP status they got",
            ["type", "status"],
            registry=r,
        )
        self.kafka_send = Histogram(
            "intake_kafka_send_duration_seconds",
            "Time for Kafka to acknowledge all events of one request",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.kafka_failures = Counter(
            "intake_kafka_send_failures_total",
            "Requests answered 503 because Kafka failed or timed out",
            registry=r,
        )
        self.api_keys = Gauge("intake_api_keys", "API keys loaded from the keys file", registry=r)
        self.key_reloads = Counter(
            "intake_api_keys_reloads_total", "Reloads of the keys file by outcome", ["outcome"], registry=r
        )

    def keys_in_force(self, count: int) -> None:
        self.api_keys.set(count)

    def keys_reloaded(self, outcome: Outcome) -> None:
        self.key_reloads.labels(outcome).inc()

    def event_rejected(self, event_type: str | None, status: int) -> None:
        label = event_type if event_type in EVENT_TYPES else "unknown"
        self.rejected.labels(label, str(status)).inc()


def route_label(scope: Scope) -> str:
    """The route template (`/v1/events`), never the raw path, so labels stay few."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class RequestMetricsMiddleware:
    """Pure ASGI (no per-request task) so it costs little on the hot path."""

    def __init__(self, app: ASGIApp, metrics: IntakeMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = route_label(scope)
            method = scope["method"]
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.latency.labels(route, method).observe(time.perf_counter() - started)
