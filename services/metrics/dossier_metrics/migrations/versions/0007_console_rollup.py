"""The console's per-agency, per-day figures (`console_agency_day`): the dossiers received each day
(Vietnam time) by channel, and the dossiers ended each day resolved early, on time or late, counted
exactly as the overview counted them from `report_fact` (`console.rollup`).

Triggers on `report_fact` keep the table in the same transaction as the facts, whatever writes them
(the consumer's batches, the facts' backfill, a rebuild): per statement, from its transition tables,
each changed row's old contribution is taken away and its new one added, grouped by agency and day.
Writers of the table take turns on one transaction-level advisory lock (the same two keys in every
schema's namespace), so two batches of different partitions never wait on each other's rows in
opposite orders. The table is filled from the facts already stored.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

#: The day of an instant in Vietnam time (UTC+7, no daylight saving time), as `VN_TZ` reckons it.
_DAY = "(({0}) AT TIME ZONE 'Asia/Ho_Chi_Minh')::date"
_COLUMNS = (
    "received_direct",
    "received_online",
    "received_postal",
    "resolved_early",
    "resolved_on_time",
    "resolved_late",
)


def _contributions(rows: str, sign: str) -> str:
    """(agency_code, day, six counts) of what each row of `rows` adds, times `sign`."""
    received = ", ".join(
        f"CASE WHEN r.channel = '{channel}' THEN {sign} ELSE 0 END"
        for channel in ("direct", "online", "postal")
    )
    resolved = ", ".join(
        f"CASE WHEN coalesce(r.outcome, 'on_time') = '{outcome}' THEN {sign} ELSE 0 END"
        for outcome in ("early", "on_time", "late")
    )
    return f"""SELECT r.agency_code, {_DAY.format("r.received_at")} AS day, {received}, 0, 0, 0
    FROM {rows} AS r WHERE r.received_at IS NOT NULL
    UNION ALL
    SELECT r.agency_code, {_DAY.format("r.ended_at")}, 0, 0, 0, {resolved}
    FROM {rows} AS r
    WHERE r.received_at IS NOT NULL AND r.ended_at IS NOT NULL
      AND coalesce(r.outcome, 'on_time') IN ('early', 'on_time', 'late')"""


def _apply(parts: str) -> str:
    """Add the grouped sum of `parts` to the table, in agency and day order."""
    names = ", ".join(_COLUMNS)
    sums = ", ".join(f"sum(c{k})" for k in range(len(_COLUMNS)))
    added = ", ".join(f"{name} = d.{name} + excluded.{name}" for name in _COLUMNS)
    nonzero = " OR ".join(f"sum(c{k}) <> 0" for k in range(len(_COLUMNS)))
    return f"""INSERT INTO console_agency_day AS d (agency_code, day, {names})
    SELECT agency_code, day, {sums}
    FROM ({parts}) AS p (agency_code, day, {", ".join(f"c{k}" for k in range(len(_COLUMNS)))})
    GROUP BY agency_code, day HAVING {nonzero}
    ORDER BY agency_code, day
    ON CONFLICT (agency_code, day) DO UPDATE SET {added}"""


#: The columns a row's contribution depends on (an update changing none of them changes nothing).
_RELEVANT = ("agency_code", "received_at", "channel", "ended_at", "outcome")
_CHANGED = " OR ".join(f"o.{c} IS DISTINCT FROM n.{c}" for c in _RELEVANT)
_PAIRS = "old_rows AS o JOIN new_rows AS n USING (dossier_code)"
#: The old and the new versions of the rows an update changed in a relevant column.
_OLD = f"(SELECT o.* FROM {_PAIRS} WHERE {_CHANGED})"
_NEW = f"(SELECT n.* FROM {_PAIRS} WHERE {_CHANGED})"
_LOCK = (
    "PERFORM pg_advisory_xact_lock("
    "hashtext('dossier_metrics console_agency_day'), hashtext(current_schema()));"
)

_FUNCTIONS = {
    "console_agency_day_inserted": f"""
        IF EXISTS (SELECT 1 FROM new_rows WHERE received_at IS NOT NULL) THEN
            {_LOCK}
            {_apply(_contributions("new_rows", "1"))};
        END IF;""",
    "console_agency_day_updated": f"""
        IF EXISTS (SELECT 1 FROM {_PAIRS} WHERE {_CHANGED}) THEN
            {_LOCK}
            {_apply(_contributions(_OLD, "-1") + " UNION ALL " + _contributions(_NEW, "1"))};
        END IF;""",
    "console_agency_day_deleted": f"""
        IF EXISTS (SELECT 1 FROM old_rows WHERE received_at IS NOT NULL) THEN
            {_LOCK}
            {_apply(_contributions("old_rows", "-1"))};
        END IF;""",
}
_TRIGGERS = {
    "console_agency_day_inserted": ("INSERT", "NEW TABLE AS new_rows"),
    "console_agency_day_updated": ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    "console_agency_day_deleted": ("DELETE", "OLD TABLE AS old_rows"),
}


def upgrade() -> None:
    columns = ", ".join(f"{name} bigint NOT NULL DEFAULT 0" for name in _COLUMNS)
    op.execute(
        f"""CREATE TABLE console_agency_day (
            agency_code text NOT NULL,
            day date NOT NULL,
            {columns},
            PRIMARY KEY (agency_code, day)
        )"""
    )
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
    op.execute("DROP TABLE console_agency_day")
