"""The national portal's protocol: per-dossier sync state for sessions, per-record answers and parking.

`sync_state` gains:
- `portal_has`: the portal holds the dossier (it accepted a record of it once, or said it already has
  it), so its next record goes with `isUpdating` true; set from `synced_version` for existing rows;
- `error_code`: the portal's `error_code` of the last refused attempt (null after an acceptance or when
  the call itself failed);
- `parked_at`, `park_reason`, `parked_version`: a record (or its progress) the portal rejected for good,
  at that version; it is not posted again until a newer version is wanted or an operator re-queues it
  (`dossier-processing portal requeue`);
- `progress_version`, `progress_sent`: the dossier version whose `CapNhatTienDoHoSoMC` progress the
  portal accepted, and the processing steps it holds, by the `event_id` of the event that made each
  (a step not among them is sent, one among them never again, even when a late event puts a new step
  before them). A dossier is fully synced at version v when `synced_version = progress_version = v`.

The due index covers dossiers whose progress lags their record as well, and leaves out those parked at
their wanted version (so many parked dossiers never slow a claim down).

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
        alter table sync_state
            add column portal_has boolean not null default false,
            add column error_code text,
            add column parked_at timestamptz,
            add column park_reason text,
            add column parked_version bigint,
            add column progress_version bigint not null default 0,
            add column progress_sent text[] not null default '{}'
        """
    )
    op.execute("update sync_state set portal_has = true where synced_version > 0")
    op.execute("drop index sync_state_due")
    op.execute(
        """
        create index sync_state_due on sync_state (next_attempt_at)
        where (wanted_version > synced_version or progress_version < synced_version)
          and (parked_version is null or wanted_version > parked_version)
        """
    )
    op.execute("create index sync_state_parked on sync_state (parked_at) where parked_at is not null")


def downgrade() -> None:
    op.execute("drop index sync_state_parked")
    op.execute("drop index sync_state_due")
    op.execute(
        "create index sync_state_due on sync_state (next_attempt_at) where wanted_version > synced_version"
    )
    op.execute(
        """
        alter table sync_state
            drop column portal_has, drop column error_code, drop column parked_at, drop column park_reason,
            drop column parked_version, drop column progress_version, drop column progress_sent
        """
    )
