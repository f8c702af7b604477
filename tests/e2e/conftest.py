"""End-to-end fixtures: the three services as real processes on free ports (see `tests.support`), wired
to the real Kafka and PostgreSQL through topics, schemas and consumer groups of their own, so every test
sees only its own traffic. Services can be killed (-9) and started again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import System, running_system


@pytest.fixture
def system(tmp_path: Path, kafka_bootstrap: str, database_url: str) -> Iterator[System]:
    """The three services started against the shared Kafka and PostgreSQL, stopped after the test."""
    with running_system(tmp_path, kafka_bootstrap, database_url) as started:
        yield started
