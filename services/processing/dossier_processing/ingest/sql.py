"""All SQL of the service. Functions take an `AsyncConnection` inside the caller's transaction.

Bulk writes pass one array per column to `unnest(...)`, so a batch of any size is three statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ARRAY, Row, Text, and_, any_, cast, func, literal, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from dossier_contracts.event_codec import decode_event
from dossier_contracts.snapshot_codec import event_from_proto
from dossier_processing import models
from dossier_processing.batch import EVENT_LIMIT_ANOMALY, BatchPlan, StoredDossier
from dossier_processing.history_cache import HistoryCache


class ConcurrentChange(RuntimeError):
    """Another writer changed a dossier of this batch first (e.g. a consumer that lost its
    partition but had not noticed yet). The transaction is rolled back and the batch retried."""


# -- consumer -------------------------------------------------------------------------------------


async def reserve_seqs(conn: AsyncConnection, n: int) -> list[int]:
    """`n` increasing arrival numbers (the tie-breaker between events with the same `occurred_at`)."""
    if n == 0:
        return []
    rows = await conn.execute(text("select nextval('event_seq') from generate_series(1, :n)"), {"n": n})
    return sorted(r[0] for r in rows)


async def stored_payloads(conn: AsyncConnection, event_ids: Sequence[str]) -> dict[str, bytes]:
    """The stored payload of each of `event_ids` already in the database, whatever its dossier (one
    primary-key lookup): how the batch tells duplicates from `event_id` conflicts."""
    if not event_ids:
        return {}
    rows = await conn.execute(
        text("select event_id, payload from events where event_id = any(cast(:ids as text[]))"),
        {"ids": list(set(event_ids))},
    )
    return {event_id: bytes(payload) for event_id, payload in rows}


async def load_stored(
    conn: AsyncConnection, codes: Sequence[str], cache: HistoryCache | None = None
) -> dict[str, StoredDossier]:
    """The stored events and version of each dossier in `codes` (absent ones are left out), and whether
    it is flagged for the event limit. Histories whose cached version matches the stored one come from
    `cache` instead of being read again."""
    stored: dict[str, StoredDossier] = {}
    if not codes:
        return stored
    rows = await conn.execute(
        text(
            "select dossier_code, version, jsonb_array_length(anomalies), "
            "anomalies @> cast(:flag as jsonb), last_event_id from dossiers "
            "where dossier_code = any(cast(:codes as text[]))"
        ),
        {"codes": list(codes), "flag": orjson.dumps([EVENT_LIMIT_ANOMALY]).decode()},
    )
    missing: list[str] = []
    for code, version, anomaly_count, limit_reached, last_event_id in rows:
        cached = cache.get(code, version) if cache is not None else None
        history = list(cached) if cached is not None else []
        stored[code] = StoredDossier(version, anomaly_count, history, bool(limit_reached), last_event_id)
        if cached is None:
            missing.append(code)
    if missing:
        events = await conn.execute(
            text(
                "select dossier_code, seq, payload from events where dossier_code = any(cast(:c as text[]))"
            ),
            {"c": missing},
        )
        for code, seq, payload in events:
            stored.setdefault(code, StoredDossier()).events.append(
                event_from_proto(decode_event(payload), seq)
            )
    return stored


_INSERT_EVENTS = text(
    """
    insert into events (event_id, seq, dossier_code, agency_code, type, occurred_at, payload,
                        kafka_partition, kafka_offset)
    select * from unnest(cast(:event_id as text[]), cast(:seq as bigint[]),
                         cast(:dossier_code as text[]), cast(:agency_code as text[]),
                         cast(:type as text[]), cast(:occurred_at as timestamptz[]),
                         cast(:payload as bytea[]), cast(:partition as int[]), cast(:offset as bigint[]))
    on conflict (event_id) do nothing
    """
)

_DOSSIER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("dossier_code", "text"),
    ("agency_code", "text"),
    ("procedure_code", "text"),
    ("channel", "text"),
    ("status_code", "smallint"),
    ("submitted_at", "timestamptz"),
    ("received_at", "timestamptz"),
    ("legal_due_at", "timestamptz"),
    ("due_at", "timestamptz"),
    ("appointment_at", "timestamptz"),
    ("finished_at", "timestamptz"),
    ("ended_at", "timestamptz"),
    ("returned_at", "timestamptz"),
    ("end_kind", "text"),
    ("timeliness", "text"),
    ("is_open", "boolean"),
    ("paused_since", "timestamptz"),
    ("pauses", "jsonb"),
    ("anomalies", "jsonb"),
    ("reschedule_count", "int"),
    ("applicant_type", "smallint"),
    ("on_site", "boolean"),
    ("event_count", "int"),
    ("version", "bigint"),
    ("last_event_id", "text"),
    ("snapshot", "bytea"),
)
_NAMES = [name for name, _ in _DOSSIER_COLUMNS]
_UPSERT_DOSSIERS = text(
    f"""
    insert into dossiers ({", ".join(_NAMES)}, change_xid, updated_at)
    select u.*, pg_current_xact_id(), now()
    from unnest({", ".join(f"cast(:{n} as {t}[])" for n, t in _DOSSIER_COLUMNS)}) as u({", ".join(_NAMES)})
    on conflict (dossier_code) do update set
        {", ".join(f"{n} = excluded.{n}" for n in _NAMES[1:])},
        change_xid = excluded.change_xid, updated_at = excluded.updated_at
    where dossiers.version = excluded.version - 1
    """
)
_INSERT_OUTBOX = text(
    """
    insert into outbox (dossier_code, version, payload)
    select * from unnest(cast(:code as text[]), cast(:version as bigint[]), cast(:payload as bytea[]))
    """
)


async def write_plan(conn: AsyncConnection, plan: BatchPlan) -> None:
    """Events, re-folded dossiers and their outbox snapshots, in the caller's transaction. A dossier
    may change without new events (flagged when its later events exceed the event limit)."""
    ev = plan.events
    if ev:
        inserted = await conn.execute(
            _INSERT_EVENTS,
            {
                "event_id": [e.event_id for e in ev],
                "seq": [e.seq for e in ev],
                "dossier_code": [e.dossier_code for e in ev],
                "agency_code": [e.agency_code for e in ev],
                "type": [e.type for e in ev],
                "occurred_at": [e.occurred_at for e in ev],
                "payload": [e.payload for e in ev],
                "partition": [e.partition for e in ev],
                "offset": [e.offset for e in ev],
            },
        )
        if inserted.rowcount != len(ev):
            raise ConcurrentChange(f"{len(ev) - inserted.rowcount} events were stored meanwhile")
    ds = plan.dossiers
    if not ds:
        return
    upserted = await conn.execute(_UPSERT_DOSSIERS, {n: [getattr(d, n) for d in ds] for n in _NAMES})
    if upserted.rowcount != len(ds):
        raise ConcurrentChange("a dossier's version moved meanwhile")
    await conn.execute(
        _INSERT_OUTBOX,
        {
            "code": [d.dossier_code for d in ds],
            "version": [d.version for d in ds],
            "payload": [d.snapshot for d in ds],
        },
    )


# -- outbox relay ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxRow:
    id: int
    dossier_code: str
    version: int
    payload: bytes


async def unsent(conn: AsyncConnection, limit: int) -> list[OutboxRow]:
    """The relay's next round: of the `limit` oldest rows neither sent nor parked, the first of each
    dossier, oldest first. One version per dossier per round means a refused record can never let
    the same dossier's next version overtake it."""
    rows = await conn.execute(
        text(
            """
            select id, dossier_code, version, payload from outbox
            where id in (
                select distinct on (dossier_code) id
                from (
                    select id, dossier_code from outbox
                    where sent_at is null and parked_at is null order by id limit :n
                ) oldest
                order by dossier_code, id
            )
            order by id
            """
        ),
        {"n": limit},
    )
    return [OutboxRow(*r) for r in rows]


async def park(conn: AsyncConnection, reasons: Sequence[tuple[int, str]]) -> None:
    """Set aside rows the status topic refuses for good: `(outbox id, reason)`."""
    if reasons:
        await conn.execute(
            text(
                """
                update outbox o set parked_at = now(), park_reason = u.reason
                from unnest(cast(:ids as bigint[]), cast(:reasons as text[])) as u(id, reason)
                where o.id = u.id and o.sent_at is null
                """
            ),
            {"ids": [i for i, _ in reasons], "reasons": [r for _, r in reasons]},
        )


async def parked_count(conn: AsyncConnection) -> int:
    return int(
        await conn.scalar(text("select count(*) from outbox where parked_at is not null and sent_at is null"))
        or 0
    )


async def mark_sent(conn: AsyncConnection, ids: Sequence[int]) -> None:
    if ids:
        await conn.execute(
            text(
                "update outbox set sent_at = now() where id = any(cast(:ids as bigint[])) and sent_at is null"
            ),
            {"ids": list(ids)},
        )


async def relay_positions(conn: AsyncConnection, topic: str) -> dict[int, int]:
    rows = await conn.execute(
        text("select partition, next_offset from relay_positions where topic = :t"), {"t": topic}
    )
    return {p: o for p, o in rows}


async def save_relay_positions(conn: AsyncConnection, topic: str, positions: dict[int, int]) -> None:
    if positions:
        await conn.execute(
            text(
                """
                insert into relay_positions (topic, partition, next_offset)
                select :t, * from unnest(cast(:p as int[]), cast(:o as bigint[]))
                on conflict (topic, partition) do update
                set next_offset = greatest(relay_positions.next_offset, excluded.next_offset)
                """
            ),
            {"t": topic, "p": list(positions), "o": list(positions.values())},
        )


async def outbox_backlog(conn: AsyncConnection) -> tuple[int, datetime | None]:
    row = (
        await conn.execute(
            text("select count(*), min(created_at) from outbox where sent_at is null and parked_at is null")
        )
    ).one()
    return int(row[0]), row[1]


async def purge_sent_outbox(conn: AsyncConnection, older_than_days: int) -> int:
    """Sent rows are kept a while for audit; the newest row of each dossier is never needed again
    for correctness (versions come from `dossiers`)."""
    result = await conn.execute(
        text("delete from outbox where sent_at < now() - make_interval(days => :d)"), {"d": older_than_days}
    )
    return int(result.rowcount)


# -- API ------------------------------------------------------------------------------------------

D = models.dossiers
#: every column but `change_xid` (read as text where needed: xid8 has no binary codec in asyncpg)
READ_COLUMNS = [c for c in D.c if c.name != "change_xid"]


async def dossier_by_code(conn: AsyncConnection, code: str) -> Row[Any] | None:
    return (await conn.execute(select(*READ_COLUMNS).where(D.c.dossier_code == code))).first()


async def events_of(conn: AsyncConnection, code: str) -> list[Row[Any]]:
    E = models.events
    query = select(E.c.seq, E.c.payload, E.c.applied_at).where(E.c.dossier_code == code)
    return list(await conn.execute(query.order_by(E.c.occurred_at, E.c.seq)))


@dataclass(frozen=True)
class ListFilter:
    agency: str | None = None
    status: int | None = None
    pending_state: str | None = None
    #: `LIKE` patterns of the agencies the reader may see; None = no narrowing in SQL
    agencies_like: Sequence[str] | None = None


def _agency_like(patterns: Sequence[str]) -> Any:
    return D.c.agency_code.like(any_(cast(literal(list(patterns), ARRAY(Text)), ARRAY(Text))))


async def list_dossiers(
    conn: AsyncConnection, f: ListFilter, after: str | None, limit: int, now: datetime
) -> list[Row[Any]]:
    """Dossiers by code after the cursor. For `pending_state` this is a superset (a paused dossier's
    deadline grows while paused); the caller confirms each row with the domain core."""
    query = select(*READ_COLUMNS)
    if f.agency:
        query = query.where(D.c.agency_code == f.agency)
    if f.agencies_like is not None:
        query = query.where(_agency_like(f.agencies_like))
    if f.status is not None:
        query = query.where(D.c.status_code == f.status)
    if f.pending_state == "paused":
        query = query.where(D.c.is_open, D.c.paused_since.is_not(None))
    elif f.pending_state == "overdue":
        query = query.where(D.c.is_open, D.c.due_at < now)
    elif f.pending_state == "in_time":
        query = query.where(
            D.c.is_open, (D.c.due_at.is_(None)) | (D.c.due_at >= now) | D.c.paused_since.is_not(None)
        )
    if after is not None:
        query = query.where(D.c.dossier_code > after)
    return list(await conn.execute(query.order_by(D.c.dossier_code).limit(limit)))


async def changes_after(
    conn: AsyncConnection, xid: int, code: str, limit: int, agencies_like: Sequence[str] | None = None
) -> list[Row[Any]]:
    """Dossiers changed after the (transaction id, code) cursor, only from transactions older than
    every one still running, so a reader never skips a change that commits later; `agencies_like`
    (`LIKE` patterns) leaves other agencies out."""
    cursor = tuple_(D.c.change_xid, D.c.dossier_code) > tuple_(
        cast(literal(str(xid)), models.Xid8()), literal(code)
    )
    horizon = D.c.change_xid < func.pg_snapshot_xmin(func.pg_current_snapshot())
    scope = _agency_like(agencies_like) if agencies_like is not None else literal(True)
    query = (
        select(*READ_COLUMNS, cast(D.c.change_xid, Text).label("xid_text"))
        .where(and_(cursor, horizon, scope))
        .order_by(D.c.change_xid, D.c.dossier_code)
        .limit(limit)
    )
    return list(await conn.execute(query))


# -- portal sync ----------------------------------------------------------------------------------


async def lock_sync_cursor(conn: AsyncConnection, name: str) -> tuple[int, str] | None:
    """The cursor, locked until the end of the caller's transaction; None while another instance
    holds it (one follower of the change feed at a time)."""
    lock = text(
        "select change_xid::text, dossier_code from sync_cursor where name = :n for update skip locked"
    )
    row = (await conn.execute(lock, {"n": name})).first()
    if row is None:
        if await conn.scalar(text("select exists (select 1 from sync_cursor where name = :n)"), {"n": name}):
            return None
        await conn.execute(
            text(
                "insert into sync_cursor (name, change_xid, dossier_code) values (:n, cast('0' as xid8), '')"
                " on conflict (name) do nothing"
            ),
            {"n": name},
        )
        row = (await conn.execute(lock, {"n": name})).first()
    return (int(row[0]), row[1]) if row is not None else None


async def save_sync_cursor(conn: AsyncConnection, name: str, xid: int, code: str) -> None:
    await conn.execute(
        text(
            """
            insert into sync_cursor (name, change_xid, dossier_code) values (:n, cast(:x as xid8), :c)
            on conflict (name) do update
            set change_xid = excluded.change_xid, dossier_code = excluded.dossier_code
            """
        ),
        {"n": name, "x": xid, "c": code},
    )


async def want_sync(conn: AsyncConnection, versions: dict[str, int]) -> None:
    """Record that these dossiers must reach the portal at (at least) these versions."""
    if versions:
        await conn.execute(
            text(
                """
                insert into sync_state (dossier_code, wanted_version)
                select * from unnest(cast(:c as text[]), cast(:v as bigint[]))
                on conflict (dossier_code) do update
                set wanted_version = greatest(sync_state.wanted_version, excluded.wanted_version)
                """
            ),
            {"c": list(versions), "v": list(versions.values())},
        )


async def claim_due_for_sync(conn: AsyncConnection, limit: int) -> list[Row[Any]]:
    """Dossiers whose latest version the portal has not accepted yet and whose backoff is over, their
    `sync_state` rows locked until the end of the caller's transaction. Rows another instance holds
    are skipped, so each dossier is posted by one instance at a time; the version condition is
    re-checked on the locked row, so a version the portal already took is never posted again."""
    S = models.sync_state
    query = (
        select(*READ_COLUMNS, S.c.attempts, S.c.synced_version)
        .join(S, S.c.dossier_code == D.c.dossier_code)
        .where(
            S.c.wanted_version > S.c.synced_version,
            D.c.version > S.c.synced_version,
            S.c.next_attempt_at <= func.now(),
        )
        .order_by(S.c.next_attempt_at)
        .limit(limit)
        .with_for_update(of=S, skip_locked=True)
    )
    return list(await conn.execute(query))


async def mark_synced(conn: AsyncConnection, versions: dict[str, int]) -> None:
    if versions:
        await conn.execute(
            text(
                """
                update sync_state s set synced_version = greatest(s.synced_version, u.v), attempts = 0,
                       last_error = null, last_attempt_at = now(), synced_at = now()
                from unnest(cast(:c as text[]), cast(:v as bigint[])) as u(c, v)
                where s.dossier_code = u.c
                """
            ),
            {"c": list(versions), "v": list(versions.values())},
        )


async def mark_sync_failed(conn: AsyncConnection, failures: dict[str, tuple[str, float]]) -> None:
    """`failures`: code → (error, seconds to wait before the next attempt)."""
    if failures:
        await conn.execute(
            text(
                """
                update sync_state s set attempts = s.attempts + 1, last_error = u.e, last_attempt_at = now(),
                       next_attempt_at = now() + make_interval(secs => u.w)
                from unnest(cast(:c as text[]), cast(:e as text[]), cast(:w as float8[])) as u(c, e, w)
                where s.dossier_code = u.c
                """
            ),
            {
                "c": list(failures),
                "e": [e for e, _ in failures.values()],
                "w": [w for _, w in failures.values()],
            },
        )


async def sync_counts(conn: AsyncConnection) -> tuple[int, int]:
    """(received dossiers, received dossiers whose latest version the portal holds)."""
    row = (
        await conn.execute(
            text(
                """
                select count(*), count(*) filter (where s.synced_version >= d.version)
                from dossiers d left join sync_state s using (dossier_code)
                where d.received_at is not null
                """
            )
        )
    ).one()
    return int(row[0]), int(row[1])


async def sync_pending(conn: AsyncConnection) -> int:
    return int(
        await conn.scalar(text("select count(*) from sync_state where wanted_version > synced_version")) or 0
    )
