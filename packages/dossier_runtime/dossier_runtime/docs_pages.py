"""Every service's `/docs` (Swagger UI) and `/redoc` pages, with their scripts and styles served by the
service itself from the `fastapi-offline` package's copy of swagger-ui-dist and ReDoc, never from a CDN:
on an isolated government network the pages still load."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

#: where the pages' assets are served (`swagger-ui-bundle.js`, `swagger-ui.css`, `redoc.standalone.js`)
ASSETS_URL = "/docs-assets"


def service_app(**options: Any) -> FastAPI:
    """A FastAPI app (`options` as for `FastAPI`) whose `/docs` and `/redoc` load only local assets."""
    options.pop("docs_url", None)
    options.pop("redoc_url", None)
    return FastAPIOffline(docs_url="/docs", redoc_url="/redoc", static_url=ASSETS_URL, **options)
