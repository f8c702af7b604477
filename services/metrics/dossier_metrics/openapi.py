"""What the OpenAPI document says about errors: every problem response an operation really gives,
as `application/problem+json`, with the headers that come with it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from dossier_metrics.schemas import Problem
from dossier_runtime.openapi import not_null
from dossier_runtime.problems import PROBLEM_JSON

_DESCRIPTIONS = {
    401: "No key, or an unknown one",
    403: "The key does not allow the agency asked for",
    422: "A parameter is invalid; `errors` names it",
    500: "The report does not add up (a defect, never a silent wrong report)",
    503: "Busy, timed out or the database is unavailable; try again after `Retry-After` seconds",
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
    503: {"Retry-After": {"description": "seconds", "schema": {"type": "integer"}}},
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for these problem statuses."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": Problem, "description": _DESCRIPTIONS[status]}
        if status in _HEADERS:
            entry["headers"] = _HEADERS[status]
        out[status] = entry
    return out


def install_openapi(app: FastAPI, agency_codes: Sequence[str]) -> None:
    """Problem responses are declared with the `Problem` model; here their media type becomes
    `application/problem+json`, which is what the service sends. `agency` parameters list the
    catalog's codes: any other value is refused (422), or 403 when the key does not allow it."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            for operations in doc.get("paths", {}).values():
                for operation in operations.values():
                    for parameter in operation.get("parameters", []):
                        parameter["schema"] = not_null(parameter["schema"])
                        if parameter["name"] == "agency" and parameter["in"] == "query":
                            parameter["schema"] = {"type": "string", "enum": list(agency_codes)}
                    for status, response in operation.get("responses", {}).items():
                        content = response.get("content", {})
                        if status.isdigit() and int(status) >= 400 and "application/json" in content:
                            content[PROBLEM_JSON] = content.pop("application/json")
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
