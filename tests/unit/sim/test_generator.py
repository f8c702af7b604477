"""The simulator's traffic is deterministic, valid for the catalog, and its expected report adds up."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pytest

from dossier_core.calendar import VN_TZ
from dossier_core.catalog import DeadlineUnit
from dossier_core.catalog_csv import default_catalog_dir, load_catalog
from dossier_core.codes import Channel
from dossier_core.deadlines import rule_for
from dossier_core.lifecycle import fold
from dossier_core.periods import parse_period
from dossier_sim.expect import differences, expected_indicators, expected_rows, indicator_differences, total
from dossier_sim.generator import DIGITISED_SHARE, ProvinceGenerator, domain_event
from dossier_sim.mix import DEFAULT_MIX, Outcome, OutcomeMix

CATALOG = load_catalog(default_catalog_dir())
PERIOD = parse_period("2021-Q2")


def generate(count: int, seed: int = 7, mix: str = DEFAULT_MIX) -> list:  # type: ignore[type-arg]
    return list(ProvinceGenerator(CATALOG, PERIOD, OutcomeMix.parse(mix), seed=seed).dossiers(count))


def test_same_seed_same_traffic() -> None:
    assert [d.events for d in generate(50)] == [d.events for d in generate(50)]
    assert [d.events for d in generate(50)] != [d.events for d in generate(50, seed=8)]


def test_events_name_catalog_agencies_and_procedures_and_unique_ids() -> None:
    dossiers = generate(400)
    ids = [e["event_id"] for d in dossiers for e in d.events]
    assert len(ids) == len(set(ids))
    assert len({d.code for d in dossiers}) == len(dossiers)
    for d in dossiers:
        received = [e for e in d.events if e["type"] == "dossier.received"]
        assert len(received) == 1
        assert received[0]["data"]["procedure_code"] in CATALOG.procedures
        assert d.agency in CATALOG.agencies
        assert d.code.startswith(d.agency + "-")
    types = Counter(e["type"] for d in dossiers for e in d.events)
    for event_type in (
        "dossier.submitted",
        "dossier.supplement_requested",
        "dossier.fee_requested",
        "dossier.resolved",
        "dossier.returned",
    ):
        assert types[event_type] > 0, event_type


def test_expected_report_keeps_the_invariant_and_follows_the_mix() -> None:
    dossiers = generate(2000, mix="early=50,on_time=45,late=5")
    rows = expected_rows(dossiers, CATALOG, PERIOD)
    for row in rows.values():
        row.check_invariant()
    whole = total(rows.values())
    assert whole.received_total == 2000
    assert whole.late > 0 and whole.early > 0 and whole.on_time > 0
    # Late finishes were asked for in 5 % of dossiers; the generator lands them after the deadline.
    assert 0.02 * 2000 < whole.late < 0.08 * 2000


def test_differences_name_the_agency_that_differs() -> None:
    rows = expected_rows(generate(100), CATALOG, PERIOD)
    report = {"rows": [{"agency": a, **r.to_dict()} for a, r in rows.items()]}
    assert differences(rows, report) == []
    first = report["rows"][0]
    first["received"] = dict(first["received"], total=first["received"]["total"] + 1)
    assert len(differences(rows, report)) == 1


def test_mix_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        OutcomeMix.parse("early=1,soon=2")
    with pytest.raises(ValueError):
        OutcomeMix.parse("early=0")
    assert OutcomeMix.parse("early=1,late=3").weights[Outcome.LATE] == 0.75


def test_the_current_period_is_cut_at_now() -> None:
    from dossier_core.events import parse_instant
    from dossier_sim.generator import happened_by

    catalog = load_catalog(default_catalog_dir())
    dossiers = list(
        ProvinceGenerator(catalog, parse_period("2021-Q2"), OutcomeMix.parse(DEFAULT_MIX)).dossiers(300)
    )
    now = datetime(2021, 5, 20, 12, 0, tzinfo=VN_TZ)
    cut = happened_by(dossiers, now)
    assert 0 < len(cut) < len(dossiers)
    assert all(parse_instant(e["occurred_at"]) <= now for d in cut for e in d.events)  # type: ignore[operator]
    kept = {d.code: d for d in dossiers}
    # each kept dossier keeps the beginning of its own history, in order
    assert all(d.events == kept[d.code].events[: len(d.events)] for d in cut)


def test_on_site_receipts_are_quick_direct_dossiers_resolved_in_time() -> None:
    dossiers = generate(2000)
    on_site = [d for d in dossiers if any(e["data"].get("on_site") for e in d.events)]
    assert on_site, "the default mix has on-the-spot dossiers"
    for d in on_site:
        (received,) = [e for e in d.events if e["type"] == "dossier.received"]
        procedure = CATALOG.procedures[received["data"]["procedure_code"]]
        assert received["data"]["channel"] == "direct"
        assert d.outcome in (Outcome.EARLY, Outcome.ON_TIME)
        rule = rule_for(procedure, Channel.DIRECT)
        assert rule.unit is DeadlineUnit.SAME_DAY or (rule.duration or 0) <= (
            1 if rule.unit is DeadlineUnit.WORKING_DAYS else 8
        )
    # the expected report counts them among the new receipts ("4 tại chỗ"), and --expect compares them
    rows = expected_rows(dossiers, CATALOG, PERIOD)
    assert total(rows.values()).on_site == len(on_site)
    report = {"rows": [{"agency": a, **r.to_dict()} for a, r in rows.items()]}
    report["rows"][0]["on_site"] += 1
    assert len(differences(rows, report)) == 1


def test_the_decision_766_flags_follow_the_mix_and_expect_checks_them() -> None:
    dossiers = generate(3000)
    receipts = [e for d in dossiers for e in d.events if e["type"] == "dossier.received"]
    online = [e for e in receipts if e["data"]["channel"] == "online"]
    assert online and all(e["data"].get("digitised") is True for e in online)
    others = [e for e in receipts if e["data"]["channel"] != "online"]
    share = sum(bool(e["data"].get("digitised")) for e in others) / len(others)
    assert abs(share - DIGITISED_SHARE) < 0.05
    payments = [e for d in dossiers for e in d.events if e["type"] == "dossier.fee_paid"]
    assert payments and {e["data"]["payment_channel"] for e in payments} == {"online", "direct"}

    counts = expected_indicators(dossiers, CATALOG, PERIOD)
    folded = [fold((domain_event(e, i) for i, e in enumerate(d.events)), CATALOG) for d in dossiers]
    new = [x for x in folded if x.received_at is not None and PERIOD.start_instant <= x.received_at]
    assert sum(c.digitised for c in counts.values()) == sum(x.digitised for x in new)
    assert sum(c.paid_online for c in counts.values()) == sum(x.payment_channel == "online" for x in new)
    assert sum(c.paid for c in counts.values()) == sum(x.payment_channel is not None for x in new) > 0
    section = {"rows": [{"agency": a, **c.to_dict()} for a, c in counts.items()]}
    assert indicator_differences(counts, section) == []
    section["rows"][0]["paid_online"] += 1
    (diff,) = indicator_differences(counts, section)
    assert diff.startswith(section["rows"][0]["agency"]) and "paid_online expected" in diff
