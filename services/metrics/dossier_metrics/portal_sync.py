"""The national-portal sync state in the metrics service: each agency's latest record of
`portal.sync.v1` (published by processing's push worker, `dossier_contracts.portal_sync`) kept in
`portal_sync`, for the Decision 766/QĐ-TTg sync rate of the indicators report and the console's
operations page. No report calls processing: they read this table.

Every instance reads the topic in one consumer group (`METRICS_PORTAL_SYNC_CONSUMER_GROUP`) and writes
the same table; a record replaces an agency's row only if its `as_of` is later, so a record read twice
or out of order changes nothing. A value that is not a record is skipped (logged)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dossier_contracts.portal_sync import AgencySyncRecord, decode_sync_record
from dossier_metrics.settings import MetricsSettings
from dossier_metrics.topic_table import follow_topic

log = logging.getLogger(__name__)

_COLUMNS = ("agency_code", "received", "synced", "pending", "failed", "parked", "oldest_unsynced_at", "as_of")
_UPSERT = text(
    f"""
    insert into portal_sync ({", ".join(_COLUMNS)})
    values ({", ".join(":" + c for c in _COLUMNS)})
    on conflict (agency_code) do update set
        {", ".join(f"{c} = excluded.{c}" for c in _COLUMNS[1:])}
    where portal_sync.as_of < excluded.as_of
    """
)


async def store_records(engine: AsyncEngine, records: Iterable[AgencySyncRecord]) -> None:
    """Keep each agency's latest record (by `as_of`)."""
    latest: dict[str, AgencySyncRecord] = {}
    for r in records:
        if r.agency_code not in latest or latest[r.agency_code].as_of < r.as_of:
            latest[r.agency_code] = r
    if latest:
        async with engine.begin() as conn:
            await conn.execute(_UPSERT, [{c: getattr(r, c) for c in _COLUMNS} for r in latest.values()])


async def sync_records(conn: AsyncConnection, agencies: Sequence[str] | None) -> dict[str, AgencySyncRecord]:
    """The stored records of these agencies (None: all), by agency code."""
    query = f"select {', '.join(_COLUMNS)} from portal_sync"
    params: dict[str, Any] = {}
    if agencies is not None:
        query += " where agency_code = any(cast(:codes as text[]))"
        params["codes"] = list(agencies)
    rows = await conn.execute(text(query + " order by agency_code"), params)
    return {r.agency_code: AgencySyncRecord(**r._mapping) for r in rows}


class PortalSyncConsumer:
    """Reads `portal.sync.v1` into `portal_sync`; the offsets are committed once the rows are stored."""

    def __init__(self, settings: MetricsSettings, engine: AsyncEngine) -> None:
        self.settings, self.engine = settings, engine

    async def run_forever(self) -> None:
        s = self.settings

        async def store(records: Sequence[Any]) -> None:
            await store_records(self.engine, _decoded(records))

        await follow_topic(s, s.portal_sync_topic, s.portal_sync_consumer_group, store, "portal sync")


def _decoded(records: Iterable[Any]) -> list[AgencySyncRecord]:
    out = []
    for record in records:
        try:
            out.append(decode_sync_record(record.value))
        except ValueError as exc:
            log.warning(
                "skipped a portal sync value that is not a record",
                extra={"partition": record.partition, "offset": record.offset, "error": str(exc)},
            )
    return out
