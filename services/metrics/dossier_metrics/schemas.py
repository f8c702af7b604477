"""Response models of the metrics API, for the OpenAPI document (the handlers build plain dicts;
a test checks real answers against this document)."""

from __future__ import annotations

from typing import Literal

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
    on_site: int = Field(
        ge=0,
        description='"4 tại chỗ": of the dossiers received within the period (online + direct + postal), '
        "those received, processed and returned on the spot; beside the form's columns",
    )
    on_site_rate: float | None = Field(
        ge=0,
        le=100,
        description="on_site ÷ the dossiers received within the period, in percent (2 decimals); null "
        "when none was received",
    )


class RowKey(_Strict):
    """A row's key: `agency` + `name`, `level`, `procedure` + `name`, `field`, or `field` + `level`."""

    agency: str | None = None
    name: str | None = None
    level: str | None = None
    procedure: str | None = None
    field: str | None = None


class ReportRowOut(ReportCounts, RowKey):
    """A row with its key."""


class PeriodOut(_Strict):
    label: str = Field(examples=["2021-Q2"])
    from_: str = Field(alias="from", description="first day (included)", examples=["2021-03-15"])
    to: str = Field(description="last day (included)", examples=["2021-06-14"])


class Change(_Strict):
    column: str = Field(
        description="a row figure as a dotted path, e.g. received.online", examples=["pending.overdue"]
    )
    filed: int = Field(ge=0)
    live: int = Field(ge=0)


class RowChanges(RowKey):
    """A row of the filed report whose figures changed since the filing (its key as in `rows`)."""

    changes: list[Change]


class LateEvent(_Strict):
    event_id: str = Field(description="the newest event of a version recorded after the filing")
    recorded_at: str = Field(description="when intake accepted it")
    version: int = Field(ge=1)


class DossierChanges(_Strict):
    dossier_code: str
    agency: str
    changes: list[Change]
    events: list[LateEvent]


class Revisions(_Strict):
    since: str = Field(description="the filing instant")
    rows: list[RowChanges]
    total: list[Change]
    dossiers: list[DossierChanges] = Field(description="the dossiers behind the changes (at most 500)")
    dossiers_truncated: bool


class FilingOut(_Strict):
    filed_at: str = Field(description="the instant whose knowledge the filed copy holds")
    deadline: str = Field(description="the period's filing instant by the rule (end of the 3rd day after it)")


class MovedAgency(_Strict):
    agency: str = Field(description="an agency succeeded since (its dossiers are under the successor)")
    name: str
    successor: str = Field(description="the agency of today's structure whose row holds them")


class Report(_Strict):
    period: PeriodOut
    pending_judged_at: str = Field(description="midnight after the period's last day, Vietnam time")
    agency: str | None = Field(description="the agency asked for (its sub-agencies included), or null")
    group_by: str
    rows: list[ReportRowOut]
    total: ReportCounts
    generated_at: str
    view: Literal["filed", "live", "as_of"] = Field(
        description="filed: the period as filed; as_of: as known at `as_of`; live: today's figures"
    )
    as_of: str | None = Field(
        description="the knowledge instant of the figures (the filing's for a filed view)"
    )
    filing: FilingOut | None = Field(description="the period's filing, when it is filed")
    revisions: Revisions | None = Field(description="for a filed view: what changed since the filing")
    structure: Literal["period", "current"] = Field(
        default="period",
        description="period: rows by the agency that received each dossier; current: in today's "
        "organisation, old agencies' rows added into their successors'",
    )
    successions: list[MovedAgency] | None = Field(
        default=None, description="in structure=current: the agencies whose rows were added into another"
    )


class ByLevel(_Strict):
    province: int = Field(ge=0)
    district: int = Field(ge=0)
    commune: int = Field(ge=0)
    ministry: int = Field(ge=0)
    unstated: int = Field(ge=0, description="procedures whose level the catalog does not state")


class ByOnlineLevel(_Strict):
    full: int = Field(ge=0, description='full online service (formerly "level 4")')
    partial: int = Field(ge=0, description='partial online service (formerly "level 3")')
    none: int = Field(ge=0)


class PortalIntegration(_Strict):
    count: int = Field(ge=0, description="procedures integrated with the national public service portal")
    percent: float | None = Field(description="count ÷ procedures, in percent (2 decimals)")
    unstated: int = Field(ge=0, description="procedures whose integration the catalog does not state")


class CutsTotal(_Strict):
    procedures: int = Field(ge=0)
    with_duration: int = Field(ge=0, description="of which have a duration that can be cut")
    shortened: int = Field(ge=0, description="of which the province applies a shorter duration")
    average_cut_percent: float | None = Field(
        description="mean of (legal − applied) ÷ legal over the procedures with a duration, in percent"
    )


class AgencyCuts(CutsTotal):
    agency: str
    name: str


class ProcedureFacts(_Strict):
    procedure: str
    name: str
    field: str
    level: str | None
    agency: str | None = Field(description="the agency in charge")
    unit: str
    legal_duration: int | None
    applied_duration: int | None = Field(description="the duration the province applies (direct, postal)")
    legal_online_duration: int | None
    applied_online_duration: int | None
    time_cut_percent: float | None
    online_level: str
    portal_integrated: bool | None


class CatalogueReport(_Strict):
    """The catalogue section of the quarterly report (`GET /v1/reports/catalogue`)."""

    agency: str | None
    procedures: int = Field(ge=0)
    by_level: ByLevel
    by_online_level: ByOnlineLevel
    online_services: int = Field(ge=0, description="full + partial")
    portal_integrated: PortalIntegration
    time_cuts: list[AgencyCuts]
    time_cuts_total: CutsTotal
    rows: list[ProcedureFacts]
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
    received_on_site: int = Field(ge=0, description='received on the spot ("4 tại chỗ")')
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
