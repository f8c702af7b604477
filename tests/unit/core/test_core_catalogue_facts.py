"""Catalogue facts: the optional columns of `procedures.csv`, the applied (shortened) durations the
deadlines use, and the catalogue section of the quarterly report."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dossier_core.calendar import VN_TZ, WorkingCalendar
from dossier_core.catalog import AgencyLevel, Catalog, DeadlineUnit, OnlineLevel, Procedure, SupplementPolicy
from dossier_core.catalog_csv import CatalogError, default_catalog_dir, load_catalog
from dossier_core.catalogue_facts import catalogue_summary, time_cut_percent
from dossier_core.codes import Channel, EventType
from dossier_core.deadlines import legal_deadline, rule_for
from dossier_core.event_data import DossierReceived
from dossier_core.events import DossierEvent
from dossier_core.lifecycle import fold

HEADER = (
    "code,name,field,duration,unit,online_level,supplement_policy,online_duration,"
    "applied_duration,applied_online_duration,level,agency,portal_integrated\n"
)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "catalog"
    shutil.copytree(default_catalog_dir(), target)
    return target


def test_the_new_columns_are_read(copy: Path) -> None:
    (copy / "procedures.csv").write_text(
        HEADER
        + "1.0,X,F,20,working_days,partial,restart,10,12,6,district,000.00.12.H49,true\n"
        + "2.0,Y,F,,same_day,full,extend,,,,,,\n",
        encoding="utf-8",
    )
    procedures = load_catalog(copy).procedures
    shortened, plain = procedures["1.0"], procedures["2.0"]
    assert (shortened.applied_duration, shortened.applied_online_duration) == (12, 6)
    assert (shortened.level, shortened.agency, shortened.portal_integrated) == (
        AgencyLevel.DISTRICT,
        "000.00.12.H49",
        True,
    )
    assert (plain.applied_duration, plain.level, plain.agency, plain.portal_integrated) == (None,) * 4


def test_the_columns_are_optional(copy: Path) -> None:
    (copy / "procedures.csv").write_text(
        "code,name,field,duration,unit,online_level,supplement_policy\n1.0,X,F,3,working_days,full,extend\n",
        encoding="utf-8",
    )
    procedure = load_catalog(copy).procedures["1.0"]
    assert rule_for(procedure, Channel.ONLINE).duration == rule_for(procedure, Channel.DIRECT).duration == 3


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            "1.0,X,F,3,working_days,full,extend,,4,,,,",
            r"applied_duration: 4 is longer than the legal duration 3",
        ),
        (
            "1.0,X,F,9,working_days,full,extend,5,,6,,,",
            r"applied_online_duration: 6 is longer than the legal",
        ),
        ("1.0,X,F,,same_day,full,extend,,1,,,,", r"applied_duration: unit same_day has no duration"),
        ("1.0,X,F,3,working_days,full,extend,,two,,,,", r"applied_duration: 'two' is not a whole number"),
        ("1.0,X,F,3,working_days,full,extend,,,,ward,,", r"level: 'ward' is not one of province\|"),
        ("1.0,X,F,3,working_days,full,extend,,,,,000.99.99.H49,", r"agency: unknown agency '000.99.99.H49'"),
        (
            "1.0,X,F,3,working_days,full,extend,,,,,,yes",
            r"portal_integrated: 'yes' is not one of true\|false",
        ),
    ],
)
def test_bad_catalogue_facts_name_file_line_and_column(copy: Path, row: str, expected: str) -> None:
    (copy / "procedures.csv").write_text(HEADER + row + "\n", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"^procedures\.csv:2:" + expected):
        load_catalog(copy)


def test_the_sample_catalog_states_every_fact(catalog: Catalog) -> None:
    for procedure in catalog.procedures.values():
        assert procedure.level is not None and procedure.portal_integrated is not None
        assert procedure.agency in catalog.agencies
    assert any(p.applied_duration is not None for p in catalog.procedures.values())
    assert any(p.applied_online_duration is not None for p in catalog.procedures.values())
    assert {p.level for p in catalog.procedures.values()} >= {
        AgencyLevel.PROVINCE,
        AgencyLevel.DISTRICT,
        AgencyLevel.COMMUNE,
    }


def test_a_receipt_is_due_after_the_applied_duration(catalog: Catalog, cal: WorkingCalendar) -> None:
    procedure = next(
        p
        for p in catalog.procedures.values()
        if p.unit is DeadlineUnit.WORKING_DAYS
        and p.applied_duration is not None
        and p.online_duration is None
    )
    assert procedure.duration is not None and procedure.applied_duration < procedure.duration
    at = datetime(2021, 4, 5, 9, 0, tzinfo=VN_TZ)
    data = DossierReceived(procedure_code=procedure.code, channel=Channel.DIRECT)
    dossier = fold([DossierEvent("e1", EventType.RECEIVED, "d", "000.00.12.H49", at, data, seq=0)], catalog)
    assert dossier.legal_due_at == cal.add_working_minutes(
        at, procedure.applied_duration * cal.minutes_per_day
    )
    assert dossier.legal_due_at == legal_deadline(rule_for(procedure, Channel.DIRECT), at, cal)


durations = st.integers(1, 3650)


@st.composite
def procedures(draw: st.DrawFn) -> Procedure:
    legal = draw(durations)
    online = draw(st.none() | durations)
    applied = draw(st.none() | st.integers(1, legal))
    applied_online = draw(st.none() | st.integers(1, online if online is not None else legal))
    return Procedure(
        code=f"1.{draw(st.integers(0, 999999)):06d}",
        name="X",
        field=draw(st.sampled_from(["Hộ tịch", "Đất đai"])),
        duration=legal,
        unit=draw(st.sampled_from([DeadlineUnit.WORKING_DAYS, DeadlineUnit.CALENDAR_DAYS])),
        online_level=draw(st.sampled_from(list(OnlineLevel))),
        supplement_policy=SupplementPolicy.EXTEND,
        online_duration=online,
        applied_duration=applied,
        applied_online_duration=applied_online,
        level=draw(st.none() | st.sampled_from(list(AgencyLevel))),
        agency=draw(st.none() | st.sampled_from(["000.00.12.H49", "000.00.16.H49"])),
        portal_integrated=draw(st.none() | st.booleans()),
    )


@given(procedures())
def test_the_applied_duration_is_never_longer_than_the_law(procedure: Procedure) -> None:
    for online in (False, True):
        applied, legal = procedure.applied_duration_for(online), procedure.legal_duration_for(online)
        assert applied is not None and legal is not None and 1 <= applied <= legal
    channel_duration = rule_for(procedure, Channel.ONLINE).duration
    assert channel_duration == procedure.applied_duration_for(True)
    cut = time_cut_percent(procedure)
    assert cut is not None and 0 <= cut < 100
    assert (cut > 0) == (
        procedure.applied_duration is not None and procedure.applied_duration < legal_of(procedure)
    )


def legal_of(procedure: Procedure) -> int:
    assert procedure.duration is not None
    return procedure.duration


@given(st.lists(procedures(), max_size=30, unique_by=lambda p: p.code))
def test_the_catalogue_section_adds_up(listed: list[Procedure]) -> None:
    catalog = Catalog(agencies={}, procedures={p.code: p for p in listed})
    summary = catalogue_summary(catalog)
    assert summary["procedures"] == len(listed) == sum(summary["by_level"].values())
    assert sum(summary["by_online_level"].values()) == len(listed)
    assert summary["online_services"] == sum(1 for p in listed if p.online_level is not OnlineLevel.NONE)
    assert summary["portal_integrated"]["count"] == sum(1 for p in listed if p.portal_integrated)
    assert [row["procedure"] for row in summary["rows"]] == sorted(p.code for p in listed)
    for cuts in summary["time_cuts"]:
        own = [p for p in listed if p.agency == cuts["agency"]]
        percents = [time_cut_percent(p) or 0.0 for p in own]
        assert cuts["procedures"] == cuts["with_duration"] == len(own)
        assert cuts["shortened"] == sum(1 for c in percents if c > 0)
        assert cuts["average_cut_percent"] == round(sum(percents) / len(own), 2)
    total = summary["time_cuts_total"]
    assert total["procedures"] == sum(c["procedures"] for c in summary["time_cuts"])
    assert total["shortened"] == sum(c["shortened"] for c in summary["time_cuts"])


def test_the_sample_catalogue_section(catalog: Catalog) -> None:
    summary = catalogue_summary(catalog)
    assert summary["procedures"] == len(catalog.procedures)
    by_agency = {c["agency"]: c for c in summary["time_cuts"]}
    for code, cuts in by_agency.items():
        own = [p for p in catalog.procedures.values() if p.agency == code]
        timed = [p for p in own if p.duration]
        assert (cuts["procedures"], cuts["with_duration"]) == (len(own), len(timed))
        shortened = [p for p in timed if p.applied_duration is not None and p.applied_duration < p.duration]
        assert cuts["shortened"] == len(shortened)
        if timed:
            mean = sum(100 * (p.duration - (p.applied_duration or p.duration)) / p.duration for p in timed)
            assert cuts["average_cut_percent"] == round(mean / len(timed), 2)
    subset = catalogue_summary(catalog, lambda p: p.agency == "000.00.12.H49")
    assert subset["time_cuts"] == [by_agency["000.00.12.H49"]]
