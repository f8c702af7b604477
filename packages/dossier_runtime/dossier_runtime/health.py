"""The operational endpoints every service has, open without a key:

- `GET /healthz`: `200 {"status": "ok"}` while the process runs (no dependency is asked);
- `GET /readyz`: `200 {"status": "ready", …}` while every readiness check passes, else a `503`
  problem (`application/problem+json`) with `Retry-After`, one `errors[]` entry per failing check
  (`field` is the check's name) and the reasons in `detail`;
- `GET /metrics`: the Prometheus text of a registry, or of a service's own render function.

The OpenAPI document states exactly these answers; the `503` refers to the `Problem` schema, which
the service's document carries (`dossier_runtime.openapi.add_problem_schema`).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncEngine

from dossier_runtime.db import database_reachable
from dossier_runtime.kafka import KafkaConnection, broker_reachable
from dossier_runtime.openapi import PROMETHEUS_TEXT, RETRY_AFTER, problem
from dossier_runtime.problems import Problem

S = TypeVar("S")
#: What a probe answers: None while its dependency is fine, else why not (one short sentence).
Reason = str | None


@dataclass(frozen=True)
class Check(Generic[S]):
    """One readiness check of a service whose state is an `S`: `name` is the `field` of its error
    (`database`, `kafka`, `consumer`, …)."""

    name: str
    probe: Callable[[S], Awaitable[Reason]]


class Health(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["ready"] = "ready"


def kafka_check(connection: KafkaConnection | str, *, timeout_s: float = 3.0) -> Check[Any]:
    """`kafka`: the cluster answers a metadata request within `timeout_s`."""

    async def probe(_state: object) -> Reason:
        reachable = await broker_reachable(connection, timeout_s=timeout_s)
        return None if reachable else "Kafka is not reachable"

    return Check("kafka", probe)


def database_check(engine_of: Callable[[S], AsyncEngine], *, timeout_s: float = 3.0) -> Check[S]:
    """`database`: a connection of the service's engine answers `select 1` within `timeout_s`."""

    async def probe(state: S) -> Reason:
        reachable = await database_reachable(engine_of(state), timeout_s=timeout_s)
        return None if reachable else "PostgreSQL does not answer"

    return Check("database", probe)


async def failing(state: S, checks: Sequence[Check[S]]) -> list[dict[str, str]]:
    """The `errors[]` of the checks that fail now (all are asked at once), in the checks' order."""
    reasons = await asyncio.gather(*(check.probe(state) for check in checks))
    return [
        {"field": check.name, "message": reason}
        for check, reason in zip(checks, reasons, strict=True)
        if reason is not None
    ]


def health_router(
    state_of: Callable[[Request], S],
    checks: Sequence[Check[S]],
    *,
    render: CollectorRegistry | Callable[[S], bytes] | Callable[[S], Awaitable[bytes]],
    retry_after_s: int,
    ready_when: str,
    ready_model: type[BaseModel] = Ready,
    ready_details: Callable[[S], dict[str, Any]] | None = None,
    tags: list[str] | None = None,
) -> APIRouter:
    """The three routes of a service: `state_of` finds its typed state in a request, `checks` are
    what `/readyz` asks (`ready_when` says it in one line), `render` is what `/metrics` shows: a
    registry, or a function (plain or async) of the state giving the Prometheus text.
    `ready_details` adds members to the ready answer, which `ready_model` describes."""
    router = APIRouter(tags=list(tags or []))
    not_ready = problem("Not ready: `errors` names each failing check", RETRY_AFTER)

    @router.get("/healthz", summary="The process is alive", response_model=Health)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary=ready_when, response_model=ready_model, responses={503: not_ready})
    async def readyz(request: Request) -> dict[str, Any]:
        state = state_of(request)
        errors = await failing(state, checks)
        if errors:
            detail = "; ".join(e["message"] for e in errors) + "."
            headers = {"Retry-After": str(retry_after_s)}
            raise Problem(503, "Not ready", detail, errors=errors, headers=headers)
        return {"status": "ready", **(ready_details(state) if ready_details else {})}

    @router.get(
        "/metrics", summary="Prometheus metrics", response_class=PlainTextResponse, responses=PROMETHEUS_TEXT
    )
    async def metrics(request: Request) -> Response:
        return Response(await exposition(request), media_type=CONTENT_TYPE_LATEST)

    async def exposition(request: Request) -> bytes:
        if isinstance(render, CollectorRegistry):
            return generate_latest(render)
        body = render(state_of(request))
        return await body if inspect.isawaitable(body) else body

    return router
