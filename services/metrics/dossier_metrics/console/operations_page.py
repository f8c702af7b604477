"""Vận hành: how the pipeline stands, as this metrics instance can see it.

- pipeline lag: the newest snapshot this instance has applied (when processing committed it) and how
  long ago that was; how fresh its counts are (`metrics_event_visible_seconds`);
- the stored position per partition of `dossier.status.v1` (`consumed_offset`, written by every
  instance with its batches), and the partitions this instance owns;
- the messages metrics skipped, by reason; the report API's load;
- dead letters are processing's (`dossier.events.dlq.v1`): metrics cannot count them, so the page
  says where they are counted (`processing_dlq_messages_total{reason}`, `dossier-processing dlq list`);
- Đồng bộ Cổng DVCQG: each of the session's agencies with the national portal, as processing last
  published it on `portal.sync.v1` (`dossier_metrics.portal_sync`): the only agency figures of the page,
  so only the session's agencies are read and shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dossier_contracts.portal_sync import AgencySyncRecord
from dossier_metrics import portal_sync
from dossier_metrics.console.scope import AgencyTree
from dossier_metrics.freshness import BUCKETS
from dossier_metrics.report_gate import REFUSAL_REASONS
from dossier_metrics.state import MetricsState

SKIP_NAMES = {
    "empty": "Bản tin rỗng",
    "undecodable": "Không giải mã được",
    "invalid": "Dữ liệu không hợp lệ",
    "unappliable": "Cơ sở dữ liệu từ chối",
}
REFUSAL_NAMES = {"busy": "Quá tải", "timeout": "Quá thời gian", "database": "Lỗi cơ sở dữ liệu"}


@dataclass
class Operations:
    instance_last_event: datetime | None
    lag_s: float | None
    progressing: bool
    failing: str | None
    owned: list[int]
    pending: list[int]
    exporter: bool | None
    freshness_count: int
    freshness_mean_s: float | None
    freshness_under_half_s: float | None
    skipped: list[tuple[str, str, int]]
    reports_running: int
    refused: list[tuple[str, int]]
    offsets: list[dict[str, Any]]
    topic: str
    sessions: int
    portal_sync: list[dict[str, Any]]


def _sync_row(tree: AgencyTree, record: AgencySyncRecord, now: datetime) -> dict[str, Any]:
    oldest = record.oldest_unsynced_at
    return {
        "code": record.agency_code,
        "name": tree.name(record.agency_code) or record.agency_code,
        "received": record.received,
        "synced": record.synced,
        "ratio": record.synced / record.received if record.received else None,
        "pending": record.pending,
        "failed": record.failed,
        "parked": record.parked,
        "oldest_h": max(0.0, (now - oldest).total_seconds()) / 3600 if oldest is not None else None,
        "as_of": record.as_of,
    }


async def read(state: MetricsState, now: datetime, tree: AgencyTree) -> Operations:
    consumer = state.projection.consumer
    last_ts = state.projection.index.last_event_ts
    last = datetime.fromtimestamp(last_ts, now.tzinfo) if last_ts is not None else None
    freshness = consumer.projector.freshness
    count = sum(freshness.counts)
    under = sum(freshness.counts[: BUCKETS.index(0.5) + 1])
    async with state.report_engine.connect() as conn:
        driver: Any = (await conn.get_raw_connection()).driver_connection
        rows = await driver.fetch(
            "SELECT partition, next_offset FROM consumed_offset WHERE topic = $1 ORDER BY partition",
            consumer.topic,
        )
        synced = await portal_sync.sync_records(conn, tree.listed())
    exporter = state.collector.exporter
    gate = state.report_gate
    return Operations(
        instance_last_event=last,
        lag_s=(now - last).total_seconds() if last is not None else None,
        progressing=consumer.progressing,
        failing=consumer.failing,
        owned=sorted(consumer.owned),
        pending=sorted(consumer.pending),
        exporter=exporter.leading if exporter is not None else None,
        freshness_count=count,
        freshness_mean_s=freshness.sum / count if count else None,
        freshness_under_half_s=under / count if count else None,
        skipped=[(r, SKIP_NAMES.get(r, r), n) for r, n in sorted(consumer.projector.skipped.items())],
        reports_running=gate.running,
        refused=[(REFUSAL_NAMES.get(r, r), gate.refused[r]) for r in REFUSAL_REASONS],
        offsets=[
            {"partition": p, "next_offset": n, "owned": p in consumer.owned}
            for p, n in ((r["partition"], r["next_offset"]) for r in rows)
        ],
        topic=consumer.topic,
        sessions=len(state.console.sessions),
        portal_sync=[
            _sync_row(tree, record, now)
            for code, record in sorted(synced.items(), key=lambda item: tree.order(item[0]))
            if code in tree
        ],
    )
