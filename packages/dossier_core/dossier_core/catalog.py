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
    """A procedure of the catalog. `duration` (and `online_duration` for online dossiers, when it
    differs) is the legal duration in `unit`; `applied_duration` / `applied_online_duration` the
    shorter one the province has published and applies (None: the legal one). The catalogue facts
    (`level`, `agency`, `portal_integrated`) feed the catalogue report only."""

    code: str
    name: str
    field: str
    duration: int | None
    unit: DeadlineUnit
    online_level: OnlineLevel
    supplement_policy: SupplementPolicy
    online_duration: int | None = None
    applied_duration: int | None = None
    applied_online_duration: int | None = None
    #: the level whose list of the province's catalogue holds the procedure (None: not stated)
    level: AgencyLevel | None = None
    #: the agency (department) in charge of the procedure, whose time cuts it counts in
    agency: str | None = None
    #: whether the procedure is integrated with the national public service portal (None: not stated)
    portal_integrated: bool | None = None
    #: the national portal's code of the procedure's `field` (MaLinhVuc; None: not stated)
    field_code: str | None = None

    def legal_duration_for(self, online: bool) -> int | None:
        """The legal duration of a channel: online dossiers have `online_duration` when set."""
        if online and self.online_duration is not None:
            return self.online_duration
        return self.duration

    def applied_duration_for(self, online: bool) -> int | None:
        """The duration the province applies to a channel: its published shorter duration when there
        is one, else the legal one. Online dossiers take `applied_online_duration`, else the direct
        `applied_duration` when the law gives online dossiers no duration of their own."""
        if online and self.applied_online_duration is not None:
            return self.applied_online_duration
        if online and self.online_duration is not None:
            return self.online_duration
        if self.applied_duration is not None:
            return self.applied_duration
        return self.duration


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
