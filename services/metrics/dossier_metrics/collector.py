"""`/metrics`: exactly the series of SPEC §5, computed against the clock at scrape time.

`DossierCollector` is a prometheus-client `Collector` (registered in a registry of its own, so the
output holds nothing else). Rendering 10,000 agencies × 14 series through prometheus-client's generic
text writer costs about a second, so `render_text` writes the same exposition from label strings built
once per agency; a unit test checks both give identical samples.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dossier_core.catalog import Agency
from dossier_metrics.counters import CHANNELS, TIMELINESS
from dossier_metrics.index import LiveFigures, LiveIndex

STATES = ("in_time", "overdue", "paused")


@dataclass(frozen=True)
class Family:
    name: str  # as exposed (counters with `_total`)
    kind: str
    help: str
    label: str | None  # the second label beside `agency`
    values: tuple[str, ...]  # its values, in the order of the figures


# Counter families read the counters vector in its order (see `counters.COUNTER_COLUMNS`).
COUNTER_FAMILIES = (
    Family("dossier_received_total", "counter", "Dossiers received, by channel.", "channel", CHANNELS),
    Family(
        "dossier_resolved_total",
        "counter",
        "Dossiers resolved, by timeliness against the legal deadline.",
        "timeliness",
        TIMELINESS,
    ),
    Family("dossier_withdrawn_total", "counter", "Dossiers withdrawn by the applicant.", None, ("",)),
    Family("dossier_refused_total", "counter", "Dossiers refused after acceptance.", None, ("",)),
    Family("dossier_rescheduled_total", "counter", "Appointments moved by an apology letter.", None, ("",)),
)
PENDING = Family(
    "dossier_pending",
    "gauge",
    "Open dossiers now: in_time + overdue; paused is counted beside them.",
    "state",
    STATES,
)
DUE_SOON = Family(
    "dossier_due_soon",
    "gauge",
    "Open, unpaused dossiers not yet overdue whose deadline is within one working day.",
    None,
    ("",),
)
INFO_NAME = "dossier_agency_info"
INFO_HELP = "Agency reference data for joins (always 1)."
LAST_EVENT_NAME = "dossier_projection_last_event_timestamp_seconds"
LAST_EVENT_HELP = "When processing committed the newest snapshot this projection has applied."


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


class AgencyRegistry:
    """Catalog agencies and the label strings of their series, built once per agency."""

    def __init__(self, agencies: Mapping[str, Agency]) -> None:
        self.agencies = dict(agencies)
        self._prefixes: dict[str, tuple[str, ...]] = {}

    def codes(self) -> list[str]:
        return sorted(self.agencies)

    def info_labels(self, code: str) -> tuple[str, str, str, str]:
        agency = self.agencies.get(code)
        if agency is None:
            return code, "", "", ""
        return code, agency.name, str(agency.level), agency.parent_code or ""

    def prefixes(self, code: str) -> tuple[str, ...]:
        """`name{labels} ` of every series of an agency, in the order `render_text` writes them."""
        found = self._prefixes.get(code)
        if found is None:
            a = _escape(code)
            out: list[str] = []
            for family in (*COUNTER_FAMILIES, PENDING, DUE_SOON):
                for value in family.values:
                    extra = f',{family.label}="{value}"' if family.label else ""
                    out.append(f'{family.name}{{agency="{a}"{extra}}} ')
            _, name, level, parent = (_escape(v) for v in self.info_labels(code))
            out.append(f'{INFO_NAME}{{agency="{a}",name="{name}",level="{level}",parent="{parent}"}} 1.0\n')
            found = self._prefixes[code] = tuple(out)
        return found


class DossierCollector(Collector):
    def __init__(self, index: LiveIndex, agencies: AgencyRegistry) -> None:
        self.index = index
        self.agencies = agencies

    def figures(self) -> LiveFigures:
        return self.index.figures(self.agencies.codes())

    def collect(self) -> Iterator[Metric]:
        return iter(families(self.figures(), self.agencies))

    def render_text(self) -> bytes:
        """The Prometheus text exposition (0.0.4) of `collect()`, written directly."""
        return render_text(self.figures(), self.agencies)


def _values(figures: LiveFigures, code: str) -> tuple[int, ...]:
    return (*figures.counters[code], *figures.gauges[code])


def families(figures: LiveFigures, agencies: AgencyRegistry) -> list[Metric]:
    codes = sorted(figures.counters)
    out: list[Metric] = []
    position = 0
    for family in (*COUNTER_FAMILIES, PENDING, DUE_SOON):
        labels = ["agency", family.label] if family.label else ["agency"]
        base = family.name.removesuffix("_total")
        metric: Metric = (
            CounterMetricFamily(base, family.help, labels=labels)
            if family.kind == "counter"
            else GaugeMetricFamily(base, family.help, labels=labels)
        )
        for code in codes:
            values = _values(figures, code)
            for i, value in enumerate(family.values):
                metric.add_metric([code, value] if family.label else [code], values[position + i])  # type: ignore[attr-defined]
        position += len(family.values)
        out.append(metric)
    info = GaugeMetricFamily(INFO_NAME, INFO_HELP, labels=["agency", "name", "level", "parent"])
    for code in codes:
        info.add_metric(list(agencies.info_labels(code)), 1)
    out.append(info)
    last = GaugeMetricFamily(LAST_EVENT_NAME, LAST_EVENT_HELP)
    if figures.last_event_ts is not None:
        last.add_metric([], figures.last_event_ts)
    out.append(last)
    return out


def render_text(figures: LiveFigures, agencies: AgencyRegistry) -> bytes:
    codes = sorted(figures.counters)
    rows = [(agencies.prefixes(code), _values(figures, code)) for code in codes]
    parts: list[str] = []
    position = 0
    for family in (*COUNTER_FAMILIES, PENDING, DUE_SOON):
        parts.append(f"# HELP {family.name} {family.help}\n# TYPE {family.name} {family.kind}\n")
        width = len(family.values)
        for prefixes, values in rows:
            for i in range(position, position + width):
                parts.append(f"{prefixes[i]}{values[i]}.0\n")
        position += width
    parts.append(f"# HELP {INFO_NAME} {INFO_HELP}\n# TYPE {INFO_NAME} gauge\n")
    parts.extend(prefixes[-1] for prefixes, _ in rows)
    parts.append(f"# HELP {LAST_EVENT_NAME} {LAST_EVENT_HELP}\n# TYPE {LAST_EVENT_NAME} gauge\n")
    if figures.last_event_ts is not None:
        parts.append(f"{LAST_EVENT_NAME} {figures.last_event_ts!r}\n")
    return "".join(parts).encode()
