"""The portal adapter's protocol as the push worker speaks it: the login session and one call with its answer.

- **Session.** With `PROCESSING_PORTAL_LOGIN_URL` set, the worker posts `{"username", "password"}` there
  and keeps the `session` of an `error_code` 0 answer; every call carries it in its body (`"session"`, as
  the adapter expects, with `"madonvi"` when `PROCESSING_PORTAL_UNIT_CODE` is set). When a call is
  answered HTTP 401 or with a session `error_code` (`PROCESSING_PORTAL_SESSION_CODES`, default 2), the
  worker logs in again once and repeats the call; a second refusal, or a failed login, fails the call.
  Neither counts against a dossier on its own: only the call's final outcome does.
- **Answer.** HTTP 2xx with a JSON object carrying `error_code` (0 or "00" = accepted). With a `result`
  list, each record has its own answer keyed by `MaHoSo` (several entries of one dossier, e.g. its
  progress steps, count as the worst of them; a record missing from the list was not taken). Without
  one, error_code 0 accepts every record and another code refuses the whole call. Anything else (an
  error status, a timeout, a refused connection, a body that is not such an object) fails the call.

The codes, the envelopes and the records are described by `schema/dvcqg.schema.json` (JSON Schema 2020-12).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from functools import cache
from importlib.resources import files
from typing import Any

import httpx

from dossier_processing.settings import ProcessingSettings

SYNC_SERVICE = "DongBoHoSoMC"
PROGRESS_SERVICE = "CapNhatTienDoHoSoMC"
ACCEPTED = "0"
#: the portal already holds the dossier (sent with isUpdating false) / does not hold it (isUpdating true)
ALREADY_HELD = "5"
NOT_HELD = "6"


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of the calls and answers (`schema/dvcqg.schema.json`, shipped with the package)."""
    text = files("dossier_processing.portal").joinpath("schema/dvcqg.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def normal_code(value: Any) -> str:
    """An `error_code` as text without leading zeros (`"00"` → `"0"`, `2` → `"2"`)."""
    text = str(value).strip()
    sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
    return f"{sign}{int(digits)}" if digits.isdigit() else text


#: record fields that hold the applicant's personal data (Decree 13/2023/NĐ-CP): what the portal says back
#: is stored (`last_error`, `park_reason`) and logged only without them (`redact`)
PERSONAL_FIELDS = ("ChuHoSo", "MaDoiTuong", "Email", "SoDienThoai")


def personal_values(data: Iterable[Mapping[str, Any]]) -> set[str]:
    """The applicant data in these records (non-empty values of `PERSONAL_FIELDS`)."""
    return {str(v) for item in data for f in PERSONAL_FIELDS if (v := item.get(f))}


def redact(text: str, values: Iterable[str]) -> str:
    """`text` with every one of `values` replaced by `***` (longest first, so a value containing another
    one goes whole)."""
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, "***")
    return text


class CallFailed(Exception):
    """The call as a whole failed: every record of it stays unsynced and is retried."""

    def __init__(self, message: str, error_code: str | None = None) -> None:
        super().__init__(message)
        self.error_code = error_code


class Verdict(Enum):
    ACCEPTED = "accepted"
    TRANSIENT = "transient"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class Outcome:
    """One dossier's answer in a call."""

    verdict: Verdict
    error_code: str | None = None
    message: str = ""


class Protocol:
    """Which `error_code` means what (settings: session and permanent codes)."""

    def __init__(self, settings: ProcessingSettings) -> None:
        self.session_codes = {normal_code(c) for c in settings.portal_session_codes}
        self.permanent_codes = {normal_code(c) for c in settings.portal_permanent_codes}

    def verdict(self, code: str) -> Verdict:
        if code == ACCEPTED:
            return Verdict.ACCEPTED
        return Verdict.PERMANENT if code in self.permanent_codes else Verdict.TRANSIENT

    def outcomes(self, body: Mapping[str, Any], codes: Iterable[str]) -> dict[str, Outcome]:
        """Each dossier's outcome from a call's answer (a JSON object with `error_code`)."""
        top = normal_code(body["error_code"])
        message = str(body.get("message") or "")
        results = body.get("result")
        if not isinstance(results, list):
            if top != ACCEPTED:
                raise CallFailed(f"portal error_code {top}: {message}"[:500], top)
            return dict.fromkeys(codes, Outcome(Verdict.ACCEPTED))
        rank = {Verdict.ACCEPTED: 0, Verdict.TRANSIENT: 1, Verdict.PERMANENT: 2}
        answered: dict[str, Outcome] = {}
        for entry in results:
            if not isinstance(entry, dict) or "MaHoSo" not in entry or "error_code" not in entry:
                continue
            code = normal_code(entry["error_code"])
            outcome = Outcome(self.verdict(code), code, str(entry.get("message") or ""))
            prior = answered.get(str(entry["MaHoSo"]))
            if prior is None or rank[outcome.verdict] > rank[prior.verdict]:
                answered[str(entry["MaHoSo"])] = outcome
        missing = Outcome(Verdict.TRANSIENT, None if top == ACCEPTED else top, "no answer for this record")
        return {c: answered.get(c, missing) for c in codes}


class PortalSession:
    """The adapter's session token: obtained on first use, kept, renewed when the portal refuses it."""

    def __init__(self, settings: ProcessingSettings, client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.client = client
        self.protocol = Protocol(settings)
        self.token: str | None = None
        self.logins = 0
        self._lock = asyncio.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self.settings.portal_login_url)

    async def current(self) -> str | None:
        """The session to send (logging in if there is none yet); None without a login URL."""
        if not self.enabled:
            return None
        async with self._lock:
            if self.token is None:
                self.token = await self._login()
            return self.token

    async def renew(self, stale: str | None) -> None:
        """Drop the session the portal refused (unless another call already replaced it)."""
        async with self._lock:
            if self.token == stale:
                self.token = None

    async def _login(self) -> str:
        s = self.settings
        assert s.portal_login_url and s.portal_password is not None
        credentials = {"username": s.portal_username, "password": s.portal_password.get_secret_value()}
        try:
            async with asyncio.timeout(s.portal_timeout_s):
                response = await self.client.post(s.portal_login_url, json=credentials)
            body = response.json() if response.is_success else None
        except (httpx.HTTPError, TimeoutError, ValueError) as exc:
            raise CallFailed(f"login failed: {type(exc).__name__}: {exc}"[:500]) from exc
        if not isinstance(body, dict) or "error_code" not in body:
            raise CallFailed(f"login failed: HTTP {response.status_code}: {response.text[:200]}")
        code = normal_code(body["error_code"])
        token = body.get("session")
        if code != ACCEPTED or not isinstance(token, str) or not token:
            raise CallFailed(f"login refused: error_code {code}: {body.get('message', '')}"[:500], code)
        self.logins += 1
        return token

    async def call(self, body: dict[str, Any], codes: Iterable[str]) -> dict[str, Outcome]:
        """Post one call (`body`: service, data, isUpdating …) with the session and return each dossier's
        outcome; raises `CallFailed` when the call as a whole failed. A refused session is renewed once."""
        s = self.settings
        codes = list(codes)
        for attempt in (1, 2):
            token = await self.current()
            payload = dict(body)
            if token is not None:
                payload["session"] = token
            if s.portal_unit_code:
                payload["madonvi"] = s.portal_unit_code
            assert s.portal_url
            try:
                async with asyncio.timeout(s.portal_timeout_s):
                    response = await self.client.post(s.portal_url, json=payload)
            except (httpx.HTTPError, TimeoutError) as exc:
                raise CallFailed(f"{type(exc).__name__}: {exc}"[:500]) from exc
            answer = _json_object(response)
            refused_session = response.status_code == 401 or (
                answer is not None
                and "error_code" in answer
                and normal_code(answer["error_code"]) in self.protocol.session_codes
            )
            if refused_session:
                if attempt == 1 and self.enabled:
                    await self.renew(token)
                    continue
                raise CallFailed(f"session refused: HTTP {response.status_code}: {response.text[:200]}")
            if not response.is_success:
                raise CallFailed(f"HTTP {response.status_code}: {response.text[:200]}")
            if answer is None or "error_code" not in answer:
                raise CallFailed(
                    f"HTTP {response.status_code} without a JSON error_code: {response.text[:200]}"
                )
            return self.protocol.outcomes(answer, codes)
        raise AssertionError("unreachable")  # pragma: no cover


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
