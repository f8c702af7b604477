"""The console's routes (none of them in the OpenAPI document). Every page but the login asks for
a live session (`web.viewer`) and reads only the agencies of its key."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from dossier_core.catalog import Catalog
from dossier_core.codes import Channel
from dossier_metrics.console import operations_page, timeline
from dossier_metrics.console.figures import Figures, overview_figures
from dossier_metrics.console.report_page import report_choices, report_params
from dossier_metrics.console.sessions import COOKIE, same_token
from dossier_metrics.console.web import (
    Refused,
    Viewer,
    cookie_secure,
    local_path,
    not_found_agency,
    page,
    same_origin,
    secured,
    viewer,
)
from dossier_metrics.console.worklist import (
    KINDS,
    PAUSE_FILTERS,
    PAUSE_NAMES,
    SORTS,
    Kind,
    WorklistPage,
    filtered,
    ordered,
    read_worklist,
    read_worklist_page,
    to_csv,
    with_details,
)
from dossier_metrics.counters import CHANNELS
from dossier_metrics.reports import report_response
from dossier_metrics.state import metrics_state
from dossier_runtime.problems import Problem

router = APIRouter(include_in_schema=False)
Session = Annotated[Viewer, Depends(viewer)]
CHANNEL_NAMES = {"online": "Trực tuyến", "direct": "Trực tiếp", "postal": "Bưu chính"}
assert set(CHANNEL_NAMES) == {c.value for c in Channel}


# -- login ----------------------------------------------------------------------------------------


@router.get("/")
async def home(request: Request) -> Response:
    sessions = metrics_state(request).console.sessions
    target = "/tong-quan" if sessions.get(request.cookies.get(COOKIE)) else "/dang-nhap"
    return secured(RedirectResponse(target, 303))


@router.get("/dang-nhap")
async def login_form(tiep: str | None = None) -> Response:
    return page("login.html", back=local_path(tiep), error=None, viewer=None)


@router.post("/dang-nhap")
async def login(
    request: Request, key: Annotated[str, Form(max_length=200)] = "", tiep: Annotated[str, Form()] = ""
) -> Response:
    if not same_origin(request):
        raise Refused(403, "Yêu cầu bị từ chối", "Biểu mẫu không gửi từ trang này.")
    state = metrics_state(request)
    found = state.keys.authenticate(key.strip())
    if found is None:
        error = "Khóa truy cập không đúng hoặc đã bị thu hồi."
        return page("login.html", 401, back=local_path(tiep), error=error, viewer=None)
    state.console.sessions.delete(request.cookies.get(COOKIE))  # never keep a session id from before
    session_id, _ = state.console.sessions.create(found)
    response = RedirectResponse(local_path(tiep), 303)
    response.set_cookie(
        COOKIE,
        session_id,
        httponly=True,
        samesite="strict",
        secure=cookie_secure(request),
        path="/",
    )
    return secured(response)


@router.post("/dang-xuat")
async def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    sessions = metrics_state(request).console.sessions
    session_id = request.cookies.get(COOKIE)
    session = sessions.get(session_id)
    if session is not None and (not same_origin(request) or not same_token(session, csrf)):
        raise Refused(403, "Yêu cầu bị từ chối", "Mã xác nhận của biểu mẫu không đúng; hãy tải lại trang.")
    sessions.delete(session_id)
    response = RedirectResponse("/dang-nhap", 303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=cookie_secure(request))
    return secured(response)


# -- Tổng quan --------------------------------------------------------------------------------------


@router.get("/tong-quan")
async def overview(view: Session, agency: str | None = None) -> Response:
    tree = view.tree
    if agency is not None and agency not in tree:
        raise not_found_agency()
    now = view.now
    state = view.state
    figures, period, months = await overview_figures(
        state.report_engine, state.catalog.calendar(), tree.listed(), now
    )
    today = now.date()

    def subtotal(code: str) -> Figures:
        total = Figures()
        for member in tree.subtree(code):
            found = figures.get(member)
            if found is not None:
                total.add(found)
        return total

    def row(code: str, own: bool = False) -> dict[str, Any]:
        values = figures.get(code, Figures()) if own else subtotal(code)
        children = bool(tree.children.get(code)) and not own
        return {
            "code": code,
            "name": tree.name(code) or code,
            "level": tree.level_name(code),
            "own": own,
            "drill": children,
            "figures": values,
            "shown": not values.is_zero() or tree.valid_on(code, today),
        }

    if agency is None:
        rows = [row(code) for code in tree.roots]
    else:
        rows = [row(agency, own=True)] if tree.children.get(agency) else []
        rows += [row(code) for code in tree.children.get(agency, ())]
    total = Figures()
    for r in rows:
        total.add(r["figures"])
    return page(
        "overview.html",
        viewer=view,
        active="/tong-quan",
        agency=agency,
        path=[(code, tree.name(code) or code) for code in tree.path(agency)] if agency else [],
        rows=[r for r in rows if r["shown"]],
        total=total,
        period=period,
        months=months,
        now=now,
        channels=[(c, CHANNEL_NAMES[c]) for c in CHANNELS],
    )


# -- Việc cần xử lý ---------------------------------------------------------------------------------


def _procedure_name(catalog: Catalog, code: str) -> str:
    procedure = catalog.procedures.get(code)
    return procedure.name if procedure is not None else code


def _choose(value: str, allowed: dict[str, str], default: str) -> str:
    return value if value in allowed else default


async def _worklist(
    view: Viewer, agency: str | None, scope: str, kind: str, procedure: str | None, pause: str
) -> tuple[list[Any], list[Any], dict[str, Any]]:
    tree = view.tree
    if agency is not None and agency not in tree:
        raise not_found_agency()
    codes = tree.listed() if agency is None else tree.subtree(agency) if scope == "tree" else [agency]
    chosen: Kind = _choose(kind, KINDS, "all")  # type: ignore[assignment]
    state = view.state
    items = await read_worklist(state.report_engine, state.catalog.calendar(), codes, view.now, chosen)
    summary = {
        "overdue": sum(1 for i in items if i.overdue),
        "due_soon": sum(1 for i in items if not i.overdue),
    }
    procedures = sorted({i.procedure_code for i in items})
    return filtered(items, procedure, _choose(pause, PAUSE_FILTERS, "all")), procedures, summary


@router.get("/viec-can-xu-ly")
async def worklist(
    view: Session,
    agency: str | None = None,
    scope: str = "tree",
    kind: str = "all",
    procedure: str | None = None,
    pause: str = "all",
    sort: str = "due",
    desc: bool = False,
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    agency = agency or None
    tree = view.tree
    if agency is not None and agency not in tree:
        raise not_found_agency()
    codes = tree.listed() if agency is None else tree.subtree(agency) if scope == "tree" else [agency]
    chosen: Kind = _choose(kind, KINDS, "all")  # type: ignore[assignment]
    sort = _choose(sort, SORTS, "due")
    state = view.state
    rows_per_page = state.settings.console_page_rows

    async def read(number: int) -> WorklistPage:
        return await read_worklist_page(
            state.report_engine,
            state.catalog.calendar(),
            codes,
            view.now,
            chosen,
            procedure or None,
            _choose(pause, PAUSE_FILTERS, "all"),
            sort,
            desc,
            (number - 1) * rows_per_page,
            rows_per_page,
        )

    found = await read(page_number)
    pages = max(1, -(-found.count // rows_per_page))
    number = min(page_number, pages)
    if number != page_number:
        found = await read(number)
    shown = await with_details(state.report_engine, found.rows)
    catalog = state.catalog
    params = {
        "agency": agency,
        "scope": scope if scope != "tree" else None,
        "kind": kind if kind != "all" else None,
        "procedure": procedure or None,
        "pause": pause if pause != "all" else None,
    }
    return page(
        "worklist.html",
        viewer=view,
        active="/viec-can-xu-ly",
        agency=agency,
        scope=scope,
        kind=chosen,
        procedure=procedure,
        pause=_choose(pause, PAUSE_FILTERS, "all"),
        sort=sort,
        desc=desc,
        params=params,
        rows=shown,
        count=found.count,
        summary={"overdue": found.overdue, "due_soon": found.due_soon},
        page_number=number,
        pages=pages,
        now=view.now,
        calendar=catalog.calendar(),
        catalog=catalog,
        procedures=[(code, _procedure_name(catalog, code)) for code in found.procedures],
        options=view.tree.options(),
        KINDS=KINDS,
        SORTS=SORTS,
        PAUSE_FILTERS=PAUSE_FILTERS,
        PAUSE_NAMES=PAUSE_NAMES,
    )


@router.get("/viec-can-xu-ly.csv")
async def worklist_csv(
    view: Session,
    agency: str | None = None,
    scope: str = "tree",
    kind: str = "all",
    procedure: str | None = None,
    pause: str = "all",
    sort: str = "due",
    desc: bool = False,
) -> Response:
    items, _, _ = await _worklist(view, agency or None, scope, kind, procedure or None, pause)
    items = await with_details(view.state.report_engine, ordered(items, _choose(sort, SORTS, "due"), desc))
    state = view.state
    body = to_csv(items, state.catalog, view.now, state.catalog.calendar())
    name = f"viec-can-xu-ly_{agency or 'tat-ca'}_{view.now:%Y%m%d-%H%M}.csv"
    disposition = f'attachment; filename="{name}"'
    return secured(
        Response(body, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": disposition})
    )


# -- Hồ sơ ------------------------------------------------------------------------------------------


@router.get("/ho-so")
async def dossier_search(view: Session, ma: str | None = None) -> Response:
    if ma and ma.strip():
        return secured(RedirectResponse(f"/ho-so/{ma.strip()}", 303))
    return page("dossier.html", viewer=view, active="/ho-so", dossier=None, code="")


@router.get("/ho-so/{code}")
async def dossier(view: Session, code: str) -> Response:
    found = await timeline.read(view.state, code, view.tree, view.now)
    if found is None:
        raise Refused(
            404,
            "Không tìm thấy hồ sơ",
            f"Không có hồ sơ mã {code} trong phạm vi của khóa (hoặc hồ sơ chưa được ghi nhận).",
        )
    return page("dossier.html", viewer=view, active="/ho-so", dossier=found, code=code)


# -- Báo cáo ----------------------------------------------------------------------------------------


@router.get("/bao-cao")
async def report(
    request: Request,
    view: Session,
    period: str | None = None,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
    agency: str | None = None,
    group_by: str = "agency",
) -> Response:
    choices = report_choices(view.now)
    params = {**report_params(period, from_, to, agency, choices.default), "group_by": group_by}
    if params["agency"] is not None and params["agency"] not in view.tree:
        raise not_found_agency()
    report, error = None, None
    try:
        answer = await report_response(request, view.key, **params, format="json")
        report = json.loads(bytes(answer.body))
    except Problem as exc:
        error = exc
    download = {k if k != "from_" else "from": v for k, v in params.items() if v is not None}
    return page(
        "report.html",
        422 if error is not None and error.status == 422 else 200 if error is None else error.status,
        viewer=view,
        active="/bao-cao",
        report=report,
        error=error,
        params=params,
        download=download,
        choices=choices,
        options=view.tree.options(),
    )


@router.get("/bao-cao/tai-ve")
async def report_download(
    request: Request,
    view: Session,
    period: str | None = None,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
    agency: str | None = None,
    group_by: str = "agency",
    format: str = "xlsx",
) -> Response:
    if format not in ("csv", "xlsx"):
        raise Refused(422, "Định dạng không hỗ trợ", "Chỉ tải về được CSV hoặc XLSX.")
    params = {
        **report_params(period, from_, to, agency, report_choices(view.now).default),
        "group_by": group_by,
    }
    if params["agency"] is not None and params["agency"] not in view.tree:
        raise not_found_agency()
    try:
        return secured(await report_response(request, view.key, **params, format=format))
    except Problem as exc:
        raise Refused(exc.status, "Không lập được báo cáo", exc.detail or exc.title, exc.headers) from exc


# -- Vận hành ---------------------------------------------------------------------------------------


@router.get("/van-hanh")
async def operations(view: Session) -> Response:
    figures = await operations_page.read(view.state, view.now, view.tree)
    return page("operations.html", viewer=view, active="/van-hanh", ops=figures, now=view.now)
