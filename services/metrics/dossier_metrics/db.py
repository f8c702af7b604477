"""The metrics service's PostgreSQL engines (built by `dossier_runtime.db`) and what its errors mean.
Every connection's `search_path` is the service's own schema, so tables are named without a schema
and a fresh schema is a fresh projection.

The consumer writes through one engine; reports read through another (`report_engine`) with a small
pool, a `statement_timeout` and read-only transactions, so no number of report requests can take the
connections the consumer needs. On a loopback address neither negotiates TLS unless the URL asks for it
(`plain_on_loopback`): encrypting every statement to its own host cost the consumer up to a tenth of
its CPU."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from dossier_runtime import db

# SQLSTATE classes that depend on the data written, so trying again gives the same error:
# 22 data exception (e.g. a NUL character in a string), 23 integrity violation, 54 program limit.
_DETERMINISTIC_CLASSES = ("22", "23", "54")
QUERY_CANCELED = "57014"


def create_engine(database_url: str, schema: str, *, pool_size: int = 5) -> AsyncEngine:
    """The writers' engine (the status consumer, migrations, a rebuild)."""
    return db.create_engine(
        database_url, schema, application_name="dossier-metrics", pool_size=pool_size, plain_on_loopback=True
    )


def create_report_engine(
    database_url: str,
    schema: str,
    *,
    pool_size: int,
    statement_timeout_ms: int,
    pool_timeout_s: float,
    work_mem_mb: int = 32,
) -> AsyncEngine:
    """The readers' engine: `pool_size` connections and no overflow, each statement cut off after
    `statement_timeout_ms`, every transaction read-only, `work_mem_mb` for a report's sorts and hashes."""
    return db.create_engine(
        database_url,
        schema,
        application_name="dossier-metrics-reports",
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout_s=pool_timeout_s,
        session={**db.read_only(statement_timeout_ms), "work_mem": f"{work_mem_mb}MB"},
        plain_on_loopback=True,
    )


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error, when PostgreSQL gave one (raised through SQLAlchemy, or by
    asyncpg itself where the store uses the driver's connection)."""
    code = getattr(exc.orig if isinstance(exc, DBAPIError) else exc, "sqlstate", None)
    return code if isinstance(code, str) else None


def is_deterministic(exc: BaseException) -> bool:
    """Whether PostgreSQL refused this because of the data itself (never worth trying again).
    Everything else (connection lost, server starting or shutting down, serialization failure,
    deadlock, …) is transient."""
    code = sqlstate(exc)
    return code is not None and code.startswith(_DETERMINISTIC_CLASSES)
