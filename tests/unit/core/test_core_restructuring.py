"""Agencies across re-organisations: validity with its grace period, successions (chains, mergers),
and `agency_successions.csv` errors naming file, line and column."""

from __future__ import annotations

import itertools
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dossier_core.catalog import Agency, AgencyLevel, Catalog
from dossier_core.catalog_csv import CatalogError, default_catalog_dir, load_catalog
from dossier_core.restructuring import (
    Succession,
    SuccessionCycle,
    Successions,
    last_event_day,
    validity_refusal,
)

DAY = date(2025, 7, 1)


def agency(valid_from: date | None = None, valid_to: date | None = None) -> Agency:
    return Agency("000.01.31.H49", "A", AgencyLevel.COMMUNE, None, valid_from, valid_to)


# -- validity with its grace period ------------------------------------------------------------------


def test_an_agency_without_dates_takes_every_day() -> None:
    assert validity_refusal(agency(), date(2000, 1, 1), 0) is None
    assert last_event_day(agency(), 90) is None


def test_grace_runs_after_valid_to_and_not_before_valid_from() -> None:
    ended = agency(valid_to=date(2025, 6, 30))
    assert validity_refusal(ended, date(2025, 6, 30), 0) is None
    assert validity_refusal(ended, date(2025, 7, 1), 0) is not None
    assert validity_refusal(ended, date(2025, 6, 30) + timedelta(days=90), 90) is None
    refusal = validity_refusal(ended, date(2025, 6, 30) + timedelta(days=91), 90)
    assert refusal is not None and "2025-06-30" in refusal and "2025-09-28" in refusal
    new = agency(valid_from=DAY)
    assert validity_refusal(new, DAY, 90) is None
    refusal = validity_refusal(new, DAY - timedelta(days=1), 90)
    assert refusal is not None and "valid from 2025-07-01" in refusal


days = st.dates(date(2000, 1, 1), date(2099, 12, 31))


@given(days, st.one_of(st.none(), days), st.one_of(st.none(), days), st.integers(0, 400))
def test_an_event_is_taken_exactly_within_the_window(
    day: date, first: date | None, last: date | None, grace: int
) -> None:
    if first and last and last < first:
        first, last = last, first
    a = agency(first, last)
    within = (first is None or first <= day) and (last is None or day <= last + timedelta(days=grace))
    assert (validity_refusal(a, day, grace) is None) == within
    # the grace period only ever adds days
    if a.is_valid_on(day):
        assert validity_refusal(a, day, grace) is None


# -- successions -------------------------------------------------------------------------------------


def test_a_chain_is_followed_as_far_as_its_steps_have_taken_effect() -> None:
    chain = Successions.of([Succession("A", "B", date(2020, 1, 1)), Succession("B", "C", date(2025, 7, 1))])
    assert chain.successor("A", date(2019, 12, 31)) == "A"
    assert chain.successor("A", date(2020, 1, 1)) == "B"
    assert chain.successor("A", date(2025, 7, 1)) == "C"
    assert chain.successor("A") == chain.successor("B") == chain.successor("C") == "C"
    assert chain.chain("A") == ("A", "B", "C")


def test_a_merger_gives_several_agencies_one_successor() -> None:
    merged = Successions.of(Succession(old, "N", DAY) for old in ("A", "B", "C"))
    assert merged.carried_by(["A", "B", "C", "N", "X"]) == {"A": "N", "B": "N", "C": "N", "N": "N", "X": "X"}


def test_a_cycle_is_refused() -> None:
    with pytest.raises(SuccessionCycle):
        Successions.of([Succession("A", "B", DAY), Succession("B", "A", DAY)])


@st.composite
def forests(draw: st.DrawFn) -> Successions:
    """Random successions among agencies 0..n-1: each agency is succeeded, if at all, by a later one
    (so no cycle), on a random day."""
    n = draw(st.integers(1, 12))
    steps = []
    for old in range(n - 1):
        if draw(st.booleans()):
            new = draw(st.integers(old + 1, n - 1))
            steps.append(Succession(str(old), str(new), draw(days)))
    return Successions.of(steps)


@given(forests(), st.one_of(st.none(), days))
def test_every_agency_ends_at_one_successor_that_is_its_own(
    successions: Successions, on: date | None
) -> None:
    codes = {c for s in successions.by_old.values() for c in (s.old, s.new)}
    for code, last in successions.carried_by(codes, on).items():
        chain = successions.chain(code, on)
        assert chain[0] == code and chain[-1] == last and len(set(chain)) == len(chain)
        assert successions.successor(last, on) == last
        # each step of the chain has taken effect by `on`
        for old, new in itertools.pairwise(chain):
            step = successions.by_old[old]
            assert step.new == new and (on is None or step.from_date <= on)
    # adding up by successor keeps the whole: every agency lands in exactly one group
    groups: dict[str, set[str]] = {}
    for code, last in successions.carried_by(codes, on).items():
        groups.setdefault(last, set()).add(code)
    assert sorted(c for group in groups.values() for c in group) == sorted(codes)


# -- the sample catalog ------------------------------------------------------------------------------


def test_sample_catalog_has_a_merged_commune_and_an_abolished_district(catalog: Catalog) -> None:
    successions = catalog.successions
    merged = {old for old, s in successions.by_old.items() if s.new == "000.00.59.H49"}
    assert len(merged) >= 2
    names = {catalog.agencies[code].name for code in merged}
    assert "Ủy ban nhân dân xã Quảng La" in names
    for code in merged:
        assert catalog.agencies[code].valid_to == date(2025, 6, 30)
    assert catalog.agencies["000.00.59.H49"].valid_from == date(2025, 7, 1)
    # the districts abolished in 2025 have no successor: they stay themselves
    for district in (a for a in catalog.agencies.values() if a.level is AgencyLevel.DISTRICT):
        assert district.valid_to is not None
        if district.valid_to == date(2025, 6, 30):
            assert successions.successor(district.code) == district.code
    # a district merged into another earlier
    assert successions.successor("000.00.40.H49") == "000.00.31.H49"


# -- agency_successions.csv --------------------------------------------------------------------------


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    for name in ("agencies.csv", "procedures.csv", "calendar.csv"):
        shutil.copy(default_catalog_dir() / name, tmp_path / name)
    return tmp_path


HEADER = "old_code,new_code,from_date\n"


def successions_file(directory: Path, rows: str, header: str = HEADER) -> None:
    (directory / "agency_successions.csv").write_text(header + rows, encoding="utf-8")


def test_a_catalog_without_the_file_has_no_successions(copy: Path) -> None:
    assert not load_catalog(copy).successions


def test_the_sample_file_loads(copy: Path) -> None:
    shutil.copy(default_catalog_dir() / "agency_successions.csv", copy / "agency_successions.csv")
    assert load_catalog(copy).successions == load_catalog(default_catalog_dir()).successions


@pytest.mark.parametrize(
    ("rows", "where", "message"),
    [
        ("000.99.99.H49,000.00.51.H49,2025-07-01\n", "2:old_code", "unknown agency '000.99.99.H49'"),
        ("000.01.31.H49,000.99.99.H49,2025-07-01\n", "2:new_code", "unknown agency '000.99.99.H49'"),
        (",000.00.51.H49,2025-07-01\n", "2:old_code", "value is required"),
        ("000.01.31.H49,000.01.31.H49,2025-07-01\n", "2:new_code", "cannot succeed itself"),
        ("000.01.31.H49,000.00.51.H49,\n", "2:from_date", "value is required"),
        ("000.01.31.H49,000.00.51.H49,1/7/2025\n", "2:from_date", "'1/7/2025' is not a date"),
        ("000.00.10.H49,000.00.51.H49,2025-07-01\n", "2:old_code", "has no valid_to"),
        ("000.01.31.H49,000.00.51.H49,2025-06-30\n", "2:from_date", "is not after valid_to 2025-06-30"),
        ("000.00.19.H49,000.00.51.H49,2025-03-01\n", "2:from_date", "'000.00.51.H49' is not valid on"),
        (
            "000.01.31.H49,000.00.51.H49,2025-07-01\n000.01.31.H49,000.00.52.H49,2025-07-01\n",
            "3:old_code",
            "duplicate old_code '000.01.31.H49' (first on line 2)",
        ),
    ],
)
def test_errors_name_file_line_and_column(copy: Path, rows: str, where: str, message: str) -> None:
    successions_file(copy, rows)
    with pytest.raises(CatalogError) as caught:
        load_catalog(copy)
    assert str(caught.value).startswith(f"agency_successions.csv:{where}: ")
    assert message in caught.value.message


def test_an_agency_without_dates_may_be_a_successor(copy: Path) -> None:
    successions_file(copy, "000.01.31.H49,000.00.10.H49,2025-07-01\n")
    assert load_catalog(copy).successions.successor("000.01.31.H49") == "000.00.10.H49"


def test_a_missing_column_is_named(copy: Path) -> None:
    successions_file(copy, "000.01.31.H49,000.00.51.H49\n", header="old_code,new_code\n")
    with pytest.raises(CatalogError, match=r"^agency_successions\.csv:1:from_date: missing required column$"):
        load_catalog(copy)
