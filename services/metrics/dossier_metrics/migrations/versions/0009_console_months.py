"""The console's per-agency, per-statutory-month figures (`console_agency_month`): the same counts as
`console_agency_day` (0007) added up by reporting month (the 15th of a month to the 14th of the next,
keyed by its first day), so the overview reads a quarter and its six-month trend as a few rows per
agency even where the days are sparse (a whole country: about one day row per dossier); the day
table keeps "today". An index on the day lets today's rows of every agency be read alone.

Kept like the day table: statement triggers on `report_fact`, in the facts' own transaction, taking
the same advisory lock; filled from the facts already stored.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

#: The first day of the statutory month holding the Vietnam-time day of an instant (CUTOFF_DAY 14).
_MONTH = """(SELECT CASE WHEN extract(day FROM d) >= 15
        THEN (date_trunc('month', d) + interval '14 days')::date
        ELSE (date_trunc('month', d) - interval '1 month' + interval '14 days')::date END
    FROM (SELECT (({0}) AT TIME ZONE 'Asia/Ho_Chi_Minh')::date AS d) AS day)"""
_COLUMNS = (
    "received_direct",
    "received_online",
    "received_postal",
    "resolved_early",
    "resolved_on_time",
    "resolved_late",
)


def _contributions(rows: str, sign: str) -> str:
    """(agency_code, month, six counts) of what each row of `rows` adds, times `sign`."""
    received = ", ".join(
        f"CASE WHEN r.channel = '{channel}' THEN {sign} ELSE 0 END"
        for channel in ("direct", "online", "postal")
    )
    resolved = ", ".join(
        f"CASE WHEN coalesce(r.outcome, 'on_time') = '{outcome}' THEN {sign} ELSE 0 END"
        for outcome in ("early", "on_time", "late")
    )
    return f"""SELECT r.agency_code, {_MONTH.format("r.received_at")} AS month, {received}, 0, 0, 0
    FROM {rows} AS r WHERE r.received_at IS NOT NULL
    UNION ALL
    SELECT r.agency_code, {_MONTH.format("r.ended_at")}, 0, 0, 0, {resolved}
    FROM {rows} AS r
    WHERE r.received_at IS NOT NULL AND r.ended_at IS NOT NULL
      AND coalesce(r.outcome, 'on_time') IN ('early', 'on_time', 'late')"""


def _apply(parts: str) -> str:
    """Add the grouped sum of `parts` to the table, in agency and month order."""
    names = ", ".join(_COLUMNS)
    counts = ", ".join(f"c{k}" for k in range(len(_COLUMNS)))
    sums = ", ".join(f"sum(c{k})" for k in range(len(_COLUMNS)))
    added = ", ".join(f"{name} = m.{name} + excluded.{name}" for name in _COLUMNS)
    nonzero = " OR ".join(f"sum(c{k}) <> 0" for k in range(len(_COLUMNS)))
    return f"""INSERT INTO console_agency_month AS m (agency_code, month, {names})
    SELECT agency_code, month, {sums}
    FROM ({parts}) AS p (agency_code, month, {counts})
    GROUP BY agency_code, month HAVING {nonzero}
    ORDER BY agency_code, month
    ON CONFLICT (agency_code, month) DO UPDATE SET {added}"""


_RELEVANT = ("agency_code", "received_at", "channel", "ended_at", "outcome")
_CHANGED = " OR ".join(f"o.{c} IS DISTINCT FROM n.{c}" for c in _RELEVANT)
_PAIRS = "old_rows AS o JOIN new_rows AS n USING (dossier_code)"
_OLD = f"(SELECT o.* FROM {_PAIRS} WHERE {_CHANGED})"
_NEW = f"(SELECT n.* FROM {_PAIRS} WHERE {_CHANGED})"
#: The day table's lock (0007): one writer of the console's figures at a time.
_LOCK = (
    "PERFORM pg_advisory_xact_lock("
    "hashtext('dossier_metrics console_agency_day'), hashtext(current_schema()));"
)

_FUNCTIONS = {
    "console_agency_month_inserted": f"""
        IF EXISTS (SELECT 1 FROM new_rows WHERE received_at IS NOT NULL) THEN
            {_LOCK}
            {_apply(_contributions("new_rows", "1"))};
        END IF;""",
    "console_agency_month_updated": f"""
        IF EXISTS (SELECT 1 FROM {_PAIRS} WHERE {_CHANGED}) THEN
            {_LOCK}
            {_apply(_contributions(_OLD, "-1") + " UNION ALL " + _contributions(_NEW, "1"))};
        END IF;""",
    "console_agency_month_deleted": f"""
        IF EXISTS (SELECT 1 FROM old_rows WHERE received_at IS NOT NULL) THEN
            {_LOCK}
            {_apply(_contributions("old_rows", "-1"))};
        END IF;""",
}
_TRIGGERS = {
    "console_agency_month_inserted": ("INSERT", "NEW TABLE AS new_rows"),
    "console_agency_month_updated": ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    "console_agency_month_deleted": ("DELETE", "OLD TABLE AS old_rows"),
}


def upgrade() -> None:
    columns = ", ".join(f"{name} bigint NOT NULL DEFAULT 0" for name in _COLUMNS)
    op.execute(
        f"""CREATE TABLE console_agency_month (
            agency_code text NOT NULL,
            month date NOT NULL,
            {columns},
            PRIMARY KEY (agency_code, month)
        )"""
    )
    op.execute("CREATE INDEX ix_console_agency_day_day ON console_agency_day (day)")
    for name, body in _FUNCTIONS.items():
        op.execute(
            f"""CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql
            SET search_path FROM CURRENT AS $$
            BEGIN
                {body}
                RETURN NULL;
            END $$"""
        )
        event, tables = _TRIGGERS[name]
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON report_fact REFERENCING {tables}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )
    op.execute(_apply(_contributions("report_fact", "1")))


def downgrade() -> None:
    for name in _FUNCTIONS:
        op.execute(f"DROP TRIGGER {name} ON report_fact")
        op.execute(f"DROP FUNCTION {name}()")
    op.execute("DROP INDEX ix_console_agency_day_day")
    op.execute("DROP TABLE console_agency_month")
