"""The dossiers open now, judged as `/v1/stats/live` judges them: in time or overdue against the
deadline as it stands now, paused, and due soon (in time, not paused, due within one working day).

Most open dossiers are judged by PostgreSQL from their report facts: with no pause begun by now the
deadline is the legal one, with every pause over by now it is the settled one (`report_facts`). A
dossier within its pauses now is judged by the domain from its stored snapshot
(`Dossier.pending_state`, `is_paused_at`, `effective_due`), as the live index does.

Reads use the partial index of the open dossiers (migration 0003).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dossier_contracts.snapshot_codec import decode_snapshot, snapshot_to_dossier
from dossier_core.calendar import WorkingCalendar
from dossier_core.dossier import Dossier
from dossier_core.timeliness import PendingState
from dossier_metrics.index import due_soon_horizon

# $1 now, $2 agencies (NULL: all). Open now as the live index counts it: received by now and not
# ended (a dossier whose recorded end lies ahead of the clock counts as ended, as in `/metrics`).
_OPEN = """SELECT agency_code, dossier_code, procedure_code, received_at, legal_due_at, settled_due_at,
        pauses_from, pauses_until
    FROM report_fact
    WHERE received_at IS NOT NULL AND ended_at IS NULL AND received_at <= $1
      AND ($2::text[] IS NULL OR agency_code = ANY($2::text[]))"""
#: Judged from the facts: no pause begun by now, or every pause over by now.
_JUDGED = "(pauses_from IS NULL OR pauses_from > $1 OR coalesce(pauses_until <= $1, false))"
_DUE = "CASE WHEN pauses_from IS NULL OR pauses_from > $1 THEN legal_due_at ELSE settled_due_at END"

# $3 the due-soon horizon.
COUNTS = f"""WITH open AS ({_OPEN}), judged AS (SELECT agency_code, {_DUE} AS due FROM open WHERE {_JUDGED})
SELECT agency_code,
    count(*) FILTER (WHERE due IS NULL OR due >= $1) AS in_time,
    count(*) FILTER (WHERE due < $1) AS overdue,
    count(*) FILTER (WHERE due >= $1 AND due <= $3) AS due_soon
FROM judged GROUP BY 1"""
WITHIN_PAUSES = f"""WITH open AS ({_OPEN})
SELECT o.agency_code, o.dossier_code, o.procedure_code, o.received_at, o.legal_due_at, s.payload
FROM open AS o JOIN dossier_snapshot AS s USING (dossier_code) WHERE NOT {_JUDGED}"""
# $3 the due-soon horizon, $4 whether to list the overdue, $5 whether to list the due soon.
LISTED = f"""WITH open AS ({_OPEN}), judged AS (
    SELECT agency_code, dossier_code, procedure_code, received_at, legal_due_at, {_DUE} AS due
    FROM open WHERE {_JUDGED})
SELECT agency_code, dossier_code, procedure_code, received_at, legal_due_at, due FROM judged
WHERE ($4 AND due < $1) OR ($5 AND due >= $1 AND due <= $3)"""


@dataclass
class StateCounts:
    in_time: int = 0
    overdue: int = 0
    paused: int = 0
    due_soon: int = 0


@dataclass
class OpenDossiers:
    counts: dict[str, StateCounts] = field(default_factory=dict)

    def of(self, agency: str) -> StateCounts:
        found = self.counts.get(agency)
        if found is None:
            found = self.counts[agency] = StateCounts()
        return found


@dataclass(frozen=True)
class Judgement:
    """A dossier within its pauses, as the domain judges it now."""

    dossier: Dossier
    state: PendingState | None
    paused: bool
    due: datetime | None


def judge(payload: bytes, now: datetime, calendar: WorkingCalendar) -> Judgement:
    dossier = snapshot_to_dossier(decode_snapshot(payload))
    return Judgement(
        dossier,
        dossier.pending_state(now, calendar),
        dossier.is_paused_at(now),
        dossier.effective_due(now, calendar),
    )


def is_due_soon(judgement: Judgement, horizon: float) -> bool:
    due = judgement.due
    in_time = judgement.state is PendingState.IN_TIME and not judgement.paused
    return in_time and due is not None and due.timestamp() <= horizon


async def read_open(
    driver: Any, calendar: WorkingCalendar, agencies: Sequence[str] | None, now: datetime
) -> OpenDossiers:
    """The open dossiers' counts per agency now (`driver`: an asyncpg connection in a transaction)."""
    horizon = due_soon_horizon(now, calendar)
    out = OpenDossiers()
    for agency, in_time, overdue, due_soon in await driver.fetch(
        COUNTS, now, agencies, datetime.fromtimestamp(horizon, now.tzinfo)
    ):
        counts = out.of(agency)
        counts.in_time += in_time
        counts.overdue += overdue
        counts.due_soon += due_soon
    for record in await driver.fetch(WITHIN_PAUSES, now, agencies):
        judgement = judge(record["payload"], now, calendar)
        if judgement.state is None:
            continue
        counts = out.of(record["agency_code"])
        if judgement.state is PendingState.OVERDUE:
            counts.overdue += 1
        else:
            counts.in_time += 1
        if judgement.paused:
            counts.paused += 1
        elif is_due_soon(judgement, horizon):
            counts.due_soon += 1
    return out
