"""The tables of the processing schema (created by `migrations/`; names resolve through search_path).

- `events`: every applied event once, with the original protobuf bytes; partitioned by the month of
  `occurred_at` (`history/partitions.py`), so its primary key is `(event_id, occurred_at)`.
- `event_ids`: the id of every applied event, unpartitioned and never archived: what keeps `event_id`
  unique across months and after a month is archived (`history/archive.py`).
- `archived_dossiers`: the dossiers that had events in an archived month; they take no new event.
- `dossiers`: the current state of each dossier, re-folded from its events, with its snapshot.
- `outbox`: `DossierStatusChanged` snapshots waiting for (or done with) publication, or parked when the
  status topic refuses them for good.
- `relay_positions`: where the relay's last confirmed write to the status topic ended, per partition.
- `sync_state` / `sync_cursor`: the push worker's progress towards the national portal.

The rows the consumer writes are defined once, here: `EventRow` and `DossierRow` name each column with its
type, and the `events` and `dossiers` tables (and the consumer's bulk statements, `ingest/sql.py`) are
derived from them. A new `dossiers` column is a new `DossierRow` field (computed in `ingest/rows.py`) and a
new migration; migrations are history and never derived.
"""

from __future__ import annotations

import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, get_args, get_type_hints

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    Table,
    Text,
    any_,
    cast,
    literal,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine, UserDefinedType


class Xid8(UserDefinedType[Any]):
    """PostgreSQL's 64-bit transaction id: orders changes by the transaction that wrote them."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "xid8"


metadata = MetaData()
TS = DateTime(timezone=True)


def sql(column_type: TypeEngine[Any], *, primary_key: bool = False) -> dict[str, Any]:
    """A row field's column: its type (the column is nullable when the field's type admits None)."""
    return {"sql_type": column_type, "primary_key": primary_key}


@dataclass(frozen=True)
class EventRow:
    """An applied event as the `events` table stores it (`applied_at` is the database's clock)."""

    event_id: str = field(metadata=sql(Text(), primary_key=True))
    seq: int = field(metadata=sql(BigInteger()))
    dossier_code: str = field(metadata=sql(Text()))
    agency_code: str = field(metadata=sql(Text()))
    type: str = field(metadata=sql(Text()))
    occurred_at: datetime = field(metadata=sql(TS, primary_key=True))
    payload: bytes = field(metadata=sql(LargeBinary()))
    kafka_partition: int | None = field(metadata=sql(Integer()))
    kafka_offset: int | None = field(metadata=sql(BigInteger()))


@dataclass(frozen=True)
class DossierRow:
    """The `dossiers` row of a dossier at a new version (`change_xid` and `updated_at` are the writing
    transaction's). `pauses` and `anomalies` are JSON text; `snapshot` the encoded status snapshot."""

    dossier_code: str = field(metadata=sql(Text(), primary_key=True))
    agency_code: str = field(metadata=sql(Text()))
    procedure_code: str | None = field(metadata=sql(Text()))
    channel: str | None = field(metadata=sql(Text()))
    status_code: int = field(metadata=sql(SmallInteger()))
    submitted_at: datetime | None = field(metadata=sql(TS))
    received_at: datetime | None = field(metadata=sql(TS))
    legal_due_at: datetime | None = field(metadata=sql(TS))
    due_at: datetime | None = field(metadata=sql(TS))
    appointment_at: datetime | None = field(metadata=sql(TS))
    finished_at: datetime | None = field(metadata=sql(TS))
    ended_at: datetime | None = field(metadata=sql(TS))
    returned_at: datetime | None = field(metadata=sql(TS))
    end_kind: str | None = field(metadata=sql(Text()))
    timeliness: str | None = field(metadata=sql(Text()))
    is_open: bool = field(metadata=sql(Boolean()))
    paused_since: datetime | None = field(metadata=sql(TS))
    pauses: str = field(metadata=sql(JSONB()))
    anomalies: str = field(metadata=sql(JSONB()))
    reschedule_count: int = field(metadata=sql(Integer()))
    applicant_type: int | None = field(metadata=sql(SmallInteger()))
    on_site: bool = field(metadata=sql(Boolean()))
    event_count: int = field(metadata=sql(Integer()))
    version: int = field(metadata=sql(BigInteger()))
    last_event_id: str = field(metadata=sql(Text()))
    snapshot: bytes = field(metadata=sql(LargeBinary()))


def row_columns(row_type: type[Any]) -> Iterator[Column[Any]]:
    """The columns of a row dataclass, in field order: type from the field, nullable when its
    annotation admits None."""
    hints = get_type_hints(row_type)
    for f in fields(row_type):
        hint = hints[f.name]
        optional = isinstance(hint, types.UnionType) and type(None) in get_args(hint)
        yield Column(f.name, f.metadata["sql_type"], primary_key=f.metadata["primary_key"], nullable=optional)


events = Table(
    "events",
    metadata,
    *row_columns(EventRow),
    Column("applied_at", TS, nullable=False),
)

event_ids = Table(
    "event_ids",
    metadata,
    Column("event_id", Text, primary_key=True),
    Column("occurred_at", TS, nullable=False),
)

archived_dossiers = Table(
    "archived_dossiers",
    metadata,
    Column("dossier_code", Text, primary_key=True),
    Column("month", Date, primary_key=True),
    Column("archived_at", TS, nullable=False),
)

dossiers = Table(
    "dossiers",
    metadata,
    *row_columns(DossierRow),
    Column("change_xid", Xid8, nullable=False),
    Column("updated_at", TS, nullable=False),
)
#: every `dossiers` column but `change_xid` (read as text where needed: xid8 has no binary codec in asyncpg)
READ_COLUMNS = [c for c in dossiers.c if c.name != "change_xid"]


def agency_like(patterns: Sequence[str]) -> ColumnElement[bool]:
    """`dossiers` rows whose agency matches one of these SQL `LIKE` patterns (a reader's scope)."""
    return dossiers.c.agency_code.like(any_(cast(literal(list(patterns), ARRAY(Text)), ARRAY(Text))))


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
    Column("portal_has", Boolean, nullable=False),
    Column("error_code", Text),
    Column("parked_at", TS),
    Column("park_reason", Text),
    Column("parked_version", BigInteger),
    Column("progress_version", BigInteger, nullable=False),
    Column("progress_sent", ARRAY(Text), nullable=False),
)

sync_cursor = Table(
    "sync_cursor",
    metadata,
    Column("name", Text, primary_key=True),
    Column("change_xid", Xid8, nullable=False),
    Column("dossier_code", Text, nullable=False),
)
