"""Schemathesis hooks for the metrics API (loaded through `SCHEMATHESIS_HOOKS`).

OpenAPI cannot say that the report takes either `period` or both `from` and `to`, with `from ≤ to`
at most 400 days apart: the operation's description says it, the service answers 422 otherwise, and
this filter keeps generated *positive* cases (those the schema calls valid) to the combinations the
description allows (for the indicator, summary and feedback sections too), and with `structure=current` to an
`agency` of today's structure (an agency succeeded since is a 422 naming its successor). Negative
cases are left as generated."""

from __future__ import annotations

from datetime import date
from typing import Any

import schemathesis

from dossier_core.catalog_csv import default_catalog_dir, load_catalog

REPORT = "/v1/reports/dossiers"
#: The other period sections, which take the period the same way (no `structure`).
PERIOD_SECTIONS = ("/v1/reports/indicators", "/v1/reports/summary", "/v1/reports/feedback")
MAX_SPAN_DAYS = 400
#: Agencies of the catalog the service loads (the sample) that have been succeeded.
SUCCEEDED = frozenset(load_catalog(default_catalog_dir()).successions.by_old)


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def report_range_is_valid(query: dict[str, Any]) -> bool:
    has_period = "period" in query
    has_from, has_to = "from" in query, "to" in query
    if has_period:
        return not (has_from or has_to)
    if not (has_from and has_to):
        return False
    first, last = _day(query["from"]), _day(query["to"])
    return first is not None and last is not None and 0 <= (last - first).days <= MAX_SPAN_DAYS


@schemathesis.hook
def filter_case(context: schemathesis.HookContext, case: schemathesis.Case) -> bool:
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return True
    query = dict(case.query or {})
    if case.operation.path in PERIOD_SECTIONS:
        return report_range_is_valid(query)
    if case.operation.path != REPORT:
        return True
    today_only = query.get("structure") == "current" and query.get("agency") in SUCCEEDED
    return report_range_is_valid(query) and not today_only
