"""Applicant data (personal data, Decree 13/2023/NĐ-CP), stored sealed (docs/security.md).

- `applicants`: per dossier, the sealed blob (X25519 sealed box to processing's key) of its latest
  `dossier.received` that carried applicant data, and which event it came from.
- `applicant_erasures`: the audit of `dossier-processing erase-applicant`: which dossier, when, by whom
  and what was removed (never the data itself). A dossier named here never takes applicant data again.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        create table applicants (
            dossier_code text primary key,
            sealed bytea not null,
            event_id text not null,
            occurred_at timestamptz not null,
            seq bigint not null,
            stored_at timestamptz not null default now()
        )
        """
    )
    op.execute(
        """
        create table applicant_erasures (
            id bigserial primary key,
            dossier_code text not null,
            erased_at timestamptz not null default now(),
            erased_by text not null,
            applicant_rows integer not null,
            events_cleared integer not null,
            archived_months integer not null
        )
        """
    )
    op.execute("create index applicant_erasures_by_code on applicant_erasures (dossier_code)")


def downgrade() -> None:
    op.execute("drop table applicant_erasures")
    op.execute("drop table applicants")
