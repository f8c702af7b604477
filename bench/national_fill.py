"""Fills a metrics schema with `bench/national.py`'s dossiers through the service's real write path, and
keeps it for later runs.

The schema is created and migrated as the service does (`dossier_metrics.migrations.upgrade`), then
two processes over disjoint partitions each run the service's projection (`app.build_projection`:
`Projector.apply` on a `ProjectionStore` and a live index) on their partitions' streams, in batches
of `BATCH` records as the consumer reads them; then every table is `VACUUM ANALYZE`d. The schema's
comment records what made it (generator version, migration head, dossiers, timings), so a later run
reuses it while those are unchanged. No HTTP, no Kafka.

Each partition's generated stream is also kept in `.cache/bench-reports/` (about 450 bytes per
dossier), so that filling the schema again after a migration changes pays for the write path only.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import multiprocessing as mp
import struct
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from alembic.script import ScriptDirectory

from bench.national import PartitionStream, partition_share
from dossier_core.catalog import Catalog, load_catalog
from dossier_metrics.app import build_projection, wall_clock
from dossier_metrics.db import create_engine
from dossier_metrics.migrations import MIGRATIONS, upgrade
from dossier_metrics.projector import Consumed, Projector
from dossier_metrics.settings import MetricsSettings
from dossier_metrics.state import Projection

GENERATOR = 1  # bump when bench/national.py makes other data
PARTITIONS, BATCH, WORKERS, SEED = 12, 500, 2, 2021
SETTINGS = MetricsSettings()
TOPIC = SETTINGS.status_topic
CACHE = Path(__file__).resolve().parents[1] / ".cache" / "bench-reports"
_RECORD = struct.Struct("<II")  # dossiers made so far, length of the snapshot that follows


def say(message: str) -> None:
    print(f"[bench-reports {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def label(size: int) -> str:
    return f"{size / 1e6:g}m" if size >= 1_000_000 else f"{size / 1e3:g}k"


def schema_for(size: int) -> str:
    return f"bench_reports_g{GENERATOR}_{label(size)}".replace(".", "_")


def head_revision() -> str:
    """The migration head, with a digest of the migration files: a schema filled before a migration
    was edited in place (not only before a new one) is filled again."""
    head = ScriptDirectory.from_config(MIGRATIONS.config("metrics")).get_current_head()
    versions = sorted((MIGRATIONS.scripts / "versions").glob("*.py"))
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in versions)).hexdigest()[:12]
    return f"{head}@{digest}"


def projection(schema: str, catalog_dir: Path) -> Projection:
    """The service's projection (engine, store, live index, projector) on `schema`."""
    settings = SETTINGS.model_copy(update={"db_schema": schema})
    return build_projection(settings, wall_clock, load_catalog(catalog_dir))


def cached_stream(catalog: Catalog, size: int, partition: int) -> Iterator[tuple[int, bytes]]:
    """`PartitionStream(catalog, size, partition, PARTITIONS, SEED)`, read back from the cache when an
    earlier run kept it, else made and kept."""
    path = CACHE / f"g{GENERATOR}-{size}-{SEED}-p{partition}of{PARTITIONS}.bin"
    if path.exists():
        with path.open("rb") as cache:
            while head := cache.read(_RECORD.size):
                made, length = _RECORD.unpack(head)
                yield made, cache.read(length)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{partition}.part")
    with partial.open("wb") as cache:
        for made, raw in PartitionStream(catalog, size, partition, PARTITIONS, SEED):
            cache.write(_RECORD.pack(made, len(raw)) + raw)
            yield made, raw
    partial.rename(path)


async def apply_stream(projector: Projector, partition: int, messages: Any, progress: Any = None) -> int:
    """Apply `(made, raw)` messages in batches of `BATCH`; `progress(made)` after each batch."""
    batch: list[Consumed] = []
    offset = 0
    for made, raw in messages:
        batch.append(Consumed(offset, raw))
        offset += 1
        if len(batch) == BATCH:
            await projector.apply(TOPIC, partition, batch)
            batch = []
            if progress is not None:
                progress(made)
    await projector.apply(TOPIC, partition, batch)
    return offset


def fill_worker(schema: str, catalog_dir: Path, size: int, worker: int, done: Any) -> None:
    """Process: partitions `worker`, `worker + WORKERS`, … of the schema's dossiers."""

    async def run() -> None:
        parts = projection(schema, catalog_dir)
        base = 0
        try:
            for partition in range(worker, PARTITIONS, WORKERS):
                stream = cached_stream(parts.catalog, size, partition)

                def progress(made: int, base: int = base) -> None:
                    done.value = base + made

                await apply_stream(parts.projector, partition, stream, progress)
                base += partition_share(size, partition, PARTITIONS)
                done.value = base
        finally:
            await parts.engine.dispose()

    asyncio.run(run())


async def admin() -> asyncpg.Connection:
    return await asyncpg.connect(SETTINGS.database_url)


async def tables(conn: asyncpg.Connection, schema: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = $1 AND tablename <> 'alembic_version' ORDER BY 1",
        schema,
    )
    return [row[0] for row in rows]


async def vacuum(schema: str) -> None:
    conn = await admin()
    try:
        for table in await tables(conn, schema):
            await conn.execute(f'VACUUM ANALYZE "{schema}"."{table}"')
    finally:
        await conn.close()


async def storage(schema: str) -> dict[str, int]:
    """`pg_total_relation_size` (table, indexes, TOAST) of each table of the schema."""
    conn = await admin()
    try:
        return {
            table: int(
                await conn.fetchval("SELECT pg_total_relation_size($1::regclass)", f'"{schema}"."{table}"')
            )
            for table in await tables(conn, schema)
        }
    finally:
        await conn.close()


async def _recorded(schema: str) -> dict[str, Any] | None:
    conn = await admin()
    try:
        comment = await conn.fetchval(
            "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = $1", schema
        )
    finally:
        await conn.close()
    return dict(json.loads(comment)) if comment else None


async def _fresh(schema: str) -> None:
    conn = await admin()
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()
    writer = create_engine(SETTINGS.database_url, schema)
    try:
        await upgrade(writer, schema)
    finally:
        await writer.dispose()


async def _note(schema: str, info: dict[str, Any]) -> None:
    conn = await admin()
    try:
        await conn.execute(f"COMMENT ON SCHEMA \"{schema}\" IS '{json.dumps(info)}'")
    finally:
        await conn.close()


def generate(schema: str, size: int, catalog_dir: Path) -> dict[str, Any]:
    """Fill `schema` afresh with `size` dossiers (progress every 5 s), vacuum it, record what made it."""
    asyncio.run(_fresh(schema))
    say(f"filling {schema}: {size:,} dossiers, {PARTITIONS} partitions, {WORKERS} processes")
    spawn = mp.get_context("spawn")
    counters = [spawn.Value("q", 0) for _ in range(WORKERS)]
    workers = [
        spawn.Process(target=fill_worker, args=(schema, catalog_dir, size, w, counters[w]))
        for w in range(WORKERS)
    ]
    started = time.monotonic()
    for process in workers:
        process.start()
    while any(p.is_alive() for p in workers):
        time.sleep(5)
        made, elapsed = sum(c.value for c in counters), time.monotonic() - started
        rate = made / elapsed
        eta = f"{(size - made) / rate / 60:.1f} min" if rate else "?"
        say(f"  {made:,}/{size:,} dossiers, {rate:,.0f} dossiers/s, ETA {eta}")
    if any(p.exitcode for p in workers):
        raise SystemExit(f"a filling process failed (exit codes {[p.exitcode for p in workers]})")
    seconds = time.monotonic() - started
    say(f"filled in {seconds:.0f} s ({size / seconds:,.0f} dossiers/s); VACUUM ANALYZE")
    vacuum_started = time.monotonic()
    asyncio.run(vacuum(schema))
    info = {
        "generator": GENERATOR,
        "revision": head_revision(),
        "dossiers": size,
        "fill_s": round(seconds, 1),
        "vacuum_s": round(time.monotonic() - vacuum_started, 1),
        "at": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
    }
    asyncio.run(_note(schema, info))
    return info


def prepared(size: int, catalog_dir: Path, regenerate: bool) -> tuple[str, dict[str, Any], bool]:
    """The schema of `size` dossiers, what made it, and whether it was reused: a complete one made by
    this generator at the current migration head is reused unless `regenerate`."""
    schema = schema_for(size)
    info = asyncio.run(_recorded(schema))
    if info and not regenerate and info.get("revision") == head_revision() and info.get("dossiers") == size:
        say(f"reusing {schema} (filled {info['at']})")
        return schema, info, True
    return schema, generate(schema, size, catalog_dir), False


def drop_all() -> list[str]:
    """Drop every schema this benchmark filled and empty the stream cache; the schemas dropped."""

    async def run() -> list[str]:
        conn = await admin()
        try:
            names = [
                row[0]
                for row in await conn.fetch(
                    "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench_reports_g%'"
                )
            ]
            for name in names:
                await conn.execute(f'DROP SCHEMA "{name}" CASCADE')
        finally:
            await conn.close()
        return names

    for path in CACHE.glob("*"):
        path.unlink()
    return asyncio.run(run())
