"""The DongBoHoSoMC record, backoff, cursors and the history cache (the portal's answers are in
test_portal_session.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from dossier_core.catalog import default_catalog_dir, load_catalog
from dossier_core.events import DossierEvent, EventType
from dossier_processing.cursors import (
    decode_list_cursor,
    decode_sync_cursor,
    encode_list_cursor,
    encode_sync_cursor,
)
from dossier_processing.ingest.history_cache import HistoryCache
from dossier_processing.portal.pusher import backoff_s
from dossier_processing.portal.record import portal_date, portal_record

CATALOG = load_catalog(default_catalog_dir())


def row(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "dossier_code": "000.00.18.H49-250303-0001",
        "agency_code": "000.00.18.H49",
        "procedure_code": "1.004194",
        "channel": "online",
        "applicant_type": None,
        "submitted_at": None,
        "received_at": datetime(2025, 3, 3, 1, 0, tzinfo=UTC),
        "appointment_at": datetime(2025, 3, 6, 1, 0, tzinfo=UTC),
        "status_code": 4,
        "finished_at": None,
        "ended_at": None,
        "returned_at": None,
        "version": 3,
    }
    return {**base, **over}


def test_record_has_the_portal_fields_in_vietnam_time() -> None:
    record = portal_record(row(), CATALOG)
    assert record["MaHoSo"] == "000.00.18.H49-250303-0001" and record["MaTTHC"] == "1.004194"
    assert record["KenhThucHien"] == 2 and record["TrangThaiHoSo"] == 4 and record["PhienBan"] == 3
    assert record["NgayTiepNhan"] == "20250303080000" and record["NgayHenTra"] == "20250306080000"
    assert record["NgayKetThucXuLy"] == "" and record["NgayTra"] == ""
    assert record["DonViXuLy"] == CATALOG.agencies["000.00.18.H49"].name
    assert record["TenTTHC"] == CATALOG.procedures["1.004194"].name


def test_postal_channel_and_end_dates() -> None:
    end = datetime(2025, 3, 5, 10, 30, 15, tzinfo=UTC)
    record = portal_record(row(channel="postal", status_code=10, finished_at=end, returned_at=end), CATALOG)
    assert record["KenhThucHien"] == 3 and record["HinhThuc"] == 1
    assert record["NgayKetThucXuLy"] == record["NgayTra"] == "20250305173015"
    assert portal_date(None) == ""


def test_backoff_grows_exponentially_up_to_the_cap() -> None:
    waits = [backoff_s(n, 1.0, 60.0) for n in range(10)]
    assert 0.8 <= waits[0] <= 1.2 and 3.2 <= waits[2] <= 4.8
    assert all(w <= 72.0 for w in waits) and waits[9] >= 48.0


def test_cursors_round_trip() -> None:
    code = "000.00.18.H49-250303-0001"
    assert decode_sync_cursor(encode_sync_cursor(123, code)) == (123, code)
    assert decode_list_cursor(encode_list_cursor(code)) == code
    odd = "000.00.18.H49-250303-０００１ 100%"  # a code stored before codes were ASCII-only
    assert encode_list_cursor(odd).isascii() and decode_list_cursor(encode_list_cursor(odd)) == odd


def _events(n: int) -> list[DossierEvent]:
    at = datetime(2025, 1, 1, tzinfo=UTC)
    return [DossierEvent(str(i), EventType.PROCESSING, "c", "a", at) for i in range(n)]


def test_history_cache_checks_the_version_and_stays_within_its_size() -> None:
    cache = HistoryCache(max_events=5)
    cache.put("a", 1, _events(2))
    cache.put("b", 1, _events(2))
    assert cache.get("a", 1) is not None and cache.get("a", 2) is None
    cache.put("c", 1, _events(2))  # evicts the least recently used: b
    assert cache.get("b", 1) is None and cache.get("a", 1) is not None and len(cache) == 2
    cache.put("d", 1, _events(9))  # larger than the whole cache: not kept
    assert cache.get("d", 1) is None
