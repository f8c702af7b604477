"""The complete `DongBoHoSoMC` record through `GET /v1/sync/changes`, from events that went through Kafka
into PostgreSQL: supplements, fees, the rescheduled appointment, the catalogue's field, the notes; and
the histories of a batch of dossiers read in one statement."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from processing_factory import START, event
from processing_harness import events_stored, produce, running_app, wait_until
from sqlalchemy import event as sa_event

from dossier_core.catalog import default_catalog_dir, load_catalog
from dossier_processing.bootstrap import create_engine
from dossier_processing.portal.history import load_histories
from dossier_processing.portal.record import portal_date, progress_records
from dossier_processing.settings import ProcessingSettings

pytestmark = pytest.mark.integration

CATALOG = load_catalog(default_catalog_dir())
A = "000.00.10.H49"


def _dossiers() -> tuple[dict[str, str], list[Any]]:
    h = timedelta(hours=1)
    codes = {name: f"{A}-250303-{i:04d}" for i, name in enumerate(("full", "refused", "waiting"), start=1)}
    full, refused, waiting = codes["full"], codes["refused"], codes["waiting"]
    received = {"procedure_code": "1.004194", "channel": "postal"}
    events = [
        event("received", full, START, **received),
        event("processing", full, START + h, step="Thẩm định", department="Công an xã"),
        event("supplement_requested", full, START + 2 * h, reason="Thiếu giấy tờ chứng minh chỗ ở"),
        event("supplement_received", full, START + 26 * h),
        event("fee_requested", full, START + 27 * h, amount=15000),
        event("fee_paid", full, START + 28 * h, payment_channel="postal"),
        event(
            "rescheduled",
            full,
            START + 29 * h,
            new_appointment_at=(START + 200 * h).isoformat(),
            reason="Xin lỗi",
        ),
        event("resolved", full, START + 30 * h, result="Đã giải quyết"),
        event("returned", full, START + 31 * h),
        event("received", refused, START, procedure_code="1.004194", channel="direct"),
        event("suspended", refused, START + h, reason="Chờ xác minh"),
        event("refused", refused, START + 2 * h, reason="Không đủ điều kiện"),
        event("received", waiting, START, procedure_code="1.004194", channel="online"),
        event("supplement_requested", waiting, START + h, reason="Thiếu tờ khai"),
    ]
    return codes, events


async def test_the_feed_serves_the_complete_record(
    processing_settings: ProcessingSettings, processing_key: str
) -> None:
    s = processing_settings.model_copy(update={"run_relay": False})
    codes, events = _dossiers()
    await produce(s, events)
    auth = {"Authorization": f"Bearer {processing_key}"}
    async with running_app(s) as client:
        await wait_until(lambda: events_stored(s, len(events)), what="events applied")
        page = (await client.get("/v1/sync/changes", params={"limit": 10}, headers=auth)).json()
    records = {r["MaHoSo"]: r for r in page["data"]}
    assert set(records) == set(codes.values())

    full = records[codes["full"]]
    [supplement] = full["DanhSachHoSoBoSung"]
    assert supplement["NoiDungBoSung"] == "Thiếu giấy tờ chứng minh chỗ ở" and supplement["TrangThaiBoSung"]
    assert supplement["NgayBoSung"] == portal_date(START + timedelta(hours=2))
    assert supplement["NgayTiepNhanBoSung"] == portal_date(START + timedelta(hours=26))
    assert supplement["NgayHenTraTruoc"] < supplement["NgayHenTraMoi"]
    assert full["DanhSachLePhi"] == [
        {
            "TenPhiLePhi": full["DanhSachLePhi"][0]["TenPhiLePhi"],
            "MaPhiLePhi": "",
            "HinhThucThu": "3",
            "Gia": 15000,
            "LoaiPhiLePhi": "",
        }
    ]
    assert full["NgayHenTra"] == portal_date(START + timedelta(hours=200))
    assert full["ThongTinTra"].startswith("Trả kết quả qua dịch vụ bưu chính") and full["HinhThuc"] == 1
    assert full["TrichYeuHoSo"].endswith(f"(hồ sơ {codes['full']})") and full["TrangThaiHoSo"] == 10
    assert full["MaLinhVuc"] == (CATALOG.procedures["1.004194"].field_code or "")
    assert full["TaiLieuNop"] == [] and full["DanhSachGiayToKetQua"] == [] and full["GhiChu"] == ""

    refused = records[codes["refused"]]
    assert (
        refused["GhiChu"] == "Từ chối giải quyết: Không đủ điều kiện" and refused["DanhSachHoSoBoSung"] == []
    )
    [waiting] = records[codes["waiting"]]["DanhSachHoSoBoSung"]
    assert (
        waiting["TrangThaiBoSung"] is False
        and waiting["NgayTiepNhanBoSung"] == waiting["NgayHenTraMoi"] == ""
    )


async def test_a_batch_of_histories_is_one_statement(
    processing_settings: ProcessingSettings, processing_key: str
) -> None:
    s = processing_settings.model_copy(update={"run_relay": False})
    codes, events = _dossiers()
    await produce(s, events)
    async with running_app(s):
        await wait_until(lambda: events_stored(s, len(events)), what="events applied")
    engine = create_engine(s, pool_size=1)
    statements: list[str] = []
    sa_event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    try:
        async with engine.connect() as conn:
            histories = await load_histories(conn, [*codes.values(), f"{A}-250303-9999"])
    finally:
        await engine.dispose()
    assert len([q for q in statements if "from events" in q]) == 1 and len(statements) == 1
    assert set(histories) == set(codes.values())
    full = histories[codes["full"]]
    assert [e.type.value for e in full.events] == [e.type for e in events if e.dossier_code == codes["full"]]
    assert full.complete
    steps = progress_records({"dossier_code": codes["full"]}, CATALOG, full)
    assert [p["TrangThai"] for p in steps] == [2, 4, 5, 4, 6, 4, 4, 9, 10]
    assert steps[1]["PhongBanXuLy"] == "Công an xã" and steps[6]["NgayKetThucTheoQuyDinh"] == portal_date(
        START + timedelta(hours=200)
    )
