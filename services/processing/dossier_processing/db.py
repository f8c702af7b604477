"""The database engine: SQLAlchemy 2 async over asyncpg, every connection inside the service schema."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


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
    """An engine whose connections resolve unqualified table names in `schema` only.

    On a loopback address without an explicit `ssl`/`sslmode` in the URL, TLS is not negotiated
    (asyncpg would otherwise prefer it, and pay for it on every row, to talk to its own host)."""
    connect_args: dict[str, Any] = {
        "server_settings": {"search_path": schema, "application_name": "dossier-processing"},
        "timeout": 10,
        "command_timeout": 60,
    }
    parts = urlsplit(async_url(url))
    if parts.hostname in _LOOPBACK and "ssl" not in parts.query:
        connect_args["ssl"] = False
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=2,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args=connect_args,
    )
