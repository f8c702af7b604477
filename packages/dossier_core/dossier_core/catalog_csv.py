"""The catalog adapter: reads a `Catalog` from a directory of three UTF-8 CSV files with a header
row (`agencies.csv`, `procedures.csv`, `calendar.csv`; SPEC §2). Extra columns are ignored. Any bad
value stops loading with a `CatalogError` naming file, line and column. `procedures.csv` may also
carry the optional catalogue facts `applied_duration`, `applied_online_duration`, `level`, `agency`
and `portal_integrated`, and the national portal's field code `field_code` (the format:
`sample_catalog/README.md`).

An optional fourth file, `agency_successions.csv` (`old_code,new_code,from_date`), says which
agency carries an old one's work after a re-organisation (`dossier_core.restructuring`).

The pure core never reads files: the services load the catalog here at start and hand it over.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

from dossier_core.catalog import (
    MAX_DURATION,
    UNITS_WITH_DURATION,
    Agency,
    AgencyLevel,
    Catalog,
    DeadlineUnit,
    OnlineLevel,
    Procedure,
    SupplementPolicy,
)
from dossier_core.restructuring import Succession, Successions

__all__ = ["CatalogError", "default_catalog_dir", "load_catalog"]

AGENCIES_FILE = "agencies.csv"
PROCEDURES_FILE = "procedures.csv"
CALENDAR_FILE = "calendar.csv"
SUCCESSIONS_FILE = "agency_successions.csv"


class CatalogError(Exception):
    """A catalog file that cannot be used, located by file, line and column."""

    def __init__(self, file: str, line: int, column: str | None, message: str) -> None:
        self.file = file
        self.line = line
        self.column = column
        self.message = message
        where = file if line <= 0 else f"{file}:{line}"
        if column:
            where = f"{where}:{column}"
        super().__init__(f"{where}: {message}")


def default_catalog_dir() -> Path:
    """The sample catalog shipped with the package (Quảng Ninh province)."""
    return Path(__file__).resolve().parent / "sample_catalog"


def load_catalog(directory: Path) -> Catalog:
    """Read and check `agencies.csv`, `procedures.csv` and `calendar.csv` from a directory."""
    directory = Path(directory)
    agencies = _load_agencies(directory)
    procedures = _load_procedures(directory, agencies)
    days_off, working_days = _load_calendar(directory)
    return Catalog(
        agencies=MappingProxyType(agencies),
        procedures=MappingProxyType(procedures),
        days_off=days_off,
        working_days=working_days,
        successions=_load_successions(directory, agencies),
    )


class _Row:
    """One CSV record with the helpers that turn its cells into typed values."""

    def __init__(self, file: str, line: int, cells: Mapping[str, str | None]) -> None:
        self.file = file
        self.line = line
        self.cells = cells

    def error(self, column: str, message: str) -> CatalogError:
        return CatalogError(self.file, self.line, column, message)

    def text(self, column: str) -> str:
        return (self.cells.get(column) or "").strip()

    def required(self, column: str) -> str:
        value = self.text(column)
        if not value:
            raise self.error(column, "value is required")
        return value

    def optional(self, column: str) -> str | None:
        return self.text(column) or None

    def choice(self, column: str, enum: type[_E]) -> _E:
        value = self.text(column)
        try:
            return enum(value)
        except ValueError:
            allowed = "|".join(member.value for member in enum)
            raise self.error(column, f"{value!r} is not one of {allowed}") from None

    def count(self, column: str) -> int | None:
        value = self.text(column)
        if not value:
            return None
        if not value.isdigit():
            raise self.error(column, f"{value!r} is not a whole number of 0 or more")
        return int(value)

    def flag(self, column: str) -> bool | None:
        value = self.text(column)
        if not value:
            return None
        if value not in _FLAGS:
            raise self.error(column, f"{value!r} is not one of {'|'.join(_FLAGS)}")
        return _FLAGS[value]

    def day(self, column: str) -> date | None:
        value = self.text(column)
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise self.error(column, f"{value!r} is not a date (YYYY-MM-DD)") from None


_E = TypeVar("_E", bound=StrEnum)
_FLAGS = {"true": True, "false": False}


def _rows(directory: Path, file: str, required: tuple[str, ...]) -> Iterator[_Row]:
    path = directory / file
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise CatalogError(file, 0, None, f"cannot open {path}: {exc.strerror or exc}") from exc
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = reader.fieldnames or []
            for column in required:
                if column not in header:
                    raise CatalogError(file, 1, column, "missing required column")
            for cells in reader:
                if not any((value or "").strip() for value in cells.values()):
                    continue
                yield _Row(file, reader.line_num, cells)
        except UnicodeDecodeError as exc:
            raise CatalogError(file, reader.line_num + 1, None, f"not UTF-8 text: {exc.reason}") from exc
        except csv.Error as exc:
            raise CatalogError(file, reader.line_num, None, f"malformed CSV: {exc}") from exc


def _unique(rows: Iterator[_Row], key: Callable[[_Row], object], column: str) -> Iterator[_Row]:
    seen: dict[object, int] = {}
    for row in rows:
        value = key(row)
        if value in seen:
            raise row.error(column, f"duplicate {column} {row.text(column)!r} (first on line {seen[value]})")
        seen[value] = row.line
        yield row


def _load_agencies(directory: Path) -> dict[str, Agency]:
    agencies: dict[str, Agency] = {}
    lines: dict[str, _Row] = {}
    rows = _rows(directory, AGENCIES_FILE, ("code", "name", "level", "parent_code"))
    for row in _unique(rows, lambda r: r.text("code"), "code"):
        agency = Agency(
            code=row.required("code"),
            name=row.required("name"),
            level=row.choice("level", AgencyLevel),
            parent_code=row.optional("parent_code"),
            valid_from=row.day("valid_from"),
            valid_to=row.day("valid_to"),
        )
        if agency.valid_from and agency.valid_to and agency.valid_to < agency.valid_from:
            raise row.error("valid_to", f"{agency.valid_to} is before valid_from {agency.valid_from}")
        agencies[agency.code] = agency
        lines[agency.code] = row
    for code, agency in agencies.items():
        if agency.parent_code is None:
            continue
        if agency.parent_code not in agencies:
            raise lines[code].error("parent_code", f"unknown agency {agency.parent_code!r}")
        _check_no_cycle(code, agencies, lines[code])
    return agencies


def _check_no_cycle(code: str, agencies: Mapping[str, Agency], row: _Row) -> None:
    seen = {code}
    parent = agencies[code].parent_code
    while parent is not None:
        if parent in seen:
            raise row.error("parent_code", f"agency {code!r} is its own ancestor")
        seen.add(parent)
        parent = agencies[parent].parent_code


def _load_procedures(directory: Path, agencies: Mapping[str, Agency]) -> dict[str, Procedure]:
    procedures: dict[str, Procedure] = {}
    required = ("code", "name", "field", "duration", "unit", "online_level", "supplement_policy")
    for row in _unique(_rows(directory, PROCEDURES_FILE, required), lambda r: r.text("code"), "code"):
        level = row.optional("level")
        procedure = Procedure(
            code=row.required("code"),
            name=row.required("name"),
            field=row.text("field"),
            duration=row.count("duration"),
            unit=row.choice("unit", DeadlineUnit),
            online_level=row.choice("online_level", OnlineLevel),
            supplement_policy=row.choice("supplement_policy", SupplementPolicy),
            online_duration=row.count("online_duration"),
            applied_duration=row.count("applied_duration"),
            applied_online_duration=row.count("applied_online_duration"),
            level=row.choice("level", AgencyLevel) if level else None,
            agency=row.optional("agency"),
            portal_integrated=row.flag("portal_integrated"),
            field_code=_field_code(row),
        )
        _check_durations(procedure, row)
        if procedure.agency is not None and procedure.agency not in agencies:
            raise row.error("agency", f"unknown agency {procedure.agency!r}")
        procedures[procedure.code] = procedure
    return procedures


def _field_code(row: _Row) -> str | None:
    """The national portal's code of the procedure's field (`MaLinhVuc`): one word, at most 50
    characters; empty = not stated."""
    value = row.text("field_code")
    if not value:
        return None
    if len(value) > 50 or not value.isprintable() or any(c.isspace() for c in value):
        raise row.error("field_code", f"{value!r} is not a code (one word of at most 50 characters)")
    return value


def _check_durations(procedure: Procedure, row: _Row) -> None:
    """Durations within bounds, needed by the unit, and applied ones never longer than the law's."""
    if procedure.unit in UNITS_WITH_DURATION and procedure.duration is None:
        raise row.error("duration", f"value is required for unit {procedure.unit}")
    for column in ("duration", "online_duration", "applied_duration", "applied_online_duration"):
        value = getattr(procedure, column)
        if value is None:
            continue
        if value > MAX_DURATION:
            raise row.error(column, f"{value} is over the longest duration allowed ({MAX_DURATION})")
        if column.startswith("applied") and procedure.unit not in UNITS_WITH_DURATION:
            raise row.error(column, f"unit {procedure.unit} has no duration to shorten")
    for column, online in (("applied_duration", False), ("applied_online_duration", True)):
        applied, legal = getattr(procedure, column), procedure.legal_duration_for(online)
        if applied is not None and legal is not None and applied > legal:
            raise row.error(column, f"{applied} is longer than the legal duration {legal}")


class _DayKind(StrEnum):
    DAY_OFF = "day_off"
    WORKING_DAY = "working_day"


def _load_calendar(directory: Path) -> tuple[frozenset[date], frozenset[date]]:
    days_off: set[date] = set()
    working: set[date] = set()
    for row in _unique(_rows(directory, CALENDAR_FILE, ("date", "kind")), lambda r: r.day("date"), "date"):
        day = row.day("date")
        if day is None:
            raise row.error("date", "value is required")
        kind = row.choice("kind", _DayKind)
        (days_off if kind is _DayKind.DAY_OFF else working).add(day)
    return frozenset(days_off), frozenset(working)


def _load_successions(directory: Path, agencies: Mapping[str, Agency]) -> Successions:
    """`agency_successions.csv` when the directory has one. An old agency must have ended before its
    successor takes over (`valid_to` < `from_date`) and the successor must be valid on that day; with
    these rules no chain of successions can lead back to where it started."""
    if not (directory / SUCCESSIONS_FILE).exists():
        return Successions()
    found: list[Succession] = []
    rows = _rows(directory, SUCCESSIONS_FILE, ("old_code", "new_code", "from_date"))
    for row in _unique(rows, lambda r: r.text("old_code"), "old_code"):
        old, new = _known(row, "old_code", agencies), _known(row, "new_code", agencies)
        if new.code == old.code:
            raise row.error("new_code", f"agency {old.code!r} cannot succeed itself")
        day = row.day("from_date")
        if day is None:
            raise row.error("from_date", "value is required")
        if old.valid_to is None:
            raise row.error(
                "old_code", f"agency {old.code!r} has no valid_to in {AGENCIES_FILE}: it never ended"
            )
        if day <= old.valid_to:
            raise row.error("from_date", f"{day} is not after valid_to {old.valid_to} of {old.code!r}")
        if not new.is_valid_on(day):
            raise row.error("from_date", f"agency {new.code!r} is not valid on {day}")
        found.append(Succession(old.code, new.code, day))
    return Successions.of(found)


def _known(row: _Row, column: str, agencies: Mapping[str, Agency]) -> Agency:
    code = row.required(column)
    if code not in agencies:
        raise row.error(column, f"unknown agency {code!r}")
    return agencies[code]
