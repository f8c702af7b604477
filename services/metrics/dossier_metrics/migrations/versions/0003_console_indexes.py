"""The console's reads: the open dossiers per agency, and the ended ones per agency and end.

- `ix_report_fact_open`: every dossier open now, per agency, with what judges it now (the overview's
  pending counts and the worklist read only this index, not the whole table);
- `ix_report_fact_agency_ended`: the dossiers ended in a range, per agency, with their outcome (the
  overview's resolved counts and on-time trend).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_report_fact_open",
        "report_fact",
        ["agency_code"],
        postgresql_where=sa.text("received_at IS NOT NULL AND ended_at IS NULL"),
        postgresql_include=[
            "dossier_code",
            "procedure_code",
            "received_at",
            "legal_due_at",
            "settled_due_at",
            "pauses_from",
            "pauses_until",
        ],
    )
    op.create_index(
        "ix_report_fact_agency_ended",
        "report_fact",
        ["agency_code", "ended_at"],
        postgresql_where=sa.text("received_at IS NOT NULL AND ended_at IS NOT NULL"),
        postgresql_include=["outcome", "received_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_report_fact_agency_ended", "report_fact")
    op.drop_index("ix_report_fact_open", "report_fact")
