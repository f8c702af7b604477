"""Reference data: agencies, procedures and the government's swap days (SPEC §2), as the pure core
takes them: a ready `Catalog`.

Reading a catalog from its CSV files is the adapter `dossier_core.catalog_csv`; its `load_catalog`,
`default_catalog_dir` and `CatalogError` are still importable from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from dossier_core.restructuring import Successions

if TYPE_CHECKING:
    from dossier_core.calendar import WorkingCalendar
    from dossier_core.catalog_csv import CatalogError, default_catalog_dir, load_catalog

__all__ = [
    "MAX_DURATION",
    "UNITS_WITH_DURATION",
    "Agency",
    "AgencyLevel",
    "Catalog",
    "CatalogError",
    "DeadlineUnit",
    "OnlineLevel",
    "Procedure",
    "SupplementPolicy",
    "default_catalog_dir",
    "load_catalog",
]


class AgencyLevel(StrEnum):
    PROVINCE = "province"
    DISTRICT = "district"
    COMMUNE = "commune"
    MINISTRY = "ministry"


class DeadlineUnit(StrEnum):
    WORKING_DAYS = "working_days"
    WORKING_HOURS = "working_hours"
    CALENDAR_DAYS = "calendar_days"
    SAME_DAY = "same_day"
    NONE = "none"


class OnlineLevel(StrEnum):
    FULL = "full"
    PARTIAL = "partial"
    NONE = "none"


class SupplementPolicy(StrEnum):
    """What a supplement request does to the legal clock when the dossier comes back (the pause
    rule: `dossier_core.pauses`)."""

    EXTEND = "extend"
    RESTART = "restart"


@dataclass(frozen=True)
class Agency:
    code: str
    name: str
    level: AgencyLevel
    parent_code: str | None
    valid_from: date | None = None
    valid_to: date | None = None

    def is_valid_on(self, day: date) -> bool:
        """Whether the agency existed on that day (both bounds inclusive)."""
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )


@dataclass(frozen=True)
class Procedure:
    code: str
    name: str
    field: str
    duration: int | None
    unit: DeadlineUnit
    online_level: OnlineLevel
    supplement_policy: SupplementPolicy
    online_duration: int | None = None


@dataclass(frozen=True)
class Catalog:
    agencies: Mapping[str, Agency]
    procedures: Mapping[str, Procedure]
    days_off: frozenset[date] = frozenset()
    working_days: frozenset[date] = frozenset()
    #: which agency carries an old one's figures after a re-organisation (`agency_successions.csv`)
    successions: Successions = field(default_factory=Successions)
    _calendar: list[WorkingCalendar] = field(default_factory=list, init=False, repr=False, compare=False)

    def calendar(self) -> WorkingCalendar:
        """The working-time calendar with this catalog's swap days (built once)."""
        if not self._calendar:
            from dossier_core.calendar import WorkingCalendar

            self._calendar.append(WorkingCalendar(days_off=self.days_off, working_days=self.working_days))
        return self._calendar[0]


#: The units whose rule needs a `duration`.
UNITS_WITH_DURATION = {DeadlineUnit.WORKING_DAYS, DeadlineUnit.WORKING_HOURS, DeadlineUnit.CALENDAR_DAYS}
#: The longest duration a procedure may have (days or hours): far beyond any legal deadline, and short
#: enough that every deadline of a dossier received by 2099 stays inside the working calendar's years.
MAX_DURATION = 3650


_FROM_CSV = frozenset({"CatalogError", "default_catalog_dir", "load_catalog"})

if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        """The names of the CSV adapter, imported on first use (it imports this module)."""
        if name in _FROM_CSV:
            from dossier_core import catalog_csv

            return getattr(catalog_csv, name)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
