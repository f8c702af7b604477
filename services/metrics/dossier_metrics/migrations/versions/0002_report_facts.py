"""Report facts: the current facts of each dossier, every version's facts with the instant the
system learned them (for `as_of`), and the filed copies of named periods.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ROW_COUNTERS = (
    "carried_over",
    "online",
    "direct",
    "postal",
    "early",
    "on_time",
    "late",
    "in_time",
    "overdue",
    "paused",
    "withdrawn",
    "refused",
    "rescheduled",
)


def _facts() -> list[sa.Column[object]]:
    stamp = sa.DateTime(timezone=True)
    return [
        sa.Column("agency_code", sa.String, nullable=False),
        sa.Column("procedure_code", sa.String, nullable=False),
        sa.Column("field", sa.Text, nullable=False),
        sa.Column("received_at", stamp, nullable=True),
        sa.Column("channel", sa.String, nullable=False),
        sa.Column("ended_at", stamp, nullable=True),
        sa.Column("outcome", sa.String, nullable=True),
        sa.Column("legal_due_at", stamp, nullable=True),
        sa.Column("settled_due_at", stamp, nullable=True),
        sa.Column("pauses_from", stamp, nullable=True),
        sa.Column("pauses_until", stamp, nullable=True),
        sa.Column("reschedules", ARRAY(stamp), nullable=True),
        # the domain's judgement at each statutory period end within the pauses
        sa.Column("judged_at", ARRAY(stamp), nullable=True),
        sa.Column("judged_overdue", ARRAY(sa.Boolean), nullable=True),
        sa.Column("judged_paused", ARRAY(sa.Boolean), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "report_fact",
        sa.Column("dossier_code", sa.String, primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        *_facts(),
    )
    # A report of some agencies reads only this index (an index-only scan): its rows lie together by
    # agency and receipt, where the table's lie in the order they were written, a heap page per row.
    op.create_index(
        "ix_report_fact_agency_received",
        "report_fact",
        ["agency_code", "received_at"],
        postgresql_where=sa.text("received_at IS NOT NULL"),
        postgresql_include=[
            *(c.name for c in _facts() if c.name not in ("agency_code", "received_at")),
            "dossier_code",
        ],
    )
    op.create_table(
        "report_fact_history",
        sa.Column("dossier_code", sa.String, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("known_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_event_id", sa.String, nullable=False),
        *_facts(),
        sa.Column("payload", sa.LargeBinary, nullable=True),
        sa.PrimaryKeyConstraint("dossier_code", "version"),
    )
    op.create_index("ix_report_fact_history_known_from", "report_fact_history", ["known_from"])
    # as_of reports and filings of some agencies: each dossier's versions in order, per agency
    op.create_index(
        "ix_report_fact_history_agency", "report_fact_history", ["agency_code", "dossier_code", "version"]
    )
    # The dossiers stored before this revision: the service derives their facts at its next start
    # (`facts_backfill`), from their stored snapshots.
    op.create_table("report_fact_backfill", sa.Column("dossier_code", sa.String, primary_key=True))
    op.execute("INSERT INTO report_fact_backfill (dossier_code) SELECT dossier_code FROM dossier_snapshot")
    op.create_table(
        "report_filing",
        sa.Column("period", sa.String, primary_key=True),
        sa.Column("first_day", sa.Date, nullable=False),
        sa.Column("last_day", sa.Date, nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "report_filing_row",
        sa.Column("period", sa.String, sa.ForeignKey("report_filing.period"), nullable=False),
        sa.Column("agency_code", sa.String, nullable=False),
        sa.Column("procedure_code", sa.String, nullable=False),
        sa.Column("field", sa.Text, nullable=False),
        *(sa.Column(name, sa.BigInteger, nullable=False) for name in ROW_COUNTERS),
        sa.PrimaryKeyConstraint("period", "agency_code", "procedure_code", "field"),
    )


def downgrade() -> None:
    op.drop_table("report_filing_row")
    op.drop_table("report_filing")
    op.drop_table("report_fact_backfill")
    op.drop_table("report_fact_history")
    op.drop_table("report_fact")
