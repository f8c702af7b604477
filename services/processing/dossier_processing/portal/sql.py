"""The portal sync's SQL: the change feed (served by `GET /v1/sync/changes` and followed by the push
worker), the push worker's cursor, and the per-dossier sync state with its claims (`SKIP LOCKED`).
Functions take an `AsyncConnection`; writes and locks belong to the caller's transaction."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import Row, Text, and_, cast, func, literal, or_, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from dossier_processing import models

D = models.dossiers


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
    scope = models.agency_like(agencies_like) if agencies_like is not None else literal(True)
    query = (
        select(*models.READ_COLUMNS, cast(D.c.change_xid, Text).label("xid_text"))
        .where(and_(cursor, horizon, scope))
        .order_by(D.c.change_xid, D.c.dossier_code)
        .limit(limit)
    )
    return list(await conn.execute(query))


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
    """Dossiers the portal is behind on and whose backoff is over, their `sync_state` rows locked until the
    end of the caller's transaction: those whose latest version the portal has not accepted, and those
    whose accepted record still waits for its progress (`progress_version < synced_version`). A parked
    dossier is left out until a version newer than the parked one is wanted. Rows another instance holds
    are skipped, so each dossier is posted by one instance at a time; the conditions are re-checked on
    the locked row, so a version the portal already took is never posted again."""
    S = models.sync_state
    record_due = and_(S.c.wanted_version > S.c.synced_version, D.c.version > S.c.synced_version)
    query = (
        select(
            *models.READ_COLUMNS,
            S.c.attempts,
            S.c.synced_version,
            S.c.portal_has,
            S.c.progress_version,
            S.c.progress_sent,
        )
        .join(S, S.c.dossier_code == D.c.dossier_code)
        .where(
            or_(record_due, S.c.progress_version < S.c.synced_version),
            or_(S.c.parked_version.is_(None), S.c.wanted_version > S.c.parked_version),
            S.c.next_attempt_at <= func.now(),
        )
        .order_by(S.c.next_attempt_at)
        .limit(limit)
        .with_for_update(of=S, skip_locked=True)
    )
    return list(await conn.execute(query))


async def mark_synced(conn: AsyncConnection, versions: dict[str, int]) -> None:
    """The portal accepted these dossiers' `DongBoHoSoMC` records at these versions (it holds them now)."""
    if versions:
        await conn.execute(
            text(
                """
                update sync_state s set synced_version = greatest(s.synced_version, u.v), attempts = 0,
                       last_error = null, error_code = null, last_attempt_at = now(), synced_at = now(),
                       portal_has = true, parked_at = null, park_reason = null, parked_version = null
                from unnest(cast(:c as text[]), cast(:v as bigint[])) as u(c, v)
                where s.dossier_code = u.c
                """
            ),
            {"c": list(versions), "v": list(versions.values())},
        )


async def mark_progress_synced(
    conn: AsyncConnection, progress: Mapping[str, tuple[int, Sequence[str]]]
) -> None:
    """`progress`: code → (version, step ids): the portal holds these dossiers' steps of that version's
    progress (by the `event_id` that made each), besides those it held already."""
    if progress:
        held = {code: {"v": version, "ids": list(ids)} for code, (version, ids) in progress.items()}
        await conn.execute(
            text(
                """
                update sync_state s
                set progress_version = greatest(s.progress_version, (u.value->>'v')::bigint),
                       progress_sent = array(
                           select distinct x from unnest(
                               s.progress_sent || array(select jsonb_array_elements_text(u.value->'ids'))
                           ) as x order by x
                       ),
                       attempts = 0, last_error = null, error_code = null, last_attempt_at = now(),
                       parked_at = null, park_reason = null, parked_version = null
                from jsonb_each(cast(:held as jsonb)) as u(key, value)
                where s.dossier_code = u.key
                """
            ),
            {"held": json.dumps(held)},
        )


async def mark_portal_has(conn: AsyncConnection, has: dict[str, bool]) -> None:
    """What the portal said it holds (a record it already has, or one it does not know)."""
    if has:
        await conn.execute(
            text(
                """
                update sync_state s set portal_has = u.h
                from unnest(cast(:c as text[]), cast(:h as boolean[])) as u(c, h)
                where s.dossier_code = u.c
                """
            ),
            {"c": list(has), "h": list(has.values())},
        )


async def mark_lost(conn: AsyncConnection, codes: Collection[str]) -> None:
    """The portal says it does not hold these dossiers (answering their progress): it holds none of
    their versions or steps, so the record is due again (with `isUpdating` false), then every step."""
    if codes:
        await conn.execute(
            text(
                """
                update sync_state set synced_version = 0, progress_version = 0, progress_sent = '{}',
                       portal_has = false
                where dossier_code = any(cast(:c as text[]))
                """
            ),
            {"c": list(codes)},
        )


async def mark_sync_failed(
    conn: AsyncConnection, failures: dict[str, tuple[str, float]], codes: dict[str, str] | None = None
) -> None:
    """`failures`: code → (error, seconds to wait before the next attempt); `codes`: the portal's
    `error_code` for those it answered with one."""
    if failures:
        codes = codes or {}
        await conn.execute(
            text(
                """
                update sync_state s set attempts = s.attempts + 1, last_error = u.e, error_code = u.k,
                       last_attempt_at = now(), next_attempt_at = now() + make_interval(secs => u.w)
                from unnest(cast(:c as text[]), cast(:e as text[]), cast(:w as float8[]),
                            cast(:k as text[])) as u(c, e, w, k)
                where s.dossier_code = u.c
                """
            ),
            {
                "c": list(failures),
                "e": [e for e, _ in failures.values()],
                "w": [w for _, w in failures.values()],
                "k": [codes.get(c) for c in failures],
            },
        )


async def park(conn: AsyncConnection, parked: dict[str, tuple[int, str, str]]) -> None:
    """`parked`: code → (version, error_code, reason): the portal rejected the dossier at that version
    for good; it waits for a newer version or an operator (`requeue`)."""
    if parked:
        await conn.execute(
            text(
                """
                update sync_state s set attempts = s.attempts + 1, last_error = u.r, error_code = u.k,
                       park_reason = u.r, parked_version = u.v, parked_at = now(), last_attempt_at = now()
                from unnest(cast(:c as text[]), cast(:v as bigint[]), cast(:k as text[]),
                            cast(:r as text[])) as u(c, v, k, r)
                where s.dossier_code = u.c
                """
            ),
            {
                "c": list(parked),
                "v": [v for v, _, _ in parked.values()],
                "k": [k for _, k, _ in parked.values()],
                "r": [r for _, _, r in parked.values()],
            },
        )


async def requeue(conn: AsyncConnection, codes: Sequence[str] | None) -> list[str]:
    """Un-park these dossiers (None: every parked one) so the push worker posts them at once; returns the
    codes that were parked."""
    rows = await conn.execute(
        text(
            """
            update sync_state set parked_at = null, park_reason = null, parked_version = null, attempts = 0,
                   next_attempt_at = now()
            where parked_at is not null
              and (cast(:every as boolean) or dossier_code = any(cast(:c as text[])))
            returning dossier_code
            """
        ),
        {"every": codes is None, "c": list(codes or [])},
    )
    return sorted(r[0] for r in rows)


async def parked(conn: AsyncConnection) -> list[Row[Any]]:
    """The parked dossiers, oldest first, with their reason."""
    return list(
        await conn.execute(
            text(
                "select dossier_code, parked_version, error_code, park_reason, parked_at from sync_state"
                " where parked_at is not null order by parked_at, dossier_code"
            )
        )
    )
