"""The consumer's SQL: arrival numbers, event-id lookups, stored histories and the batch's writes.

Functions take an `AsyncConnection` inside the caller's transaction. Bulk writes pass one array per column
to `unnest(...)`, so a batch of any size is four statements (an event's id is claimed in `event_ids`
before the event is stored in its month's partition of `events`); their column lists and types are derived
from the row definitions (`models.EventRow`, `models.DossierRow`), never written out here.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import fields
from operator import attrgetter
from typing import Any

import orjson
from sqlalchemy import Table, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from dossier_contracts.event_codec import decode_event
from dossier_contracts.snapshot_codec import event_from_proto
from dossier_core.events import DossierEvent
from dossier_core.lifecycle import SortKey
from dossier_processing import models
from dossier_processing.ingest.history_cache import HistoryCache
from dossier_processing.ingest.plan import EVENT_LIMIT_ANOMALY, BatchPlan, StoredDossier, resumes


class ConcurrentChange(RuntimeError):
    """Another writer changed a dossier of this batch first (e.g. a consumer that lost its
    partition but had not noticed yet). The transaction is rolled back and the batch retried."""


async def reserve_seqs(conn: AsyncConnection, n: int) -> list[int]:
    """`n` increasing arrival numbers (the tie-breaker between events with the same `occurred_at`)."""
    if n == 0:
        return []
    rows = await conn.execute(text("select nextval('event_seq') from generate_series(1, :n)"), {"n": n})
    return sorted(r[0] for r in rows)


async def stored_payloads(conn: AsyncConnection, event_ids: Sequence[str]) -> dict[str, bytes | None]:
    """The stored payload of each of `event_ids` already in the database, whatever its dossier (a
    primary-key lookup in `event_ids`, then in the one partition of `events` its instant names): how the
    batch tells duplicates from `event_id` conflicts. `None` for an id whose event was archived."""
    if not event_ids:
        return {}
    rows = await conn.execute(
        text(
            "select i.event_id, e.payload from event_ids i left join events e "
            "on e.event_id = i.event_id and e.occurred_at = i.occurred_at "
            "where i.event_id = any(cast(:ids as text[]))"
        ),
        {"ids": list(set(event_ids))},
    )
    return {event_id: None if payload is None else bytes(payload) for event_id, payload in rows}


async def load_stored(
    conn: AsyncConnection, points: Mapping[str, SortKey], cache: HistoryCache | None = None
) -> dict[str, StoredDossier]:
    """What is stored of each dossier in `points` (absent ones are left out): its version, whether it is
    flagged for the event limit or archived, and its events. See `from_cache` for what `cache` spares;
    the other histories are read and decoded (an archived dossier's are not: it takes no new event)."""
    if not points:
        return {}
    rows = await conn.execute(
        text(
            "select dossier_code, version, jsonb_array_length(anomalies), "
            "anomalies @> cast(:flag as jsonb), last_event_id, "
            "exists (select from archived_dossiers a where a.dossier_code = d.dossier_code) "
            "from dossiers d where dossier_code = any(cast(:codes as text[]))"
        ),
        {"codes": list(points), "flag": orjson.dumps([EVENT_LIMIT_ANOMALY]).decode()},
    )
    found = rows.all()
    archived = {row[0] for row in found if row[5]}
    stored, unread = from_cache((row[:5] for row in found), points, cache, archived)
    if unread:
        events = await conn.execute(
            text(
                "select dossier_code, seq, payload from events where dossier_code = any(cast(:c as text[]))"
            ),
            {"c": list(unread)},
        )
        for code, seq, payload in events:
            unread[code].append(event_from_proto(decode_event(payload), seq))
    return stored


def from_cache(
    rows: Iterable[tuple[str, int, int, bool, str]],
    points: Mapping[str, SortKey],
    cache: HistoryCache | None,
    archived: Container[str] = (),
) -> tuple[dict[str, StoredDossier], dict[str, list[DossierEvent]]]:
    """The stored dossiers of these `dossiers` rows (code, version, anomaly count, flagged for the event
    limit, last event id), with the fold state and the history `cache` holds for their version; and the
    still empty histories of those that must be read: neither cached nor resumable from their fold
    state at their point (`plan.resume_points`), nor `archived` (their history is not whole)."""
    stored: dict[str, StoredDossier] = {}
    unread: dict[str, list[DossierEvent]] = {}
    for code, version, anomaly_count, limit_reached, last_event_id in rows:
        folded = cache.state(code, version) if cache is not None else None
        events = cache.get(code, version) if cache is not None else None
        gone = code in archived
        if events is None and not gone and not resumes(folded, points[code]):
            events = unread[code] = []
        flagged = bool(limit_reached)
        stored[code] = StoredDossier(version, anomaly_count, events, flagged, last_event_id, folded, gone)
    return stored, unread


def written_columns(table: Table, row_type: type[Any]) -> list[tuple[str, str]]:
    """(name, PostgreSQL type) of each column a row dataclass writes: its fields, typed as the table's."""
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    return [(f.name, table.c[f.name].type.compile(dialect=dialect)) for f in fields(row_type)]


def _unnest(columns: Sequence[tuple[str, str]]) -> str:
    """`unnest(cast(:a as T[]), …) as u(a, …)`: one array parameter per column."""
    arrays = ", ".join(f"cast(:{name} as {sql_type}[])" for name, sql_type in columns)
    return f"unnest({arrays}) as u({', '.join(name for name, _ in columns)})"


#: the columns of `events` and `dossiers` the consumer writes (the others are the database's)
EVENT_COLUMNS = written_columns(models.events, models.EventRow)
DOSSIER_COLUMNS = written_columns(models.dossiers, models.DossierRow)
_EVENT_NAMES = [name for name, _ in EVENT_COLUMNS]
_DOSSIER_NAMES = [name for name, _ in DOSSIER_COLUMNS]
_ID_COLUMNS = [(name, sql_type) for name, sql_type in EVENT_COLUMNS if name in ("event_id", "occurred_at")]
_INSERT_IDS = text(
    f"""
    insert into event_ids (event_id, occurred_at)
    select * from {_unnest(_ID_COLUMNS)}
    on conflict (event_id) do nothing
    """
)
_INSERT_EVENTS = text(
    f"""
    insert into events ({", ".join(_EVENT_NAMES)})
    select * from {_unnest(EVENT_COLUMNS)}
    """
)
_UPSERT_DOSSIERS = text(
    f"""
    insert into dossiers ({", ".join(_DOSSIER_NAMES)}, change_xid, updated_at)
    select u.*, pg_current_xact_id(), now()
    from {_unnest(DOSSIER_COLUMNS)}
    on conflict (dossier_code) do update set
        {", ".join(f"{n} = excluded.{n}" for n in _DOSSIER_NAMES[1:])},
        change_xid = excluded.change_xid, updated_at = excluded.updated_at
    where dossiers.version = excluded.version - 1
    """
)


def _arrays(rows: Sequence[object], names: Sequence[str]) -> dict[str, list[object]]:
    """One list per column, the parameters of an `unnest` statement (`rows` is not empty)."""
    columns = zip(*map(attrgetter(*names), rows), strict=True)
    return dict(zip(names, map(list, columns), strict=True))


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
        columns = _arrays(ev, _EVENT_NAMES)
        claimed = await conn.execute(_INSERT_IDS, {name: columns[name] for name, _ in _ID_COLUMNS})
        if claimed.rowcount != len(ev):
            raise ConcurrentChange(f"{len(ev) - claimed.rowcount} events were stored meanwhile")
        await conn.execute(_INSERT_EVENTS, columns)
    ds = plan.dossiers
    if not ds:
        return
    upserted = await conn.execute(_UPSERT_DOSSIERS, _arrays(ds, _DOSSIER_NAMES))
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
