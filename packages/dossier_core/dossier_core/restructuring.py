"""Agencies across re-organisations (the 2025 restructuring above all, Decree 118/2025/NĐ-CP): on
which days an agency's events are taken, and which agency carries an old one's figures today.

- **Validity with a grace period.** An agency exists from its `valid_from` to its `valid_to` (both
  included). Its events are taken from `valid_from` to `grace_days` days after `valid_to`: a dossier
  keeps the agency that received it, so the dossiers an agency had open when it was abolished still
  get their later events (processing, resolution, return) under its code for a while. Before
  `valid_from` there is no grace: the agency did not exist.
- **Successions** (`agency_successions.csv`): from a day on, an old agency's work is carried by a new
  one. Several old agencies may share one successor (a merger); a successor may itself be succeeded
  later (a chain A → B → C, followed to its end); an old agency has one successor (a split cannot be
  expressed: its dossiers cannot be divided). An abolished agency without a successor stays itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dossier_core.catalog import Agency

__all__ = [
    "DEFAULT_GRACE_DAYS",
    "Succession",
    "SuccessionCycle",
    "Successions",
    "last_event_day",
    "validity_refusal",
]

#: Days after an agency's `valid_to` during which its events are still taken: one reporting quarter,
#: so every dossier it received up to its last day can be processed, resolved and returned.
DEFAULT_GRACE_DAYS = 90


def last_event_day(agency: Agency, grace_days: int) -> date | None:
    """The last day whose events of `agency` are taken (None: no end)."""
    return None if agency.valid_to is None else agency.valid_to + timedelta(days=grace_days)


def validity_refusal(agency: Agency, day: date, grace_days: int) -> str | None:
    """Why an event of `agency` dated `day` (its Vietnam date) is refused, or None when it is taken."""
    if agency.valid_from is not None and day < agency.valid_from:
        return f"agency {agency.code!r} was not valid on {day}: it is valid from {agency.valid_from}"
    last = last_event_day(agency, grace_days)
    if last is not None and day > last:
        return (
            f"agency {agency.code!r} was not valid on {day}: it was valid until {agency.valid_to}, "
            f"and its events are taken up to {grace_days} days after that ({last})"
        )
    return None


@dataclass(frozen=True)
class Succession:
    """From `from_date` on, agency `new` carries the work of agency `old`."""

    old: str
    new: str
    from_date: date


class SuccessionCycle(ValueError):
    """Successions that lead back to an agency already on the way."""


@dataclass(frozen=True)
class Successions:
    """Each old agency's succession, by its code. Chains are followed; a cycle is refused."""

    by_old: Mapping[str, Succession] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        for code in self.by_old:
            self.chain(code)

    @classmethod
    def of(cls, successions: Iterable[Succession]) -> Successions:
        return cls(MappingProxyType({s.old: s for s in successions}))

    def __bool__(self) -> bool:
        return bool(self.by_old)

    def chain(self, code: str, on: date | None = None) -> tuple[str, ...]:
        """`code` and the agencies that succeeded it one after another, up to `on` (None: all)."""
        out = [code]
        step = self.by_old.get(code)
        while step is not None and (on is None or step.from_date <= on):
            if step.new in out:
                raise SuccessionCycle(f"the successions of {code!r} lead back to {step.new!r}")
            out.append(step.new)
            step = self.by_old.get(step.new)
        return tuple(out)

    def successor(self, code: str, on: date | None = None) -> str:
        """The agency that carries `code`'s figures on `on` (None: after every succession): the end of
        its chain, `code` itself when none of its successions has taken effect."""
        return self.chain(code, on)[-1]

    def carried_by(self, codes: Iterable[str], on: date | None = None) -> dict[str, str]:
        """Each code with the agency that carries it on `on`."""
        return {code: self.successor(code, on) for code in codes}
