"""What every console page shares: the session of a request (`Viewer`), the templates and their
filters, the security headers, and the HTML answers for a missing session or a refused request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from dossier_core.calendar import VN_TZ
from dossier_metrics.console.scope import AgencyTree
from dossier_metrics.console.sessions import COOKIE, Session
from dossier_metrics.state import MetricsState, metrics_state
from dossier_runtime.api_keys import ApiKey

HERE = Path(__file__).resolve().parent
STATIC_PATH = "/console/static"

#: Every console answer: nothing from elsewhere, never framed, never cached, no referrer sent to other
#: sites (a referrer policy of `no-referrer` would make browsers send `Origin: null` with the forms).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

NAV = (
    ("/tong-quan", "Tổng quan"),
    ("/viec-can-xu-ly", "Việc cần xử lý"),
    ("/ho-so", "Hồ sơ"),
    ("/bao-cao", "Báo cáo"),
    ("/chi-so", "Chỉ số"),
    ("/van-hanh", "Vận hành"),
)


def number(value: Any) -> str:
    """1234567 → '1.234.567' (Vietnamese grouping)."""
    return f"{int(value):,}".replace(",", ".")


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}".replace(".", ",") + " %"


def hours(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}".replace(".", ",")


def when(value: datetime | str | None, seconds: bool = False) -> str:
    if value is None or value == "":
        return ""
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    return instant.astimezone(VN_TZ).strftime("%d/%m/%Y %H:%M:%S" if seconds else "%d/%m/%Y %H:%M")


def sparkline(rates: list[float | None], width: int = 72, height: int = 20) -> str:
    """The points of an SVG polyline of `rates` (0..1); months without a rate are left out."""
    step = width / max(1, len(rates) - 1)
    return " ".join(
        f"{i * step:.1f},{height - 2 - rate * (height - 4):.1f}"
        for i, rate in enumerate(rates)
        if rate is not None
    )


def query(**params: Any) -> str:
    """`?a=1&b=2` of the params that are set."""
    kept = {k: v for k, v in params.items() if v not in (None, "", False)}
    return "?" + urlencode(kept) if kept else ""


templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.filters.update(number=number, percent=percent, hours=hours, when=when, sparkline=sparkline)
templates.globals.update(NAV=NAV, STATIC=STATIC_PATH, query=query)


class LoginRequired(Exception):
    """No live session: the answer is the login page (with where to come back to)."""

    def __init__(self, back: str) -> None:
        super().__init__(back)
        self.back = back


class Refused(Exception):
    """An HTML error page: not found, forbidden, invalid form, busy."""

    def __init__(self, status: int, title: str, detail: str = "", headers: dict[str, str] | None = None):
        super().__init__(title)
        self.status, self.title, self.detail, self.headers = status, title, detail, headers or {}


def not_found_agency() -> Refused:
    """The same answer for an agency that does not exist and one the key may not see."""
    return Refused(404, "Không tìm thấy đơn vị", "Đơn vị này không có hoặc không thuộc phạm vi của khóa.")


@dataclass
class Viewer:
    """The session of a request and the key it stands for, as the keys file says now."""

    session_id: str
    session: Session
    key: ApiKey
    tree: AgencyTree
    state: MetricsState

    @property
    def now(self) -> datetime:
        return self.state.projection.index.clock()


async def viewer(request: Request) -> Viewer:
    """The request's live session, or `LoginRequired`. A session whose key has been removed from the
    keys file ends here."""
    state = metrics_state(request)
    sessions = state.console.sessions
    session_id = request.cookies.get(COOKIE)
    session = sessions.get(session_id)
    key = state.keys.by_hash(session.key_sha256) if session is not None else None
    if session is None or key is None or session_id is None:
        sessions.delete(session_id)
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(back)
    tree = state.console.cached_tree(key)
    if tree is None:
        counted = await state.reports.store.counted_agencies()
        tree = state.console.keep_tree(key, state.catalog, counted)
    return Viewer(session_id, session, key, tree, state)


def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(templates.get_template(name).render(**context), status, headers=SECURITY_HEADERS)


def secured(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def to_login(back: str) -> RedirectResponse:
    target = "/dang-nhap" + (f"?tiep={quote(back, safe='')}" if back and back != "/" else "")
    return RedirectResponse(target, 303, headers=SECURITY_HEADERS)


def local_path(target: str | None) -> str:
    """Where to go after logging in: a path of this site only, never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/tong-quan"
    return target


def same_origin(request: Request) -> bool:
    """A POST whose `Origin` (when the browser sends one) is this site."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


def cookie_secure(request: Request) -> bool:
    mode = metrics_state(request).settings.console_secure_cookie
    return mode == "always" or (mode == "auto" and request.url.scheme == "https")
