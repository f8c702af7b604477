"""Publishes each agency's sync state (`state.py`) to `portal.sync.v1` (`dossier_contracts.portal_sync`),
so that the metrics service reports the Decision 766/QĐ-TTg sync rate without calling processing.

Runs beside the push worker (wherever `PROCESSING_PORTAL_URL` makes it run) and sends what that push
worker last read for its `/metrics` series (`observability.PortalSync`, refreshed every 10 s), so the
aggregate over `dossiers` and `sync_state` is not run twice. One instance at a time publishes: the one
holding the schema's `portal-sync-publisher` advisory lock (a session lock on a connection of its own,
as the outbox relay's). Every `PROCESSING_PORTAL_SYNC_PUBLISH_S` seconds it sends the agencies whose
figures changed since it last sent them (all of them when it takes the lead), keyed by agency code on a
compacted topic; a record that fails to send is sent at the next round. Readers keep the record with
the latest `as_of`, so a record sent twice, or by a former leader, changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dossier_contracts.portal_sync import AgencySyncRecord, encode_sync_record
from dossier_processing.observability import PortalSync
from dossier_processing.portal import state as sync_state
from dossier_processing.settings import ProcessingSettings
from dossier_runtime.db import try_session_lock
from dossier_runtime.kafka import client_options

log = logging.getLogger(__name__)


def sync_records(by_agency: dict[str, sync_state.AgencySync], as_of: datetime) -> list[AgencySyncRecord]:
    return [
        AgencySyncRecord(
            agency_code=code,
            received=a.received,
            synced=a.synced,
            pending=a.pending,
            failed=a.failed_total,
            parked=a.parked_total,
            oldest_unsynced_at=a.oldest_unsynced_at,
            as_of=as_of,
        )
        for code, a in sorted(by_agency.items())
    ]


class SyncStatePublisher:
    def __init__(self, settings: ProcessingSettings, engine: AsyncEngine, source: PortalSync) -> None:
        self.settings, self.engine, self.source = settings, engine, source
        self.topic = settings.portal_sync_topic
        self._stopping = asyncio.Event()
        #: agency → the figures last sent while leading
        self.sent: dict[str, tuple[object, ...]] = {}

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._lead()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("portal sync publisher interrupted; retrying", extra={"error": repr(exc)})
                await self._sleep(self.settings.portal_sync_publish_s)

    async def _lead(self) -> None:
        lock_name = f"{self.settings.db_schema}.portal-sync-publisher"
        async with self.engine.connect() as lock:
            got = await try_session_lock(lock, lock_name)
            await lock.commit()
            if not got:
                await self._sleep(self.settings.portal_sync_publish_s)
                return
            producer = AIOKafkaProducer(
                **client_options(self.settings.kafka), enable_idempotence=True, acks="all"
            )
            await producer.start()
            self.sent = {}
            try:
                while not self._stopping.is_set():
                    await _still_held(lock)
                    await self.publish_once(producer)
                    await self._sleep(self.settings.portal_sync_publish_s)
            finally:
                with contextlib.suppress(Exception):
                    await producer.stop()
                with contextlib.suppress(Exception):
                    await lock.execute(text("select pg_advisory_unlock(hashtext(:n))"), {"n": lock_name})
                    await lock.commit()

    async def publish_once(self, producer: AIOKafkaProducer) -> int:
        """Send the agencies whose figures changed since they were last sent; returns how many."""
        read_at = self.source.read_at
        if read_at is None:  # the push worker has not read the state yet
            return 0
        records = sync_records(self.source.agencies, read_at)
        changed = [r for r in records if self.sent.get(r.agency_code) != r.figures]
        if not changed:
            return 0
        sends = [
            await producer.send(self.topic, key=r.agency_code.encode(), value=encode_sync_record(r))
            for r in changed
        ]
        for record, result in zip(changed, await asyncio.gather(*sends, return_exceptions=True), strict=True):
            if isinstance(result, BaseException):
                log.warning(
                    "portal sync record not sent", extra={"agency": record.agency_code, "error": repr(result)}
                )
            else:
                self.sent[record.agency_code] = record.figures
        return len(changed)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)


async def _still_held(lock: AsyncConnection) -> None:
    """Raise if the lock's connection is gone (the lock with it)."""
    await lock.execute(text("select 1"))
    await lock.commit()
