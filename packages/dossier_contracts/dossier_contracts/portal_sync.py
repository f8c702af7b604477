"""`portal.sync.v1`: each agency's sync state towards the national portal, as processing last read it
(`dossier_processing/portal/state.py`), for the services that report it without asking processing
(metrics: the Decision 766/QĐ-TTg sync rate in the indicators report and the console).

A compacted topic keyed by the agency code: the latest record of a key is the agency's state. The value
is UTF-8 JSON (a small, flat record; no protobuf message is needed for it):

    {"agency_code": "000.00.18.H49", "received": 9, "synced": 2, "pending": 2, "failed": 4,
     "parked": 1, "oldest_unsynced_at": "2026-12-07T01:05:12+00:00" | null,
     "as_of": "2026-12-07T02:30:00+00:00"}

`received` = `synced` + `pending` + `failed` + `parked`; `as_of` is when processing read the figures
(a reader keeps the record with the latest `as_of`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

PORTAL_SYNC_TOPIC = "portal.sync.v1"

_COUNTS = ("received", "synced", "pending", "failed", "parked")


@dataclass(frozen=True)
class AgencySyncRecord:
    agency_code: str
    received: int
    synced: int
    pending: int
    failed: int
    parked: int
    oldest_unsynced_at: datetime | None
    as_of: datetime

    @property
    def figures(self) -> tuple[int, int, int, int, int, datetime | None]:
        """What a reader shows (everything but `as_of`): a publisher sends a record when these change."""
        return (self.received, self.synced, self.pending, self.failed, self.parked, self.oldest_unsynced_at)


def encode_sync_record(record: AgencySyncRecord) -> bytes:
    body: dict[str, Any] = asdict(record)
    for name in ("oldest_unsynced_at", "as_of"):
        value = body[name]
        body[name] = value.isoformat() if value is not None else None
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def decode_sync_record(raw: bytes | None) -> AgencySyncRecord:
    """The record of a `portal.sync.v1` value; ValueError if it is not one."""
    if raw is None:
        raise ValueError("no value")
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ValueError("not a JSON object")
    code = body.get("agency_code")
    if not isinstance(code, str) or not code:
        raise ValueError("agency_code: not a code")
    counts = {}
    for name in _COUNTS:
        value = body.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name}: not a count")
        counts[name] = value
    if counts["received"] != sum(counts[n] for n in _COUNTS[1:]):
        raise ValueError("received: not the sum of the states")
    oldest = _instant(body.get("oldest_unsynced_at"), "oldest_unsynced_at", optional=True)
    as_of = _instant(body.get("as_of"), "as_of", optional=False)
    assert as_of is not None
    return AgencySyncRecord(code, oldest_unsynced_at=oldest, as_of=as_of, **counts)


def _instant(value: Any, name: str, *, optional: bool) -> datetime | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name}: not an instant")
    try:
        instant = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{name}: not an instant") from exc
    if instant.tzinfo is None:
        raise ValueError(f"{name}: no time zone")
    return instant
