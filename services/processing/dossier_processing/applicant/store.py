"""Where applicant data is kept (migration 0006), always sealed, and how it is erased.

- `applicants`: per dossier, the sealed blob of its latest `dossier.received` that carried one (latest
  by `occurred_at`, then arrival), written by the consumer in the transaction of the events
  (`store_sealed`).
- `applicant_erasures`: one row per erasure (who, when, which dossier, what was removed: never the
  data). A dossier named there takes no applicant data again, so replaying old events (from Kafka,
  the dead letters or an archive) cannot bring it back.

`erase` deletes the dossier's row and strips `applicant_sealed` from the payloads of its stored
`dossier.received` events (the consumer tells a stored event from a resent one without that field,
`ingest/plan.py`). `load_applicants` opens the blobs for the sync feed and the push.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from dossier_contracts.event_codec import decode_event
from dossier_core.codes import EventType
from dossier_processing.applicant.keys import Opener, opener_from_env, opener_of
from dossier_processing.applicant.model import Applicant
from dossier_processing.models import EventRow
from dossier_processing.settings import ProcessingSettings

__all__ = [
    "Erasure",
    "erase",
    "load_applicants",
    "load_sealed",
    "sealed_of",
    "store_sealed",
    "without_applicant",
]

log = logging.getLogger(__name__)
_RECEIVED = EventType.RECEIVED.value


def sealed_of(payload: bytes) -> bytes | None:
    """The sealed applicant data of a stored `dossier.received` payload, if it carries any."""
    msg = decode_event(payload)
    if msg.WhichOneof("payload") == "received" and msg.received.HasField("applicant_sealed"):
        return msg.received.applicant_sealed
    return None


def without_applicant(payload: bytes) -> bytes | None:
    """The payload without its sealed applicant data; `None` when it carries none."""
    try:
        msg = decode_event(payload)
    except ValueError:
        return None
    if msg.WhichOneof("payload") != "received" or not msg.received.HasField("applicant_sealed"):
        return None
    msg.received.ClearField("applicant_sealed")
    return msg.SerializeToString()


_STORE = text(
    """
    insert into applicants (dossier_code, sealed, event_id, occurred_at, seq)
    select u.* from unnest(
        cast(:code as text[]), cast(:sealed as bytea[]), cast(:event_id as text[]),
        cast(:occurred_at as timestamptz[]), cast(:seq as bigint[])
    ) as u(dossier_code, sealed, event_id, occurred_at, seq)
    where not exists (select 1 from applicant_erasures e where e.dossier_code = u.dossier_code)
    on conflict (dossier_code) do update set
        sealed = excluded.sealed, event_id = excluded.event_id, occurred_at = excluded.occurred_at,
        seq = excluded.seq, stored_at = now()
    where (applicants.occurred_at, applicants.seq) < (excluded.occurred_at, excluded.seq)
    """
)


async def store_sealed(conn: AsyncConnection, events: Iterable[EventRow]) -> int:
    """Keep the sealed applicant data of the newly applied `dossier.received` events, in the caller's
    transaction; how many carried some. Erased dossiers keep none."""
    latest: dict[str, tuple[EventRow, bytes]] = {}
    for row in events:
        if row.type != _RECEIVED:
            continue
        sealed = sealed_of(row.payload)
        if sealed is None:
            continue
        kept = latest.get(row.dossier_code)
        if kept is None or (kept[0].occurred_at, kept[0].seq) < (row.occurred_at, row.seq):
            latest[row.dossier_code] = (row, sealed)
    if not latest:
        return 0
    rows = list(latest.values())
    await conn.execute(
        _STORE,
        {
            "code": [r.dossier_code for r, _ in rows],
            "sealed": [s for _, s in rows],
            "event_id": [r.event_id for r, _ in rows],
            "occurred_at": [r.occurred_at for r, _ in rows],
            "seq": [r.seq for r, _ in rows],
        },
    )
    return len(rows)


async def load_sealed(conn: AsyncConnection, codes: Sequence[str]) -> dict[str, bytes]:
    """The stored sealed blob of each of `codes` that has one."""
    if not codes:
        return {}
    rows = await conn.execute(
        text(
            "select a.dossier_code, a.sealed from applicants a "
            "where a.dossier_code = any(cast(:c as text[])) and not exists "
            "(select 1 from applicant_erasures e where e.dossier_code = a.dossier_code)"
        ),
        {"c": list(codes)},
    )
    return {code: bytes(sealed) for code, sealed in rows}


async def load_applicants(
    conn: AsyncConnection,
    codes: Sequence[str],
    opener: Opener | None = None,
    *,
    settings: ProcessingSettings | None = None,
) -> Mapping[str, Applicant]:
    """The opened applicant of each of `codes` that has one (the sync feed and the push are its only
    readers). `opener` defaults to the `PROCESSING_APPLICANT_PRIVATE_KEY` of `settings` (else of the
    environment); without a key, or for a blob the key cannot open, the dossier has no applicant here
    and a warning names the dossier (only)."""
    sealed = await load_sealed(conn, codes)
    if not sealed:
        return {}
    if opener is None:
        try:
            opener = opener_of(settings) if settings is not None else opener_from_env()
        except ValueError as exc:  # a malformed key: the message names the variable, never the value
            log.error("applicant data cannot be opened", extra={"error": str(exc)})
            return {}
    if opener is None:
        log.warning(
            "applicant data stored but PROCESSING_APPLICANT_PRIVATE_KEY unset",
            extra={"dossiers": len(sealed)},
        )
        return {}
    out: dict[str, Applicant] = {}
    for code, blob in sealed.items():
        try:
            out[code] = Applicant.from_clear(opener.open(blob))
        except ValueError as exc:
            log.warning("applicant data cannot be opened", extra={"dossier_code": code, "error": str(exc)})
    return out


@dataclass(frozen=True)
class Erasure:
    """What one erasure removed: the stored blob (0 or 1), the stored events it was cleared from, and
    how many of the dossier's months are archived (their files are not rewritten)."""

    dossier_code: str
    erased_by: str
    applicant_rows: int
    events_cleared: int
    archived_months: int
    known_dossier: bool


async def erase(conn: AsyncConnection, code: str, erased_by: str) -> Erasure:
    """Erase a dossier's applicant data and record it, in the caller's transaction."""
    deleted = await conn.execute(text("delete from applicants where dossier_code = :c"), {"c": code})
    received = await conn.execute(
        text(
            "select event_id, occurred_at, payload from events "
            "where dossier_code = :c and type = :t for update"
        ),
        {"c": code, "t": _RECEIVED},
    )
    cleared = 0
    for event_id, occurred_at, payload in received.all():
        stripped = without_applicant(bytes(payload))
        if stripped is None:
            continue
        await conn.execute(
            text("update events set payload = :p where event_id = :e and occurred_at = :o"),
            {"p": stripped, "e": event_id, "o": occurred_at},
        )
        cleared += 1
    archived = await conn.scalar(
        text("select count(*) from archived_dossiers where dossier_code = :c"), {"c": code}
    )
    known = await conn.scalar(
        text("select exists (select 1 from dossiers where dossier_code = :c)"), {"c": code}
    )
    erasure = Erasure(code, erased_by, deleted.rowcount, cleared, int(archived or 0), bool(known))
    await conn.execute(
        text(
            "insert into applicant_erasures "
            "(dossier_code, erased_by, applicant_rows, events_cleared, archived_months) "
            "values (:c, :by, :rows, :events, :archived)"
        ),
        {
            "c": code,
            "by": erased_by,
            "rows": erasure.applicant_rows,
            "events": cleared,
            "archived": erasure.archived_months,
        },
    )
    return erasure
