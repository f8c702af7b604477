"""`/metrics`: exactly the series of SPEC §5, computed against the clock at scrape time.

With a `CounterExporter` (every running service has one), the counters and `dossier_agency_info` are
written only by the instance that holds the exporter's lock, from the totals stored for every
partition; the gauges are each instance's own partitions (see `counter_export`). Without one (tests of
a lone index), the counters are the index's own.

`DossierCollector` is a prometheus-client `Collector` (registered in a registry of its own, so the
output holds nothing else). Rendering 10,000 agencies × 14 series through prometheus-client's generic
text writer costs about a second, so `render_text` writes the same exposition from label strings built
once per agency; a unit test checks both give identical samples.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dossier_core.catalog import Agency
from dossier_metrics.counter_export import CounterExporter, Totals
from dossier_metrics.counters import CHANNELS, TIMELINESS, WIDTH, ZERO
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
    Family(
        "dossier_received_on_site_total",
        "counter",
        'Dossiers received, processed and returned on the spot ("4 tại chỗ").',
        None,
        ("",),
    ),
    Family(
        "dossier_received_digitised_total",
        "counter",
        "Dossiers received with their papers digitised (Decision 766/QĐ-TTg).",
        None,
        ("",),
    ),
    Family(
        "dossier_fee_paid_total",
        "counter",
        "Received dossiers whose fees were paid through a named payment channel.",
        None,
        ("",),
    ),
    Family(
        "dossier_fee_paid_online_total",
        "counter",
        "Received dossiers with a fee paid online (Decision 766/QĐ-TTg).",
        None,
        ("",),
    ),
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


@dataclass(frozen=True)
class Layout:
    order: list[int]
    prefixes: list[list[bytes]]
    zero_lines: list[list[bytes]]


class AgencyRegistry:
    """Catalog agencies and the label strings of their series, built once per agency."""

    def __init__(self, agencies: Mapping[str, Agency]) -> None:
        self.agencies = dict(agencies)
        self._prefixes: dict[str, tuple[str, ...]] = {}
        self._layout_key: tuple[str, ...] | None = None
        self._layout = Layout([], [], [])

    def codes(self) -> list[str]:
        return sorted(self.agencies)

    def info_labels(self, code: str) -> tuple[str, str, str, str]:
        agency = self.agencies.get(code)
        if agency is None:
            return code, "", "", ""
        return code, agency.name, str(agency.level), agency.parent_code or ""

    def layout(self, codes: list[str]) -> Layout:
        """For agencies at positions `codes`: the positions in code order and, per series, the
        encoded label strings and the whole line for a zero value. Cached while the agencies stay."""
        key = tuple(codes)
        if self._layout_key != key:
            order = sorted(range(len(codes)), key=codes.__getitem__)
            rows = [self.prefixes(codes[i]) for i in order]
            columns = [[p.encode() for p in column] for column in zip(*rows, strict=True)] if rows else []
            zeros = [[p + b"0.0\n" for p in column] for column in columns]
            self._layout = Layout(order, columns, zeros)
            self._layout_key = key
        return self._layout

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
    def __init__(
        self, index: LiveIndex, agencies: AgencyRegistry, exporter: CounterExporter | None = None
    ) -> None:
        self.index = index
        self.agencies = agencies
        self.exporter = exporter

    def figures(self) -> LiveFigures:
        """This instance's own figures: the index's counters and gauges."""
        return self.index.figures(self.agencies.codes())

    def figures_with(self, totals: Totals | None) -> LiveFigures:
        """The gauges of this instance's partitions with the province-wide counters `totals` (read from
        the store by the exporter), or with no counters at all (None: another instance exports them)."""
        if totals is None:
            return replace(self.figures(), counters=[], province_wide=False)
        extra = [code for code in totals if code not in self.agencies.agencies]
        figures = self.index.figures([*self.agencies.codes(), *extra])
        rows = [totals.get(code, ZERO) for code in figures.codes]
        counters = [[row[k] for row in rows] for k in range(WIDTH)]
        return replace(figures, counters=counters)

    def collect(self) -> Iterator[Metric]:
        return iter(families(self.figures(), self.agencies))

    def render_text(self) -> bytes:
        """The Prometheus text exposition (0.0.4) of `collect()`, written directly."""
        return render_text(self.figures(), self.agencies)

    async def render(self) -> bytes:
        """`/metrics`: with an exporter, its counters (or none); else `render_text()`."""
        if self.exporter is None:
            return self.render_text()
        return render_text(self.figures_with(await self.exporter.totals()), self.agencies)


def _column(figures: LiveFigures, k: int) -> list[int]:
    """Series k of an agency row: the counters, then the gauges."""
    return figures.counters[k] if k < WIDTH else figures.gauges[k - WIDTH]


def families(figures: LiveFigures, agencies: AgencyRegistry) -> list[Metric]:
    order = sorted(range(len(figures.codes)), key=figures.codes.__getitem__)
    out: list[Metric] = []
    position = 0
    for family in (*COUNTER_FAMILIES, PENDING, DUE_SOON):
        if family.kind == "counter" and not figures.province_wide:
            position += len(family.values)
            continue
        labels = ["agency", family.label] if family.label else ["agency"]
        base = family.name.removesuffix("_total")
        metric: Metric = (
            CounterMetricFamily(base, family.help, labels=labels)
            if family.kind == "counter"
            else GaugeMetricFamily(base, family.help, labels=labels)
        )
        for i in order:
            code = figures.codes[i]
            for offset, value in enumerate(family.values):
                sample = _column(figures, position + offset)[i]
                metric.add_metric([code, value] if family.label else [code], sample)  # type: ignore[attr-defined]
        position += len(family.values)
        out.append(metric)
    if figures.province_wide:
        info = GaugeMetricFamily(INFO_NAME, INFO_HELP, labels=["agency", "name", "level", "parent"])
        for i in order:
            info.add_metric(list(agencies.info_labels(figures.codes[i])), 1)
        out.append(info)
    last = GaugeMetricFamily(LAST_EVENT_NAME, LAST_EVENT_HELP)
    if figures.last_event_ts is not None:
        last.add_metric([], figures.last_event_ts)
    out.append(last)
    return out


_SMALL = [f"{n}.0\n".encode() for n in range(4096)]


def _lines(prefixes: list[bytes], zero_lines: list[bytes], values: list[int]) -> list[bytes]:
    small = _SMALL
    return [
        zero if v == 0 else prefix + (small[v] if 0 < v < 4096 else f"{v}.0\n".encode())
        for prefix, zero, v in zip(prefixes, zero_lines, values, strict=True)
    ]


def render_text(figures: LiveFigures, agencies: AgencyRegistry) -> bytes:
    """Family by family, from label strings encoded once per agency; a zero sample (most of them)
    reuses its whole line, so a scrape allocates only for non-zero samples."""
    layout = agencies.layout(figures.codes)
    order = layout.order
    parts: list[bytes] = []
    position = 0
    for family in (*COUNTER_FAMILIES, PENDING, DUE_SOON):
        if family.kind == "counter" and not figures.province_wide:
            position += len(family.values)
            continue
        parts.append(f"# HELP {family.name} {family.help}\n# TYPE {family.name} {family.kind}\n".encode())
        for k in range(position, position + len(family.values)):
            column = _column(figures, k)
            parts.extend(_lines(layout.prefixes[k], layout.zero_lines[k], [column[i] for i in order]))
        position += len(family.values)
    if figures.province_wide:
        parts.append(f"# HELP {INFO_NAME} {INFO_HELP}\n# TYPE {INFO_NAME} gauge\n".encode())
        if layout.prefixes:
            parts.extend(layout.prefixes[-1])
    parts.append(f"# HELP {LAST_EVENT_NAME} {LAST_EVENT_HELP}\n# TYPE {LAST_EVENT_NAME} gauge\n".encode())
    if figures.last_event_ts is not None:
        parts.append(f"{LAST_EVENT_NAME} {figures.last_event_ts!r}\n".encode())
    return b"".join(parts)
