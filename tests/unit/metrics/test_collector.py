"""`/metrics` holds exactly the SPEC §5 series, and the fast writer equals prometheus-client's."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from dossier_core.calendar import VN_TZ, WorkingCalendar
from dossier_core.catalog import Catalog
from dossier_core.dossier import Dossier
from dossier_metrics.collector import AgencyRegistry, DossierCollector, render_text
from dossier_metrics.counters import counted
from dossier_metrics.index import LiveIndex

AGENCY = "000.00.12.H49"  # Sở Tư pháp
MakeDossier = Callable[..., Dossier]


def vn(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=VN_TZ)


SPEC_SERIES = {
    "dossier_received": ("counter", {"agency", "channel"}),
    "dossier_resolved": ("counter", {"agency", "timeliness"}),
    "dossier_withdrawn": ("counter", {"agency"}),
    "dossier_refused": ("counter", {"agency"}),
    "dossier_rescheduled": ("counter", {"agency"}),
    # beside SPEC §5: "4 tại chỗ" (docs/metrics.md)
    "dossier_received_on_site": ("counter", {"agency"}),
    # beside SPEC §5: Decision 766/QĐ-TTg (docs/metrics.md)
    "dossier_received_digitised": ("counter", {"agency"}),
    "dossier_fee_paid": ("counter", {"agency"}),
    "dossier_fee_paid_online": ("counter", {"agency"}),
    "dossier_pending": ("gauge", {"agency", "state"}),
    "dossier_due_soon": ("gauge", {"agency"}),
    "dossier_agency_info": ("gauge", {"agency", "name", "level", "parent"}),
    "dossier_projection_last_event_timestamp_seconds": ("gauge", set()),
}


def _collector(catalog: Catalog, calendar: WorkingCalendar, make_dossier: MakeDossier) -> DossierCollector:
    index = LiveIndex(calendar, lambda: vn("2021-04-07 10:00"))
    for dossier in (
        make_dossier(("received", vn("2021-04-05 09:00"))),
        make_dossier(("received", vn("2021-04-01 09:00"), {"on_site": True}), channel="direct"),
        make_dossier(("received", vn("2021-04-05 09:00")), ("withdrawn", vn("2021-04-06 09:00"))),
        make_dossier(("received", vn("2021-04-05 09:00")), ("fee_requested", vn("2021-04-06 09:00"))),
    ):
        index.apply(3, [dossier], {dossier.agency_code: counted(dossier, calendar)}, 1617760000.5)
    return DossierCollector(index, AgencyRegistry(catalog.agencies))


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_fast_exposition_equals_prometheus_client(
    catalog: Catalog, calendar: WorkingCalendar, make_dossier: MakeDossier
) -> None:
    collector = _collector(catalog, calendar, make_dossier)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    reference = generate_latest(registry).decode()
    fast = collector.render_text().decode()
    assert _samples(fast) == _samples(reference)
    assert [f.name for f in text_string_to_metric_families(fast)] == [
        f.name for f in text_string_to_metric_families(reference)
    ]


def test_exactly_the_spec_series_with_a_zero_row_for_every_agency(
    catalog: Catalog, calendar: WorkingCalendar, make_dossier: MakeDossier
) -> None:
    text = _collector(catalog, calendar, make_dossier).render_text().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert set(families) == set(SPEC_SERIES)
    for name, (kind, labels) in SPEC_SERIES.items():
        assert families[name].type == kind
        for sample in families[name].samples:
            assert set(sample.labels) == labels
    for name in ("dossier_received", "dossier_pending", "dossier_due_soon", "dossier_agency_info"):
        assert {s.labels["agency"] for s in families[name].samples} == set(catalog.agencies)
    values = _samples(text)
    assert values[("dossier_received_total", (("agency", AGENCY), ("channel", "online")))] == 3
    assert values[("dossier_received_total", (("agency", AGENCY), ("channel", "direct")))] == 1
    assert values[("dossier_withdrawn_total", (("agency", AGENCY),))] == 1
    assert values[("dossier_received_on_site_total", (("agency", AGENCY),))] == 1
    pending = {
        s.labels["state"]: s.value
        for s in families["dossier_pending"].samples
        if s.labels["agency"] == AGENCY
    }
    assert pending == {"in_time": 2.0, "overdue": 1.0, "paused": 1.0}
    assert values[("dossier_due_soon", (("agency", AGENCY),))] == 1
    info = next(s for s in families["dossier_agency_info"].samples if s.labels["agency"] == AGENCY)
    assert info.labels == {
        "agency": AGENCY,
        "name": "Sở Tư pháp tỉnh Quảng Ninh",
        "level": "province",
        "parent": "000.00.00.H49",
    }
    assert values[("dossier_projection_last_event_timestamp_seconds", ())] == 1617760000.5


def test_the_exporter_writes_the_stored_totals_and_the_others_only_their_gauges(
    catalog: Catalog, calendar: WorkingCalendar, make_dossier: MakeDossier
) -> None:
    collector = _collector(catalog, calendar, make_dossier)
    own = _samples(collector.render_text().decode())
    # the province-wide totals (other partitions included) replace this instance's own counters
    stored = {
        AGENCY: (5, 7, 0, 1, 2, 3, 4, 0, 1, 6, 8, 9, 2),
        "UNKNOWN.AGENCY": (1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    }
    text = render_text(collector.figures_with(stored), collector.agencies).decode()
    values = _samples(text)
    assert values[("dossier_received_total", (("agency", AGENCY), ("channel", "online")))] == 7
    assert values[("dossier_resolved_total", (("agency", AGENCY), ("timeliness", "late")))] == 3
    assert values[("dossier_received_on_site_total", (("agency", AGENCY),))] == 6
    assert values[("dossier_received_digitised_total", (("agency", AGENCY),))] == 8
    assert values[("dossier_fee_paid_total", (("agency", AGENCY),))] == 9
    assert values[("dossier_fee_paid_online_total", (("agency", AGENCY),))] == 2
    assert values[("dossier_received_total", (("agency", "UNKNOWN.AGENCY"), ("channel", "direct")))] == 1
    gauges = {
        k: v
        for k, v in values.items()
        if k[0] in ("dossier_pending", "dossier_due_soon") and ("agency", "UNKNOWN.AGENCY") not in k[1]
    }
    assert gauges == {k: v for k, v in own.items() if k[0] in ("dossier_pending", "dossier_due_soon")}
    # an instance that is not the exporter writes its gauges and nothing province-wide
    families = {
        f.name
        for f in text_string_to_metric_families(
            render_text(collector.figures_with(None), collector.agencies).decode()
        )
    }
    assert families == {
        "dossier_pending",
        "dossier_due_soon",
        "dossier_projection_last_event_timestamp_seconds",
    }
