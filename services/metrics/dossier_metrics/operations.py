"""The service's own health series, written after the SPEC §5 series on `/metrics`:

- `metrics_skipped_messages_total{reason}`: status messages skipped (`projector.SKIP_REASONS`);
- `metrics_consumer_progressing`: 1 while the consumer stores what it reads, 0 while it cannot;
- `metrics_reports_running`, `metrics_reports_refused_total{reason}` (`busy`, `timeout`,
  `database`): the report API's load and what it turned away with a 503;
- `metrics_event_visible_seconds`: from intake accepting an event to its version being counted
  (`freshness.py`);
- `metrics_counter_exporter`: 1 on the instance that exports the province-wide counters
  (`counter_export.py`), 0 on the others.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dossier_metrics.consumer import StatusConsumer
from dossier_metrics.counter_export import CounterExporter
from dossier_metrics.report_gate import REFUSAL_REASONS, ReportGate


class OperationsCollector(Collector):
    def __init__(
        self, consumer: StatusConsumer, gate: ReportGate, exporter: CounterExporter | None = None
    ) -> None:
        self.consumer = consumer
        self.gate = gate
        self.exporter = exporter

    def collect(self) -> Iterator[Metric]:
        skipped = CounterMetricFamily(
            "metrics_skipped_messages", "Status messages skipped, by reason.", labels=["reason"]
        )
        for reason, count in sorted(self.consumer.projector.skipped.items()):
            skipped.add_metric([reason], count)
        yield skipped
        yield GaugeMetricFamily(
            "metrics_consumer_progressing",
            "1 while the status consumer stores what it reads, 0 while it cannot.",
            value=1 if self.consumer.progressing else 0,
        )
        yield GaugeMetricFamily(
            "metrics_reports_running", "Reports being built now.", value=self.gate.running
        )
        refused = CounterMetricFamily(
            "metrics_reports_refused", "Report requests answered 503, by reason.", labels=["reason"]
        )
        for reason in REFUSAL_REASONS:
            refused.add_metric([reason], self.gate.refused[reason])
        yield refused
        yield self.consumer.projector.freshness.metric()
        if self.exporter is not None:
            yield GaugeMetricFamily(
                "metrics_counter_exporter",
                "1 on the instance that exports the province-wide dossier counters, 0 on the others.",
                value=1 if self.exporter.leading else 0,
            )


def operations_text(collector: OperationsCollector) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry)
