"""The open operations routes: `/healthz` (alive), `/readyz` (the database, Kafka when a worker uses it,
and every worker of this instance running and progressing; 503 naming what is not) and `/metrics`."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from dossier_processing.state import AppState
from dossier_runtime.kafka import broker_reachable
from dossier_runtime.problems import Problem

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> dict[str, Any]:
    state: AppState = request.app.state.processing
    checks = {"database": await _database_ok(state)}
    if state.settings.uses_kafka:
        checks["kafka"] = await broker_reachable(state.settings.kafka_bootstrap_servers)
    checks["workers"] = state.workers.alive()
    checks.update(state.workers.progress())  # e.g. the consumer retrying a step for too long
    if not all(checks.values()):
        raise Problem(
            503,
            "Not ready",
            ", ".join(k for k, ok in checks.items() if not ok) + " unavailable",
            headers={"Retry-After": "5"},
        )
    return {"status": "ready", "checks": checks}


@router.get("/metrics")
async def prometheus_metrics(request: Request) -> Response:
    state: AppState = request.app.state.processing
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


async def _database_ok(state: AppState) -> bool:
    try:
        async with asyncio.timeout(3):
            async with state.engine.connect() as conn:
                await conn.execute(text("select 1"))
        return True
    except Exception:
        return False
