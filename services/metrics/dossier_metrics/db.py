"""The metrics service's PostgreSQL engine. Every connection's `search_path` is the service's own
schema, so tables are named without a schema and a fresh schema is a fresh projection."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def async_url(database_url: str) -> str:
    """`postgresql://…` (as in SPEC §7) → the asyncpg dialect URL SQLAlchemy needs."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql+asyncpg://" + database_url[len(prefix) :]
    raise ValueError("DATABASE_URL must be a postgresql:// URL")


def create_engine(database_url: str, schema: str, *, pool_size: int = 5) -> AsyncEngine:
    return create_async_engine(
        async_url(database_url),
        pool_size=pool_size,
        pool_pre_ping=True,
        connect_args={"server_settings": {"search_path": schema, "application_name": "dossier-metrics"}},
    )


async def ensure_schema(engine: AsyncEngine, schema: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(f'create schema if not exists "{schema}"'))


async def database_reachable(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as conn:
            await conn.execute(text("select 1"))
        return True
    except Exception:
        return False
