"""The national-portal sync rate in the metrics service, from `portal.sync.v1` (real Kafka and
PostgreSQL): the indicators report's rows and total carry each agency's latest record, scoped to the
key; an older record or a value that is not a record changes nothing."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from openpyxl import load_workbook

from dossier_contracts.portal_sync import AgencySyncRecord, encode_sync_record
from dossier_core.catalog import Catalog
from dossier_metrics.quarter_sheets import INDICATOR_HEADINGS, INDICATOR_SHEET
from dossier_metrics.settings import MetricsSettings
from dossier_runtime.api_keys import create_key
from dossier_runtime.kafka import ensure_topics
from tests.integration.metrics.conftest import running, wait_until

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


def _record(agency: str, synced: int, failed: int, as_of: datetime) -> AgencySyncRecord:
    return AgencySyncRecord(
        agency_code=agency,
        received=synced + failed,
        synced=synced,
        pending=0,
        failed=failed,
        parked=0,
        oldest_unsynced_at=as_of - timedelta(hours=1) if failed else None,
        as_of=as_of,
    )


async def _send(settings: MetricsSettings, values: list[tuple[str, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        for key, value in values:
            await (await producer.send(settings.portal_sync_topic, value, key=key.encode()))
    finally:
        await producer.stop()


async def test_the_indicators_carry_each_agencys_latest_sync_record(
    settings: MetricsSettings, catalog: Catalog, keys_file: Path, metrics_key: str
) -> None:
    a, b = sorted(catalog.agencies)[:2]
    only_a = create_key(keys_file, "only-a", a)
    await ensure_topics(settings.kafka_bootstrap_servers, {settings.portal_sync_topic: 3})
    await _send(
        settings,
        [
            (a, encode_sync_record(_record(a, synced=7, failed=3, as_of=T0 + timedelta(minutes=5)))),
            (b, encode_sync_record(_record(b, synced=4, failed=0, as_of=T0))),
            (a, encode_sync_record(_record(a, synced=1, failed=9, as_of=T0))),  # older: ignored
            (a, b'{"agency_code": "x"}'),  # not a record: skipped
        ],
    )
    async with (
        running(settings) as app,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://m") as client,
    ):

        async def report(key: str) -> Any:
            headers = {"Authorization": f"Bearer {key}"}
            response = await client.get("/v1/reports/indicators?period=2026-Q4", headers=headers)
            assert response.status_code == 200, response.text
            return response.json()

        async def both_stored() -> bool:
            rows = {r["agency"]: r for r in (await report(metrics_key))["rows"]}
            return rows[a]["sync_rate"] is not None and rows[b]["sync_rate"] is not None

        await wait_until(both_stored)
        everyone = await report(metrics_key)
        mine = await report(only_a)
        workbook = await client.get(
            "/v1/reports/dossiers?period=2026-Q4&format=xlsx",
            headers={"Authorization": f"Bearer {metrics_key}"},
        )
        assert workbook.status_code == 200, workbook.text
        summary = await client.get(
            "/v1/reports/summary",
            params={"period": "2026-Q4"},
            headers={"Authorization": f"Bearer {metrics_key}"},
        )
        pages = {}
        for name, key in (("only_a", only_a), ("everyone", metrics_key)):
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://m"
            ) as browser:
                login = await browser.post("/dang-nhap", data={"key": key, "tiep": "/van-hanh"})
                assert login.status_code == 303, login.text
                pages[name] = (await browser.get("/van-hanh")).text
        await _send(
            settings,
            [(a, encode_sync_record(_record(a, synced=10, failed=0, as_of=T0 + timedelta(hours=1))))],
        )

        async def a_caught_up() -> bool:
            rows = {r["agency"]: r for r in (await report(only_a))["rows"]}
            return bool(rows[a]["sync_rate"] == 100.0)

        await wait_until(a_caught_up)

    rows = {r["agency"]: r for r in everyone["rows"]}
    assert (rows[a]["portal_received"], rows[a]["portal_synced"], rows[a]["sync_rate"]) == (10, 7, 70.0)
    assert (rows[b]["portal_received"], rows[b]["portal_synced"], rows[b]["sync_rate"]) == (4, 4, 100.0)
    assert datetime.fromisoformat(rows[a]["sync_as_of"]) == T0 + timedelta(minutes=5)
    others = [r for code, r in rows.items() if code not in (a, b)]
    assert others and all(r["sync_rate"] is None and r["portal_received"] is None for r in others)
    total = everyone["total"]
    assert (total["portal_received"], total["portal_synced"], total["sync_rate"]) == (
        14,
        11,
        round(1100 / 14, 2),
    )
    # a key of one agency sees that agency's record alone, in its rows and its total
    assert [r["agency"] for r in mine["rows"] if r["portal_received"] is not None] == [a]
    assert (mine["total"]["portal_received"], mine["total"]["sync_rate"]) == (10, 70.0)
    assert b not in str(mine["rows"])
    # the console's operations page: the session's agencies only
    assert "Đồng bộ Cổng DVCQG" in pages["only_a"]
    assert f'data-agency="{a}"' in pages["only_a"] and f'data-agency="{b}"' not in pages["only_a"]
    assert f'data-agency="{a}"' in pages["everyone"] and f'data-agency="{b}"' in pages["everyone"]
    row_a = pages["only_a"].split(f'data-agency="{a}"', 1)[1].split("</tr>", 1)[0]
    cells = [cell.split("</td>", 1)[0] for cell in row_a.split("<td>")[1:]]
    assert cells[:6] == ["10", "7", "70,0 %", "0", "3", "0"] and cells[6].endswith(" giờ")
    # the quarter's workbook: the sync columns close the 'Chỉ số 766' sheet's rows and total
    sheet = load_workbook(io.BytesIO(workbook.content))[INDICATOR_SHEET]
    sheet_rows: list[tuple[Any, ...]] = list(sheet.iter_rows(values_only=True))
    heading = sheet_rows.index(INDICATOR_HEADINGS)
    by_code = {r[0]: r for r in sheet_rows[heading + 1 :] if r[0] in (a, b, "Tổng cộng")}
    assert by_code[a][-3:] == (10, 7, 70.0) and by_code[b][-3:] == (4, 4, 100.0)
    assert by_code["Tổng cộng"][-3:] == (14, 11, round(1100 / 14, 2))
    # and the quarter's summary states the province's rate
    assert "tỷ lệ hồ sơ đồng bộ lên Cổng Dịch vụ công quốc gia 78,57%." in summary.text
