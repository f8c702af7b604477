"""PostgreSQL engines of the services: the `DATABASE_URL` spellings SQLAlchemy needs, the async engine
whose every connection lives in one schema, and the "does the database answer" probe.

Each service owns one schema; its engines set `search_path` to it on every connection, so tables are
named without a schema and a fresh schema is a fresh copy of the service's data.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

_ASYNC_PREFIX = "postgresql+asyncpg://"
_PREFIXES = (_ASYNC_PREFIX, "postgresql://", "postgres://")
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
#: A service schema's name: a lower-case SQL identifier, the same unquoted and quoted.
SCHEMA_PATTERN = r"^[a-z_][a-z0-9_]{0,62}$"


def schema_name(name: str) -> str:
    """`name` if it is a plain schema name (`SCHEMA_PATTERN`), else `ValueError`."""
    if not re.fullmatch(SCHEMA_PATTERN, name):
        raise ValueError("schema must be a lower-case SQL identifier (letters, digits, _)")
    return name


def async_url(database_url: str) -> str:
    """`postgresql://…` (the SPEC §7 spelling) → the asyncpg dialect URL SQLAlchemy wants."""
    for prefix in _PREFIXES:
        if database_url.startswith(prefix):
            return _ASYNC_PREFIX + database_url.removeprefix(prefix)
    raise ValueError("DATABASE_URL must be a postgresql:// URL")


def plain_url(database_url: str) -> str:
    """The URL asyncpg itself accepts (for COPY in benchmarks and tools)."""
    return "postgresql://" + async_url(database_url).removeprefix(_ASYNC_PREFIX)


def read_only(statement_timeout_ms: int) -> dict[str, str]:
    """Session settings of a readers' engine: every transaction read-only, every statement cut off
    after `statement_timeout_ms`."""
    return {"statement_timeout": str(statement_timeout_ms), "default_transaction_read_only": "on"}


def create_engine(
    database_url: str,
    schema: str,
    *,
    application_name: str,
    pool_size: int = 5,
    max_overflow: int = 10,
    pool_timeout_s: float = 30.0,
    pool_recycle_s: int = -1,
    session: Mapping[str, str] | None = None,
    connect_timeout_s: float | None = None,
    command_timeout_s: float | None = None,
    plain_on_loopback: bool = False,
) -> AsyncEngine:
    """An engine whose connections resolve unqualified names in `schema` only (`search_path`) and
    show as `application_name` in `pg_stat_activity`.

    `session` adds server settings (see `read_only`); `connect_timeout_s` and `command_timeout_s`
    bound asyncpg's connect and each command. With `plain_on_loopback`, a loopback address without
    an explicit `ssl`/`sslmode` in the URL does not negotiate TLS (asyncpg would otherwise prefer
    it, and pay for it on every row, to talk to its own host). Nothing is connected yet.

    Every statement is planned for its own arguments (`plan_cache_mode=force_custom_plan`): asyncpg
    prepares each statement once per connection, and PostgreSQL's generic plan for it, made while a
    table was still small and unanalysed, kept scanning the whole table on every batch as it grew
    (metrics' `dossier_snapshot` lookup: 298 sequential scans reading 2.4 million rows in a 30,000-event
    window, and POST → /metrics p99 of 9 s at 3,000 events/s until autovacuum analysed the table)."""
    url = async_url(database_url)
    connect_args: dict[str, Any] = {
        "server_settings": {
            "search_path": schema_name(schema),
            "application_name": application_name,
            "plan_cache_mode": "force_custom_plan",
            **(session or {}),
        }
    }
    if connect_timeout_s is not None:
        connect_args["timeout"] = connect_timeout_s
    if command_timeout_s is not None:
        connect_args["command_timeout"] = command_timeout_s
    if plain_on_loopback:
        parts = urlsplit(url)
        if parts.hostname in _LOOPBACK and "ssl" not in parts.query:
            connect_args["ssl"] = False
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout_s,
        pool_recycle=pool_recycle_s,
        pool_pre_ping=True,
        connect_args=connect_args,
    )


async def try_session_lock(conn: AsyncConnection, name: str) -> bool:
    """Take the session-level advisory lock `name` if no other session holds it: an election held for as
    long as `conn`'s session lives (processing's outbox relay, metrics' counters exporter)."""
    return bool(await conn.scalar(text("select pg_try_advisory_lock(hashtext(:n))"), {"n": name}))


async def database_reachable(engine: AsyncEngine, *, timeout_s: float = 3.0) -> bool:
    """True when a connection of `engine` answers `select 1` within the timeout."""
    try:
        async with asyncio.timeout(timeout_s), engine.connect() as conn:
            await conn.execute(text("select 1"))
        return True
    except Exception:
        return False
