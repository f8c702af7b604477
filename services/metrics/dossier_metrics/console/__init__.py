"""The console: server-rendered pages in Vietnamese for the staff of one-stop centres, served by the
metrics service at `/` (docs/console.md).

Login with a reader key (SPEC §5) makes a session (`sessions.py`); every page and download is scoped
to the agencies of the session's key (`scope.py`). Pages: Tổng quan (`figures.py`), Việc cần xử lý
(`worklist.py`), Hồ sơ (`timeline.py`), Báo cáo (the report API's own answer, `reports.py`), Chỉ số
(the quarter's other sections, `indicators_page.py`), Vận hành (`operations_page.py`). Every asset is
served from this package; no page loads anything from elsewhere. None of these routes is part of the
OpenAPI document.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from dossier_metrics.console import indicators_page, pages
from dossier_metrics.console.web import HERE, STATIC_PATH, LoginRequired, Refused, page, to_login

__all__ = ["install_console"]


def install_console(app: FastAPI) -> None:
    app.include_router(pages.router)
    app.include_router(indicators_page.router)
    app.mount(STATIC_PATH, StaticFiles(directory=HERE / "static"), name="console-static")

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        return to_login(exc.back)

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        response = page("error.html", exc.status, title=exc.title, detail=exc.detail, viewer=None)
        response.headers.update(exc.headers)
        return response
