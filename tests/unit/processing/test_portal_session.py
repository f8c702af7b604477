"""The portal adapter's protocol (`portal/session.py`): error codes, per-record answers, the login session
and its renewal, and the JSON Schema of the calls."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from pydantic import SecretStr

from dossier_processing.__main__ import main
from dossier_processing.portal.session import (
    CallFailed,
    Outcome,
    PortalSession,
    Protocol,
    Verdict,
    normal_code,
    personal_values,
    redact,
    schema,
)
from dossier_processing.settings import ProcessingSettings
from tests.fake_portal import validator

A, B, C = "000.00.18.H49-250303-0001", "000.00.18.H49-250303-0002", "000.00.18.H49-250303-0003"
SETTINGS = ProcessingSettings(
    portal_url="https://adapter.example/api",
    portal_login_url="https://adapter.example/login",
    portal_username="dvc",
    portal_password=SecretStr("bí mật"),
    portal_unit_code="000.00.00.H49",
)


def test_codes_are_compared_as_numbers() -> None:
    assert [normal_code(c) for c in (0, "0", "00", " 2 ", "-1", "011", "abc")] == [
        "0",
        "0",
        "0",
        "2",
        "-1",
        "11",
        "abc",
    ]


def test_a_call_without_per_record_answers_is_all_or_nothing() -> None:
    p = Protocol(SETTINGS)
    assert p.outcomes({"error_code": "00"}, [A, B]) == dict.fromkeys([A, B], Outcome(Verdict.ACCEPTED))
    with pytest.raises(CallFailed) as failed:
        p.outcomes({"error_code": 10, "message": "dữ liệu không hợp lệ"}, [A, B])
    assert failed.value.error_code == "10" and "dữ liệu không hợp lệ" in str(failed.value)


def test_each_record_has_its_own_answer_and_the_worst_of_several_counts() -> None:
    p = Protocol(SETTINGS.model_copy(update={"portal_permanent_codes": frozenset({"11", "77"})}))
    answer = {
        "error_code": 0,
        "result": [
            {"MaHoSo": A, "error_code": 0},
            {"MaHoSo": B, "error_code": "03", "message": "bận"},
            {"MaHoSo": C, "error_code": 0},
            {"MaHoSo": C, "error_code": 77, "message": "sai"},  # a second step of C, rejected
            {"MaHoSo": C, "error_code": 4},
        ],
    }
    got = p.outcomes(answer, [A, B, C, "missing"])
    assert got[A].verdict is Verdict.ACCEPTED
    assert got[B] == Outcome(Verdict.TRANSIENT, "3", "bận")
    assert got[C] == Outcome(Verdict.PERMANENT, "77", "sai")
    assert got["missing"].verdict is Verdict.TRANSIENT  # not answered: not taken
    assert p.verdict("11") is Verdict.PERMANENT and p.verdict("10") is Verdict.TRANSIENT


class Adapter:
    """An adapter behind httpx.MockTransport: answers scripted per call, logins counted."""

    def __init__(self, calls: list[httpx.Response], login: httpx.Response | None = None) -> None:
        self.calls = calls
        self.login = login
        self.tokens = 0
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if request.url.path == "/login":
            assert body == {"username": "dvc", "password": "bí mật"}
            self.tokens += 1
            return self.login or httpx.Response(200, json={"error_code": 0, "session": f"s{self.tokens}"})
        self.bodies.append(body)
        return self.calls.pop(0)


def _session(adapter: Adapter) -> PortalSession:
    return PortalSession(SETTINGS, httpx.AsyncClient(transport=httpx.MockTransport(adapter)))


async def test_a_refused_session_is_renewed_once_and_the_call_repeated() -> None:
    ok = httpx.Response(200, json={"error_code": 0})
    adapter = Adapter([ok, httpx.Response(401), ok, httpx.Response(200, json={"error_code": 2}), ok])
    session = _session(adapter)
    for _ in range(3):
        got = await session.call({"service": "DongBoHoSoMC", "isUpdating": False, "data": []}, [A])
        assert got == {A: Outcome(Verdict.ACCEPTED)}
    assert [b["session"] for b in adapter.bodies] == ["s1", "s1", "s2", "s2", "s3"]
    assert all(b["madonvi"] == "000.00.00.H49" for b in adapter.bodies)
    assert session.logins == 3


async def test_a_session_refused_twice_or_a_failed_login_fails_the_call() -> None:
    adapter = Adapter([httpx.Response(401), httpx.Response(200, json={"error_code": "2"})])
    with pytest.raises(CallFailed, match="session refused"):
        await _session(adapter).call({"service": "DongBoHoSoMC", "data": []}, [A])
    refused = Adapter([], login=httpx.Response(200, json={"error_code": 1, "message": "sai mật khẩu"}))
    with pytest.raises(CallFailed, match="login refused: error_code 1: sai mật khẩu"):
        await _session(refused).call({"service": "DongBoHoSoMC", "data": []}, [A])
    down = Adapter([], login=httpx.Response(503, text="bảo trì"))
    with pytest.raises(CallFailed, match="login failed: HTTP 503"):
        await _session(down).call({"service": "DongBoHoSoMC", "data": []}, [A])


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(500, json={"error_code": 0}),
        httpx.Response(200, text="<html>gateway</html>"),
        httpx.Response(200, json=[{"error_code": 0}]),
        httpx.Response(200, json={"message": "ok"}),
    ],
)
async def test_a_call_fails_as_a_whole_on_anything_but_a_json_answer(response: httpx.Response) -> None:
    with pytest.raises(CallFailed):
        await _session(Adapter([response])).call({"service": "DongBoHoSoMC", "data": []}, [A])


def test_without_a_login_url_calls_carry_no_session() -> None:
    s = ProcessingSettings(portal_url="https://adapter.example/api")
    assert not PortalSession(s, httpx.AsyncClient()).enabled
    with pytest.raises(ValueError, match="PROCESSING_PORTAL_USERNAME"):
        ProcessingSettings(portal_url="https://a.example/api", portal_login_url="https://a.example/login")


RECORD: dict[str, Any] = {
    "MaHoSo": A,
    "MaTTHC": "1.004194",
    "TenTTHC": "Cấp giấy phép",
    "MaLinhVuc": "G09-TP01",
    "TenLinhVuc": "Tư pháp",
    "KenhThucHien": 2,
    "LoaiDoiTuong": 1,
    "NgayNopHoSo": "",
    "NgayTiepNhan": "20250303080000",
    "NgayHenTra": "20250310170000",
    "TrangThaiHoSo": 4,
    "NgayKetThucXuLy": "",
    "NgayTra": "",
    "HinhThuc": 0,
    "DonViXuLy": "UBND",
    "MaDonViXuLy": "000.00.18.H49",
    "PhienBan": 3,
    "DanhSachLePhi": [{"TenPhiLePhi": "Lệ phí", "Gia": 50000, "HinhThucThu": "2", "LoaiPhiLePhi": ""}],
    "DanhSachHoSoBoSung": [{"NgayBoSung": "20250304090000", "NgayHenTraTruoc": "", "NgayHenTraMoi": ""}],
}
STEP = {
    "MaHoSo": A,
    "NguoiXuLy": "",
    "ThoiDiemXuLy": "20250303080000",
    "NoiDungXuLy": "Tiếp nhận hồ sơ",
    "TrangThai": 2,
}


def test_the_schema_is_a_2020_12_schema_of_both_calls() -> None:
    Draft202012Validator.check_schema(schema())
    bodies = validator()
    assert bodies.is_valid({"service": "DongBoHoSoMC", "isUpdating": False, "data": [RECORD]})
    assert bodies.is_valid({"service": "CapNhatTienDoHoSoMC", "session": "s", "data": [STEP]})
    assert validator("login").is_valid({"username": "u", "password": "p"})
    assert validator("answer").is_valid({"error_code": 0, "result": [{"MaHoSo": A, "error_code": "11"}]})


@pytest.mark.parametrize(
    "body",
    [
        {"service": "DongBoHoSoMC", "data": [RECORD]},  # no isUpdating
        {"service": "DongBoHoSoMC", "isUpdating": "True", "data": [RECORD]},
        {"service": "DongBoHoSoMC", "isUpdating": True, "data": []},
        {"service": "DongBoHoSoMC", "isUpdating": True, "data": [{**RECORD, "NgayHenTra": "2025-03-10"}]},
        {"service": "DongBoHoSoMC", "isUpdating": True, "data": [{**RECORD, "NgayTra": "20251301000000"}]},
        {"service": "DongBoHoSoMC", "isUpdating": True, "data": [{**RECORD, "Unknown": 1}]},
        {"service": "DongBoHoSoMC", "isUpdating": True, "data": [{**RECORD, "TrangThaiHoSo": 11}]},
        {"service": "DongBoHoSoMC", "isUpdating": True, "data": [{**RECORD, "DanhSachLePhi": [{"Gia": 1}]}]},
        {"service": "CapNhatTienDoHoSoMC", "data": [{**STEP, "NoiDungXuLy": ""}]},
        {"service": "CapNhatTienDoHoSoMC", "data": [RECORD]},
        {"service": "LayThuTuc", "data": [STEP]},
    ],
)
def test_the_schema_refuses_what_the_portal_would(body: dict[str, Any]) -> None:
    assert not validator().is_valid(body)


@pytest.mark.parametrize("args", [["requeue"], ["requeue", "--all-parked", A]])
def test_requeue_needs_codes_or_all_parked(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["portal", *args]) == 2  # refused before any database access
    assert "needs dossier codes or --all-parked" in capsys.readouterr().err


def test_what_the_portal_says_back_is_kept_without_the_applicant_data() -> None:
    data = [
        {
            **RECORD,
            "ChuHoSo": "Nguyễn Văn An",
            "Email": "an@example.vn",
            "SoDienThoai": "",
            "MaDoiTuong": "0221",
        },
        {**RECORD, "MaHoSo": B, "ChuHoSo": "Nguyễn Văn An Bình"},
    ]
    values = personal_values(data)
    assert values == {"Nguyễn Văn An", "an@example.vn", "0221", "Nguyễn Văn An Bình"}
    said = "Email an@example.vn của Nguyễn Văn An Bình không hợp lệ; Nguyễn Văn An: mã 0221"
    assert redact(said, values) == "Email *** của *** không hợp lệ; ***: mã ***"


def test_the_code_settings_are_json_lists_of_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROCESSING_PORTAL_PERMANENT_CODES", '["10", "99"]')
    monkeypatch.setenv("PROCESSING_PORTAL_SESSION_CODES", '["-2"]')
    monkeypatch.setenv("PROCESSING_PORTAL_PASSWORD", "bí mật")
    s = ProcessingSettings()
    assert s.portal_permanent_codes == {"10", "99"} and s.portal_session_codes == {"-2"}
    assert "bí mật" not in repr(s)  # the password never shows in a dump of the settings
    p = Protocol(s)
    assert p.verdict("99") is Verdict.PERMANENT and p.verdict("11") is Verdict.TRANSIENT
