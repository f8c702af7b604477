"""`GET /v1/reports/catalogue`: the catalogue section of the quarterly report (procedures by level, online
services by online level, integration with the national portal, processing-time cuts per agency in
charge, and each procedure's facts), from the catalog the service loaded (`dossier_core.catalogue_facts`).

The catalogue is reference data, not a period's: the answer is the catalogue in force. Like the other
reads it needs a reader key, and a key sees the procedures of the agencies it allows: a key for every
agency (`*`) sees the whole catalogue, another key the procedures whose agency in charge it allows.
`agency=CODE` keeps the procedures in charge of that agency and of the agencies below it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from dossier_core.calendar import VN_TZ
from dossier_core.catalog import Catalog
from dossier_core.catalogue_facts import catalogue_summary
from dossier_metrics.auth import Reader, allows_everything, forbidden
from dossier_metrics.openapi import problems
from dossier_metrics.quarter_sheets import catalogue_csv, catalogue_xlsx
from dossier_metrics.report_params import FORMATS, choose, invalid
from dossier_metrics.schemas import CatalogueReport
from dossier_metrics.state import metrics_state
from dossier_runtime.api_keys import ApiKey

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

router = APIRouter(tags=["reports"])


def catalogue_section(
    catalog: Catalog, agency: str | None, key: ApiKey, tree: set[str] | None
) -> dict[str, Any]:
    """The section for `key`: over the procedures in charge of `tree` (the asked agency and those below
    it; None: every agency) that the key allows."""
    whole = tree is None and allows_everything(key)

    def counts(procedure: Any) -> bool:
        code = procedure.agency
        return whole or (code is not None and (tree is None or code in tree) and key.allows(code))

    summary = catalogue_summary(catalog, counts)
    for cuts in summary["time_cuts"]:
        found = catalog.agencies.get(cuts["agency"])
        cuts["name"] = found.name if found else ""
    return {"agency": agency, **summary}


@router.get(
    "/v1/reports/catalogue",
    response_model=None,
    responses={
        200: {
            "model": CatalogueReport,
            "description": "The catalogue section (JSON, CSV of the procedures, or XLSX)",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                XLSX: {"schema": {"type": "string", "format": "binary"}},
            },
        },
        **problems(401, 403, 422),
    },
)
async def catalogue_report(
    request: Request,
    key: Reader,
    agency: Annotated[
        str | None,
        Query(
            description="a catalog agency the key allows: the procedures in its charge and its sub-agencies'"
        ),
    ] = None,
    format: Annotated[
        str, Query(description="answer format", json_schema_extra={"enum": list(FORMATS)})
    ] = "json",
) -> Response:
    """Procedures by level, online services, integration with the national portal and time cuts."""
    kind = choose(format, FORMATS, "format")
    builder = metrics_state(request).reports
    tree = None
    if agency is not None:
        if not key.allows(agency):
            raise forbidden(agency)
        if agency not in builder.catalog.agencies:
            raise invalid("agency", f"unknown agency {agency!r}")
        tree = await builder.scope(agency, None)
    section = catalogue_section(builder.catalog, agency, key, tree)
    section["generated_at"] = datetime.now(VN_TZ).isoformat()
    if kind == "json":
        return JSONResponse(section)
    body, media = (
        (catalogue_csv(section), "text/csv; charset=utf-8")
        if kind == "csv"
        else (catalogue_xlsx(section), XLSX)
    )
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="danh_muc_tthc.{kind}"'},
    )
