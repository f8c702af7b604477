"""`events` range-partitioned by the Vietnam-time month of `occurred_at`; `event_ids` keeps ids unique.

- `events` becomes a partitioned table: one partition per month (`events_YYYY_MM`, bounds at midnight
  Vietnam time, +07:00) and a DEFAULT partition `events_default` that takes an event of any month
  without a partition of its own (the service then moves it, `history/partitions.py`). Its primary key
  is `(event_id, occurred_at)`: PostgreSQL requires the partition key in it. A duplicate (same content,
  so the same `occurred_at`) lands in the same partition, but an id sent again with another instant
  would not: the key cannot make `event_id` unique across partitions.
- `event_ids (event_id primary key, occurred_at)`: every applied event's id, unpartitioned and never
  archived, so an id names one event forever (SPEC §3), across months and after a month is archived.
  The consumer inserts here first (`on conflict do nothing`), and finds an event's partition from here.
- `archived_dossiers (dossier_code, month)`: dossiers that had events in an archived month; the consumer
  sets aside (`archived`) any new event for them, since their history is no longer whole.

Existing rows are copied into the new table (each to its month's partition) in the migration's
transaction. Downgrade copies the rows that are still stored back into one table; the events of
archived months stay in their archive files.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

from datetime import date

from alembic import op
from sqlalchemy import text

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_COLUMNS = """
    event_id text not null,
    seq bigint not null,
    dossier_code text not null,
    agency_code text not null,
    type text not null,
    occurred_at timestamptz not null,
    payload bytea not null,
    kafka_partition integer,
    kafka_offset bigint,
    applied_at timestamptz not null default now()
"""
_NAMES = (
    "event_id, seq, dossier_code, agency_code, type, occurred_at, payload, kafka_partition, kafka_offset, "
    "applied_at"
)


def _next(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def upgrade() -> None:
    op.execute("alter table events rename to events_unpartitioned")
    op.execute("alter table events_unpartitioned rename constraint events_pkey to events_unpartitioned_pkey")
    op.execute("alter index events_dossier rename to events_unpartitioned_dossier")
    op.execute(
        f"create table events ({_COLUMNS}, primary key (event_id, occurred_at)) "
        "partition by range (occurred_at)"
    )
    op.execute("create index events_dossier on events (dossier_code, seq)")
    op.execute("create table events_default partition of events default")
    months = op.get_bind().execute(
        text(
            "select distinct date_trunc('month', occurred_at at time zone 'Asia/Ho_Chi_Minh')::date "
            "from events_unpartitioned"
        )
    )
    for (month,) in months.all():
        op.execute(
            f"create table events_{month:%Y_%m} partition of events "
            f"for values from ('{month:%Y-%m-%d} 00:00+07') to ('{_next(month):%Y-%m-%d} 00:00+07')"
        )
    op.execute(f"insert into events ({_NAMES}) select {_NAMES} from events_unpartitioned")
    op.execute("create table event_ids (event_id text primary key, occurred_at timestamptz not null)")
    op.execute(
        "insert into event_ids (event_id, occurred_at) select event_id, occurred_at from events_unpartitioned"
    )
    op.execute("drop table events_unpartitioned")
    op.execute(
        "create table archived_dossiers (dossier_code text not null, month date not null, "
        "archived_at timestamptz not null default now(), primary key (dossier_code, month))"
    )


def downgrade() -> None:
    op.execute(f"create table events_unpartitioned ({_COLUMNS}, primary key (event_id))")
    op.execute(f"insert into events_unpartitioned ({_NAMES}) select {_NAMES} from events")
    op.execute("drop table events, event_ids, archived_dossiers")
    op.execute("alter table events_unpartitioned rename to events")
    op.execute("alter table events rename constraint events_unpartitioned_pkey to events_pkey")
    op.execute("create index events_dossier on events (dossier_code, seq)")
