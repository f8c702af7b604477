"""Fixtures shared by every tier. Integration and end-to-end fixtures start the real Kafka and
PostgreSQL through the project's own scripts (once per session) and isolate each test by giving it
fresh topic names and a fresh database schema."""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "deploy" / "scripts"
KAFKA_BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://dossier:dossier@127.0.0.1:5432/dossier")


def port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


def _ensure(script: str, host: str, port: int) -> None:
    if not port_open(host, port):
        subprocess.run([str(SCRIPTS / script), "start"], check=True, cwd=ROOT)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    host, port = KAFKA_BOOTSTRAP.split(",")[0].rsplit(":", 1)
    _ensure("kafka.sh", host, int(port))
    return KAFKA_BOOTSTRAP


@pytest.fixture(scope="session")
def database_url() -> str:
    _ensure("postgres.sh", "127.0.0.1", 5432)
    return DATABASE_URL


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def topic_suffix() -> str:
    """Appended to topic names so tests never see each other's messages."""
    return "." + uuid.uuid4().hex[:10]


@pytest.fixture
def db_schema(database_url: str) -> Iterator[str]:
    """A fresh, empty schema name; dropped (with everything in it) after the test."""
    name = unique("t")
    yield name
    subprocess.run(
        ["psql", database_url, "-qc", f"drop schema if exists {name} cascade"],
        check=False,
        capture_output=True,
    )
