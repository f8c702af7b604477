"""The processing app: FastAPI with the routers the bootstrap names, and a lifespan that runs the service
(`bootstrap.running`) for as long as the app lives. SIGTERM (via uvicorn) ends the lifespan, which stops
the consumer after the batch in flight."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from dossier_processing import bootstrap
from dossier_processing.observability import Metrics
from dossier_processing.openapi import install_openapi
from dossier_processing.settings import ProcessingSettings
from dossier_runtime.problems import install_problem_handlers


def create_app(settings: ProcessingSettings | None = None) -> FastAPI:
    settings = settings or ProcessingSettings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with bootstrap.running(settings, metrics) as state:
            app.state.processing = state
            yield

    app = FastAPI(title="Dossier processing", version="1", lifespan=lifespan)
    install_problem_handlers(app)
    for router in bootstrap.ROUTERS:
        app.include_router(router)
    install_openapi(app)
    return app
