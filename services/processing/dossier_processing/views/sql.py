"""The operator views' SQL: one dossier with its events, and the filtered, paged list of dossiers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from dossier_processing import models

D = models.dossiers
READ_COLUMNS = models.READ_COLUMNS


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


async def list_dossiers(
    conn: AsyncConnection, f: ListFilter, after: str | None, limit: int, now: datetime
) -> list[Row[Any]]:
    """Dossiers by code after the cursor. For `pending_state` this is a superset (a paused dossier's
    deadline grows while paused); the caller confirms each row with the domain core."""
    query = select(*READ_COLUMNS)
    if f.agency:
        query = query.where(D.c.agency_code == f.agency)
    if f.agencies_like is not None:
        query = query.where(models.agency_like(f.agencies_like))
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
