"""`dossier-intake`: run the intake HTTP service (settings from `INTAKE_*` and the shared variables)."""

from __future__ import annotations

import argparse

import uvicorn

from dossier_intake.app import create_app
from dossier_intake.settings import IntakeSettings
from dossier_runtime.heap import settle_heap
from dossier_runtime.logs import configure_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dossier-intake",
        description="Dossier intake: POST /v1/events and /v1/events:batch to Kafka. Configured by "
        "environment variables: INTAKE_PORT, INTAKE_API_KEYS_FILE, KAFKA_BOOTSTRAP_SERVERS, "
        "DOSSIER_CATALOG_DIR and the other INTAKE_* settings (see docs/intake.md). "
        "SIGHUP reloads the keys file; SIGTERM stops after flushing the producer.",
    )
    parser.add_argument("--host", help="listen address (default INTAKE_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listen port (default INTAKE_PORT or 8001)")
    args = parser.parse_args(argv)
    settings = IntakeSettings()
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    if overrides:
        settings = settings.model_copy(update=overrides)
    configure_logging("intake", settings.log_level)
    app = create_app(settings)
    settle_heap()
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=settings.shutdown_grace_s,
        server_header=False,
    )
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
