"""The processing schema: events, dossiers, outbox, relay positions, portal sync state.

Revision ID: 0001
Revises:
Create Date: 2025-07-01
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    for statement in _DDL.split(";"):
        if statement.strip():
            op.execute(statement)


_DDL = """
        create sequence event_seq;
        create table events (
            event_id text primary key,
            seq bigint not null,
            dossier_code text not null,
            agency_code text not null,
            type text not null,
            occurred_at timestamptz not null,
            payload bytea not null,
            kafka_partition integer,
            kafka_offset bigint,
            applied_at timestamptz not null default now()
        );
        create index events_dossier on events (dossier_code, seq);

        create table dossiers (
            dossier_code text primary key,
            agency_code text not null,
            procedure_code text,
            channel text,
            status_code smallint not null,
            submitted_at timestamptz,
            received_at timestamptz,
            legal_due_at timestamptz,
            due_at timestamptz,
            appointment_at timestamptz,
            finished_at timestamptz,
            ended_at timestamptz,
            returned_at timestamptz,
            end_kind text,
            timeliness text,
            is_open boolean not null,
            paused_since timestamptz,
            pauses jsonb not null,
            anomalies jsonb not null,
            reschedule_count integer not null,
            applicant_type smallint,
            on_site boolean not null,
            event_count integer not null,
            version bigint not null,
            last_event_id text not null,
            snapshot bytea not null,
            change_xid xid8 not null,
            updated_at timestamptz not null
        );
        create index dossiers_agency on dossiers (agency_code, dossier_code);
        create index dossiers_status on dossiers (status_code, dossier_code);
        create index dossiers_change on dossiers (change_xid, dossier_code);
        create index dossiers_open_due on dossiers (due_at) where is_open;

        create table outbox (
            id bigint generated always as identity primary key,
            dossier_code text not null,
            version bigint not null,
            payload bytea not null,
            created_at timestamptz not null default now(),
            sent_at timestamptz,
            unique (dossier_code, version)
        );
        create index outbox_unsent on outbox (id) where sent_at is null;

        create table relay_positions (
            topic text not null,
            partition integer not null,
            next_offset bigint not null,
            primary key (topic, partition)
        );

        create table sync_state (
            dossier_code text primary key,
            wanted_version bigint not null,
            synced_version bigint not null default 0,
            attempts integer not null default 0,
            last_error text,
            last_attempt_at timestamptz,
            next_attempt_at timestamptz not null default now(),
            synced_at timestamptz
        );
        create index sync_state_due on sync_state (next_attempt_at) where wanted_version > synced_version;

        create table sync_cursor (
            name text primary key,
            change_xid xid8 not null,
            dossier_code text not null
        );
"""


def downgrade() -> None:
    op.execute("drop table sync_cursor, sync_state, relay_positions, outbox, dossiers, events")
    op.execute("drop sequence event_seq")
