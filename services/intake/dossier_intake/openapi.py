"""The OpenAPI document: the routes read their bodies themselves (size limit, per-event checks), so
the request schemas and examples are added here from the pydantic models."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from dossier_intake.auth import SECURITY_SCHEME
from dossier_intake.examples import BATCH_EXAMPLE, EVENT_EXAMPLES
from dossier_intake.schemas import EVENT_ADAPTER
from dossier_runtime.openapi import (
    REF,
    RETRY_AFTER,
    WWW_AUTHENTICATE,
    add_problem_schema,
    problem,
)

SECURED: list[dict[str, list[str]]] = [{"apiKey": []}]


def event_body() -> dict[str, Any]:
    return {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": REF.format(model="Event")}, "examples": EVENT_EXAMPLES}
        },
    }


def batch_body(limit: int) -> dict[str, Any]:
    """Each item is checked on its own: an item that is not a valid `Event` is rejected in its
    result, and the batch is still `200`. So the schema takes any item, and says it should be an
    `Event`."""
    item = {
        "description": "A dossier event (see `Event`). An item that is not a valid event is rejected "
        "in its own result; the other items are still written.",
        "anyOf": [{"$ref": REF.format(model="Event")}, {}],
    }
    schema = {
        "type": "object",
        "properties": {"events": {"type": "array", "items": item, "maxItems": limit}},
        "required": ["events"],
        "additionalProperties": False,
    }
    return {"required": True, "content": {"application/json": {"schema": schema, "example": BATCH_EXAMPLE}}}


_MALFORMED = problem("The body is not JSON (the `body` error says where)")
_UNAUTHORIZED = problem("No API key, or an unknown one", WWW_AUTHENTICATE)
_TOO_LARGE = problem("The body is over the size limit (INTAKE_MAX_BODY_BYTES); the connection is closed")
_RATE_LIMITED = problem("This key is over its request rate", RETRY_AFTER)
_UNAVAILABLE = problem("Kafka did not acknowledge; nothing was accepted; retry the same events", RETRY_AFTER)

EVENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _MALFORMED,
    401: _UNAUTHORIZED,
    403: problem("The key may not write events of this agency (`agency_code`)"),
    413: _TOO_LARGE,
    422: problem(
        "Invalid event, each bad field named in `errors` (at most 20; `errors_truncated` counts the "
        "rest). Beyond what the schema says, an event is also refused when its agency or procedure is "
        "not in the catalog, its `dossier_code` does not start with its `agency_code` or holds no real "
        "date, or its `occurred_at` is more than 24 hours after the service's clock."
    ),
    429: _RATE_LIMITED,
    503: _UNAVAILABLE,
}
BATCH_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _MALFORMED,
    401: _UNAUTHORIZED,
    413: _TOO_LARGE,
    422: problem("Not a batch (`events` missing or not an array, other members), or over 1,000 events"),
    429: _RATE_LIMITED,
    503: _UNAVAILABLE,
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
            doc["components"]["securitySchemes"] = {"apiKey": SECURITY_SCHEME}
            app.openapi_schema = add_problem_schema(doc)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
