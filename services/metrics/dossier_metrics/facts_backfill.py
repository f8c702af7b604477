"""After the upgrade that added report facts (migration 0002), the dossiers stored before it get their
facts from their stored snapshots: the current facts, and one history version known from when intake
accepted its newest event (when processing committed it, for an older snapshot without that instant).
The migration lists those dossiers in `report_fact_backfill`; each start works the list off in
chunks, one transaction each, so an interrupted backfill resumes and concurrent instances share it.
Versions older than the stored one were never kept, so `as_of` reports before the upgrade see each
such dossier only from its stored version on (a `rebuild` replays every version)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from dossier_contracts.snapshot_codec import decode_snapshot
from dossier_core.calendar import WorkingCalendar
from dossier_metrics.batch_store import (
    INSERT_HISTORY,
    UPSERT_FACTS,
    FactVersion,
    SnapshotRecord,
    fact_arguments,
    history_arguments,
)
from dossier_metrics.projector import SkippedMessage, fact_version, to_record

log = logging.getLogger(__name__)

_NEXT = """SELECT b.dossier_code, s.partition, s.payload FROM report_fact_backfill AS b
LEFT JOIN dossier_snapshot AS s USING (dossier_code)
ORDER BY b.dossier_code LIMIT $1 FOR UPDATE OF b SKIP LOCKED"""


async def backfill_facts(engine: AsyncEngine, calendar: WorkingCalendar, chunk: int = 2000) -> int:
    """Derive the facts of the dossiers listed for backfill; returns how many were listed."""
    done = 0
    while True:
        async with engine.connect() as conn:
            driver: Any = (await conn.get_raw_connection()).driver_connection
            async with driver.transaction():
                listed = await driver.fetch(_NEXT, chunk)
                if not listed:
                    break
                records: list[SnapshotRecord] = []
                history: list[FactVersion] = []
                for _, partition, payload in listed:
                    if payload is None:
                        continue
                    msg = decode_snapshot(payload)
                    try:
                        record, _dossier = to_record(msg, payload, partition, calendar)
                    except SkippedMessage:
                        continue  # the projection skipped it too
                    records.append(record)
                    history.append(fact_version(msg, payload, record.facts))
                await driver.execute(UPSERT_FACTS, *fact_arguments(records))
                await driver.execute(INSERT_HISTORY, *history_arguments(history))
                await driver.execute(
                    "DELETE FROM report_fact_backfill WHERE dossier_code = ANY($1::text[])",
                    [row[0] for row in listed],
                )
        done += len(listed)
        log.info("derived the report facts of stored dossiers", extra={"dossiers": done})
    return done
