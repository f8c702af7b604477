"""The OpenAPI document of the processing API: what every route shares (the response model base, the
`Problem` responses for a missing key, an invalid parameter and an unreachable database, the `Problem`
schema they refer to). The routes' own models and answers live beside them (`views/api_models.py`,
`portal/feed.py`, `operations.py`)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict

from dossier_runtime.openapi import RETRY_AFTER, WWW_AUTHENTICATE, add_problem_schema, not_null, problem


class ResponseModel(BaseModel):
    """An answer's model: it declares every field it has, no other."""

    model_config = ConfigDict(extra="forbid")


UNAUTHORIZED = problem(
    "No API key, or an unknown one (`Authorization: Bearer <key>` from PROCESSING_API_KEYS_FILE)",
    WWW_AUTHENTICATE,
)
INVALID = problem("A parameter is invalid; `errors` names each one")
UNAVAILABLE = problem("The database is unreachable; nothing was read", RETRY_AFTER)


def install_openapi(app: FastAPI) -> None:
    """Complete the generated document: the `Problem` schema, and optional query parameters that are
    never `null`."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            add_problem_schema(doc)
            paths = doc.get("paths", {})
            for operation in (op for path in paths.values() for op in path.values()):
                for parameter in operation.get("parameters", ()):
                    parameter["schema"] = not_null(parameter["schema"])
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
