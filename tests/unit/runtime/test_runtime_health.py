"""`/healthz`, `/readyz` and `/metrics` as every service has them: a 503 problem naming each failing
check with `Retry-After`, the ready answer with the service's details, the Prometheus text of a
registry or of a render function, and an OpenAPI document that states exactly these answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter
from pydantic import BaseModel

from dossier_runtime.health import Check, Reason, failing, health_router, kafka_check
from dossier_runtime.openapi import add_problem_schema
from dossier_runtime.problems import install_problem_handlers
from dossier_runtime.state import StateSlot


@dataclass
class Service:
    down: dict[str, str] = field(default_factory=dict)
    partitions: list[int] = field(default_factory=lambda: [0, 1])


SLOT = StateSlot("service", Service)


def probe(name: str) -> Check[Service]:
    async def answer(state: Service) -> Reason:
        return state.down.get(name)

    return Check(name, answer)


class Ready(BaseModel):
    status: str
    partitions: list[int]


def app_with(render: CollectorRegistry | None = None) -> tuple[FastAPI, Service]:
    app, state = FastAPI(), Service()
    install_problem_handlers(app)
    app.include_router(
        health_router(
            SLOT.of,
            [probe("database"), probe("kafka")],
            render=render or (lambda s: f"partitions {len(s.partitions)}\n".encode()),
            retry_after_s=7,
            ready_when="Both answer",
            ready_model=Ready,
            ready_details=lambda s: {"partitions": s.partitions},
        )
    )
    SLOT.put(app, state)
    return app, state


Served = tuple[httpx.AsyncClient, Service]


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    app, state = app_with()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as client:
        yield client, state


async def test_ready_while_every_check_passes(served: Served) -> None:
    client, _state = served
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready", "partitions": [0, 1]}


async def test_each_failing_check_is_named_in_a_503_problem(served: Served) -> None:
    client, state = served
    state.down = {"kafka": "Kafka is not reachable", "database": "PostgreSQL does not answer"}
    answer = await client.get("/readyz")
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["retry-after"] == "7"
    assert answer.json() == {
        "type": "about:blank",
        "title": "Not ready",
        "status": 503,
        "detail": "PostgreSQL does not answer; Kafka is not reachable.",
        "instance": "/readyz",
        "errors": [
            {"field": "database", "message": "PostgreSQL does not answer"},
            {"field": "kafka", "message": "Kafka is not reachable"},
        ],
    }
    assert (await client.get("/healthz")).status_code == 200  # alive all the same


async def test_metrics_from_a_render_function_or_a_registry(served: Served) -> None:
    client, _state = served
    rendered = await client.get("/metrics")
    assert rendered.text == "partitions 2\n" and rendered.headers["content-type"].startswith("text/plain")
    registry = CollectorRegistry()
    Counter("things", "Things seen", registry=registry).inc(3)
    app, _ = app_with(registry)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as other:
        assert "things_total 3.0" in (await other.get("/metrics")).text


def test_the_openapi_document_states_every_answer() -> None:
    app, _ = app_with()
    doc = add_problem_schema(app.openapi())
    responses = {path: set(item["get"]["responses"]) for path, item in doc["paths"].items()}
    assert responses == {"/healthz": {"200"}, "/readyz": {"200", "503"}, "/metrics": {"200"}}
    not_ready = doc["paths"]["/readyz"]["get"]["responses"]["503"]
    assert not_ready["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
    }
    assert set(not_ready["headers"]) == {"Retry-After"}
    ready = doc["paths"]["/readyz"]["get"]["responses"]["200"]["content"]["application/json"]
    assert ready["schema"] == {"$ref": "#/components/schemas/Ready"}
    assert "text/plain" in doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]


async def test_checks_are_asked_together_and_reported_in_their_order() -> None:
    state = Service(down={"kafka": "no"})
    assert await failing(state, [probe("database"), probe("kafka")]) == [{"field": "kafka", "message": "no"}]
    unreachable = kafka_check("127.0.0.1:1", timeout_s=0.5)
    assert unreachable.name == "kafka" and await unreachable.probe(state) == "Kafka is not reachable"
