"""Hồ sơ: one dossier's timeline from metrics' own projection, with no call to another service.

The stored snapshot (`dossier_snapshot`) carries the dossier's whole timeline: receipt, pauses,
reschedules, finish and end; the deadline after each pause comes from the domain
(`Dossier.effective_due` at the pause's end). The versions recorded for it (`report_fact_history`)
say when the system learned each change, by which event, and the deadline each version stood on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dossier_contracts.snapshot_codec import decode_snapshot, snapshot_to_dossier
from dossier_core.calendar import BEYOND_CALENDAR, CalendarRangeError
from dossier_core.codes import StatusCode
from dossier_core.dossier import Dossier
from dossier_core.report import outcome
from dossier_metrics.console.scope import AgencyTree
from dossier_metrics.state import MetricsState

PAUSE_STARTS = {
    "supplement": "Yêu cầu bổ sung hồ sơ (tạm dừng)",
    "fee": "Yêu cầu thực hiện nghĩa vụ tài chính (tạm dừng)",
    "suspension": "Tạm dừng giải quyết",
}
PAUSE_ENDS = {
    "supplement": "Nhận hồ sơ bổ sung (tiếp tục)",
    "fee": "Đã thực hiện nghĩa vụ tài chính (tiếp tục)",
    "suspension": "Tiếp tục giải quyết",
}
CHANNEL_NAMES = {"online": "Trực tuyến", "direct": "Trực tiếp", "postal": "Qua bưu chính"}
END_NAMES = {
    "resolved": "Đã giải quyết",
    "returned": "Đã trả kết quả",
    "withdrawn": "Công dân rút hồ sơ",
    "refused": "Dừng giải quyết",
    "not_accepted": "Không tiếp nhận",
}
OUTCOME_NAMES = {
    "early": "Trước hạn",
    "on_time": "Đúng hạn",
    "late": "Quá hạn",
    "withdrawn": "Rút hồ sơ",
    "refused": "Dừng giải quyết",
}
STATE_NAMES = {"in_time": "Trong hạn", "overdue": "Quá hạn"}


@dataclass(frozen=True)
class Step:
    at: datetime
    what: str
    detail: str = ""
    deadline: datetime | None = None  # the deadline from this step on, when it changed


@dataclass
class DossierView:
    dossier: Dossier
    agency_name: str
    procedure_name: str
    procedure_field: str
    version: int
    changed_at: datetime
    status: str
    channel: str
    state: str
    paused: bool
    due_now: datetime | None
    outcome: str
    steps: list[Step] = field(default_factory=list)
    versions: list[dict[str, Any]] = field(default_factory=list)


_SNAPSHOT = (
    "SELECT agency_code, version, changed_at, field, payload FROM dossier_snapshot WHERE dossier_code = $1"
)
_VERSIONS = """SELECT version, known_from, last_event_id, legal_due_at, settled_due_at, ended_at, outcome,
    pauses_from, pauses_until
FROM report_fact_history WHERE dossier_code = $1 ORDER BY version"""


def _due(value: datetime | None) -> datetime | None:
    return None if value is None or value >= BEYOND_CALENDAR else value


def steps_of(dossier: Dossier, state: MetricsState) -> list[Step]:
    calendar = state.catalog.calendar()
    steps: list[Step] = []
    if dossier.submitted_at is not None:
        steps.append(Step(dossier.submitted_at, "Nộp hồ sơ"))
    if dossier.received_at is not None:
        channel = CHANNEL_NAMES.get(str(dossier.channel or ""), "")
        detail = f"Kênh: {channel}" if channel else ""
        steps.append(Step(dossier.received_at, "Tiếp nhận hồ sơ", detail, dossier.legal_due_at))
    for pause in dossier.pauses:
        steps.append(Step(pause.started_at, PAUSE_STARTS.get(str(pause.kind), "Tạm dừng")))
        if pause.ended_at is not None:
            try:
                after = _due(dossier.effective_due(pause.ended_at, calendar))
            except CalendarRangeError:
                after = None
            policy = "tính lại từ đầu" if str(pause.policy) == "restart" else "cộng thêm thời gian tạm dừng"
            resumed = PAUSE_ENDS.get(str(pause.kind), "Tiếp tục")
            steps.append(Step(pause.ended_at, resumed, f"Hạn {policy}", after))
    for at in dossier.reschedules:
        steps.append(Step(at, "Hẹn lại ngày trả kết quả (phiếu xin lỗi)"))
    if dossier.finished_at is not None:
        steps.append(Step(dossier.finished_at, "Giải quyết xong"))
    if dossier.ended_at is not None and dossier.end_kind is not None:
        kind = str(dossier.end_kind)
        if kind != "resolved" or dossier.ended_at != dossier.finished_at:
            steps.append(Step(dossier.ended_at, END_NAMES.get(kind, "Kết thúc")))
    return sorted(steps, key=lambda s: s.at)


async def read(state: MetricsState, code: str, tree: AgencyTree, now: datetime) -> DossierView | None:
    """The dossier `code` when its agency is in `tree` (else None, as for one that does not exist)."""
    async with state.report_engine.connect() as conn:
        driver: Any = (await conn.get_raw_connection()).driver_connection
        async with driver.transaction(isolation="repeatable_read", readonly=True):
            row = await driver.fetchrow(_SNAPSHOT, code)
            if row is None or row["agency_code"] not in tree:
                return None
            versions = await driver.fetch(_VERSIONS, code)
    msg = decode_snapshot(row["payload"])
    dossier = snapshot_to_dossier(msg)
    calendar = state.catalog.calendar()
    pending = dossier.pending_state(now, calendar)
    procedure = state.catalog.procedures.get(dossier.procedure_code or "")
    try:
        status = StatusCode(msg.status_code).label
    except ValueError:
        status = str(msg.status_code)
    return DossierView(
        dossier=dossier,
        agency_name=tree.name(dossier.agency_code) or dossier.agency_code,
        procedure_name=procedure.name if procedure else "",
        procedure_field=row["field"],
        version=row["version"],
        changed_at=row["changed_at"],
        status=status,
        channel=CHANNEL_NAMES.get(str(dossier.channel or ""), ""),
        state=STATE_NAMES.get(str(pending), "") if pending is not None else "",
        paused=dossier.is_paused_at(now),
        due_now=_due(dossier.effective_due(now, calendar)) if pending is not None else None,
        outcome=OUTCOME_NAMES.get(outcome(dossier, calendar), "") if dossier.ended_at else "",
        steps=steps_of(dossier, state),
        versions=[dict(v) for v in versions],
    )
