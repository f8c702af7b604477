"""The report page's pickers: the named periods worth offering (the current quarter first), and the
groupings of the report API with their Vietnamese names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dossier_core.calendar import VN_TZ
from dossier_core.periods import named_periods
from dossier_metrics.console.figures import current_quarter

GROUP_NAMES = {
    "agency": "Theo đơn vị",
    "level": "Theo cấp",
    "procedure": "Theo thủ tục",
    "field": "Theo lĩnh vực",
}


def period_name(label: str) -> str:
    if "-Q" in label:
        return f"Quý {label[-1]} năm {label[:4]}"
    if label.endswith("-H1"):
        return f"6 tháng đầu năm {label[:4]}"
    if len(label) == 7:
        return f"Tháng {int(label[5:])} năm {label[:4]}"
    return f"Năm {label}"


@dataclass(frozen=True)
class ReportChoices:
    default: str
    periods: list[tuple[str, str]]  # (label, name), newest first
    groups: dict[str, str]


def report_choices(now: datetime, years: int = 3) -> ReportChoices:
    """The named periods of the last `years` years that have begun by `now`, newest first."""
    local = now.astimezone(VN_TZ)
    current = current_quarter(local.date())
    today = local.date()
    found = [
        p
        for year in range(current.end.year, current.end.year - years, -1)
        for p in named_periods(year)
        if p.start <= today
    ]
    found.sort(key=lambda p: (p.end, -(p.end - p.start).days), reverse=True)
    return ReportChoices(current.label, [(p.label, period_name(p.label)) for p in found], GROUP_NAMES)


def report_params(
    period: str | None, from_: str | None, to: str | None, agency: str | None, default: str
) -> dict[str, Any]:
    """A report page's query as the report routes take it: a range (`from`/`to`) or a named period
    (`default` when none is picked), and the agency; empty form fields are absent."""
    ranged = bool(from_ or to)
    return {
        "period": None if ranged else (period or default),
        "from_": from_ or None,
        "to": to or None,
        "agency": agency or None,
    }
