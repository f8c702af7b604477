"""Who may read what, for every API route: the caller's key (401 without a valid one), its agencies as
SQL `LIKE` patterns, and one database connection per request (an unreachable database is a 503).

Keys come from `PROCESSING_API_KEYS_FILE` (`AppState.keys`, reloaded on SIGHUP by the bootstrap). A route
narrows its SQL with `sql_scope(key)` when it can and checks every row with `key.allows` again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection

from dossier_processing.state import PROCESSING, AppState
from dossier_runtime.api_keys import ApiKey
from dossier_runtime.problems import Problem
from dossier_runtime.readers import key_reader

state_of = PROCESSING.of

State = Annotated[AppState, Depends(state_of)]


reader = key_reader(
    lambda request: state_of(request).keys,
    realm="processing",
    scheme_name="apiKey",
    description="A key from PROCESSING_API_KEYS_FILE; it reads the dossiers of the agencies it allows.",
)


Reader = Annotated[ApiKey, Depends(reader)]


def sql_scope(key: ApiKey) -> list[str] | None:
    """The key's agency patterns as SQL `LIKE` patterns, or None when SQL cannot narrow the rows
    (the key allows every agency, or a pattern uses `[...]`, which `LIKE` lacks)."""
    patterns: list[str] = []
    for pattern in key.agency_patterns:
        if pattern == "*" or "[" in pattern:
            return None
        escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        patterns.append(escaped.replace("*", "%").replace("?", "_"))
    return patterns


_UNREACHABLE = (TimeoutError, OSError, sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)


@asynccontextmanager
async def reading(state: AppState) -> AsyncIterator[AsyncConnection]:
    """A connection for one request; an unreachable database is a 503, not a 500."""
    try:
        async with state.engine.connect() as conn:
            yield conn
    except _UNREACHABLE as exc:
        raise _unavailable() from exc
    except sa_exc.DBAPIError as exc:
        if exc.connection_invalidated:
            raise _unavailable() from exc
        raise


def _unavailable() -> Problem:
    return Problem(503, "Database unavailable", "Retry in a few seconds.", headers={"Retry-After": "5"})
