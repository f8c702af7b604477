"""End-to-end fixtures: the three services as real processes on free ports (see `tests.support`), wired
to the real Kafka and PostgreSQL through topics, schemas and consumer groups of their own, so every test
sees only its own traffic. Services can be killed (-9) and started again."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import System, make_system


@pytest.fixture
def system(tmp_path: Path, kafka_bootstrap: str, database_url: str) -> Iterator[System]:
    """The three services started against the shared Kafka and PostgreSQL, stopped after the test."""
    sys_ = make_system(tmp_path, kafka_bootstrap, database_url)
    try:
        for service in sys_.services:
            service.start()
        yield sys_
    finally:
        for service in sys_.services:
            service.stop()
        _drop_schemas(database_url, sys_)


def _drop_schemas(database_url: str, sys_: System) -> None:
    for var in ("PROCESSING_DB_SCHEMA", "METRICS_DB_SCHEMA"):
        subprocess.run(
            ["psql", database_url, "-qc", f"drop schema if exists {sys_.env[var]} cascade"],
            check=False,
            capture_output=True,
        )
