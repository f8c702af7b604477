"""The SQL of one applied batch: whatever its size, a batch of one partition costs four statements in
one transaction — the partition's lock, the stored versions of its dossiers, and one write of the
newer snapshots, the counter deltas and the next offset, each as array parameters (`unnest`) rather
than a statement or a VALUES row per snapshot."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

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


LOCK_PARTITION = text("SELECT pg_advisory_xact_lock(hashtext(current_schema()), CAST(:partition AS integer))")

SELECT_STORED = text(
    "SELECT dossier_code, version, agency_code, counted FROM dossier_snapshot"
    " WHERE dossier_code = ANY(CAST(:codes AS text[])) FOR UPDATE"
)

# (column, element type) of the snapshots as sent; `counted` travels as one integer array per counter.
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
)
_COUNTED = tuple(f"counted_{k}" for k in range(WIDTH))


def _unnest(prefix: str, columns: Iterable[tuple[str, str]]) -> str:
    """`unnest(CAST(:<prefix>a AS t[]), …) AS n(a, …)`: one row per array position."""
    columns = list(columns)
    arrays = ", ".join(f"CAST(:{prefix}{name} AS {kind}[])" for name, kind in columns)
    return f"unnest({arrays}) AS n({', '.join(name for name, _ in columns)})"


def _listed(names: Iterable[str], template: str = "{}") -> str:
    return ", ".join(template.format(name) for name in names)


_SENT = [name for name, _ in _SNAPSHOT]
_REPLACED = [*_SENT[1:], "partition", "counted"]
WRITE_BATCH = text(
    f"""
WITH snapshots AS (
    INSERT INTO dossier_snapshot AS s ({_listed(_SENT)}, partition, counted)
    SELECT {_listed(_SENT, "n.{}")}, CAST(:partition AS integer), ARRAY[{_listed(_COUNTED, "n.{}")}]
    FROM {_unnest("s_", [*_SNAPSHOT, *((c, "integer") for c in _COUNTED)])}
    ON CONFLICT (dossier_code)
    DO UPDATE SET {_listed(_REPLACED, "{0} = excluded.{0}")}
    WHERE s.version < excluded.version
), counters AS (
    INSERT INTO agency_counter AS a (partition, agency_code, {_listed(COUNTER_COLUMNS)})
    SELECT CAST(:partition AS integer), {_listed(["agency_code", *COUNTER_COLUMNS], "n.{}")}
    FROM {_unnest("c_", [("agency_code", "text"), *((c, "bigint") for c in COUNTER_COLUMNS)])}
    ON CONFLICT (partition, agency_code)
    DO UPDATE SET {_listed(COUNTER_COLUMNS, "{0} = a.{0} + excluded.{0}")}
)
INSERT INTO consumed_offset (topic, partition, next_offset)
VALUES (CAST(:topic AS text), CAST(:partition AS integer), CAST(:next_offset AS bigint))
ON CONFLICT (topic, partition) DO UPDATE SET next_offset = excluded.next_offset
"""
)


async def newer(conn: AsyncConnection, candidates: list[SnapshotRecord]) -> AppliedBatch:
    """The candidates newer than what is stored (their rows locked until the commit) and the counter
    deltas they bring: each replaces what its stored snapshot counted, in that snapshot's agency."""
    applied = AppliedBatch()
    if not candidates:
        return applied
    rows = await conn.execute(SELECT_STORED, {"codes": [r.dossier_code for r in candidates]})
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


def write_parameters(topic: str, partition: int, applied: AppliedBatch, next_offset: int) -> dict[str, Any]:
    """The parameters of `WRITE_BATCH`: one array per column, agencies in code order (so that two
    writers never lock counter rows in opposite orders)."""
    records = applied.records
    params: dict[str, Any] = {"topic": topic, "partition": partition, "next_offset": next_offset}
    for name in _SENT:
        params["s_" + name] = [getattr(r, name) for r in records]
    counted = list(zip(*(r.counted for r in records), strict=True)) if records else [()] * WIDTH
    params.update({"s_" + name: list(column) for name, column in zip(_COUNTED, counted, strict=True)})
    agencies = sorted(applied.deltas)
    params["c_agency_code"] = agencies
    for k, name in enumerate(COUNTER_COLUMNS):
        params["c_" + name] = [applied.deltas[agency][k] for agency in agencies]
    return params
