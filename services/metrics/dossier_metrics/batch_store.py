"""The SQL of one applied batch: whatever its size, a batch of one partition costs three statements in
one transaction — the partition's lock, the stored versions of its dossiers, and one write of the
newer snapshots, the counter deltas and the next offset, each as array parameters (`unnest`) rather
than a statement or a VALUES row per snapshot.

They run on the transaction's asyncpg connection itself (prepared once per connection by asyncpg's
statement cache): through SQLAlchemy each statement and transaction cost about 0.2 ms of CPU more,
which is most of what a small batch costs."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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


def _unnest(columns: Sequence[tuple[str, str]], first: int) -> str:
    """`unnest($first::t[], …) AS n(a, …)`: one row per array position."""
    arrays = ", ".join(f"${first + k}::{kind}[]" for k, (_, kind) in enumerate(columns))
    return f"unnest({arrays}) AS n({', '.join(name for name, _ in columns)})"


def _listed(names: Iterable[str], template: str = "{}") -> str:
    return ", ".join(template.format(name) for name in names)


_SENT = [name for name, _ in _SNAPSHOT]
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


def write_arguments(topic: str, partition: int, applied: AppliedBatch, next_offset: int) -> list[Any]:
    """The arguments of `WRITE_BATCH`: one array per column, agencies in code order (so that two
    writers never lock counter rows in opposite orders)."""
    records = applied.records
    arguments: list[Any] = [topic, partition, next_offset]
    arguments += ([getattr(r, name) for r in records] for name in _SENT[:-1])
    arguments.append([_literal(r.counted) for r in records])
    agencies = sorted(applied.deltas)
    arguments.append(agencies)
    arguments += ([applied.deltas[agency][k] for agency in agencies] for k in range(WIDTH))
    return arguments


@functools.cache
def _literal(counts: Counts) -> str:
    """`{0,1,…}`: the array literal of a counter vector (a handful of distinct ones recur)."""
    return "{" + ",".join(map(str, counts)) + "}"
