"""The SQL of one applied batch: whatever its size, a batch of one partition costs three statements in
one transaction — the partition's lock, the stored versions of its dossiers, and one write of the
newer snapshots, their report facts, every version's facts for the history, the counter deltas and
the next offset, each as array parameters (`unnest`) rather than a statement or a VALUES row per
snapshot.

They run on the transaction's asyncpg connection itself (prepared once per connection by asyncpg's
statement cache): through SQLAlchemy each statement and transaction cost about 0.2 ms of CPU more,
which is most of what a small batch costs."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dossier_core.report_facts import ReportFacts
from dossier_metrics.counters import COUNTER_COLUMNS, WIDTH, Counts


@dataclass(frozen=True)
class SnapshotRecord:
    """One dossier's snapshot as the projection stores it."""

    dossier_code: str
    partition: int
    version: int
    agency_code: str
    procedure_code: str
    field: str
    received_at: datetime | None
    ended_at: datetime | None
    changed_at: datetime
    counted: Counts
    payload: bytes
    facts: ReportFacts


@dataclass(frozen=True)
class FactVersion:
    """One version's report facts for the history, with the instant the system learned them (when
    intake accepted the newest event the version applies). `payload` is kept only for a dossier with
    pauses: only such a dossier may need the domain to be judged at a period's end."""

    dossier_code: str
    version: int
    known_from: datetime
    last_event_id: str
    agency_code: str
    procedure_code: str
    field: str
    facts: ReportFacts
    payload: bytes | None


@dataclass
class AppliedBatch:
    """What a batch changed: the records newer than what was stored, and the counter deltas."""

    records: list[SnapshotRecord] = field(default_factory=list)
    deltas: dict[str, Counts] = field(default_factory=dict)
    ignored: int = 0


def latest_per_dossier(records: Iterable[SnapshotRecord]) -> list[SnapshotRecord]:
    """Within one batch, only each dossier's highest version matters (the first of equal ones)."""
    best: dict[str, SnapshotRecord] = {}
    for record in records:
        seen = best.get(record.dossier_code)
        if seen is None or record.version > seen.version:
            best[record.dossier_code] = record
    return list(best.values())


LOCK_PARTITION = "SELECT pg_advisory_xact_lock(hashtext(current_schema()), $1::integer)"

SELECT_STORED = (
    "SELECT dossier_code, version, agency_code, counted FROM dossier_snapshot"
    " WHERE dossier_code = ANY($1::text[]) FOR UPDATE"
)

# The arguments of WRITE_BATCH after topic ($1), partition ($2) and next offset ($3), with their
# array types: the snapshots' columns (`counted` as an array literal, one text per snapshot), then the
# agencies and the counter deltas.
_SNAPSHOT = (
    ("dossier_code", "text"),
    ("version", "bigint"),
    ("agency_code", "text"),
    ("procedure_code", "text"),
    ("field", "text"),
    ("received_at", "timestamptz"),
    ("ended_at", "timestamptz"),
    ("changed_at", "timestamptz"),
    ("payload", "bytea"),
    ("counted", "text"),
)
_DELTAS = (("agency_code", "text"), *((name, "bigint") for name in COUNTER_COLUMNS))
#: The report facts' columns (the arrays as array literals, one text per row).
FACT_COLUMNS = (
    ("agency_code", "text"),
    ("procedure_code", "text"),
    ("field", "text"),
    ("received_at", "timestamptz"),
    ("channel", "text"),
    ("ended_at", "timestamptz"),
    ("outcome", "text"),
    ("legal_due_at", "timestamptz"),
    ("settled_due_at", "timestamptz"),
    ("pauses_from", "timestamptz"),
    ("pauses_until", "timestamptz"),
    ("reschedules", "text"),
    ("judged_at", "text"),
    ("judged_overdue", "text"),
    ("judged_paused", "text"),
    ("on_site", "boolean"),
    ("digitised", "boolean"),
    ("payment_channel", "text"),
)
#: The array columns sent as array literals, with the array type each is cast to.
_LITERALS = {
    "reschedules": "timestamptz[]",
    "judged_at": "timestamptz[]",
    "judged_overdue": "boolean[]",
    "judged_paused": "boolean[]",
}
_CURRENT = (("dossier_code", "text"), ("version", "bigint"), *FACT_COLUMNS)
_HISTORY = (
    ("dossier_code", "text"),
    ("version", "bigint"),
    ("known_from", "timestamptz"),
    ("last_event_id", "text"),
    *FACT_COLUMNS,
    ("payload", "bytea"),
)


def _unnest(columns: Sequence[tuple[str, str]], first: int) -> str:
    """`unnest($first::t[], …) AS n(a, …)`: one row per array position."""
    arrays = ", ".join(f"${first + k}::{kind}[]" for k, (_, kind) in enumerate(columns))
    return f"unnest({arrays}) AS n({', '.join(name for name, _ in columns)})"


def _listed(names: Iterable[str], template: str = "{}") -> str:
    return ", ".join(template.format(name) for name in names)


def _fact_values(columns: Sequence[tuple[str, str]]) -> str:
    return ", ".join(
        f"n.{name}::{_LITERALS[name]}" if name in _LITERALS else f"n.{name}" for name, _ in columns
    )


def _upsert_facts(first: int) -> str:
    return f"""INSERT INTO report_fact AS f ({_listed(name for name, _ in _CURRENT)})
    SELECT {_fact_values(_CURRENT)} FROM {_unnest(_CURRENT, first)}
    ON CONFLICT (dossier_code)
    DO UPDATE SET {_listed((name for name, _ in _CURRENT[1:]), "{0} = excluded.{0}")}
    WHERE f.version < excluded.version"""


def _insert_history(first: int) -> str:
    return f"""INSERT INTO report_fact_history ({_listed(name for name, _ in _HISTORY)})
    SELECT {_fact_values(_HISTORY)} FROM {_unnest(_HISTORY, first)}
    ON CONFLICT (dossier_code, version) DO NOTHING"""


#: The two fact writes alone (for facts derived outside a batch, e.g. after an upgrade).
UPSERT_FACTS = _upsert_facts(1)
INSERT_HISTORY = _insert_history(1)

_SENT = [name for name, _ in _SNAPSHOT]
_FIRST_CURRENT = 4 + len(_SNAPSHOT) + len(_DELTAS)
_FIRST_HISTORY = _FIRST_CURRENT + len(_CURRENT)
_STORED = [*_SENT, "partition"]
_VALUES = [*(f"n.{name}" for name in _SENT[:-1]), "n.counted::integer[]", "$2::integer"]
WRITE_BATCH = f"""
WITH snapshots AS (
    INSERT INTO dossier_snapshot AS s ({_listed(_STORED)})
    SELECT {", ".join(_VALUES)} FROM {_unnest(_SNAPSHOT, 4)}
    ON CONFLICT (dossier_code)
    DO UPDATE SET {_listed(_STORED[1:], "{0} = excluded.{0}")}
    WHERE s.version < excluded.version
), counters AS (
    INSERT INTO agency_counter AS a (partition, {_listed(name for name, _ in _DELTAS)})
    SELECT $2::integer, {_listed((name for name, _ in _DELTAS), "n.{}")}
    FROM {_unnest(_DELTAS, 4 + len(_SNAPSHOT))}
    ON CONFLICT (partition, agency_code)
    DO UPDATE SET {_listed(COUNTER_COLUMNS, "{0} = a.{0} + excluded.{0}")}
), facts AS (
    {_upsert_facts(_FIRST_CURRENT)}
), history AS (
    {_insert_history(_FIRST_HISTORY)}
)
INSERT INTO consumed_offset (topic, partition, next_offset) VALUES ($1::text, $2::integer, $3::bigint)
ON CONFLICT (topic, partition) DO UPDATE SET next_offset = excluded.next_offset
"""


async def newer(driver: Any, candidates: list[SnapshotRecord]) -> AppliedBatch:
    """The candidates newer than what is stored (their rows locked until the commit) and the counter
    deltas they bring: each replaces what its stored snapshot counted, in that snapshot's agency.
    `driver` is the transaction's asyncpg connection."""
    applied = AppliedBatch()
    if not candidates:
        return applied
    rows = await driver.fetch(SELECT_STORED, [r.dossier_code for r in candidates])
    stored = {code: (version, agency, counted) for code, version, agency, counted in rows}
    deltas: dict[str, list[int]] = {}
    for record in candidates:
        old = stored.get(record.dossier_code)
        if old is not None:
            if old[0] >= record.version:
                continue  # an older or repeated version: the stored one is newer
            _accumulate(deltas, old[1], old[2], -1)
        _accumulate(deltas, record.agency_code, record.counted, 1)
        applied.records.append(record)
    applied.deltas = {agency: tuple(d) for agency, d in deltas.items() if any(d)}
    return applied


def _accumulate(deltas: dict[str, list[int]], agency: str, counts: Iterable[int], sign: int) -> None:
    total = deltas.get(agency)
    if total is None:
        total = deltas[agency] = [0] * WIDTH
    for k, value in enumerate(counts):
        if value:
            total[k] += sign * value


def write_arguments(
    topic: str, partition: int, applied: AppliedBatch, next_offset: int, history: Sequence[FactVersion] = ()
) -> list[Any]:
    """The arguments of `WRITE_BATCH`: one array per column, agencies in code order (so that two
    writers never lock counter rows in opposite orders), then the applied snapshots' facts and the
    history's versions."""
    records = applied.records
    arguments: list[Any] = [topic, partition, next_offset]
    arguments += ([getattr(r, name) for r in records] for name in _SENT[:-1])
    arguments.append([_literal(r.counted) for r in records])
    agencies = sorted(applied.deltas)
    arguments.append(agencies)
    arguments += ([applied.deltas[agency][k] for agency in agencies] for k in range(WIDTH))
    return arguments + fact_arguments(records) + history_arguments(history)


def fact_arguments(records: Sequence[SnapshotRecord]) -> list[Any]:
    """The arrays of `UPSERT_FACTS`: the records' current report facts."""
    return [
        [r.dossier_code for r in records],
        [r.version for r in records],
        *_fact_arrays([(r.agency_code, r.procedure_code, r.field, r.facts) for r in records]),
    ]


def history_arguments(history: Sequence[FactVersion]) -> list[Any]:
    """The arrays of `INSERT_HISTORY`: every version's facts with when they became known."""
    return [
        [v.dossier_code for v in history],
        [v.version for v in history],
        [v.known_from for v in history],
        [v.last_event_id for v in history],
        *_fact_arrays([(v.agency_code, v.procedure_code, v.field, v.facts) for v in history]),
        [v.payload for v in history],
    ]


def _fact_arrays(rows: Sequence[tuple[str, str, str, ReportFacts]]) -> list[list[Any]]:
    facts = [row[3] for row in rows]
    return [
        [row[0] for row in rows],
        [row[1] for row in rows],
        [row[2] for row in rows],
        [f.received_at for f in facts],
        [f.channel.value for f in facts],
        [f.ended_at for f in facts],
        [f.outcome for f in facts],
        [f.legal_due_at for f in facts],
        [f.settled_due_at for f in facts],
        [f.pauses_from for f in facts],
        [f.pauses_until for f in facts],
        [_instants(f.reschedules) for f in facts],
        [_instants(f.judged_at) for f in facts],
        [_flags(f.judged_overdue) for f in facts],
        [_flags(f.judged_paused) for f in facts],
        [f.on_site for f in facts],
        [f.digitised for f in facts],
        [f.payment_channel for f in facts],
    ]


def _flags(values: Sequence[bool]) -> str | None:
    """`{t,f,…}`: the array literal of some booleans (None for none)."""
    return "{" + ",".join("t" if v else "f" for v in values) + "}" if values else None


def _instants(values: Sequence[datetime]) -> str | None:
    """`{"…",…}`: the array literal of some instants (None for none)."""
    if not values:
        return None
    return "{" + ",".join(f'"{t.isoformat()}"' for t in values) + "}"


@functools.cache
def _literal(counts: Counts) -> str:
    """`{0,1,…}`: the array literal of a counter vector (a handful of distinct ones recur)."""
    return "{" + ",".join(map(str, counts)) + "}"
