"""Bearer API keys (SPEC §3): the keys file holds SHA-256 hashes; keys themselves are never logged."""

from __future__ import annotations

import logging
from pathlib import Path

from starlette.requests import Request

from dossier_intake.observability import IntakeMetrics
from dossier_intake.state import intake_state
from dossier_runtime.api_keys import ApiKey, ApiKeyFileError, ApiKeyRing
from dossier_runtime.problems import Problem

log = logging.getLogger(__name__)

#: The OpenAPI security scheme the event endpoints declare.
SECURITY_SCHEME = {"type": "http", "scheme": "bearer", "description": "An intake API key: `Bearer dk_…`"}


class KeyStore:
    """The keys currently in force; `reload()` swaps them atomically and keeps the old on error."""

    def __init__(self, path: Path, metrics: IntakeMetrics) -> None:
        self.path, self.metrics = path, metrics
        self.ring = ApiKeyRing.load(path)
        metrics.api_keys.set(len(self.ring))

    def reload(self) -> bool:
        try:
            ring = ApiKeyRing.load(self.path)
        except ApiKeyFileError as exc:
            self.metrics.key_reloads.labels("error").inc()
            log.error(
                "API keys file not reloaded; the previous keys stay in force", extra={"error": str(exc)}
            )
            return False
        self.ring = ring
        self.metrics.api_keys.set(len(ring))
        self.metrics.key_reloads.labels("ok").inc()
        log.info("API keys reloaded", extra={"keys": len(ring), "file": str(self.path)})
        return True


def unauthorized(detail: str) -> Problem:
    return Problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": 'Bearer realm="intake"'})


def authenticate(request: Request) -> ApiKey:
    """The caller's key, after the per-key rate limit; 401 without a known key, 429 over the rate.

    Called directly by the handlers rather than as a FastAPI dependency: it is on the hot path."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise unauthorized("Send an API key as `Authorization: Bearer <key>`.")
    state = intake_state(request)
    key = state.keys.ring.authenticate(credentials.strip())
    if key is None:
        raise unauthorized("Unknown API key.")
    state.limiter.check(key.name)
    return key
