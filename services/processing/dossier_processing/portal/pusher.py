"""The push worker: sends changed dossiers to the national portal and records per-dossier sync state.

It follows the same change feed as `GET /v1/sync/changes` (its cursor is kept in `sync_cursor`), notes
for each changed dossier the version the portal must get (`sync_state.wanted_version`), and posts due
dossiers in batches through the adapter's protocol (`session.py`: login session, `error_code` answers):

1. their records, `{"service": "DongBoHoSoMC", "isUpdating": …, "data": [...]}` — one call for the
   dossiers the portal does not hold yet (`isUpdating` false) and one for those it holds (true,
   `sync_state.portal_has`);
2. then, for each dossier whose record at its current version is accepted, its processing steps the
   portal does not hold yet, `{"service": "CapNhatTienDoHoSoMC", "data": [...]}`.

Each dossier gets its own outcome from the portal's answer: accepted (`synced_version`, or for progress
`progress_version`/`progress_sent`, set to what the portal took); refused for now (a transient
`error_code`, or a call that failed as a whole: an error status, a timeout, a refused connection, a body
that is not a JSON answer) — it waits base·2^attempts before the next attempt; or rejected for good (a
permanent `error_code`) — it is PARKED with the code and the portal's message and not posted again until
a newer version of it is wanted or an operator re-queues it (`dossier-processing portal requeue`). A
dossier is fully synced at version v when `synced_version = progress_version = v`. A refused session is
renewed once per call and never counts against a dossier by itself.

Safe with any number of instances: a batch is claimed with `SELECT … FOR UPDATE SKIP LOCKED` on its
`sync_state` rows and the lock is held until the portal's answers are recorded (each request is bounded by
`PROCESSING_PORTAL_TIMEOUT_S`, and a claim makes one call — the records of one `isUpdating` value, or the
progress of dossiers whose record is taken, as its longest-waiting dossier needs — of at most two
requests plus a login), so each dossier is in one instance's hands at a time; a claim only
takes a version newer than the one the portal holds. Per dossier, versions therefore reach the portal in
increasing order, and a version (or step) the portal accepted is never posted again — except from a batch
whose instance died (`kill -9`) after the portal took it and before the answer was recorded, or whose
request timed out after the portal took it: the next claim posts those dossiers again at their latest
version (with `isUpdating` false if the portal had never accepted one before; it answers "already held"
and the next attempt says true). The change feed is followed by one instance at a time (its cursor row is
locked the same way).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dossier_core.catalog import Catalog
from dossier_processing.applicant import load_applicants
from dossier_processing.observability import Metrics
from dossier_processing.portal import sql
from dossier_processing.portal import state as sync_state
from dossier_processing.portal.history import DossierHistory, load_histories
from dossier_processing.portal.record import portal_record, progress_steps
from dossier_processing.portal.session import (
    ALREADY_HELD,
    NOT_HELD,
    PROGRESS_SERVICE,
    SYNC_SERVICE,
    CallFailed,
    Outcome,
    PortalSession,
    Verdict,
    personal_values,
    redact,
)
from dossier_processing.settings import ProcessingSettings
from dossier_runtime.retry import Backoff

log = logging.getLogger(__name__)


def backoff_s(attempts: int, base: float, cap: float) -> float:
    """Wait before attempt `attempts + 1`: base·2^attempts, capped, with ±20 % jitter."""
    return Backoff(base, cap).pause(attempts + 1) * random.uniform(0.8, 1.2)


@dataclass
class _Outcomes:
    """What a batch's calls decided, written in one go at the end of the claim."""

    synced: dict[str, int] = field(default_factory=dict)
    progressed: dict[str, tuple[int, list[str]]] = field(default_factory=dict)
    failed: dict[str, tuple[Row[Any], str, str | None]] = field(default_factory=dict)
    parked: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    held: dict[str, bool] = field(default_factory=dict)
    lost: set[str] = field(default_factory=set)


class PortalPusher:
    def __init__(
        self,
        settings: ProcessingSettings,
        engine: AsyncEngine,
        catalog: Catalog,
        metrics: Metrics,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if not settings.portal_url:
            raise ValueError("the push worker needs PROCESSING_PORTAL_URL")
        self.settings = settings
        self.url = settings.portal_url
        self.engine = engine
        self.catalog = catalog
        self.metrics = metrics
        headers = {"Authorization": f"Bearer {settings.portal_token}"} if settings.portal_token else {}
        self.client = client or httpx.AsyncClient(timeout=settings.portal_timeout_s, headers=headers)
        self.session = PortalSession(settings, self.client)
        self._stopping = asyncio.Event()
        self._last_ratio = 0.0

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        try:
            while not self._stopping.is_set():
                try:
                    await self.follow_changes()
                    pushed = await self.push_once()
                    await self._ratio()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning(
                        "portal sync interrupted; retrying", extra={"error": f"{type(exc).__name__}: {exc}"}
                    )
                    pushed = 0
                if pushed == 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), self.settings.portal_idle_s)
        finally:
            await self.client.aclose()

    async def follow_changes(self) -> None:
        """Note the version the portal must receive for every dossier changed since the last call
        (skipped while another instance is following the feed)."""
        name = self.settings.portal_name
        while True:
            async with self.engine.begin() as conn:
                cursor = await sql.lock_sync_cursor(conn, name)
                if cursor is None:
                    return
                xid, code = cursor
                rows = await sql.changes_after(conn, xid, code, 1000)
                if not rows:
                    return
                await sql.want_sync(conn, {r.dossier_code: r.version for r in rows})
                await sql.save_sync_cursor(conn, name, int(rows[-1].xid_text), rows[-1].dossier_code)
            if len(rows) < 1000:
                return

    async def push_once(self) -> int:
        """Claim one batch of due dossiers and make one call for them; returns how many were claimed.
        The claim (row locks) lasts until the outcomes are committed.

        The call is chosen by the claim's longest-waiting dossier — the records of its `isUpdating`
        value, or the progress of dossiers whose record is taken — so that what the portal took and the
        worker did not record yet (a kill -9 mid-claim) is one request's dossiers. Only those dossiers'
        histories are read and records made; the others are released as they were and come first in
        the next claim."""
        async with self.engine.connect() as conn, conn.begin():
            claimed = await sql.claim_due_for_sync(conn, self.settings.portal_batch_size)
            if not claimed:
                return 0
            out = _Outcomes()
            first = claimed[0]
            if first.version > first.synced_version:
                rows = [
                    r for r in claimed if r.version > r.synced_version and r.portal_has == first.portal_has
                ]
                await self._post_records(conn, rows, bool(first.portal_has), out)
            else:
                rows = [
                    r
                    for r in claimed
                    if r.version == r.synced_version and r.progress_version < r.synced_version
                ]
                histories = await load_histories(conn, [r.dossier_code for r in rows])
                await self._progress(rows, histories, out)
            await self._record(conn, out)
        return len(claimed)

    async def _post_records(
        self, conn: AsyncConnection, rows: Sequence[Row[Any]], updating: bool, out: _Outcomes
    ) -> None:
        """Post these dossiers' `DongBoHoSoMC` records in one call (`isUpdating` as given)."""
        codes = [r.dossier_code for r in rows]
        histories = await load_histories(conn, codes)
        applicants = await load_applicants(conn, codes, settings=self.settings)
        records: dict[str, dict[str, Any]] = {}
        for row in rows:
            try:
                records[row.dossier_code] = portal_record(
                    row._mapping,
                    self.catalog,
                    histories.get(row.dossier_code),
                    applicants.get(row.dossier_code),
                )
            except Exception as exc:  # one odd row waits with its error; it never blocks the batch
                out.failed[row.dossier_code] = (row, f"unrecordable: {type(exc).__name__}: {exc}", None)
        group = [r for r in rows if r.dossier_code in records]
        if group:
            body = {"service": SYNC_SERVICE, "isUpdating": updating}
            answers = await self._call(body, [records[r.dossier_code] for r in group], group)
            self._sync_outcomes(group, answers, out)

    async def _call(
        self, body: dict[str, Any], data: list[dict[str, Any]], rows: Sequence[Row[Any]]
    ) -> dict[str, Outcome] | CallFailed:
        """One call's outcome per dossier, or the failure of the whole call; what the portal said back
        is kept without the applicant data the call carried (it may quote it)."""
        personal = personal_values(data)
        try:
            answers = await self.session.call({**body, "data": data}, [r.dossier_code for r in rows])
        except CallFailed as exc:
            failed = CallFailed(redact(str(exc), personal), exc.error_code)
            self.metrics.portal_requests.labels("failed").inc()
            log.warning(
                "portal call failed",
                extra={"service": body["service"], "error": str(failed), "dossiers": len(rows)},
            )
            return failed
        self.metrics.portal_requests.labels("accepted").inc()
        return {code: replace(a, message=redact(a.message, personal)) for code, a in answers.items()}

    def _sync_outcomes(
        self, rows: Sequence[Row[Any]], answers: dict[str, Outcome] | CallFailed, out: _Outcomes
    ) -> None:
        for row in rows:
            code = row.dossier_code
            if isinstance(answers, CallFailed):
                out.failed[code] = (row, str(answers), answers.error_code)
                continue
            answer = answers[code]
            if answer.verdict is Verdict.ACCEPTED:
                out.synced[code] = row.version
            elif answer.error_code == ALREADY_HELD:
                out.held[code] = True
            elif answer.error_code == NOT_HELD:
                out.held[code] = False
            self._refusal(row, row.version, SYNC_SERVICE, answer, out)

    async def _progress(
        self, rows: Sequence[Row[Any]], histories: Mapping[str, DossierHistory], out: _Outcomes
    ) -> None:
        """Post the steps the portal does not hold yet of these dossiers (their record at the current
        version accepted); a dossier with none is done at once."""
        steps: dict[str, list[dict[str, Any]]] = {}
        ids: dict[str, list[str]] = {}
        for row in rows:
            code = row.dossier_code
            try:
                every = progress_steps(row._mapping, self.catalog, histories.get(code))
            except Exception as exc:
                out.failed[code] = (row, f"unrecordable: {type(exc).__name__}: {exc}", None)
                continue
            ids[code] = [step_id for step_id, _ in every]
            held = set(row.progress_sent)
            new = [record for step_id, record in every if step_id not in held]
            if new:
                steps[code] = new
            else:
                out.progressed[code] = (row.version, ids[code])
        sending = [r for r in rows if r.dossier_code in steps]
        if not sending:
            return
        data = [step for r in sending for step in steps[r.dossier_code]]
        answers = await self._call({"service": PROGRESS_SERVICE}, data, sending)
        for row in sending:
            code = row.dossier_code
            if isinstance(answers, CallFailed):
                # as the record call's failures, so that the sync state classes them alike
                out.failed[code] = (row, str(answers), answers.error_code)
            elif answers[code].verdict is Verdict.ACCEPTED:
                out.progressed[code] = (row.version, ids[code])
            else:
                if answers[code].error_code == NOT_HELD:  # the portal lost the dossier: send it again
                    out.lost.add(code)
                self._refusal(row, row.version, PROGRESS_SERVICE, answers[code], out)

    @staticmethod
    def _refusal(row: Row[Any], version: int, service: str, answer: Outcome, out: _Outcomes) -> None:
        if answer.verdict is Verdict.ACCEPTED:
            return
        reason = f"{service}: error_code {answer.error_code}: {answer.message}"[:500]
        if answer.verdict is Verdict.PERMANENT:
            out.parked[row.dossier_code] = (version, answer.error_code or "", reason)
        else:
            out.failed[row.dossier_code] = (row, reason, answer.error_code)

    async def _record(self, conn: AsyncConnection, out: _Outcomes) -> None:
        """Write the batch's outcomes: acceptances first, then refusals (a dossier whose record was taken
        but whose progress was refused is synced, and waits for its progress)."""
        s = self.settings
        await sql.mark_synced(conn, out.synced)
        await sql.mark_progress_synced(conn, out.progressed)
        await sql.mark_portal_has(conn, out.held)
        await sql.mark_lost(conn, out.lost)
        failures = {
            code: (error[:500], backoff_s(row.attempts, s.portal_backoff_base_s, s.portal_backoff_max_s))
            for code, (row, error, _) in out.failed.items()
        }
        await sql.mark_sync_failed(
            conn, failures, {c: k for c, (_, _, k) in out.failed.items() if k is not None}
        )
        await sql.park(conn, out.parked)
        self.metrics.portal_records.labels("accepted").inc(len(out.synced))
        self.metrics.portal_records.labels("failed").inc(len(out.failed))
        self.metrics.portal_records.labels("parked").inc(len(out.parked))
        if out.parked:
            log.error(
                "the portal rejected dossiers for good; parked for an operator",
                extra={"dossiers": {c: reason for c, (_, _, reason) in out.parked.items()}},
            )
        unrecordable = [c for c, (_, e, _) in out.failed.items() if e.startswith("unrecordable:")]
        if unrecordable:
            log.error("dossiers without a portal record", extra={"dossiers": unrecordable})

    async def _ratio(self, every_s: float = 10.0) -> None:
        """Refresh the sync state's series (`portal/state.py`) at most every `every_s` seconds."""
        now = time.monotonic()
        if now - self._last_ratio < every_s:
            return
        self._last_ratio = now
        async with self.engine.connect() as conn:
            by_agency = await sync_state.sync_by_agency(conn)
            pending = await sync_state.sync_pending(conn)
        self.metrics.portal_sync.observe(by_agency)
        received = sum(a.received for a in by_agency.values())
        synced = sum(a.synced for a in by_agency.values())
        self.metrics.portal_sync_ratio.set(synced / received if received else 1.0)
        self.metrics.portal_pending.set(pending)
