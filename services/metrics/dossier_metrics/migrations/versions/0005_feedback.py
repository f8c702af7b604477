"""Citizen feedback: the latest state of each item as processing published it on `feedback.status.v1`
(`dossier_metrics.feedback`), for the live series and the report's feedback section.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        create table feedback (
            feedback_code text primary key,
            agency_code text not null,
            stage text not null,
            received_at timestamptz,
            assigned_at timestamptz,
            answered_at timestamptz,
            published_at timestamptz,
            withdrawn_at timestamptz,
            due_at timestamptz,
            version bigint not null
        )
        """
    )
    op.execute("create index feedback_by_receipt on feedback (received_at)")


def downgrade() -> None:
    op.execute("drop table feedback")
