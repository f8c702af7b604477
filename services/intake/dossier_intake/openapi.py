"""The OpenAPI document: the routes read their bodies themselves (size limit, per-event checks), so
the request schemas and examples are added here from the pydantic models."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from dossier_intake.auth import SECURITY_SCHEME
from dossier_intake.examples import BATCH_EXAMPLE, EVENT_EXAMPLES
from dossier_intake.schemas import EVENT_ADAPTER
from dossier_runtime.problems import PROBLEM_JSON

REF = "#/components/schemas/{model}"
SECURED: list[dict[str, list[str]]] = [{"apiKey": []}]


def event_body() -> dict[str, Any]:
    return {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": REF.format(model="Event")}, "examples": EVENT_EXAMPLES}
        },
    }


def batch_body(limit: int) -> dict[str, Any]:
    schema = {
        "type": "object",
        "properties": {
            "events": {"type": "array", "items": {"$ref": REF.format(model="Event")}, "maxItems": limit}
        },
        "required": ["events"],
        "additionalProperties": False,
    }
    return {"required": True, "content": {"application/json": {"schema": schema, "example": BATCH_EXAMPLE}}}


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                "required": ["field", "message"],
            },
        },
    },
    "required": ["type", "title", "status"],
}


def problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": REF.format(model="Problem")}}},
    }


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            schemas = doc.setdefault("components", {}).setdefault("schemas", {})
            event = EVENT_ADAPTER.json_schema(ref_template=REF, mode="validation")
            schemas.update(event.pop("$defs", {}))
            schemas["Event"] = event
            schemas["Problem"] = PROBLEM_SCHEMA
            doc["components"]["securitySchemes"] = {"apiKey": SECURITY_SCHEME}
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
