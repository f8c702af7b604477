"""The report's SQL: Biểu 06 rows added up by PostgreSQL from the dossiers' report facts
(`dossier_core.report_facts`), per grain (agency, procedure, field), so that a report costs one scan of
the facts it selects and its answer grows with the number of groups, not of dossiers.

Every expression below is `contribution_from_facts` written in SQL (a property test holds the two
equal, and the whole report equal to the domain's per-dossier path): a dossier open at a statutory
period end within its pauses is counted from the judgement stored with its facts. The dossiers open
within their pauses at any other end (an explicit range) are left out of the sums: `domain_rows`
returns their stored snapshots, and the domain judges them (`report_store`).

Facts come from one of two sources, the same columns either way:
- `CURRENT`: `report_fact`, each dossier's newest facts;
- `KNOWN_AT`: `report_fact_history`, each dossier's newest version the system knew at an instant
  (`known_from` is when intake accepted the newest event of that version) — the report `as_of` it.
"""

from __future__ import annotations

# $1 period start, $2 period end (excluded), $3 agencies (NULL: every agency), $4 the knowledge instant.
_COLUMNS = (
    "dossier_code, agency_code, procedure_code, field, received_at, channel, ended_at, outcome,"
    " legal_due_at, settled_due_at, pauses_from, pauses_until, reschedules, judged_at, judged_overdue,"
    " judged_paused, on_site, digitised, payment_channel"
)
CURRENT = f"""SELECT {_COLUMNS}, NULL::bytea AS payload FROM report_fact
    WHERE received_at IS NOT NULL AND received_at < $2 AND (ended_at IS NULL OR ended_at >= $1)
      AND ($3::text[] IS NULL OR agency_code = ANY($3::text[]))"""
# Each dossier's newest version known at $4: a version with no later one known by then (an anti-join,
# not DISTINCT ON, so the period's filter applies before any sort: 2x faster for a whole country).
KNOWN_AT = f"""SELECT * FROM (
        SELECT {_COLUMNS}, payload FROM report_fact_history AS h
        WHERE known_from <= $4 AND ($3::text[] IS NULL OR agency_code = ANY($3::text[]))
          AND NOT EXISTS (SELECT 1 FROM report_fact_history AS later WHERE later.dossier_code = h.dossier_code
                          AND later.version > h.version AND later.known_from <= $4)
    ) AS known
    WHERE received_at IS NOT NULL AND received_at < $2 AND (ended_at IS NULL OR ended_at >= $1)"""

_OPEN_AT_END = "(ended_at IS NULL OR ended_at >= $2)"
_JUDGED = "(pauses_from IS NULL OR pauses_from > $2 OR coalesce(pauses_until <= $2, false))"
_DUE = "CASE WHEN pauses_from IS NULL OR pauses_from > $2 THEN legal_due_at ELSE settled_due_at END"
#: Where the judgement at the end was stored with the facts (a statutory end within the pauses).
_STORED = "array_position(judged_at, $2)"
_NEEDS_DOMAIN = f"({_OPEN_AT_END} AND NOT {_JUDGED} AND {_STORED} IS NULL)"
_OVERDUE = f"CASE WHEN {_JUDGED} THEN coalesce(({_DUE}) < $2, false) ELSE judged_overdue[{_STORED}] END"


def _count(condition: str) -> str:
    return f"count(*) FILTER (WHERE {condition})"


def _ended_as(outcome: str) -> str:
    return _count(f"ended_at < $2 AND coalesce(outcome, 'on_time') = '{outcome}'")


#: The row counters in `ReportRow` order (`dossier_core.report`), each as an aggregate.
_ROW = {
    "carried_over": _count("received_at < $1"),
    "online": _count("received_at >= $1 AND channel = 'online'"),
    "direct": _count("received_at >= $1 AND channel = 'direct'"),
    "postal": _count("received_at >= $1 AND channel = 'postal'"),
    "early": _ended_as("early"),
    "on_time": _ended_as("on_time"),
    "late": _ended_as("late"),
    "in_time": _count(f"{_OPEN_AT_END} AND NOT ({_OVERDUE})"),
    "overdue": _count(f"{_OPEN_AT_END} AND ({_OVERDUE})"),
    "paused": _count(f"{_OPEN_AT_END} AND NOT {_JUDGED} AND judged_paused[{_STORED}]"),
    "withdrawn": _ended_as("withdrawn"),
    "refused": _ended_as("refused"),
    "rescheduled": "coalesce(sum((SELECT count(*) FROM unnest(reschedules) AS r(at)"
    " WHERE r.at >= $1 AND r.at < $2)) FILTER (WHERE reschedules IS NOT NULL), 0)::bigint",
    "on_site": _count("received_at >= $1 AND on_site"),
}
ROW_COUNTERS = tuple(_ROW)


#: What rows are added up by: the whole grain (agency, procedure, field), or only the part of it a
#: grouping reads (the others are '' in every row), so a report by agency reads one row per agency.
GRAINS = {
    "grain": ("agency_code", "procedure_code", "field"),
    "agency": ("agency_code", "''", "''"),
    "procedure": ("''", "procedure_code", "''"),
    "field": ("''", "''", "field"),
    "agency_field": ("agency_code", "''", "field"),
}


def grain_rows(source: str, by: str = "grain") -> str:
    """Rows per (agency, procedure, field) of the facts `source` gives, or per the part of it `by`
    names, without the dossiers the domain must judge."""
    sums = ",\n    ".join(f"{expression} AS {name}" for name, expression in _ROW.items())
    agency, procedure, field = GRAINS[by]
    return f"""WITH facts AS ({source})
SELECT {agency} AS agency_code, {procedure} AS procedure_code, {field} AS field,
    {sums}
FROM facts WHERE NOT {_NEEDS_DOMAIN}
GROUP BY 1, 2, 3"""


def domain_rows(source: str, *, current: bool) -> str:
    """The dossiers of `source` that only the domain can judge at the period's end, with a stored
    snapshot to rebuild them from (the current one, or that version's)."""
    if current:
        return f"""WITH facts AS ({source}), judged AS (SELECT * FROM facts WHERE {_NEEDS_DOMAIN})
SELECT j.agency_code, j.procedure_code, j.field, s.payload
FROM judged AS j JOIN dossier_snapshot AS s USING (dossier_code)"""
    return f"""WITH facts AS ({source})
SELECT agency_code, procedure_code, field, payload FROM facts WHERE {_NEEDS_DOMAIN}"""


GRAIN_CURRENT = {by: grain_rows(CURRENT, by) for by in GRAINS}
GRAIN_KNOWN_AT = {by: grain_rows(KNOWN_AT, by) for by in GRAINS}
DOMAIN_CURRENT = domain_rows(CURRENT, current=True)
DOMAIN_KNOWN_AT = domain_rows(KNOWN_AT, current=False)


def _new(condition: str) -> str:
    return _count(f"received_at >= $1 AND {condition}")


#: Decision 766/QĐ-TTg's counts (`dossier_core.indicators.indicator_contribution` in SQL), in the
#: order of `IndicatorCounts`.
_INDICATORS = {
    "received": _count("received_at >= $1"),
    "received_online": _new("channel = 'online'"),
    "digitised": _new("digitised"),
    "paid": _new("payment_channel IS NOT NULL"),
    "paid_online": _new("payment_channel = 'online'"),
    "resolved": _count(
        "ended_at >= $1 AND ended_at < $2 AND coalesce(outcome, 'on_time') IN ('early', 'on_time', 'late')"
    ),
    "resolved_in_time": _count(
        "ended_at >= $1 AND ended_at < $2 AND coalesce(outcome, 'on_time') IN ('early', 'on_time')"
    ),
}
INDICATOR_COUNTS = tuple(_INDICATORS)
#: Per agency, the period's indicator counts from the current facts ($1 start, $2 end, $3 agencies).
INDICATORS_CURRENT = f"""WITH facts AS ({CURRENT})
SELECT agency_code, {", ".join(f"{expression} AS {name}" for name, expression in _INDICATORS.items())}
FROM facts GROUP BY agency_code"""
