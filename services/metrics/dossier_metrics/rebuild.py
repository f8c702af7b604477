"""`python -m dossier_metrics rebuild --schema NAME`: replay `dossier.status.v1` from the beginning
into a fresh schema. The rebuilt schema holds its own offsets, so pointing the service at it
(`METRICS_DB_SCHEMA=NAME`) continues from where the replay stopped."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from sqlalchemy import text

from dossier_metrics.app import build_projection
from dossier_metrics.migrations import upgrade
from dossier_metrics.settings import MetricsSettings

log = logging.getLogger(__name__)


class SchemaNotEmpty(RuntimeError):
    pass


@dataclass(frozen=True)
class RebuildResult:
    schema: str
    messages: int
    dossiers: int
    seconds: float


async def rebuild(settings: MetricsSettings, schema: str) -> RebuildResult:
    settings = settings.model_copy(update={"db_schema": MetricsSettings(db_schema=schema).db_schema})
    projection = build_projection(settings)
    started = time.monotonic()
    try:
        async with projection.engine.connect() as conn:
            tables = await conn.scalar(
                text("select count(*) from information_schema.tables where table_schema = :s"), {"s": schema}
            )
        if tables:
            raise SchemaNotEmpty(f"schema {schema!r} already has tables; rebuild needs a fresh schema")
        await upgrade(projection.engine, schema)
        messages = await projection.consumer.replay()
        dossiers = len(await projection.store.snapshot_versions())
    finally:
        await projection.engine.dispose()
    result = RebuildResult(schema, messages, dossiers, round(time.monotonic() - started, 3))
    log.info("rebuild finished", extra=result.__dict__)
    return result
