""" "4 tại chỗ": the on-the-spot flag of each dossier's report facts (current and history), its counter
per partition and agency, and its figure in the filed rows.

The report's index-only scan reads every fact column, so `ix_report_fact_agency_received` is made
again with `on_site` among its columns. The dossiers stored before this revision that were received
are listed in `on_site_backfill`; the service reads their flag from their stored snapshots at its next
start (`on_site_backfill.py`). Rows filed before this revision hold 0 on-the-spot dossiers.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_FACT_INDEX = "ix_report_fact_agency_received"
#: The columns the report index carries beside its key (as made in 0002), then the new one.
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
)


def _fact_index(included: tuple[str, ...]) -> None:
    op.create_index(
        _FACT_INDEX,
        "report_fact",
        ["agency_code", "received_at"],
        postgresql_where=sa.text("received_at IS NOT NULL"),
        postgresql_include=list(included),
    )


def upgrade() -> None:
    op.add_column(
        "agency_counter", sa.Column("received_on_site", sa.BigInteger, nullable=False, server_default="0")
    )
    for table in ("report_fact", "report_fact_history"):
        op.add_column(table, sa.Column("on_site", sa.Boolean, nullable=False, server_default=sa.false()))
    op.add_column(
        "report_filing_row", sa.Column("on_site", sa.BigInteger, nullable=False, server_default="0")
    )
    op.drop_index(_FACT_INDEX, "report_fact")
    _fact_index((*_INCLUDED, "on_site"))
    op.create_table("on_site_backfill", sa.Column("dossier_code", sa.String, primary_key=True))
    op.execute(
        "INSERT INTO on_site_backfill (dossier_code)"
        " SELECT dossier_code FROM dossier_snapshot WHERE received_at IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_table("on_site_backfill")
    op.drop_index(_FACT_INDEX, "report_fact")
    _fact_index(_INCLUDED)
    op.drop_column("report_filing_row", "on_site")
    for table in ("report_fact_history", "report_fact"):
        op.drop_column(table, "on_site")
    op.drop_column("agency_counter", "received_on_site")
