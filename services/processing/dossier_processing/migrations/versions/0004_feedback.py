"""Citizen feedback (phản ánh, kiến nghị): its events and each item's folded state.

- `feedback_events`: every applied feedback event, unique by `event_id` (a duplicate is ignored);
  `seq` is the arrival order that breaks ties between events of the same instant.
- `feedback`: one row per item (`feedback_code`), the fold of its events (`dossier_core.feedback`)
  with its deadline and `version` (1, 2, 3 …), the number of the snapshot last published to
  `feedback.status.v1`.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        create table feedback_events (
            event_id text primary key,
            seq bigserial not null,
            feedback_code text not null,
            agency_code text not null,
            type text not null,
            occurred_at timestamptz not null,
            occurred_offset_minutes integer not null,
            subject text,
            handler text,
            note text
        )
        """
    )
    op.execute("create index feedback_events_by_code on feedback_events (feedback_code)")
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
    op.execute("create index feedback_open on feedback (due_at) where stage in ('received', 'assigned')")


def downgrade() -> None:
    op.execute("drop table feedback")
    op.execute("drop table feedback_events")
