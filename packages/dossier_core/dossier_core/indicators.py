"""The indicators of Decision 766/QĐ-TTg (2022) that the dossiers' data supports, per agency and
period: the counts each dossier contributes and the ratios made of them (formulas and sources in
docs/domain.md, "Decision 766/QĐ-TTg indicators").

A dossier contributes, for a period [start, end):
- `received` when it was received within the period (the Biểu 06 "new" receipts), and among those
  `received_online` (channel online), `digitised` (the receipt's flag), `paid` (a fee payment that
  named its channel) and `paid_online` (a fee paid online);
- `resolved` when it was resolved within the period, and `resolved_in_time` when that was early or
  on time against its deadline (Biểu 06's early + on time).

The sync rate with the national portal is not here: it is the push worker's state in processing
(`processing_portal_dossiers`), not a fact of the dossiers' snapshots.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields
from typing import Any

from dossier_core.codes import Channel
from dossier_core.periods import Period
from dossier_core.report_facts import ReportFacts

__all__ = ["INDICATOR_COUNTS", "RATES", "IndicatorCounts", "indicator_contribution", "rate"]

#: Each ratio: (numerator, denominator) among the counts.
RATES: dict[str, tuple[str, str]] = {
    "on_time_rate": ("resolved_in_time", "resolved"),
    "online_rate": ("received_online", "received"),
    "online_payment_rate": ("paid_online", "paid"),
    "digitisation_rate": ("digitised", "received"),
}


def rate(part: int, whole: int) -> float | None:
    """`part ÷ whole` in percent with 2 decimals; None when `whole` is 0 (nothing to rate)."""
    return round(100 * part / whole, 2) if whole else None


@dataclass(slots=True)
class IndicatorCounts:
    received: int = 0
    received_online: int = 0
    digitised: int = 0
    paid: int = 0
    paid_online: int = 0
    resolved: int = 0
    resolved_in_time: int = 0

    def __add__(self, other: IndicatorCounts) -> IndicatorCounts:
        return IndicatorCounts(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))

    def rates(self) -> dict[str, float | None]:
        return {
            name: rate(getattr(self, part), getattr(self, whole)) for name, (part, whole) in RATES.items()
        }

    def to_dict(self) -> dict[str, Any]:
        """The counts, then the rates."""
        return {**{f.name: getattr(self, f.name) for f in fields(self)}, **self.rates()}


#: The count names, in order (as the report's SQL returns them).
INDICATOR_COUNTS = tuple(f.name for f in fields(IndicatorCounts))


def indicator_contribution(facts: ReportFacts, period: Period) -> IndicatorCounts:
    """What a dossier with these report facts adds to the period's indicators."""
    counts = IndicatorCounts()
    received_at = facts.received_at
    if received_at is None:
        return counts
    start, end = period.start_instant, period.end_instant
    if start <= received_at < end:
        counts.received = 1
        counts.received_online = int(facts.channel is Channel.ONLINE)
        counts.digitised = int(facts.digitised)
        counts.paid = int(facts.payment_channel is not None)
        counts.paid_online = int(facts.payment_channel == "online")
    ended_at = facts.ended_at
    outcome = facts.outcome or "on_time"
    if ended_at is not None and start <= ended_at < end and outcome in ("early", "on_time", "late"):
        counts.resolved = 1
        counts.resolved_in_time = int(outcome != "late")
    return counts
