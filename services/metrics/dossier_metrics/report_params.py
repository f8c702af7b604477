"""The parameters of `GET /v1/reports/dossiers` and their bounds (SPEC §5): a named period or a
from…to range of days (2000-01-01 … 2099-12-31, at most 400 days apart), the row key and the answer
format. A parameter at fault is a 422 problem naming it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import Query

from dossier_core.contract_bounds import FIRST_DAY, LAST_DAY
from dossier_core.periods import Period, parse_period
from dossier_runtime.problems import Problem

GroupBy = Literal["agency", "level", "procedure", "field", "field_level"]
Format = Literal["json", "csv", "xlsx"]
#: `field_level`: a row per field and level of the receiving agency (the "4 tại chỗ" table)
GROUPS: tuple[GroupBy, ...] = ("agency", "level", "procedure", "field", "field_level")
FORMATS: tuple[Format, ...] = ("json", "csv", "xlsx")

#: The longest explicit range; the days a report may cover are `FIRST_DAY` … `LAST_DAY` (SPEC §5).
MAX_SPAN_DAYS = 400
#: Named periods of the years 2000–2099 (a year's first month starts on 15 December before it): the
#: year, its first six months (H1), a quarter or a month.
PERIOD_PATTERN = r"^20[0-9]{2}(-H1|-Q[1-4]|-(0[1-9]|1[0-2]))?$"
DAY_PATTERN = r"^20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
_PERIOD, _DAY = re.compile(PERIOD_PATTERN), re.compile(DAY_PATTERN)

#: Query parameters the report sections (indicators, summary) share with the same text; the Biểu 06
#: report states its own bounds in its descriptions.
FromDay = Annotated[
    str | None,
    Query(alias="from", description="first day, YYYY-MM-DD", json_schema_extra={"pattern": DAY_PATTERN}),
]
ToDay = Annotated[
    str | None,
    Query(description="last day (included), YYYY-MM-DD", json_schema_extra={"pattern": DAY_PATTERN}),
]
ScopedAgency = Annotated[
    str | None, Query(description="a catalog agency the key allows; its sub-agencies are included")
]


def invalid(field: str, message: str) -> Problem:
    """A 422 problem naming the report parameter at fault."""
    return Problem(422, "Invalid report parameters", message, errors=[{"field": field, "message": message}])


def _day(name: str, value: str) -> date:
    bad = invalid(name, f"{name} must be a date YYYY-MM-DD between {FIRST_DAY} and {LAST_DAY}")
    if not _DAY.fullmatch(value):
        raise bad
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise bad from None


def resolve_period(period: str | None, from_: str | None, to: str | None) -> Period:
    """The period asked for, or a 422 problem naming the parameter at fault."""
    if period is not None and (from_ is not None or to is not None):
        raise invalid("period", "give either period or from/to, not both")
    if period is not None:
        if not _PERIOD.fullmatch(period):
            raise invalid(
                "period", "period must be YYYY, YYYY-H1, YYYY-Qn or YYYY-MM, a year from 2000 to 2099"
            )
        return parse_period(period)
    if from_ is None and to is None:
        raise invalid("period", "give period=YYYY|YYYY-H1|YYYY-Qn|YYYY-MM or both from and to (YYYY-MM-DD)")
    if from_ is None or to is None:
        missing = "from" if from_ is None else "to"
        raise invalid(missing, f"{missing} is required with {'to' if missing == 'from' else 'from'}")
    first, last = _day("from", from_), _day("to", to)
    if last < first:
        raise invalid("to", "to is before from")
    if (last - first).days > MAX_SPAN_DAYS:
        raise invalid("to", f"from and to are {(last - first).days} days apart; at most {MAX_SPAN_DAYS}")
    return Period.between(first, last)


def choose(value: str, allowed: Sequence[str], name: str) -> str:
    if value not in allowed:
        raise invalid(name, f"{name} must be one of {', '.join(allowed)}")
    return value


#: `as_of`: an RFC 3339 instant with seconds and an offset (fractions allowed).
INSTANT_PATTERN = (
    r"^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})$"
)
_INSTANT = re.compile(INSTANT_PATTERN)


def resolve_instant(as_of: str | None, live: bool) -> datetime | None:
    """The knowledge instant of an `as_of` report (None: not asked)."""
    if as_of is None:
        return None
    message = "as_of must be an instant like 2021-06-18T00:00:00+07:00 (RFC 3339, with its offset)"
    if not _INSTANT.fullmatch(as_of):
        raise invalid("as_of", message)
    try:
        instant = datetime.fromisoformat(as_of.replace("Z", "+00:00"))
    except ValueError:
        raise invalid("as_of", message) from None
    if live:
        raise invalid("live", "give either as_of or live=true, not both")
    return instant
