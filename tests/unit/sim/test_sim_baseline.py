"""--expect on a system that already holds data: the report must grow by exactly what was generated
(against a baseline read before sending); runs with other seeds share no dossier; every generated
event is one intake admits, agency validity included, across the 2025 restructuring."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from dossier_core.catalog_csv import default_catalog_dir, load_catalog
from dossier_core.periods import Period, parse_period
from dossier_core.report import ReportRow
from dossier_intake.admission import Rejection, admit
from dossier_runtime.api_keys import ApiKey
from dossier_sim.expect import differences, expected_rows
from dossier_sim.generator import ProvinceGenerator
from dossier_sim.mix import DEFAULT_MIX, OutcomeMix

CATALOG = load_catalog(default_catalog_dir())
Q2 = parse_period("2021-Q2")


def generate(count: int, seed: int, period: Period = Q2) -> list[Any]:
    return list(ProvinceGenerator(CATALOG, period, OutcomeMix.parse(DEFAULT_MIX), seed=seed).dossiers(count))


def report(rows: dict[str, ReportRow]) -> dict[str, Any]:
    return {"rows": [{"agency": a, **r.to_dict()} for a, r in sorted(rows.items())]}


def added(a: dict[str, ReportRow], b: dict[str, ReportRow]) -> dict[str, ReportRow]:
    return {k: a.get(k, ReportRow()) + b.get(k, ReportRow()) for k in a.keys() | b.keys()}


def test_the_report_must_grow_by_exactly_what_was_generated() -> None:
    before = expected_rows(generate(300, seed=5), CATALOG, Q2)  # data already on the system
    mine = expected_rows(generate(200, seed=6), CATALOG, Q2)
    after = added(before, mine)
    assert differences(mine, report(after), report(before)) == []
    # against an empty baseline the data already there shows as differences
    assert differences(mine, report(after)) != []
    # one dossier missing: the agency and the column are named, with the counts
    agency = next(iter(sorted(mine)))
    short = {**after, agency: after[agency] + ReportRow()}
    row = report(short)
    first = next(r for r in row["rows"] if r["agency"] == agency)
    first["received"] = dict(first["received"], total=first["received"]["total"] - 1)
    (line,) = differences(mine, row, report(before))
    want = mine[agency].to_dict()["received"]["total"]
    was = before[agency].to_dict()["received"]["total"] if agency in before else 0
    assert line.startswith(f"{agency}: received.total expected +{want}, report +{want - 1}")
    assert f"({was} before, {was + want - 1} now)" in line


def test_a_report_that_did_not_grow_differs_in_every_agency_sent_to() -> None:
    mine = expected_rows(generate(100, seed=7), CATALOG, Q2)
    assert len(differences(mine, report(mine), report(mine))) == len(mine)


def test_runs_with_other_seeds_share_no_dossier_code() -> None:
    first = {d.code for d in generate(400, seed=1)}
    second = {d.code for d in generate(400, seed=2)}
    assert len(first) == 400 and len(second) == 400 and not first & second


def test_every_event_is_admitted_across_the_restructuring() -> None:
    # the last day of the districts and the first of the two-tier communes
    period = Period.between(date(2025, 6, 30), date(2025, 7, 1))
    key = ApiKey("sim", "0" * 64, ("*",))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    dossiers = generate(600, seed=3, period=period)
    agencies = {d.agency for d in dossiers}
    assert any(CATALOG.agencies[a].valid_to for a in agencies)
    assert any(CATALOG.agencies[a].valid_from for a in agencies)
    refused = [
        outcome.errors
        for d in dossiers
        for e in d.events
        if isinstance(outcome := admit(e, key, CATALOG, now), Rejection)
    ]
    assert refused == []
