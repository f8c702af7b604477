"""The dossiers open now, judged as `/v1/stats/live` judges them: in time or overdue against the
deadline as it stands now, paused, and due soon (in time, not paused, due within one working day).

Most open dossiers are judged by PostgreSQL from their report facts: with no pause begun by now the
deadline is the legal one, with every pause over by now it is the settled one (`report_facts`). A
dossier within its pauses now is judged by the domain from its stored snapshot
(`Dossier.pending_state`, `is_paused_at`, `effective_due`), as the live index does.

Decoding a snapshot and running its pauses through the working calendar costs tens of microseconds,
and a province quarter holds thousands of paused dossiers, so each snapshot version is prepared once
per process (`PreparedCache`, keyed by engine, dossier and version): its decoded dossier, and for each
pause whether the dossier stays in time all through it. That holds for an extending pause (SPEC §4)
begun when every earlier pause was over and the deadline as it stood then was not passed: while it
lasts, the deadline is the working time left granted again from "now" (`pauses.effective_due`), so
never before now; the dossier is in time, paused, and not due soon, whatever the instant. Any other
dossier within its pauses (a restarting pause, one begun overdue, an instant between two pauses) is
judged by the domain at every read.

Reads use the partial index of the open dossiers (migration 0003).
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dossier_contracts.snapshot_codec import decode_snapshot, snapshot_to_dossier
from dossier_core.calendar import WorkingCalendar
from dossier_core.dossier import Dossier
from dossier_core.pauses import SupplementPolicy
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
# The open dossiers within their pauses now, with the version of their facts ($1 now, $2 agencies).
WITHIN_PAUSES = f"""SELECT agency_code, dossier_code, version, procedure_code, received_at, legal_due_at
    FROM report_fact
    WHERE received_at IS NOT NULL AND ended_at IS NULL AND received_at <= $1
      AND ($2::text[] IS NULL OR agency_code = ANY($2::text[])) AND NOT {_JUDGED}"""
PAYLOADS = "SELECT dossier_code, version, payload FROM dossier_snapshot WHERE dossier_code = ANY($1::text[])"
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


@dataclass(frozen=True)
class Prepared:
    """A stored snapshot version of a dossier with pauses, decoded once."""

    dossier: Dossier
    #: its pauses in order of start: (start, end or None while it lasts, whether the dossier is in
    #: time all through it)
    windows: tuple[tuple[datetime, datetime | None, bool], ...]


def prepare(payload: bytes, calendar: WorkingCalendar) -> Prepared:
    dossier = snapshot_to_dossier(decode_snapshot(payload))
    pauses = sorted(dossier.pauses, key=lambda p: p.started_at)
    windows = []
    for k, pause in enumerate(pauses):
        start = pause.started_at
        steady = (
            pause.policy is SupplementPolicy.EXTEND
            and all(p.ended_at is not None and p.ended_at <= start for p in pauses[:k])
            and _not_passed(dossier, start, calendar)
        )
        windows.append((start, pause.ended_at, steady))
    return Prepared(dossier, tuple(windows))


def _not_passed(dossier: Dossier, t: datetime, calendar: WorkingCalendar) -> bool:
    due = dossier.effective_due(t, calendar)
    return due is None or due >= t


def steady_at(prepared: Prepared, now: datetime) -> bool:
    """Whether `now` lies within a pause the dossier stays in time all through, with no later pause
    begun by now: then it is in time, paused and not due soon (see the module's notes)."""
    windows = prepared.windows
    for k, (start, end, steady) in enumerate(windows):
        if start <= now and (end is None or now < end):
            return steady and (k + 1 == len(windows) or windows[k + 1][0] >= now)
    return False


class PreparedCache:
    """Prepared snapshot versions by (dossier, version), at most `limit` (about 3 KB each; beyond it
    the cache starts again, so the counts stay exact and only the decoding is paid again)."""

    def __init__(self, limit: int = 50_000) -> None:
        self.limit = limit
        self.versions: dict[tuple[str, int], Prepared] = {}

    async def fetch(self, driver: Any, keys: Sequence[tuple[str, int]], calendar: WorkingCalendar) -> None:
        """Prepare the versions of `keys` not prepared yet, from their stored snapshots (read on
        `driver`, in the caller's transaction). A stored snapshot of another version than its facts'
        is prepared under its own version."""
        missing = [code for code, version in keys if (code, version) not in self.versions]
        if not missing:
            return
        if len(self.versions) + len(missing) > self.limit:
            self.versions.clear()
        for code, version, payload in await driver.fetch(PAYLOADS, missing):
            self.versions[(code, version)] = prepare(payload, calendar)

    def get(self, code: str, version: int) -> Prepared | None:
        return self.versions.get((code, version))


_CACHES: weakref.WeakKeyDictionary[Any, PreparedCache] = weakref.WeakKeyDictionary()


def prepared_cache(engine: Any) -> PreparedCache:
    """The prepared versions read through `engine` (one schema's: a version's snapshot never changes)."""
    found = _CACHES.get(engine)
    if found is None:
        found = _CACHES[engine] = PreparedCache()
    return found


def judge_prepared(prepared: Prepared, now: datetime, calendar: WorkingCalendar) -> Judgement:
    dossier = prepared.dossier
    return Judgement(
        dossier,
        dossier.pending_state(now, calendar),
        dossier.is_paused_at(now),
        dossier.effective_due(now, calendar),
    )


def judge(payload: bytes, now: datetime, calendar: WorkingCalendar) -> Judgement:
    return judge_prepared(prepare(payload, calendar), now, calendar)


async def within_pauses(
    driver: Any,
    cache: PreparedCache,
    calendar: WorkingCalendar,
    agencies: Sequence[str] | None,
    now: datetime,
) -> list[tuple[Any, Prepared | None]]:
    """The open dossiers within their pauses now (`WITHIN_PAUSES` records), each with its prepared
    stored snapshot (None: no stored snapshot, which the projection never leaves)."""
    records = await driver.fetch(WITHIN_PAUSES, now, agencies)
    keys = [(r["dossier_code"], r["version"]) for r in records]
    await cache.fetch(driver, keys, calendar)
    out: list[tuple[Any, Prepared | None]] = []
    for record, (code, version) in zip(records, keys, strict=True):
        prepared = cache.get(code, version)
        if prepared is None:  # the snapshot is of another version than the facts: judge it as stored
            payload = await driver.fetchval(
                "SELECT payload FROM dossier_snapshot WHERE dossier_code = $1", code
            )
            prepared = prepare(payload, calendar) if payload is not None else None
        out.append((record, prepared))
    return out


def is_due_soon(judgement: Judgement, horizon: float) -> bool:
    due = judgement.due
    in_time = judgement.state is PendingState.IN_TIME and not judgement.paused
    return in_time and due is not None and due.timestamp() <= horizon


async def read_open(
    driver: Any,
    calendar: WorkingCalendar,
    agencies: Sequence[str] | None,
    now: datetime,
    cache: PreparedCache | None = None,
) -> OpenDossiers:
    """The open dossiers' counts per agency now (`driver`: an asyncpg connection in a transaction)."""
    cache = cache if cache is not None else PreparedCache()
    horizon = due_soon_horizon(now, calendar)
    out = OpenDossiers()
    for agency, in_time, overdue, due_soon in await driver.fetch(
        COUNTS, now, agencies, datetime.fromtimestamp(horizon, now.tzinfo)
    ):
        counts = out.of(agency)
        counts.in_time += in_time
        counts.overdue += overdue
        counts.due_soon += due_soon
    for record, prepared in await within_pauses(driver, cache, calendar, agencies, now):
        if prepared is None:
            continue
        if steady_at(prepared, now):
            counts = out.of(record["agency_code"])
            counts.in_time += 1
            counts.paused += 1
            continue
        judgement = judge_prepared(prepared, now, calendar)
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
