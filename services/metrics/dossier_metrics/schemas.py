"""Response models of the metrics API, for the OpenAPI document (the handlers build plain dicts;
a test checks real answers against this document)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Received(_Strict):
    total: int = Field(ge=0)
    carried_over: int = Field(ge=0, description="received before the period and not ended before it")
    online: int = Field(ge=0)
    direct: int = Field(ge=0)
    postal: int = Field(ge=0)


class Resolved(_Strict):
    total: int = Field(ge=0)
    early: int = Field(ge=0)
    on_time: int = Field(ge=0)
    late: int = Field(ge=0)


class Pending(_Strict):
    total: int = Field(ge=0, description="in_time + overdue")
    in_time: int = Field(ge=0)
    overdue: int = Field(ge=0)
    paused: int = Field(ge=0, description="counted beside in_time and overdue, not added")


class ReportCounts(_Strict):
    """One row of Biểu 06 (SPEC §5): received.total = resolved.total + withdrawn + refused +
    pending.total."""

    received: Received
    resolved: Resolved
    pending: Pending
    withdrawn: int = Field(ge=0)
    refused: int = Field(ge=0)
    rescheduled: int = Field(ge=0)


class ReportRowOut(ReportCounts):
    """A row with its key: `agency` + `name`, `level`, `procedure` + `name`, or `field`."""

    agency: str | None = None
    name: str | None = None
    level: str | None = None
    procedure: str | None = None
    field: str | None = None


class PeriodOut(_Strict):
    label: str = Field(examples=["2021-Q2"])
    from_: str = Field(alias="from", description="first day (included)", examples=["2021-03-15"])
    to: str = Field(description="last day (included)", examples=["2021-06-14"])


class Report(_Strict):
    period: PeriodOut
    pending_judged_at: str = Field(description="midnight after the period's last day, Vietnam time")
    agency: str | None = Field(description="the agency asked for (its sub-agencies included), or null")
    group_by: str
    rows: list[ReportRowOut]
    total: ReportCounts
    generated_at: str


class LiveReceived(_Strict):
    total: int = Field(ge=0)
    direct: int = Field(ge=0)
    online: int = Field(ge=0)
    postal: int = Field(ge=0)


class LivePending(_Strict):
    total: int = Field(ge=0)
    in_time: int = Field(ge=0)
    overdue: int = Field(ge=0)
    paused: int = Field(ge=0)


class AgencyStats(_Strict):
    agency: str
    received: LiveReceived
    resolved: Resolved
    withdrawn: int = Field(ge=0)
    refused: int = Field(ge=0)
    rescheduled: int = Field(ge=0)
    pending: LivePending
    due_soon: int = Field(ge=0)


class LiveStats(_Strict):
    at: str
    partitions: list[int] = Field(description="the status-topic partitions this instance owns")
    last_event_timestamp_seconds: float | None
    agencies: list[AgencyStats]


class Health(_Strict):
    status: str = Field(examples=["ok"])


class Readiness(_Strict):
    status: str = Field(examples=["ready"])
    partitions: list[int]


class FieldError(BaseModel):
    field: str
    message: str
    type: str | None = None


class Problem(BaseModel):
    """RFC 9457 problem details (`application/problem+json`)."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None
