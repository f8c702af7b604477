"""Loading the catalog, and errors that name file, line and column."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from dossier_core import catalog as catalog_module
from dossier_core.catalog import AgencyLevel, Catalog, DeadlineUnit, SupplementPolicy
from dossier_core.catalog_csv import CatalogError, default_catalog_dir, load_catalog


def test_sample_catalog_covers_every_unit_and_policy(catalog: Catalog) -> None:
    procedures = catalog.procedures.values()
    assert len(catalog.procedures) >= 30
    assert {p.unit for p in procedures} == set(DeadlineUnit)
    assert {p.supplement_policy for p in procedures} == set(SupplementPolicy)
    assert any(p.online_duration is not None for p in procedures)


def test_sample_catalog_is_quang_ninh(catalog: Catalog) -> None:
    province = catalog.agencies["000.00.00.H49"]
    assert province.level is AgencyLevel.PROVINCE and province.parent_code is None
    assert all(code.endswith(".H49") for code in catalog.agencies)
    districts = [a for a in catalog.agencies.values() if a.level is AgencyLevel.DISTRICT]
    # every district was abolished by 2025-06-30 (two-tier local government from 1 July 2025)
    assert districts and all(a.valid_to is not None and a.valid_to <= date(2025, 6, 30) for a in districts)
    assert not any(a.is_valid_on(date(2025, 7, 1)) for a in districts)
    assert date(2025, 4, 26) in catalog.working_days


def test_calendar_is_built_once(catalog: Catalog) -> None:
    assert catalog.calendar() is catalog.calendar()


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    for name in ("agencies.csv", "procedures.csv", "calendar.csv"):
        shutil.copy(default_catalog_dir() / name, tmp_path / name)
    return tmp_path


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


AGENCY_HEADER = "code,name,level,parent_code\n"


def test_bad_level(copy: Path) -> None:
    write(copy / "agencies.csv", AGENCY_HEADER + "000.00.00.H49,UBND,province,\n000.00.18.H49,Sở,region,\n")
    with pytest.raises(CatalogError) as caught:
        load_catalog(copy)
    error = caught.value
    assert (error.file, error.line, error.column) == ("agencies.csv", 3, "level")
    assert str(error) == "agencies.csv:3:level: 'region' is not one of province|district|commune|ministry"


def test_missing_column(copy: Path) -> None:
    write(copy / "agencies.csv", "code,name,parent_code\n000.00.00.H49,UBND,\n")
    with pytest.raises(CatalogError, match=r"^agencies\.csv:1:level: missing required column$"):
        load_catalog(copy)


def test_unknown_parent(copy: Path) -> None:
    write(copy / "agencies.csv", AGENCY_HEADER + "000.00.18.H49,Sở,province,000.00.00.H49\n")
    expected = r"^agencies\.csv:2:parent_code: unknown agency '000\.00\.00\.H49'"
    with pytest.raises(CatalogError, match=expected):
        load_catalog(copy)


def test_parent_cycle(copy: Path) -> None:
    rows = "000.00.01.H49,A,province,000.00.02.H49\n000.00.02.H49,B,province,000.00.01.H49\n"
    write(copy / "agencies.csv", AGENCY_HEADER + rows)
    with pytest.raises(CatalogError, match=r"agencies\.csv:2:parent_code: .*own ancestor"):
        load_catalog(copy)


def test_duplicate_agency_code(copy: Path) -> None:
    rows = "000.00.00.H49,A,province,\n000.00.00.H49,B,province,\n"
    write(copy / "agencies.csv", AGENCY_HEADER + rows)
    expected = r"^agencies\.csv:3:code: duplicate code '000\.00\.00\.H49' \(first on line 2\)"
    with pytest.raises(CatalogError, match=expected):
        load_catalog(copy)


def test_bad_validity_dates(copy: Path) -> None:
    header = "code,name,level,parent_code,valid_from,valid_to\n"
    write(copy / "agencies.csv", header + "000.00.00.H49,A,province,,2025-13-01,\n")
    with pytest.raises(CatalogError, match=r"^agencies\.csv:2:valid_from: '2025-13-01' is not a date"):
        load_catalog(copy)
    write(copy / "agencies.csv", header + "000.00.00.H49,A,province,,2025-07-01,2025-06-30\n")
    with pytest.raises(CatalogError, match=r"^agencies\.csv:2:valid_to: "):
        load_catalog(copy)


PROCEDURE_HEADER = "code,name,field,duration,unit,online_level,supplement_policy,online_duration,extra\n"


def test_extra_columns_are_ignored(copy: Path) -> None:
    write(copy / "procedures.csv", PROCEDURE_HEADER + "1.001193,Khai sinh,Hộ tịch,,same_day,full,extend,,x\n")
    assert load_catalog(copy).procedures["1.001193"].unit is DeadlineUnit.SAME_DAY


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("1.0,X,F,3,weeks,full,extend,,", r"procedures\.csv:2:unit: 'weeks' is not one of working_days\|"),
        ("1.0,X,F,3,working_days,level4,extend,,", r"procedures\.csv:2:online_level: 'level4'"),
        ("1.0,X,F,3,working_days,full,reset,,", r"procedures\.csv:2:supplement_policy: 'reset' is not one"),
        ("1.0,X,F,three,working_days,full,extend,,", r"procedures\.csv:2:duration: 'three' is not a whole"),
        ("1.0,X,F,-1,working_days,full,extend,,", r"procedures\.csv:2:duration: '-1'"),
        ("1.0,X,F,,working_days,full,extend,,", r"procedures\.csv:2:duration: value is required"),
        ("1.0,X,F,3,working_days,full,extend,2.5,", r"procedures\.csv:2:online_duration: '2\.5'"),
        ("1.0,X,F,3651,calendar_days,full,extend,,", r"procedures\.csv:2:duration: 3651 is over the longest"),
        ("1.0,X,F,3,working_days,full,extend,99999,", r"procedures\.csv:2:online_duration: 99999 is over"),
        (",X,F,3,working_days,full,extend,,", r"procedures\.csv:2:code: value is required"),
    ],
)
def test_bad_procedure_values(copy: Path, row: str, expected: str) -> None:
    write(copy / "procedures.csv", PROCEDURE_HEADER + row + "\n")
    with pytest.raises(CatalogError, match="^" + expected):
        load_catalog(copy)


def test_bad_calendar_rows(copy: Path) -> None:
    write(copy / "calendar.csv", "date,kind,note\n2025-04-26,working_day,\n2025-04-26,day_off,\n")
    with pytest.raises(CatalogError, match=r"^calendar\.csv:3:date: duplicate date"):
        load_catalog(copy)
    write(copy / "calendar.csv", "date,kind,note\n2025-04-26,holiday,\n")
    expected = r"^calendar\.csv:2:kind: 'holiday' is not one of day_off\|working_day"
    with pytest.raises(CatalogError, match=expected):
        load_catalog(copy)


def test_missing_file(copy: Path) -> None:
    (copy / "calendar.csv").unlink()
    with pytest.raises(CatalogError, match=r"^calendar\.csv: cannot open"):
        load_catalog(copy)


def test_bad_encoding(copy: Path) -> None:
    (copy / "calendar.csv").write_bytes(b"date,kind,note\n2025-04-26,working_day,\xff\xfe\n")
    with pytest.raises(CatalogError, match=r"^calendar\.csv"):
        load_catalog(copy)


def test_the_loader_is_still_importable_from_the_catalog_module() -> None:
    assert catalog_module.load_catalog is load_catalog
    assert catalog_module.default_catalog_dir is default_catalog_dir
    assert catalog_module.CatalogError is CatalogError
    with pytest.raises(AttributeError):
        _ = catalog_module.no_such_name  # type: ignore[attr-defined]
