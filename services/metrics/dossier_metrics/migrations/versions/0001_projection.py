"""Projection tables: latest snapshot per dossier, counters per partition and agency, offsets.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

COUNTERS = (
    "received_direct",
    "received_online",
    "received_postal",
    "resolved_early",
    "resolved_on_time",
    "resolved_late",
    "withdrawn",
    "refused",
    "rescheduled",
)


def upgrade() -> None:
    op.create_table(
        "dossier_snapshot",
        sa.Column("dossier_code", sa.String, primary_key=True),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("agency_code", sa.String, nullable=False),
        sa.Column("procedure_code", sa.String, nullable=False),
        sa.Column("field", sa.Text, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("counted", ARRAY(sa.Integer), nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_dossier_snapshot_partition", "dossier_snapshot", ["partition"])
    op.create_index("ix_dossier_snapshot_agency_code", "dossier_snapshot", ["agency_code"])
    op.create_index("ix_dossier_snapshot_received_at", "dossier_snapshot", ["received_at"])
    op.create_table(
        "agency_counter",
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("agency_code", sa.String, nullable=False),
        *(sa.Column(name, sa.BigInteger, nullable=False, server_default="0") for name in COUNTERS),
        sa.PrimaryKeyConstraint("partition", "agency_code"),
    )
    op.create_table(
        "consumed_offset",
        sa.Column("topic", sa.String, nullable=False),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("next_offset", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("topic", "partition"),
    )


def downgrade() -> None:
    op.drop_table("consumed_offset")
    op.drop_table("agency_counter")
    op.drop_table("dossier_snapshot")
