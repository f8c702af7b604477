"""Decision 766/QĐ-TTg indicators: the receipt's `digitised` flag and the fees' `payment_channel` in
each dossier's report facts (current and history), and their counters per partition and agency
(`received_digitised`, `fee_paid`, `fee_paid_online`).

The report's index-only scan reads every fact column, so `ix_report_fact_agency_received` is made
again with the two among its columns. No backfill: the fields are new with this revision's events, so
the dossiers stored before it carry neither (a rebuild from the status topic recounts everything).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_FACT_INDEX = "ix_report_fact_agency_received"
#: The columns the report index carries beside its key (as made in 0004), then the new ones.
_INCLUDED = (
    "procedure_code",
    "field",
    "channel",
    "ended_at",
    "outcome",
    "legal_due_at",
    "settled_due_at",
    "pauses_from",
    "pauses_until",
    "reschedules",
    "judged_at",
    "judged_overdue",
    "judged_paused",
    "dossier_code",
    "on_site",
)
_NEW = ("digitised", "payment_channel")
_COUNTERS = ("received_digitised", "fee_paid", "fee_paid_online")


def _fact_index(included: tuple[str, ...]) -> None:
    op.create_index(
        _FACT_INDEX,
        "report_fact",
        ["agency_code", "received_at"],
        postgresql_where=sa.text("received_at IS NOT NULL"),
        postgresql_include=list(included),
    )


def upgrade() -> None:
    for name in _COUNTERS:
        op.add_column("agency_counter", sa.Column(name, sa.BigInteger, nullable=False, server_default="0"))
    for table in ("report_fact", "report_fact_history"):
        op.add_column(table, sa.Column("digitised", sa.Boolean, nullable=False, server_default=sa.false()))
        op.add_column(table, sa.Column("payment_channel", sa.String, nullable=True))
    op.drop_index(_FACT_INDEX, "report_fact")
    _fact_index((*_INCLUDED, *_NEW))


def downgrade() -> None:
    op.drop_index(_FACT_INDEX, "report_fact")
    _fact_index(_INCLUDED)
    for table in ("report_fact_history", "report_fact"):
        for name in reversed(_NEW):
            op.drop_column(table, name)
    for name in reversed(_COUNTERS):
        op.drop_column("agency_counter", name)
