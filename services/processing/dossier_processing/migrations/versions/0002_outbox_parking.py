"""Parked outbox rows: snapshots the status topic refuses for good are set aside, not retried.

`parked_at`/`park_reason` mark a row the relay could not publish for a deterministic reason (e.g. larger
than the producer's maximum request size). The relay's queue skips parked rows; a second partial index
keeps them cheap to count and list.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("alter table outbox add column parked_at timestamptz, add column park_reason text")
    op.execute("drop index outbox_unsent")
    op.execute("create index outbox_unsent on outbox (id) where sent_at is null and parked_at is null")
    op.execute("create index outbox_parked on outbox (id) where parked_at is not null and sent_at is null")


def downgrade() -> None:
    op.execute("drop index outbox_parked")
    op.execute("drop index outbox_unsent")
    op.execute("alter table outbox drop column parked_at, drop column park_reason")
    op.execute("create index outbox_unsent on outbox (id) where sent_at is null")
