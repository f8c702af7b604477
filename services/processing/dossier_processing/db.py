"""The database engine: SQLAlchemy 2 async over asyncpg, every connection inside the service schema."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def async_url(url: str) -> str:
    """`postgresql://…` (the SPEC §7 spelling) → the asyncpg dialect URL SQLAlchemy wants."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url.removeprefix(prefix)
    raise ValueError("DATABASE_URL must be a postgresql:// URL")


def plain_url(url: str) -> str:
    """The URL asyncpg itself accepts (for COPY in benchmarks and tools)."""
    return "postgresql://" + async_url(url).removeprefix("postgresql+asyncpg://")


def make_engine(url: str, schema: str, *, pool_size: int = 5) -> AsyncEngine:
    """An engine whose connections resolve unqualified table names in `schema` only."""
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=2,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={
            "server_settings": {"search_path": schema, "application_name": "dossier-processing"},
            "timeout": 10,
            "command_timeout": 60,
        },
    )
