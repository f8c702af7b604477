"""The caller's key on a read route (SPEC §5, §6): `Authorization: Bearer <key>` looked up in the
service's `KeyFile`, 401 with `WWW-Authenticate` without a known key. One FastAPI dependency that
processing's and metrics' read routes share; each names its realm and its keys file.

No `from __future__ import annotations` here: FastAPI reads the dependency's annotations at runtime,
and the one naming the closure's `bearer` could not be resolved from a string."""

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dossier_runtime.api_keys import ApiKey
from dossier_runtime.keys import KeyFile
from dossier_runtime.problems import Problem

__all__ = ["key_reader", "unauthorized"]


def unauthorized(realm: str, detail: str) -> Problem:
    return Problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": f'Bearer realm="{realm}"'})


def key_reader(
    keys_of: Callable[[Request], KeyFile], *, realm: str, scheme_name: str, description: str
) -> Callable[..., ApiKey]:
    """A dependency giving the caller's `ApiKey` from the keys `keys_of(request)` holds; the OpenAPI
    document declares it as the bearer scheme `scheme_name`."""
    bearer = HTTPBearer(auto_error=False, scheme_name=scheme_name, description=description)

    def reader(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> ApiKey:
        if credentials is None:
            raise unauthorized(realm, "Send a key as `Authorization: Bearer <key>`.")
        key = keys_of(request).authenticate(credentials.credentials.strip())
        if key is None:
            raise unauthorized(realm, "Unknown API key.")
        return key

    return reader
