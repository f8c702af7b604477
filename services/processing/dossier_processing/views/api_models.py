"""What the operator views answer, as OpenAPI knows them: the dossier and list models, the problem
responses each route really gives, and the parameter constraints the code enforces (SPEC §6)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from dossier_core.dossier import EndKind, PauseKind
from dossier_core.events import Channel
from dossier_core.timeliness import Timeliness
from dossier_processing.openapi import INVALID, UNAUTHORIZED, UNAVAILABLE, ResponseModel
from dossier_runtime.openapi import problem

#: agency codes as intake accepts them (SPEC §3): printable ASCII
CODE_PATTERN = r"^[!-~]+$"
MAX_CODE = 64
MAX_DOSSIER_CODE = 96
DOSSIER_EXAMPLE = "000.00.18.H49-250303-0001"


class Status(ResponseModel):
    code: int = Field(ge=1, le=10, description="TrangThaiHoSo, the national status 1–10")
    name: str = Field(description="its Vietnamese name")


class PauseView(ResponseModel):
    kind: PauseKind
    started_at: datetime
    ended_at: datetime | None
    policy: Literal["extend", "restart"]


class DossierView(ResponseModel):
    """A dossier's state; `due_at` and `pending_state` are judged at the time of the request."""

    dossier_code: str
    status: Status
    agency_code: str
    procedure_code: str | None
    channel: Channel | None
    submitted_at: datetime | None
    received_at: datetime | None
    legal_due_at: datetime | None = Field(description="the legal deadline at receipt")
    due_at: datetime | None = Field(description="the effective deadline now (at the finish once finished)")
    appointment_at: datetime | None
    finished_at: datetime | None
    ended_at: datetime | None
    end_kind: EndKind | None
    timeliness: Timeliness | None
    pending_state: Literal["in_time", "overdue"] | None
    paused: bool
    pauses: list[PauseView]
    reschedule_count: int = Field(ge=0)
    anomalies: list[str]
    event_count: int = Field(ge=0)
    version: int = Field(ge=1)
    updated_at: datetime


class EventView(ResponseModel):
    """A stored event in the SPEC §3 shape, with its arrival number and when it was applied."""

    event_id: str
    type: str
    dossier_code: str
    agency_code: str
    occurred_at: datetime
    data: dict[str, Any]
    seq: int
    applied_at: datetime


class DossierDetail(DossierView):
    events: list[EventView] = Field(description="every event of the dossier, in fold order")


class DossierPage(ResponseModel):
    items: list[DossierView]
    next_cursor: str | None = Field(description="pass it as `cursor` for the next page; null on the last")


DOSSIER_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: UNAUTHORIZED,
    404: problem(
        "No such dossier, or one of an agency the key may not read (the same answer, so that the key "
        "learns nothing about other agencies)"
    ),
    422: INVALID,
    503: UNAVAILABLE,
}
LIST_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: UNAUTHORIZED,
    403: problem("`agency` is outside the agencies the key may read"),
    422: INVALID,
    503: UNAVAILABLE,
}
