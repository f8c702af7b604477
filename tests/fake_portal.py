"""A fake of the national portal's adapter (DVCQG), served over real HTTP for the push worker's tests.

It speaks the protocol of `dossier_processing/portal/session.py`: `POST /login` gives a session token,
`POST /api` takes `DongBoHoSoMC` and `CapNhatTienDoHoSoMC` calls carrying it. Every request body is
checked against the JSON Schema kept with the service (`portal/schema/dvcqg.schema.json`); a violation is
noted in `violations` (a test fails on any) and answered with the permanent `error_code` 10. Besides,
as configured:

- sessions expire after `session_calls` calls or `session_ttl_s` seconds, and a call with an expired or
  unknown session is answered HTTP 401 or `error_code` 2 (in turn);
- `reject(service, item)` names the permanent code of a record or step it rejects (e.g. "11", unknown
  procedure), `transient_rate` of the other records get a transient code (3 busy, 4 internal error);
- `forget` names dossiers it loses once, right after taking their record (it then answers their
  progress 6, "not held");
- every `slow_every`-th call waits `slow_s` (longer than the worker's timeout) and takes nothing, every
  `down_every`-th is answered 503, and `go_down()`/`come_back()` close and reopen the port (connection
  refused meanwhile).

It notes what it took: `accepted` (code → versions, in the order taken), `progress` (code → steps),
`holds` (the codes it holds), and what a correct sender never does: `violations`, `wrong_updating`
(isUpdating false for a held dossier or true for an unknown one), `regressions` (a version not newer
than one it took), `repeated_steps` (a step sent twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from jsonschema import Draft202012Validator

from dossier_processing.portal.session import schema

USERNAME = "dvc-tinh"
PASSWORD = "mat-khau-thu"
INVALID, SESSION, BUSY, INTERNAL, HELD, NOT_HELD = "10", "2", "3", "4", "5", "6"


def validator(name: str | None = None) -> Draft202012Validator:
    """A validator of the whole schema (a request body) or of one of its `$defs` (the same document,
    rooted at that definition)."""
    root = schema()
    if name is None:
        return Draft202012Validator(root)
    part = {k: v for k, v in root.items() if k != "oneOf"}
    return Draft202012Validator({**part, "$ref": f"#/$defs/{name}"})


@dataclass
class Session:
    token: str
    born: float
    calls: int = 0


class FakePortal:
    def __init__(
        self,
        *,
        seed: int = 1,
        session_calls: int | None = None,
        session_ttl_s: float | None = None,
        reject: Callable[[str, dict[str, Any]], str | None] | None = None,
        transient_rate: float = 0.0,
        slow_every: int | None = None,
        slow_s: float = 1.0,
        down_every: int | None = None,
        forget: set[str] | None = None,
    ) -> None:
        self.rng = random.Random(seed)
        self.session_calls = session_calls
        self.session_ttl_s = session_ttl_s
        self.reject = reject or (lambda service, item: None)
        self.transient_rate = transient_rate
        self.slow_every = slow_every
        self.slow_s = slow_s
        self.down_every = down_every
        self.numbered = 0
        #: dossiers it loses once, right after taking their record (a portal that lost data)
        self.forget = set(forget or ())
        self.sessions: dict[str, Session] = {}
        self.logins = 0
        self.expired_answers = 0
        self.calls: dict[str, int] = defaultdict(int)  # by outcome
        self.updating: dict[bool, int] = defaultdict(int)  # DongBoHoSoMC calls by isUpdating
        self.transient_answers = 0
        self.accepted: dict[str, list[int]] = defaultdict(list)
        self.records: dict[tuple[str, int], dict[str, Any]] = {}
        self.progress: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.holds: set[str] = set()
        #: code → (service, error_code, PhienBan or ThoiDiemXuLy) of each permanent rejection
        self.rejected: dict[str, list[tuple[str, str, Any]]] = defaultdict(list)
        self.violations: list[str] = []
        self.wrong_updating: list[tuple[str, bool]] = []
        self.regressions: list[tuple[str, int]] = []
        self.repeated_steps: list[tuple[str, str]] = []
        self._bodies = validator()
        self._login = validator("login")
        self._services = {name: validator(name) for name in ("DongBoHoSoMC", "CapNhatTienDoHoSoMC")}
        self.app = FastAPI()
        self.app.post("/login")(self.login)
        self.app.post("/api")(self.call)
        self.port = _free_port()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    # -- serving ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:  # uvicorn offers no event for this
            if self._task.done():
                self._task.result()  # the port could not be bound: raise why
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
            self._server = self._task = None

    async def go_down(self) -> None:
        """Close the port: the worker's connections are refused until `come_back()`."""
        await self.stop()

    async def come_back(self) -> None:
        await self.start()

    @contextlib.contextmanager
    def in_thread(self) -> Iterator[FakePortal]:
        """Served by an event loop of its own in a thread, for services that run as processes (read
        its records with `list(...)` copies: the loop's thread writes them)."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        asyncio.run_coroutine_threadsafe(self.start(), loop).result(30)
        try:
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result(30)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(30)

    async def __aenter__(self) -> FakePortal:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- the adapter -------------------------------------------------------------------------------

    async def login(self, request: Request) -> JSONResponse:
        body = await request.json()
        errors = [e.message for e in self._login.iter_errors(body)]
        if errors:
            self.violations.append(f"login: {errors}")
            return JSONResponse({"error_code": int(INVALID), "message": "; ".join(errors)})
        if (body["username"], body["password"]) != (USERNAME, PASSWORD):
            return JSONResponse({"error_code": 1, "message": "Sai tên đăng nhập hoặc mật khẩu"})
        self.logins += 1
        token = secrets.token_hex(16)
        self.sessions[token] = Session(token, time.monotonic())
        return JSONResponse({"error_code": 0, "session": token, "message": "Đăng nhập thành công"})

    def _session_ok(self, token: Any) -> bool:
        session = self.sessions.get(token) if isinstance(token, str) else None
        if session is None:
            return False
        session.calls += 1
        expired = (self.session_calls is not None and session.calls > self.session_calls) or (
            self.session_ttl_s is not None and time.monotonic() - session.born > self.session_ttl_s
        )
        if expired:
            del self.sessions[token]
        return not expired

    async def call(self, request: Request) -> JSONResponse:
        body = await request.json()
        if not self._session_ok(body.get("session") if isinstance(body, dict) else None):
            self.expired_answers += 1
            self.calls["session refused"] += 1
            if self.expired_answers % 2:
                return JSONResponse({"error_code": 401, "message": "Unauthorized"}, status_code=401)
            return JSONResponse({"error_code": int(SESSION), "message": "Phiên làm việc hết hạn"})
        errors = self._schema_errors(body)
        self.numbered += 1
        if self.down_every and self.numbered % self.down_every == 0:
            self.calls["down"] += 1
            return JSONResponse({"error_code": 99, "message": "Hệ thống đang bảo trì"}, status_code=503)
        if self.slow_every and self.numbered % self.slow_every == 0:
            self.calls["slow"] += 1
            await asyncio.sleep(self.slow_s)  # the worker gave up: nothing is taken
            return JSONResponse({"error_code": int(BUSY), "message": "Hệ thống bận"})
        if None in errors:
            self.calls["invalid"] += 1
            return JSONResponse({"error_code": int(INVALID), "message": "; ".join(errors[None])})
        self.calls["answered"] += 1
        service, data = body["service"], body["data"]
        if service == "DongBoHoSoMC":
            self.updating[body["isUpdating"]] += 1
        # one decision per dossier: all of its items of the call are taken, or none
        decisions: dict[str, tuple[str, str]] = {}
        for i, item in enumerate(data):
            code = str(item.get("MaHoSo", "?"))
            if decisions.get(code, ("0", ""))[0] == "0":
                decisions[code] = self._judge(service, body, item, errors.get(i))
        for item in data:
            if decisions[str(item.get("MaHoSo", "?"))][0] == "0":
                self._take(service, item)
        results = [
            {"MaHoSo": code, "error_code": int(error), "message": message}
            for code, (error, message) in decisions.items()
        ]
        return JSONResponse({"error_code": 0, "message": "Thành công", "result": results})

    def _schema_errors(self, body: Any) -> dict[int | None, list[str]]:
        """Schema errors by the index of the record they are in (None: the envelope's own). A body is
        checked against the schema's definition of its service, so each error points at its field."""
        service = body.get("service") if isinstance(body, dict) else None
        checker = self._services.get(service, self._bodies) if isinstance(service, str) else self._bodies
        found: dict[int | None, list[str]] = defaultdict(list)
        for error in checker.iter_errors(body):
            where = list(error.absolute_path)
            index = where[1] if len(where) > 1 and where[0] == "data" and isinstance(where[1], int) else None
            message = f"{'/'.join(map(str, where))}: {error.message}"
            found[index].append(message)
            self.violations.append(f"{service}: {message}")
        return found

    def _judge(
        self, service: str, body: dict[str, Any], item: dict[str, Any], errors: list[str] | None
    ) -> tuple[str, str]:
        """The `error_code` (and message) of one record or step."""
        code = str(item.get("MaHoSo", "?"))
        if errors:
            self.rejected[code].append((service, INVALID, _which(item)))
            return INVALID, "; ".join(errors)
        permanent = self.reject(service, item)
        if permanent is not None:
            self.rejected[code].append((service, permanent, _which(item)))
            return permanent, "Thủ tục hành chính không tồn tại"
        if service == "DongBoHoSoMC" and body["isUpdating"] is (code not in self.holds):
            self.wrong_updating.append((code, body["isUpdating"]))
            return (HELD, "Hồ sơ đã tồn tại") if code in self.holds else (NOT_HELD, "Không tìm thấy hồ sơ")
        if service == "CapNhatTienDoHoSoMC" and code not in self.holds:
            self.wrong_updating.append((code, True))
            return NOT_HELD, "Không tìm thấy hồ sơ"
        if self.rng.random() < self.transient_rate:
            self.transient_answers += 1
            return self.rng.choice([BUSY, INTERNAL]), "Lỗi tạm thời, thử lại sau"
        return "0", ""

    def _take(self, service: str, item: dict[str, Any]) -> None:
        code = item["MaHoSo"]
        if service == "DongBoHoSoMC":
            version = item["PhienBan"]
            if self.accepted[code] and version <= self.accepted[code][-1]:
                self.regressions.append((code, version))
            self.accepted[code].append(version)
            self.records[code, version] = item
            self.holds.add(code)
            if code in self.forget:
                self.forget.discard(code)
                self.holds.discard(code)
            return
        key = f"{item['ThoiDiemXuLy']} {item['NoiDungXuLy']}"
        if any(f"{s['ThoiDiemXuLy']} {s['NoiDungXuLy']}" == key for s in self.progress[code]):
            self.repeated_steps.append((code, key))
        self.progress[code].append(item)


def _which(item: dict[str, Any]) -> Any:
    return item.get("PhienBan", item.get("ThoiDiemXuLy"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
