"""The tables of the processing schema (created by `migrations/`; names resolve through search_path).

- `events`: every applied event once (`event_id` unique), with the original protobuf bytes.
- `dossiers`: the current state of each dossier, re-folded from its events, with its snapshot.
- `outbox`: `DossierStatusChanged` snapshots waiting for (or done with) publication, or parked when the
  status topic refuses them for good.
- `relay_positions`: where the relay's last confirmed write to the status topic ended, per partition.
- `sync_state` / `sync_cursor`: the push worker's progress towards the national portal.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import UserDefinedType


class Xid8(UserDefinedType[Any]):
    """PostgreSQL's 64-bit transaction id: orders changes by the transaction that wrote them."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "xid8"


metadata = MetaData()
TS = DateTime(timezone=True)

events = Table(
    "events",
    metadata,
    Column("event_id", Text, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("dossier_code", Text, nullable=False),
    Column("agency_code", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("occurred_at", TS, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("kafka_partition", Integer),
    Column("kafka_offset", BigInteger),
    Column("applied_at", TS, nullable=False),
)

dossiers = Table(
    "dossiers",
    metadata,
    Column("dossier_code", Text, primary_key=True),
    Column("agency_code", Text, nullable=False),
    Column("procedure_code", Text),
    Column("channel", Text),
    Column("status_code", SmallInteger, nullable=False),
    Column("submitted_at", TS),
    Column("received_at", TS),
    Column("legal_due_at", TS),
    Column("due_at", TS),
    Column("appointment_at", TS),
    Column("finished_at", TS),
    Column("ended_at", TS),
    Column("returned_at", TS),
    Column("end_kind", Text),
    Column("timeliness", Text),
    Column("is_open", Boolean, nullable=False),
    Column("paused_since", TS),
    Column("pauses", JSONB, nullable=False),
    Column("anomalies", JSONB, nullable=False),
    Column("reschedule_count", Integer, nullable=False),
    Column("applicant_type", SmallInteger),
    Column("on_site", Boolean, nullable=False),
    Column("event_count", Integer, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("last_event_id", Text, nullable=False),
    Column("snapshot", LargeBinary, nullable=False),
    Column("change_xid", Xid8, nullable=False),
    Column("updated_at", TS, nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("dossier_code", Text, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("sent_at", TS),
    Column("parked_at", TS),
    Column("park_reason", Text),
)

relay_positions = Table(
    "relay_positions",
    metadata,
    Column("topic", Text, primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("next_offset", BigInteger, nullable=False),
)

sync_state = Table(
    "sync_state",
    metadata,
    Column("dossier_code", Text, primary_key=True),
    Column("wanted_version", BigInteger, nullable=False),
    Column("synced_version", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text),
    Column("last_attempt_at", TS),
    Column("next_attempt_at", TS, nullable=False),
    Column("synced_at", TS),
)

sync_cursor = Table(
    "sync_cursor",
    metadata,
    Column("name", Text, primary_key=True),
    Column("change_xid", Xid8, nullable=False),
    Column("dossier_code", Text, nullable=False),
)
