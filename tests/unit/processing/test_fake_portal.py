"""The fake portal adapter itself (`tests/fake_portal.py`), over real HTTP: it must catch what the push
worker's tests rely on it to catch."""

from __future__ import annotations

from typing import Any

import httpx

from tests.fake_portal import PASSWORD, USERNAME, FakePortal

A = "000.00.18.H49-250303-0001"
RECORD: dict[str, Any] = {
    "MaHoSo": A,
    "MaTTHC": "1.004194",
    "TenTTHC": "Cấp giấy phép",
    "TenLinhVuc": "Tư pháp",
    "KenhThucHien": 1,
    "LoaiDoiTuong": 1,
    "NgayTiepNhan": "20250303080000",
    "NgayHenTra": "20250310170000",
    "TrangThaiHoSo": 2,
    "HinhThuc": 0,
    "DonViXuLy": "Sở Tư pháp",
    "PhienBan": 1,
}


async def _login(client: httpx.AsyncClient, portal: FakePortal) -> str:
    answer = (
        await client.post(portal.url + "/login", json={"username": USERNAME, "password": PASSWORD})
    ).json()
    assert answer["error_code"] == 0
    return str(answer["session"])


async def test_a_schema_violation_is_noted_and_rejected_for_good() -> None:
    async with FakePortal() as portal, httpx.AsyncClient() as client:
        session = await _login(client, portal)
        bad = {**RECORD, "NgayHenTra": "10/03/2025"}
        body = {"service": "DongBoHoSoMC", "isUpdating": False, "session": session, "data": [bad]}
        answer = (await client.post(portal.url + "/api", json=body)).json()
        assert answer["result"] == [
            {"MaHoSo": A, "error_code": 10, "message": answer["result"][0]["message"]}
        ]
        assert "NgayHenTra" in answer["result"][0]["message"]
        assert len(portal.violations) == 1 and portal.accepted[A] == []
        envelope = {"service": "DongBoHoSoMC", "session": session, "data": [RECORD]}  # no isUpdating
        assert (await client.post(portal.url + "/api", json=envelope)).json()["error_code"] == 10
        assert len(portal.violations) == 2


async def test_sessions_expire_and_isupdating_is_checked() -> None:
    async with FakePortal(session_calls=2) as portal, httpx.AsyncClient() as client:
        wrong = await client.post(portal.url + "/login", json={"username": USERNAME, "password": "sai"})
        assert wrong.json()["error_code"] == 1
        session = await _login(client, portal)

        def call(updating: bool, version: int) -> dict[str, Any]:
            record = {**RECORD, "PhienBan": version}
            return {"service": "DongBoHoSoMC", "isUpdating": updating, "session": session, "data": [record]}

        first = await client.post(portal.url + "/api", json=call(True, 1))  # the portal does not hold it
        assert first.json()["result"][0]["error_code"] == 6
        second = await client.post(portal.url + "/api", json=call(False, 1))
        assert second.json()["result"][0]["error_code"] == 0 and portal.accepted[A] == [1]
        expired = await client.post(portal.url + "/api", json=call(True, 2))
        assert expired.status_code == 401
        session = await _login(client, portal)
        again = await client.post(portal.url + "/api", json=call(True, 2))
        assert again.json()["result"][0]["error_code"] == 0
        assert portal.accepted[A] == [1, 2] and portal.wrong_updating == [(A, True)]
        assert portal.violations == []
