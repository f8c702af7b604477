"""What every service's OpenAPI document says about errors: the RFC 9457 `Problem` schema, problem
responses declared as `application/problem+json` with the headers they always carry, and the
Prometheus text of `/metrics`."""

from __future__ import annotations

from typing import Any

from dossier_runtime.problems import PROBLEM_JSON

REF = "#/components/schemas/{model}"
#: SPEC §3: a problem lists at most 20 errors (per event); `errors_truncated` counts the rest.
MAX_ERRORS = 20

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "maxItems": MAX_ERRORS,
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string", "description": "dotted path of the bad field or parameter"},
                    "message": {"type": "string"},
                    "type": {"type": ["string", "null"]},
                },
                "required": ["field", "message"],
            },
        },
        "errors_truncated": {
            "type": "integer",
            "minimum": 1,
            "description": f"how many errors were left out beyond the first {MAX_ERRORS}",
        },
    },
    "required": ["type", "title", "status"],
}

RETRY_AFTER = {"Retry-After": "Seconds to wait before retrying"}
WWW_AUTHENTICATE = {"WWW-Authenticate": "The scheme to use: `Bearer`"}
PROMETHEUS_TEXT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Prometheus text exposition format",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
}


def problem(description: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """A problem response; `headers` names the headers it always carries, with their meaning."""
    response: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": REF.format(model="Problem")}}},
    }
    if headers:
        response["headers"] = {
            name: {"description": meaning, "required": True, "schema": {"type": "string"}}
            for name, meaning in headers.items()
        }
    return response


def add_problem_schema(doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` with the `Problem` schema its problem responses refer to."""
    doc.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    return doc


def not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional query parameter may be left out, but it is never `null`: `anyOf [X, null]` → X
    (a query string cannot carry a null, and a fuzzer would send the text "null")."""
    branches = schema.get("anyOf")
    if not isinstance(branches, list):
        return schema
    kept = [b for b in branches if b != {"type": "null"}]
    if len(kept) != 1:
        return schema
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    return {**kept[0], **rest}
