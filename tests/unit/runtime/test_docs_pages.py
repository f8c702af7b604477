"""`/docs` and `/redoc` of every service load only assets the service serves itself (no CDN), and
those assets are there: on an isolated network the pages are not blank."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI

from dossier_intake.app import create_app as intake_app
from dossier_metrics.app import create_app as metrics_app
from dossier_processing.app import create_app as processing_app

APPS: dict[str, Callable[[], FastAPI]] = {
    "intake": intake_app,
    "processing": processing_app,
    "metrics": metrics_app,
}
ASSET = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""")


@pytest.mark.parametrize("service", sorted(APPS))
@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_documentation_pages_load_only_local_assets(service: str, page: str) -> None:
    app = APPS[service]()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        html = await client.get(page)
        assert html.status_code == 200 and "text/html" in html.headers["content-type"]
        assert "cdn." not in html.text and "fonts.googleapis" not in html.text
        urls = {a or b for a, b in ASSET.findall(html.text)}
        assert "/openapi.json" in urls
        assets = urls - {"/openapi.json"}
        assert assets, "the page names its script"
        for url in sorted(assets):
            assert url.startswith("/") and not url.startswith("//"), f"{page} loads {url} from elsewhere"
            asset = await client.get(url)
            assert asset.status_code == 200, url
            if url.endswith((".js", ".css")):
                assert len(asset.content) > 10_000, f"{url} is not the real asset"
