"""The catalogue section of a province's quarterly report, from the catalog alone: procedures by
level, online services by online level, integration with the national portal, and the processing-time
cuts per agency in charge ("128 of 128 procedures, 55.69% shorter").

Rules (docs/domain.md, "Catalogue facts"):
- a procedure counts once, at the level of the list it is published in (`Procedure.level`);
- online services are the procedures whose online level is `partial` (formerly "level 3") or `full`
  (formerly "level 4");
- a procedure's time cut is (legal − applied) ÷ legal of its direct-channel duration, in percent; an
  agency's cut is the mean over its procedures that have a duration (an unshortened one counts 0 %),
  and it has shortened the procedures whose applied duration is below the legal one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from dossier_core.catalog import AgencyLevel, Catalog, OnlineLevel, Procedure

__all__ = ["TimeCuts", "catalogue_summary", "procedure_facts", "time_cut_percent", "time_cuts"]

#: The key of procedures whose level (or integration) the catalog does not state.
UNSTATED = "unstated"


def time_cut_percent(procedure: Procedure) -> float | None:
    """How much shorter than the law the province's direct-channel duration is, in percent; None for a
    procedure without a duration (same day, no deadline)."""
    legal = procedure.duration
    if not legal:
        return None
    applied = procedure.applied_duration if procedure.applied_duration is not None else legal
    return 100 * (legal - applied) / legal


@dataclass(frozen=True)
class TimeCuts:
    """One agency's processing-time cuts."""

    agency: str
    procedures: int  # the agency's procedures
    with_duration: int  # of which have a duration that can be cut
    shortened: int  # of which the province applies a shorter duration
    cut_sum: float  # the sum of their cuts in percent

    @property
    def average_cut_percent(self) -> float | None:
        return round(self.cut_sum / self.with_duration, 2) if self.with_duration else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "agency": self.agency,
            "procedures": self.procedures,
            "with_duration": self.with_duration,
            "shortened": self.shortened,
            "average_cut_percent": self.average_cut_percent,
        }


def time_cuts(procedures: Iterable[Procedure]) -> list[TimeCuts]:
    """The cuts per agency in charge, in agency code order (procedures without an agency left out)."""
    by_agency: dict[str, list[Procedure]] = {}
    for procedure in procedures:
        if procedure.agency is not None:
            by_agency.setdefault(procedure.agency, []).append(procedure)
    return [_cuts(agency, by_agency[agency]) for agency in sorted(by_agency)]


def _cuts(agency: str, procedures: list[Procedure]) -> TimeCuts:
    cuts = [c for c in map(time_cut_percent, procedures) if c is not None]
    return TimeCuts(agency, len(procedures), len(cuts), sum(1 for c in cuts if c > 0), sum(cuts))


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 2) if whole else None


def procedure_facts(procedure: Procedure) -> dict[str, Any]:
    """One procedure's catalogue facts as the report lists them."""
    cut = time_cut_percent(procedure)
    return {
        "procedure": procedure.code,
        "name": procedure.name,
        "field": procedure.field,
        "level": str(procedure.level) if procedure.level else None,
        "agency": procedure.agency,
        "unit": str(procedure.unit),
        "legal_duration": procedure.duration,
        "applied_duration": procedure.applied_duration_for(False),
        "legal_online_duration": procedure.legal_duration_for(True),
        "applied_online_duration": procedure.applied_duration_for(True),
        "time_cut_percent": round(cut, 2) if cut is not None else None,
        "online_level": str(procedure.online_level),
        "portal_integrated": procedure.portal_integrated,
    }


def catalogue_summary(catalog: Catalog, counts: Callable[[Procedure], bool] | None = None) -> dict[str, Any]:
    """The catalogue section over the procedures `counts` keeps (all of them without it)."""
    procedures = sorted(
        (p for p in catalog.procedures.values() if counts is None or counts(p)), key=lambda p: p.code
    )
    levels = Counter(str(p.level) if p.level else UNSTATED for p in procedures)
    online = Counter(str(p.online_level) for p in procedures)
    integrated = sum(1 for p in procedures if p.portal_integrated)
    cuts = time_cuts(procedures)
    overall = _cuts("", [p for p in procedures if p.agency is not None])
    return {
        "procedures": len(procedures),
        "by_level": {name: levels[name] for name in (*(str(lvl) for lvl in AgencyLevel), UNSTATED)},
        "by_online_level": {str(level): online[str(level)] for level in OnlineLevel},
        "online_services": online[OnlineLevel.FULL] + online[OnlineLevel.PARTIAL],
        "portal_integrated": {
            "count": integrated,
            "percent": _percent(integrated, len(procedures)),
            "unstated": sum(1 for p in procedures if p.portal_integrated is None),
        },
        "time_cuts": [c.to_dict() for c in cuts],
        "time_cuts_total": {key: value for key, value in overall.to_dict().items() if key != "agency"},
        "rows": [procedure_facts(p) for p in procedures],
    }
