"""Bearer API keys (SPEC §3): the keys file holds SHA-256 hashes; keys themselves are never logged.
The keys in force are a `dossier_runtime.keys.KeyFile` (reloaded on SIGHUP) in the intake state."""

from __future__ import annotations

from starlette.requests import Request

from dossier_intake.state import intake_state
from dossier_runtime.api_keys import ApiKey
from dossier_runtime.problems import Problem

#: The OpenAPI security scheme the event endpoints declare.
SECURITY_SCHEME = {"type": "http", "scheme": "bearer", "description": "An intake API key: `Bearer dk_…`"}


def unauthorized(detail: str) -> Problem:
    return Problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": 'Bearer realm="intake"'})


def authenticate(request: Request) -> ApiKey:
    """The caller's key, after the per-key rate limit; 401 without a known key, 429 over the rate.

    Called directly by the handlers rather than as a FastAPI dependency: it is on the hot path."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise unauthorized("Send an API key as `Authorization: Bearer <key>`.")
    state = intake_state(request)
    key = state.keys.authenticate(credentials.strip())
    if key is None:
        raise unauthorized("Unknown API key.")
    state.limiter.check(key.name)
    return key
