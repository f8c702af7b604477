"""The push worker: sends changed dossiers to the national portal and records per-dossier sync state.

It follows the same change feed as `GET /v1/sync/changes` (its cursor is kept in `sync_cursor`), notes
for each changed dossier the version the portal must get (`sync_state.wanted_version`), and posts due
dossiers in batches as `{"service": "DongBoHoSoMC", "isUpdating": true, "data": [...]}`. The portal has
accepted a batch only when it answers 2xx with `error_code` 0; anything else (an error status, a timeout,
another body) leaves every dossier of the batch unsynced, with the error and an exponentially growing
wait before its next attempt. `synced_version` is only ever set to a version the portal accepted.

Safe with any number of instances: a batch is claimed with `SELECT … FOR UPDATE SKIP LOCKED` on its
`sync_state` rows and the lock is held until the portal's answer is recorded (the request is bounded by
`PROCESSING_PORTAL_TIMEOUT_S` in total), so each dossier is in one instance's hands at a time; a claim
only takes a version newer than the one the portal holds. Per dossier, versions therefore reach the
portal in increasing order, and a version the portal accepted is never posted again — except from a
batch whose instance died (`kill -9`) after the portal took it and before the answer was recorded: the
next claim posts those dossiers again at their latest version. The change feed is followed by one
instance at a time (its cursor row is locked the same way).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Sequence
from typing import Any

import httpx
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from dossier_core.catalog import Catalog
from dossier_processing.observability import Metrics
from dossier_processing.portal import sql
from dossier_processing.portal import state as sync_state
from dossier_processing.portal.record import SERVICE, portal_record
from dossier_processing.settings import ProcessingSettings
from dossier_runtime.retry import Backoff

log = logging.getLogger(__name__)


class PortalRefused(Exception):
    pass


def backoff_s(attempts: int, base: float, cap: float) -> float:
    """Wait before attempt `attempts + 1`: base·2^attempts, capped, with ±20 % jitter."""
    return Backoff(base, cap).pause(attempts + 1) * random.uniform(0.8, 1.2)


def accepted(response: httpx.Response) -> None:
    """Raise unless the portal said it took the batch."""
    if not response.is_success:
        raise PortalRefused(f"HTTP {response.status_code}: {response.text[:200]}")
    try:
        body = response.json()
    except ValueError as exc:
        raise PortalRefused(f"HTTP {response.status_code} with a body that is not JSON") from exc
    code = body.get("error_code") if isinstance(body, dict) else None
    if str(code) != "0":
        raise PortalRefused(f"portal error_code {code!r}: {str(body)[:200]}")


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
        """Claim and post one batch of due dossiers; returns how many were attempted. The claim (row
        locks) lasts until the outcome is committed."""
        async with self.engine.connect() as conn, conn.begin():
            claimed = await sql.claim_due_for_sync(conn, self.settings.portal_batch_size)
            if not claimed:
                return 0
            rows, records, unrecordable = [], [], []
            for row in claimed:
                try:
                    records.append(portal_record(row._mapping, self.catalog))
                    rows.append(row)
                except Exception as exc:  # one odd row waits with its error; it never blocks the batch
                    unrecordable.append((row, f"unrecordable: {type(exc).__name__}: {exc}"[:500]))
            if unrecordable:
                await sql.mark_sync_failed(conn, self._failures(unrecordable))
                self.metrics.portal_records.labels("failed").inc(len(unrecordable))
                log.error(
                    "dossiers without a portal record",
                    extra={"dossiers": [r.dossier_code for r, _ in unrecordable]},
                )
            if not rows:
                return len(claimed)
            body: dict[str, Any] = {"service": SERVICE, "isUpdating": True, "data": records}
            try:
                async with asyncio.timeout(self.settings.portal_timeout_s):
                    response = await self.client.post(self.url, json=body)
                accepted(response)
            except (httpx.HTTPError, PortalRefused, TimeoutError) as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
                await sql.mark_sync_failed(conn, self._failures([(r, error) for r in rows]))
                self.metrics.portal_requests.labels("failed").inc()
                self.metrics.portal_records.labels("failed").inc(len(rows))
                log.warning("portal refused a batch", extra={"error": error, "records": len(rows)})
                return len(claimed)
            await sql.mark_synced(conn, {r.dossier_code: r.version for r in rows})
        self.metrics.portal_requests.labels("accepted").inc()
        self.metrics.portal_records.labels("accepted").inc(len(rows))
        return len(claimed)

    def _failures(self, failed: Sequence[tuple[Row[Any], str]]) -> dict[str, tuple[str, float]]:
        """code → (error, seconds before the next attempt)."""
        s = self.settings
        return {
            r.dossier_code: (error, backoff_s(r.attempts, s.portal_backoff_base_s, s.portal_backoff_max_s))
            for r, error in failed
        }

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
