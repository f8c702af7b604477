"""Reports in the period's organisation and in today's (`structure=period|current`): each row equal to
the domain's contributions added up by the agency that received the dossier, or by the agency that
carries it today (chains followed, mergers added up); both structures hold the same total; the API,
the CSV and the XLSX follow the parameter."""

from __future__ import annotations

import csv
import io
import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from dossier_core.catalog import Catalog, load_catalog
from dossier_core.dossier import Dossier
from dossier_core.periods import Period, parse_period
from dossier_core.report import ReportRow, contribution
from dossier_metrics.report_form import CURRENT_STRUCTURE_NOTE
from dossier_metrics.reports import ReportBuilder
from tests.unit.metrics.conftest import MakeDossier, dossier_factory, vn
from tests.unit.metrics.report_doubles import Keys, SnapshotList, report_app

Q2 = parse_period("2021-Q2")
QUANG_LA = "000.00.59.H49"  # xã Quảng La of the two-tier structure, four communes merged


def expected(
    dossiers: list[Dossier], catalog: Catalog, period: Period, carry: dict[str, str] | None
) -> dict[str, dict[str, Any]]:
    """The domain's rows: each dossier's contribution under its agency, or the agency carrying it."""
    rows: dict[str, ReportRow] = {}
    for d in dossiers:
        row = contribution(d, period, catalog.calendar())
        code = carry.get(d.agency_code, d.agency_code) if carry is not None else d.agency_code
        rows[code] = rows[code] + row if code in rows else row
    return {code: row.to_dict() for code, row in rows.items()}


def figures(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The report's non-zero rows by agency, with the SPEC §5 figures only."""
    keys = ReportRow().to_dict().keys()
    out = {r["agency"]: {k: r[k] for k in keys} for r in report["rows"]}
    return {code: row for code, row in out.items() if row != ReportRow().to_dict()}


def random_dossiers(catalog: Catalog, make: MakeDossier, seed: int, period: Period) -> list[Dossier]:
    rng = random.Random(seed)
    agencies = [
        a.code for a in catalog.agencies.values() if a.is_valid_on(period.start) or a.is_valid_on(period.end)
    ]
    out = []
    for _ in range(120):
        received = vn(f"{period.start} 09:00") + timedelta(
            days=rng.randint(-20, 80), minutes=rng.randint(0, 400)
        )
        steps: list[Any] = [("received", received)]
        if rng.random() < 0.7:
            steps.append(("resolved", received + timedelta(days=rng.randint(0, 15))))
        out.append(
            make(*steps, agency=rng.choice(agencies), channel=rng.choice(["online", "direct", "postal"]))
        )
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_both_structures_equal_the_domain_on_the_sample_catalog(
    catalog: Catalog, make_dossier: MakeDossier, seed: int
) -> None:
    dossiers = random_dossiers(catalog, make_dossier, seed, Q2)
    builder = ReportBuilder(catalog, SnapshotList(catalog, dossiers))
    today = builder.today()
    carry = catalog.successions.carried_by(catalog.agencies, today)
    period = await builder.build(Q2, None, "agency")
    current = await builder.build(Q2, None, "agency", structure="current")
    assert figures(period) == expected(dossiers, catalog, Q2, None)
    assert figures(current) == expected(dossiers, catalog, Q2, carry)
    assert current["total"] == period["total"]
    assert period["structure"] == "period" and "successions" not in period
    assert current["structure"] == "current"
    # no row of an agency succeeded today; every row's agency is its own carrier
    assert all(carry.get(r["agency"], r["agency"]) == r["agency"] for r in current["rows"])
    moved = {m["agency"]: m["successor"] for m in current["successions"]}
    assert moved and all(carry[old] == new != old for old, new in moved.items())
    # the per-dossier path agrees, and so does the grouping by level (the carrier's level)
    assert await builder.build_exact(Q2, None, "agency", structure="current") == current
    by_level = await builder.build(Q2, None, "level", structure="current")
    levels: dict[str, int] = {}
    for code, row in expected(dossiers, catalog, Q2, carry).items():
        level = str(catalog.agencies[code].level)
        levels[level] = levels.get(level, 0) + row["received"]["total"]
    assert {r["level"]: r["received"]["total"] for r in by_level["rows"]} == levels


async def test_the_merged_commune_holds_its_four_communes(
    catalog: Catalog, make_dossier: MakeDossier
) -> None:
    merged = sorted(old for old, s in catalog.successions.by_old.items() if s.new == QUANG_LA)
    dossiers = [
        make_dossier(("received", vn("2021-04-05 09:00")), agency=code) for code in merged for _ in range(2)
    ]
    builder = ReportBuilder(catalog, SnapshotList(catalog, dossiers))
    period = await builder.build(Q2, None, "agency")
    current = await builder.build(Q2, QUANG_LA, "agency", structure="current")
    assert {code: row["received"]["total"] for code, row in figures(period).items()} == dict.fromkeys(
        merged, 2
    )
    assert [(r["agency"], r["received"]["total"]) for r in current["rows"]] == [(QUANG_LA, 2 * len(merged))]
    assert [m["agency"] for m in current["successions"]] == merged


# -- chains and mergers in a catalog of their own -------------------------------------------------------

AGENCIES = """code,name,level,parent_code,valid_from,valid_to
P,Tỉnh,province,,,
A,A (to 2019),district,P,,2019-12-31
B,B (2020-2024),district,P,2020-01-01,2024-12-31
C,C (from 2025),district,P,2025-01-01,
D,D (merged into C),commune,B,,2024-12-31
E,E (merged into C),commune,P,,2024-12-31
F,F (abolished),district,P,,2024-12-31
G,G (below F),commune,F,,
"""
SUCCESSIONS = """old_code,new_code,from_date
A,B,2020-01-01
B,C,2025-01-01
D,C,2025-01-01
E,C,2025-01-01
"""
PROCEDURES = """code,name,field,duration,unit,online_level,supplement_policy
1.004194,Đăng ký tạm trú,"Đăng ký, quản lý cư trú",3,working_days,full,extend
"""
SPAN = Period.between(date(2019, 12, 1), date(2020, 12, 31))


@pytest.fixture(scope="module")
def chains(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    directory = tmp_path_factory.mktemp("chains")
    files = {
        "agencies.csv": AGENCIES,
        "agency_successions.csv": SUCCESSIONS,
        "procedures.csv": PROCEDURES,
        "calendar.csv": "date,kind,note\n",
    }
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return load_catalog(directory)


@pytest.fixture(scope="module")
def chain_dossiers(chains: Catalog) -> list[Dossier]:
    make = dossier_factory(chains)
    on = {"A": "2019-12-05", "B": "2020-03-02", "D": "2020-04-01", "E": "2020-05-04", "F": "2020-06-01"}
    out = [make(("received", vn(f"{day} 09:00")), agency=code) for code, day in on.items()]
    out.append(make(("received", vn("2020-06-01 09:00")), ("resolved", vn("2020-06-02 09:00")), agency="E"))
    out.append(make(("received", vn("2020-06-03 09:00")), agency="G"))
    return out


async def test_a_chain_and_a_merger_end_in_one_row(chains: Catalog, chain_dossiers: list[Dossier]) -> None:
    builder = ReportBuilder(chains, SnapshotList(chains, chain_dossiers))
    builder.today = lambda: date(2026, 1, 1)
    current = await builder.build(SPAN, None, "agency", structure="current")
    received = {r["agency"]: r["received"]["total"] for r in current["rows"]}
    # A → B → C and D, E → C in one row; F abolished without successor keeps its own; G under F
    assert received == {"C": 5, "F": 1, "G": 1, "P": 0}
    assert figures(current) == expected(
        chain_dossiers, chains, SPAN, chains.successions.carried_by(chains.agencies)
    )
    period = await builder.build(SPAN, None, "agency")
    assert {r["agency"] for r in period["rows"]} == {"P", "A", "B", "D", "E", "F", "G"}
    assert period["total"] == current["total"]
    # agency=C in today's structure selects everything it carries; D was below B, which C carries
    below_c = await builder.build(SPAN, "C", "agency", structure="current")
    assert [(r["agency"], r["received"]["total"]) for r in below_c["rows"]] == [("C", 5)]


async def test_only_the_successions_in_effect_on_the_day_are_followed(
    chains: Catalog, chain_dossiers: list[Dossier]
) -> None:
    builder = ReportBuilder(chains, SnapshotList(chains, chain_dossiers))
    builder.today = lambda: date(2024, 6, 1)  # A → B has happened, B → C and the merger not yet
    current = await builder.build(SPAN, None, "agency", structure="current")
    received = {r["agency"]: r["received"]["total"] for r in current["rows"]}
    assert received == {"B": 2, "D": 1, "E": 2, "F": 1, "G": 1, "P": 0}
    assert [m["agency"] for m in current["successions"]] == ["A"]


# -- the API, CSV and XLSX ------------------------------------------------------------------------------


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    return Keys(tmp_path / "metrics_keys.csv")


async def test_the_api_csv_and_xlsx_follow_the_parameter(
    catalog: Catalog, make_dossier: MakeDossier, keys: Keys
) -> None:
    dossiers = random_dossiers(catalog, make_dossier, 4, Q2)
    app = report_app(ReportBuilder(catalog, SnapshotList(catalog, dossiers)), keys.path)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://m", headers=keys.auth(keys.everything)
    ) as client:

        async def get(query: str) -> httpx.Response:
            return await client.get(f"/v1/reports/dossiers?period=2021-Q2&{query}")

        plain, period = (await get("")).json(), (await get("structure=period")).json()
        current = (await get("structure=current")).json()
        for report in (plain, period):  # the default is the period's structure, as before
            report.pop("generated_at")
        assert plain == period and period["structure"] == "period"
        assert current["total"] == period["total"]
        assert {r["agency"] for r in current["rows"]} < {r["agency"] for r in period["rows"]} | {
            s.new for s in catalog.successions.by_old.values()
        }

        bad = await get("structure=today")
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "structure"
        old = next(iter(catalog.successions.by_old))
        refused = await get(f"structure=current&agency={old}")
        assert refused.status_code == 422
        (error,) = refused.json()["errors"]
        assert error["field"] == "agency" and catalog.successions.successor(old) in error["message"]
        assert (await get(f"structure=period&agency={old}")).status_code == 200

        as_csv = await get("structure=current&format=csv")
        assert "_current.csv" in as_csv.headers["content-disposition"]
        lines = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
        assert [line[0] for line in lines[1:-1]] == [r["agency"] for r in current["rows"]]
        as_xlsx = await get("structure=current&format=xlsx")
        sheet = load_workbook(io.BytesIO(as_xlsx.content)).worksheets[0]
        assert str(sheet["A2"].value).endswith(CURRENT_STRUCTURE_NOTE)
        period_sheet = load_workbook(io.BytesIO((await get("format=xlsx")).content)).worksheets[0]
        assert CURRENT_STRUCTURE_NOTE not in str(period_sheet["A2"].value)
