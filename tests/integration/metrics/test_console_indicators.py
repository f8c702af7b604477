"""The console's Chỉ số page on the real PostgreSQL, in-process, where the browser cannot easily go:
it needs a session, and a section refused by the report API shows as that problem in Vietnamese with
the API's status and headers (a full gate: 503 with Retry-After; a bad range: 422), never a 500."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from dossier_metrics.settings import MetricsSettings
from dossier_metrics.state import STATE

pytestmark = pytest.mark.integration


async def test_the_page_answers_the_apis_problems(
    settings: MetricsSettings, run_app: Callable[..., Any], metrics_key: str
) -> None:
    settings = settings.model_copy(update={"report_concurrency": 1, "report_retry_after_s": 6})
    async with (
        run_app(settings) as app,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://metrics") as browser,
    ):
        anonymous = await browser.get("/chi-so")
        assert anonymous.status_code == 303 and anonymous.headers["location"] == "/dang-nhap?tiep=%2Fchi-so"
        login = await browser.post("/dang-nhap", data={"key": metrics_key, "tiep": "/chi-so"})
        assert login.status_code == 303 and login.headers["location"] == "/chi-so"

        shown = await browser.get("/chi-so?period=2021-Q2")
        assert shown.status_code == 200
        assert (
            'id="bang-chi-so"' in shown.text
            and '<a href="/chi-so" aria-current="page">Chỉ số</a>' in shown.text
        )

        bad = await browser.get("/chi-so?from=2021-06-01&to=2021-05-01")
        assert bad.status_code == 422
        assert "Không lập được số liệu: Tham số không hợp lệ, hãy kiểm tra lại: Đến ngày." in bad.text

        gate = STATE.of_app(app).report_gate
        async with gate.slot():  # another report holds the only slot
            busy = await browser.get("/chi-so?period=2021-Q2")
        assert busy.status_code == 503
        assert busy.headers["retry-after"] == "6"
        assert "Đang có quá nhiều báo cáo chạy cùng lúc. Hãy thử lại sau 6 giây." in busy.text
        assert 'id="bang-chi-so"' not in busy.text
        assert gate.refused["busy"] == 1 and gate.running == 0
