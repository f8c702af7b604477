"""Readers' keys (SPEC §5): the report API and `/v1/stats/live` need `Authorization: Bearer <key>`
from `METRICS_API_KEYS_FILE` (the SPEC §3 format), and a key sees only the agencies its patterns
allow. The file is reloaded on SIGHUP; keys themselves are never logged."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated

from fastapi import Depends

from dossier_metrics.state import metrics_state
from dossier_runtime.api_keys import ApiKey
from dossier_runtime.keys import KeyFile
from dossier_runtime.problems import Problem
from dossier_runtime.readers import key_reader


class KeyStore(KeyFile):
    """The readers' keys in force (`METRICS_API_KEYS_FILE`), reloaded on SIGHUP; none without a file."""

    def __init__(self, path: Path | None) -> None:
        super().__init__(path, setting="METRICS_API_KEYS_FILE")


reader = key_reader(
    lambda request: metrics_state(request).keys,
    realm="metrics",
    scheme_name="readerKey",
    description="A reader key from `METRICS_API_KEYS_FILE`: `Authorization: Bearer dk_…`.",
)


Reader = Annotated[ApiKey, Depends(reader)]


def allows_everything(key: ApiKey) -> bool:
    return "*" in key.agency_patterns


def visibility(key: ApiKey) -> Callable[[str], bool]:
    """`key.allows`, remembered per agency code (a report asks it for every dossier)."""
    if allows_everything(key):
        return lambda code: True
    seen: dict[str, bool] = {}

    def allows(code: str) -> bool:
        found = seen.get(code)
        if found is None:
            found = seen[code] = key.allows(code)
        return found

    return allows


def forbidden(agency: str) -> Problem:
    message = "this key may not read that agency"
    return Problem(
        403,
        "Forbidden",
        f"The key does not allow agency {agency!r}.",
        errors=[{"field": "agency", "message": message}],
    )


def visible_codes(key: ApiKey, codes: Iterable[str]) -> list[str]:
    allows = visibility(key)
    return [code for code in codes if allows(code)]
