"""What the processing API answers, as OpenAPI knows it: response models, the problem responses each
route really gives, and the parameter constraints the code enforces (SPEC §6)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field

from dossier_core.dossier import EndKind, PauseKind
from dossier_core.events import Channel
from dossier_core.timeliness import Timeliness
from dossier_runtime.openapi import (
    PROMETHEUS_TEXT,
    RETRY_AFTER,
    WWW_AUTHENTICATE,
    add_problem_schema,
    not_null,
    problem,
)

#: agency codes as intake accepts them (SPEC §3): printable ASCII
CODE_PATTERN = r"^[!-~]+$"
MAX_CODE = 64
MAX_DOSSIER_CODE = 96
#: a cursor is printed ASCII; any such string is a position (see `api.decode_*_cursor`)
CURSOR_PATTERN = r"^[!-~]+$"
SYNC_CURSOR_PATTERN = r"^[0-9]{1,19}\.[!-~]*$"
MAX_CURSOR = 400
DOSSIER_EXAMPLE = "000.00.18.H49-250303-0001"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Status(_Model):
    code: int = Field(ge=1, le=10, description="TrangThaiHoSo, the national status 1–10")
    name: str = Field(description="its Vietnamese name")


class PauseView(_Model):
    kind: PauseKind
    started_at: datetime
    ended_at: datetime | None
    policy: Literal["extend", "restart"]


class DossierView(_Model):
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


class EventView(_Model):
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


class DossierPage(_Model):
    items: list[DossierView]
    next_cursor: str | None = Field(description="pass it as `cursor` for the next page; null on the last")


class PortalRecord(_Model):
    """The national portal's `DongBoHoSoMC` record; dates `yyyyMMddHHmmss` in Vietnam time or ""."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    MaHoSo: str
    MaTTHC: str
    TenTTHC: str
    TenLinhVuc: str
    KenhThucHien: int = Field(ge=1, le=3, description="1 direct, 2 online, 3 postal")
    LoaiDoiTuong: int
    NgayNopHoSo: str = Field(pattern=r"^([0-9]{14})?$")
    NgayTiepNhan: str = Field(pattern=r"^([0-9]{14})?$")
    NgayHenTra: str = Field(pattern=r"^([0-9]{14})?$")
    TrangThaiHoSo: int = Field(ge=1, le=10)
    NgayKetThucXuLy: str = Field(pattern=r"^([0-9]{14})?$")
    NgayTra: str = Field(pattern=r"^([0-9]{14})?$")
    HinhThuc: int = Field(ge=0, le=1)
    DonViXuLy: str
    MaDonViXuLy: str
    PhienBan: int = Field(ge=1)


class SyncPage(_Model):
    service: Literal["DongBoHoSoMC"]
    data: list[PortalRecord]
    next_cursor: str | None = Field(
        description="pass it as `cursor` to poll for later changes (null only before the first change)"
    )
    has_more: bool


class Health(_Model):
    status: Literal["ok"]


UNAUTHORIZED = problem(
    "No API key, or an unknown one (`Authorization: Bearer <key>` from PROCESSING_API_KEYS_FILE)",
    WWW_AUTHENTICATE,
)
INVALID = problem("A parameter is invalid; `errors` names each one")
UNAVAILABLE = problem("The database is unreachable; nothing was read", RETRY_AFTER)

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
SYNC_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: UNAUTHORIZED,
    422: INVALID,
    503: UNAVAILABLE,
}
READY_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: problem("The database or Kafka is unreachable, or a worker stopped", RETRY_AFTER),
}
METRICS_RESPONSES = PROMETHEUS_TEXT


def install_openapi(app: FastAPI) -> None:
    """Complete the generated document: the `Problem` schema, and what the operations routes (which
    return plain responses) really answer."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            add_problem_schema(doc)
            paths = doc.get("paths", {})
            for operation in (op for path in paths.values() for op in path.values()):
                for parameter in operation.get("parameters", ()):
                    parameter["schema"] = not_null(parameter["schema"])
            if "/readyz" in paths:
                paths["/readyz"]["get"]["responses"].update({str(k): v for k, v in READY_RESPONSES.items()})
            if "/metrics" in paths:
                paths["/metrics"]["get"]["responses"].update(
                    {str(k): v for k, v in METRICS_RESPONSES.items()}
                )
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
