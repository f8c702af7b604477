"""Each agency's sync state towards the national portal, as processing last published it on
`portal.sync.v1` (`dossier_metrics.portal_sync`): the Decision 766/QĐ-TTg sync rate of the indicators
report and the console's operations page.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        create table portal_sync (
            agency_code text primary key,
            received bigint not null,
            synced bigint not null,
            pending bigint not null,
            failed bigint not null,
            parked bigint not null,
            oldest_unsynced_at timestamptz,
            as_of timestamptz not null
        )
        """
    )


def downgrade() -> None:
    op.execute("drop table portal_sync")
