"""The outbox relay's SQL: its leadership lock, the next round of unsent snapshots, marking them sent or
parked, its positions on the status topic, and the backlog figures. Functions take an `AsyncConnection`;
writes happen in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


async def unlock(conn: AsyncConnection, name: str) -> None:
    await conn.execute(text("select pg_advisory_unlock(hashtext(:n))"), {"n": name})


async def anything_sent(conn: AsyncConnection) -> bool:
    """Whether this schema ever published a snapshot."""
    return bool(await conn.scalar(text("select exists (select 1 from outbox where sent_at is not null)")))


class OutboxRow(NamedTuple):
    """An unsent snapshot (a named tuple: built straight from the result row, cheaper than a class)."""

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
    return list(map(OutboxRow._make, rows))


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
