"""Where each agency stands with the national portal, from the push worker's `sync_state`: the figures
`/metrics` exposes (`observability.PortalSync`), `GET /v1/sync/state` and `GET /v1/sync/dossiers`
answer (`state_route.py`), `portal.sync.v1` carries (`state_publisher.py`), and an operator acts on.

A received dossier is in exactly one state:

- `synced`: the portal holds its latest version;
- `failed`: not synced, and the last attempt failed with an error that is retried (with backoff); the
  error is classed into one of `FailureReason` (a closed set, so a label of bounded cardinality);
- `pending`: not synced, and not attempted (or not failed) since its latest change;
- `parked`: the portal rejected its latest version for good (a permanent `error_code`: the record, or
  its progress once the record was taken); the push worker leaves it until a newer version is wanted or
  an operator re-queues it (`dossier-processing portal requeue`). Counted by the portal's `error_code`
  (the configured permanent codes, so a bounded set; anything else is `other`).

`oldest_unsynced_at` is the time of the latest change of the agency's longest-waiting unsynced dossier
(`dossiers.updated_at`, written by processing when it applied the change; the portal lacks at least
that version since then). It is derived, not stored: a dossier that keeps changing restarts its clock,
so the age is a lower bound of how long the portal has lacked a version, never an overstatement.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection


class FailureReason(StrEnum):
    """Why the last attempt of a dossier failed, from the start of its `sync_state.last_error`."""

    #: the portal did not answer within `PROCESSING_PORTAL_TIMEOUT_S`
    TIMEOUT = "timeout"
    #: no connection to the portal (refused, reset, DNS, TLS, a broken answer)
    UNREACHABLE = "unreachable"
    #: the portal answered with an HTTP error status or a body that is not its JSON answer
    HTTP_ERROR = "http_error"
    #: the portal answered with a non-zero `error_code`
    REJECTED = "rejected"
    #: the push worker could not log in to the portal's adapter
    SESSION = "session"
    #: no portal record could be made of the dossier (a data problem on this side)
    UNRECORDABLE = "unrecordable"
    OTHER = "other"


_TIMEOUTS = "TimeoutError|ReadTimeout|WriteTimeout|ConnectTimeout|PoolTimeout|TimeoutException"
_TRANSPORT = (
    "ConnectError|ReadError|WriteError|CloseError|NetworkError|RemoteProtocolError|LocalProtocolError"
    "|ProtocolError|ProxyError|UnsupportedProtocol|TransportError|DecodingError|TooManyRedirects"
)

#: the call a stored error may name first (the progress call's errors do)
_CALL = "^((DongBoHoSoMC|CapNhatTienDoHoSoMC): )?"

#: (reason, pattern) in the order they are tried; the patterns are written in the part of regular
#: expression syntax Python's `re` and PostgreSQL's `~` share, so both class an error the same way.
REASON_PATTERNS: Sequence[tuple[FailureReason, str]] = (
    (FailureReason.UNRECORDABLE, "^unrecordable:"),
    (FailureReason.SESSION, f"{_CALL}(login failed|login refused|session refused)"),
    (FailureReason.TIMEOUT, f"{_CALL}({_TIMEOUTS}):"),
    (FailureReason.UNREACHABLE, f"{_CALL}({_TRANSPORT}):"),
    (FailureReason.HTTP_ERROR, f"{_CALL}(PortalRefused: )?HTTP [0-9]{{3}}"),
    (FailureReason.REJECTED, f"{_CALL}(PortalRefused: )?(portal )?error_code"),
)


def failure_reason(last_error: str | None) -> FailureReason | None:
    """The class of a stored `last_error` (None for none)."""
    if last_error is None:
        return None
    for reason, pattern in REASON_PATTERNS:
        if re.search(pattern, last_error):
            return reason
    return FailureReason.OTHER


def _reason_sql(column: str) -> str:
    """`failure_reason` in SQL; its patterns and reasons are bound as `:reason_pattern_<i>` and
    `:reason_<i>` (`_REASON_PARAMS`)."""
    cases = " ".join(
        f"when {column} ~ cast(:reason_pattern_{i} as text) then cast(:reason_{i} as text)"
        for i in range(len(REASON_PATTERNS))
    )
    return f"case when {column} is null then null {cases} else '{FailureReason.OTHER}' end"


_REASON_PARAMS = {
    **{f"reason_pattern_{i}": pattern for i, (_, pattern) in enumerate(REASON_PATTERNS)},
    **{f"reason_{i}": reason.value for i, (reason, _) in enumerate(REASON_PATTERNS)},
}


#: the states of a received dossier towards the portal, in the order of `processing_portal_dossiers`
SYNC_STATES = ("synced", "failed", "pending", "parked")
#: a parked dossier's `error_code` as it is counted: a short number, else `other`
_PARKED_CODE = "^-?[0-9]{1,6}$"


@dataclass(frozen=True)
class AgencySync:
    """One agency's received dossiers towards the national portal."""

    agency_code: str
    synced: int = 0
    pending: int = 0
    failed: Mapping[FailureReason, int] = field(default_factory=dict)
    #: the portal's `error_code` → dossiers parked with it
    parked: Mapping[str, int] = field(default_factory=dict)
    oldest_unsynced_at: datetime | None = None

    @property
    def failed_total(self) -> int:
        return sum(self.failed.values())

    @property
    def parked_total(self) -> int:
        return sum(self.parked.values())

    @property
    def unsynced(self) -> int:
        return self.pending + self.failed_total + self.parked_total

    @property
    def received(self) -> int:
        return self.synced + self.unsynced

    def count(self, state: str) -> int:
        return {
            "synced": self.synced,
            "failed": self.failed_total,
            "pending": self.pending,
            "parked": self.parked_total,
        }[state]


#: each received dossier with its state (`SYNC_STATES`) and the class of its failure (`reason`: a
#: `FailureReason` for a failed one, the `error_code` for a parked one, else null)
_STATES = f"""
    with dossier_states as (
        select d.dossier_code, d.agency_code, d.version, d.updated_at, s.synced_version, s.attempts,
               s.last_error, s.error_code, s.last_attempt_at, s.next_attempt_at, s.parked_at,
               case when s.parked_at is not null and s.parked_version >= d.version then 'parked'
                    when s.synced_version >= d.version then 'synced'
                    when s.last_error is not null then 'failed'
                    else 'pending' end as state
        from dossiers d left join sync_state s using (dossier_code)
        where d.received_at is not null /* scope */
    ),
    states as (
        select *,
               case when state = 'failed' then {_reason_sql("last_error")}
                    when state = 'parked' then
                        case when error_code ~ '{_PARKED_CODE}' then error_code else 'other' end
               end as reason
        from dossier_states
    )
"""

_BY_AGENCY = f"""
    {_STATES}
    select agency_code, state, reason,
           count(*) as dossiers,
           min(updated_at) filter (where state <> 'synced') as oldest
    from states
    group by 1, 2, 3
"""


async def sync_by_agency(
    conn: AsyncConnection, agencies_like: Sequence[str] | None = None
) -> dict[str, AgencySync]:
    """Every agency with received dossiers (only those matching `agencies_like`, SQL `LIKE` patterns,
    when given), by agency code."""
    query = _BY_AGENCY
    params: dict[str, object] = dict(_REASON_PARAMS)
    if agencies_like is not None:
        query = query.replace("/* scope */", "and d.agency_code like any(cast(:patterns as text[]))")
        params["patterns"] = list(agencies_like)
    rows = await conn.execute(text(query), params)
    counts: dict[str, dict[str, int]] = {}
    failed: dict[str, dict[FailureReason, int]] = {}
    parked: dict[str, dict[str, int]] = {}
    oldest: dict[str, datetime] = {}
    for agency, state, reason, dossiers, since in rows:
        per_state = counts.setdefault(agency, {})
        per_state[state] = per_state.get(state, 0) + int(dossiers)
        if state == "failed":
            by_reason = failed.setdefault(agency, {})
            by_reason[FailureReason(reason)] = by_reason.get(FailureReason(reason), 0) + int(dossiers)
        elif state == "parked":
            by_code = parked.setdefault(agency, {})
            by_code[reason] = by_code.get(reason, 0) + int(dossiers)
        if since is not None and (agency not in oldest or since < oldest[agency]):
            oldest[agency] = since
    return {
        agency: AgencySync(
            agency,
            synced=per_state.get("synced", 0),
            pending=per_state.get("pending", 0),
            failed=failed.get(agency, {}),
            parked=parked.get(agency, {}),
            oldest_unsynced_at=oldest.get(agency),
        )
        for agency, per_state in sorted(counts.items())
    }


async def unsynced_dossiers(
    conn: AsyncConnection,
    agencies_like: Sequence[str] | None,
    *,
    state: str | None,
    reason: str | None,
    after: str | None,
    limit: int,
) -> list[Row[Any]]:
    """Received dossiers the portal lacks (failed, pending or parked; one `state` and `reason` if given),
    by code after `after`, of the agencies matching `agencies_like` (SQL `LIKE` patterns; None: all)."""
    query = _STATES.replace(
        "/* scope */",
        "" if agencies_like is None else "and d.agency_code like any(cast(:patterns as text[]))",
    )
    query += """
        select dossier_code, agency_code, state, reason, version, synced_version, attempts, error_code,
               updated_at, last_attempt_at, next_attempt_at, parked_at
        from states
        where state <> 'synced'
          and (cast(:state as text) is null or state = :state)
          and (cast(:reason as text) is null or reason = :reason)
          and (cast(:after as text) is null or dossier_code > :after)
        order by dossier_code
        limit :limit
    """
    params: dict[str, object] = {
        **_REASON_PARAMS,
        "state": state,
        "reason": reason,
        "after": after,
        "limit": limit,
    }
    if agencies_like is not None:
        params["patterns"] = list(agencies_like)
    return list(await conn.execute(text(query), params))


async def sync_pending(conn: AsyncConnection) -> int:
    """Dossiers (received or not) whose wanted version the portal has not accepted yet."""
    return int(
        await conn.scalar(text("select count(*) from sync_state where wanted_version > synced_version")) or 0
    )
