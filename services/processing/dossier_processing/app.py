"""The processing app: FastAPI with the routers the bootstrap names, and a lifespan that runs the service
(`bootstrap.running`) for as long as the app lives, its `AppState` in the `PROCESSING` slot. SIGTERM
(via uvicorn) ends the lifespan, which stops the consumer after the batch in flight."""

from __future__ import annotations

from fastapi import FastAPI

from dossier_processing import bootstrap
from dossier_processing.observability import Metrics
from dossier_processing.openapi import install_openapi
from dossier_processing.settings import ProcessingSettings
from dossier_processing.state import PROCESSING
from dossier_runtime.docs_pages import service_app
from dossier_runtime.problems import install_problem_handlers
from dossier_runtime.state import lifespan


def create_app(settings: ProcessingSettings | None = None) -> FastAPI:
    chosen = settings or ProcessingSettings()
    metrics = Metrics()
    app = service_app(
        title="Dossier processing",
        version="1",
        lifespan=lifespan(PROCESSING, lambda: bootstrap.running(chosen, metrics)),
    )
    install_problem_handlers(app)
    for router in bootstrap.routers(chosen, metrics):
        app.include_router(router)
    install_openapi(app)
    return app
