"""`dossier-metrics backfill-indicators`: the Decision 766/QĐ-TTg flags of dossiers whose newest
snapshot was stored before this service knew them.

Migration 0006 added `digitised` and `payment_channel` to the report facts and three counters, with
no backfill: events sent before that release carry neither field. One case still leaves a gap. When
intake and processing are upgraded before the metrics service, a snapshot that carries the fields can
be stored by a metrics service of revision 0005. It keeps the snapshot's bytes (`dossier_snapshot.payload`)
but not the flags in its facts and counters. A dossier that changes again is counted right by its next
snapshot (the consumer adds the difference from its stored counter vector); one that does not stays
without its flags.

This command reads those flags from the stored snapshots: for each received dossier whose current
facts carry neither flag, the snapshot is decoded. Where it has a flag, the command writes the current
facts, the digitised flag on every version of its history, the payment channel on the stored version,
the stored counter vector and the agency's counters of its partition. Each chunk is one transaction
under the advisory locks of its partitions, as a batch of the consumer takes them, so it may run while
the service consumes. Run again, it changes nothing (every flag it wrote is now in the facts)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from dossier_contracts.snapshot_codec import decode_snapshot, snapshot_to_dossier
from dossier_metrics.batch_store import LOCK_PARTITION
from dossier_metrics.counters import COUNTER_COLUMNS, WIDTH

log = logging.getLogger(__name__)

#: The counters this fills in, in `COUNTER_COLUMNS` order.
FILLED = ("received_digitised", "fee_paid", "fee_paid_online")
_AT = tuple(COUNTER_COLUMNS.index(name) for name in FILLED)

#: Received dossiers whose current facts carry neither flag, after `$1`, in code order.
_CANDIDATES = """SELECT f.dossier_code FROM report_fact AS f
WHERE f.dossier_code > $1 AND f.received_at IS NOT NULL AND NOT f.digitised AND f.payment_channel IS NULL
ORDER BY f.dossier_code LIMIT $2"""
_PARTITIONS = "SELECT DISTINCT partition FROM dossier_snapshot WHERE dossier_code = ANY($1::text[])"
_STORED = """SELECT s.dossier_code, s.partition, s.agency_code, s.version, s.counted, s.payload
FROM dossier_snapshot AS s JOIN report_fact AS f USING (dossier_code)
WHERE s.dossier_code = ANY($1::text[]) AND NOT f.digitised AND f.payment_channel IS NULL
ORDER BY s.dossier_code FOR UPDATE OF s, f"""
_COUNTED = """UPDATE dossier_snapshot AS s SET counted = n.counted::integer[]
FROM unnest($1::text[], $2::text[]) AS n(dossier_code, counted) WHERE s.dossier_code = n.dossier_code"""
_FACTS = """UPDATE report_fact AS f SET digitised = n.digitised, payment_channel = n.payment_channel
FROM unnest($1::text[], $2::boolean[], $3::text[]) AS n(dossier_code, digitised, payment_channel)
WHERE f.dossier_code = n.dossier_code"""
_HISTORY_DIGITISED = """UPDATE report_fact_history SET digitised = true
WHERE dossier_code = ANY($1::text[]) AND received_at IS NOT NULL AND NOT digitised"""
_HISTORY_PAID = """UPDATE report_fact_history AS h SET payment_channel = n.payment_channel
FROM unnest($1::text[], $2::bigint[], $3::text[]) AS n(dossier_code, version, payment_channel)
WHERE h.dossier_code = n.dossier_code AND h.version = n.version"""
_COUNTERS = f"""INSERT INTO agency_counter AS a (partition, agency_code, {", ".join(FILLED)})
SELECT * FROM unnest($1::integer[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[])
ON CONFLICT (partition, agency_code) DO UPDATE SET
{", ".join(f"{name} = a.{name} + excluded.{name}" for name in FILLED)}"""


@dataclass
class Backfilled:
    """What a run looked at and changed."""

    examined: int = 0
    digitised: int = 0
    paid: int = 0
    paid_online: int = 0

    @property
    def changed(self) -> int:
        return self.digitised + self.paid


async def backfill_indicators(engine: AsyncEngine, chunk: int = 2000) -> Backfilled:
    """Fill the flags of the stored dossiers that lack them; returns the counts."""
    done = Backfilled()
    after = ""
    while True:
        async with engine.connect() as conn:
            driver: Any = (await conn.get_raw_connection()).driver_connection
            async with driver.transaction():
                listed = [row[0] for row in await driver.fetch(_CANDIDATES, after, chunk)]
                if not listed:
                    break
                for (partition,) in sorted(await driver.fetch(_PARTITIONS, listed)):
                    await driver.execute(LOCK_PARTITION, partition)
                await _fill(driver, await driver.fetch(_STORED, listed), done)
        after = listed[-1]
        done.examined += len(listed)
        log.info("read the Decision 766 flags of stored dossiers", extra={"dossiers": done.examined})
    return done


async def _fill(driver: Any, stored: list[Any], done: Backfilled) -> None:
    codes: list[str] = []
    vectors: list[str] = []
    digitised: list[bool] = []
    channels: list[str | None] = []
    versions: list[int] = []
    added: dict[tuple[int, str], list[int]] = {}
    for code, partition, agency, version, counted, payload in stored:
        try:
            dossier = snapshot_to_dossier(decode_snapshot(payload))
        except Exception:  # the projection skipped it too
            continue
        if not dossier.is_received or not (dossier.digitised or dossier.payment_channel):
            continue
        counts = [*counted, *([0] * (WIDTH - len(counted)))]
        wanted = (
            int(dossier.digitised),
            int(dossier.payment_channel is not None),
            int(dossier.payment_channel == "online"),
        )
        delta = [w - counts[i] for w, i in zip(wanted, _AT, strict=True)]
        for i, w in zip(_AT, wanted, strict=True):
            counts[i] = w
        codes.append(code)
        vectors.append("{" + ",".join(map(str, counts)) + "}")
        digitised.append(dossier.digitised)
        channels.append(dossier.payment_channel)
        versions.append(version)
        total = added.setdefault((partition, agency), [0, 0, 0])
        for i, d in enumerate(delta):
            total[i] += d
        done.digitised += int(dossier.digitised)
        done.paid += wanted[1]
        done.paid_online += wanted[2]
    if not codes:
        return
    await driver.execute(_COUNTED, codes, vectors)
    await driver.execute(_FACTS, codes, digitised, channels)
    await driver.execute(_HISTORY_DIGITISED, [c for c, d in zip(codes, digitised, strict=True) if d])
    paid = [(c, v, p) for c, v, p in zip(codes, versions, channels, strict=True) if p is not None]
    await driver.execute(_HISTORY_PAID, [p[0] for p in paid], [p[1] for p in paid], [p[2] for p in paid])
    keys = sorted(added)
    await driver.execute(
        _COUNTERS,
        [k[0] for k in keys],
        [k[1] for k in keys],
        *([added[k][i] for k in keys] for i in range(len(FILLED))),
    )
