"""The typed state slot and lifespan, the engine factory's settings and the URL spellings: what can be
checked without a database (the engine makes no connection until it is used)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request

from dossier_runtime.db import async_url, create_engine, plain_url, read_only, schema_name
from dossier_runtime.migrations import Migrations
from dossier_runtime.state import StateSlot, lifespan


@dataclass
class Opened:
    closed: bool = False


SLOT = StateSlot("opened", Opened)


async def test_the_lifespan_keeps_the_opened_state_while_the_app_runs() -> None:
    opened = Opened()

    @asynccontextmanager
    async def open_state() -> AsyncIterator[Opened]:
        yield opened
        opened.closed = True

    app = FastAPI(lifespan=lifespan(SLOT, open_state))

    @app.get("/closed")
    async def closed(request: Request) -> bool:
        return SLOT.of(request).closed

    with pytest.raises(RuntimeError, match="has no Opened"):
        SLOT.of_app(app)
    async with app.router.lifespan_context(app):
        assert SLOT.of_app(app) is opened
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://s") as client:
            assert (await client.get("/closed")).json() is False
    assert opened.closed
    with pytest.raises(RuntimeError):
        SLOT.of_app(app)


def test_a_slot_refuses_an_object_of_another_kind() -> None:
    app = FastAPI()
    app.state.opened = "not the state"
    with pytest.raises(RuntimeError):
        SLOT.of_app(app)


def test_database_url_spellings() -> None:
    assert async_url("postgresql://a@b/c") == "postgresql+asyncpg://a@b/c"
    assert async_url("postgres://a@b/c") == "postgresql+asyncpg://a@b/c"
    assert async_url("postgresql+asyncpg://a@b/c") == "postgresql+asyncpg://a@b/c"
    assert plain_url("postgresql+asyncpg://a@b/c") == "postgresql://a@b/c"
    with pytest.raises(ValueError, match="postgresql://"):
        async_url("mysql://a@b/c")


async def test_schema_names_are_plain_identifiers() -> None:
    assert schema_name("metrics_2") == "metrics_2"
    for bad in ("", "Metrics", 'a"; drop schema public; --', "1st", "a" * 64):
        with pytest.raises(ValueError):
            schema_name(bad)
    with pytest.raises(ValueError):
        create_engine("postgresql://a@b/c", "a,b", application_name="x")
    engine = create_engine("postgresql://a@b/c", "public", application_name="x")
    with pytest.raises(ValueError):  # refused before any connection is made
        await Migrations("x", Path(".")).upgrade(engine, 'x"; drop schema public; --')
    await engine.dispose()


async def test_an_engine_is_configured_without_connecting() -> None:
    engine = create_engine(
        "postgresql://u:p@db.example/d",
        "metrics",
        application_name="dossier-metrics-reports",
        pool_size=2,
        max_overflow=0,
        pool_timeout_s=1.5,
        session=read_only(300),
    )
    try:
        assert engine.url.drivername == "postgresql+asyncpg" and engine.url.host == "db.example"
        assert engine.pool.size() == 2 and engine.pool.timeout() == 1.5  # type: ignore[attr-defined]
    finally:
        await engine.dispose()
    assert read_only(300) == {"statement_timeout": "300", "default_transaction_read_only": "on"}


def test_the_migration_lock_is_named_per_service_and_schema() -> None:
    migrations = Migrations("metrics", Path("/nowhere"))
    assert migrations.lock_name("metrics") == "dossier-metrics migrations metrics"
    assert migrations.lock_name("t_1") != migrations.lock_name("t_2")
    config = migrations.config("t_1")
    assert config.get_main_option("script_location") == "/nowhere" and config.attributes["schema"] == "t_1"
