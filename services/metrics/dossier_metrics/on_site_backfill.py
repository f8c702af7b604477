"""After the upgrade that added "4 tại chỗ" (migration 0004), the dossiers stored before it get their
on-the-spot flag from their stored snapshots: in their current and recorded report facts, in the
counters they contributed (`dossier_snapshot.counted`) and in their agency's counter of their
partition. The migration lists the received dossiers in `on_site_backfill`; each start works the list
off in chunks, one transaction each (so an interrupted backfill resumes and instances share it), with
the advisory locks of the partitions concerned, as a batch of the consumer takes them.

A stored `counted` vector made before the upgrade is one counter shorter; the consumer reads a missing
counter as 0, so only the on-the-spot dossiers need theirs written again."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from dossier_contracts.snapshot_codec import decode_snapshot, snapshot_to_dossier
from dossier_metrics.batch_store import LOCK_PARTITION
from dossier_metrics.counters import COUNTER_COLUMNS, WIDTH

log = logging.getLogger(__name__)

_ON_SITE = COUNTER_COLUMNS.index("received_on_site")
_NEXT = "SELECT dossier_code FROM on_site_backfill ORDER BY dossier_code LIMIT $1 FOR UPDATE SKIP LOCKED"
_PARTITIONS = "SELECT DISTINCT partition FROM dossier_snapshot WHERE dossier_code = ANY($1::text[])"
_STORED = """SELECT dossier_code, partition, agency_code, counted, payload FROM dossier_snapshot
WHERE dossier_code = ANY($1::text[]) ORDER BY dossier_code FOR UPDATE"""
_COUNTED = """UPDATE dossier_snapshot AS s SET counted = n.counted::integer[]
FROM unnest($1::text[], $2::text[]) AS n(dossier_code, counted) WHERE s.dossier_code = n.dossier_code"""
_FACTS = "UPDATE {} SET on_site = true WHERE dossier_code = ANY($1::text[]) AND NOT on_site"
_COUNTERS = """INSERT INTO agency_counter AS a (partition, agency_code, received_on_site)
SELECT * FROM unnest($1::integer[], $2::text[], $3::bigint[])
ON CONFLICT (partition, agency_code)
DO UPDATE SET received_on_site = a.received_on_site + excluded.received_on_site"""


async def backfill_on_site(engine: AsyncEngine, chunk: int = 2000) -> int:
    """Flag the on-the-spot dossiers listed for backfill and count them; returns how many were listed."""
    done = 0
    while True:
        async with engine.connect() as conn:
            driver: Any = (await conn.get_raw_connection()).driver_connection
            async with driver.transaction():
                listed = [row[0] for row in await driver.fetch(_NEXT, chunk)]
                if not listed:
                    break
                for (partition,) in sorted(await driver.fetch(_PARTITIONS, listed)):
                    await driver.execute(LOCK_PARTITION, partition)
                await _flag(driver, await driver.fetch(_STORED, listed))
                await driver.execute(
                    "DELETE FROM on_site_backfill WHERE dossier_code = ANY($1::text[])", listed
                )
        done += len(listed)
        log.info("read the on-the-spot flag of stored dossiers", extra={"dossiers": done})
    return done


async def _flag(driver: Any, stored: list[Any]) -> None:
    codes: list[str] = []
    vectors: list[str] = []
    added: dict[tuple[int, str], int] = {}
    for code, partition, agency, counted, payload in stored:
        try:
            dossier = snapshot_to_dossier(decode_snapshot(payload))
        except Exception:  # the projection skipped it too
            continue
        counts = [*counted, *([0] * (WIDTH - len(counted)))]
        if not (dossier.on_site and dossier.is_received) or counts[_ON_SITE]:
            continue
        counts[_ON_SITE] = 1
        codes.append(code)
        vectors.append("{" + ",".join(map(str, counts)) + "}")
        added[(partition, agency)] = added.get((partition, agency), 0) + 1
    if not codes:
        return
    await driver.execute(_COUNTED, codes, vectors)
    for table in ("report_fact", "report_fact_history"):
        await driver.execute(_FACTS.format(table), codes)
    keys = sorted(added)
    await driver.execute(_COUNTERS, [k[0] for k in keys], [k[1] for k in keys], [added[k] for k in keys])
