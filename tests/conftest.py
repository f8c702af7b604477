"""Fixtures shared by every tier. Integration and end-to-end fixtures start the real Kafka and
PostgreSQL through the project's own scripts (once per session) and isolate each test by giving it
fresh topic names and a fresh database schema."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import ROOT, delete_topics, free_port, port_open, topic_names, unique

SCRIPTS = ROOT / "deploy" / "scripts"
KAFKA_BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://dossier:dossier@127.0.0.1:5432/dossier")


def _ensure(script: str, host: str, port: int) -> None:
    if not port_open(host, port):
        subprocess.run([str(SCRIPTS / script), "start"], check=True, cwd=ROOT)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """The shared broker; the topics the session creates on it are deleted at its end."""
    host, port = KAFKA_BOOTSTRAP.split(",")[0].rsplit(":", 1)
    _ensure("kafka.sh", host, int(port))
    before = topic_names(KAFKA_BOOTSTRAP)
    with _session_registered() as others_running:
        yield KAFKA_BOOTSTRAP
        if others_running():  # their topics are in use: the last session to end cleans up
            return
    with contextlib.suppress(Exception):  # a broker stopped by a test leaves its topics for next time
        delete_topics(KAFKA_BOOTSTRAP, topic_names(KAFKA_BOOTSTRAP) - before - {"__consumer_offsets"})


@contextlib.contextmanager
def _session_registered() -> Iterator[Callable[[], bool]]:
    """Registers this test session on the shared broker (a pid file under `.run/pytest-sessions`)
    and gives a check for other live sessions, so one session never deletes the topics another is
    still using."""
    sessions = ROOT / ".run" / "pytest-sessions"
    sessions.mkdir(parents=True, exist_ok=True)
    mine = sessions / str(os.getpid())
    mine.touch()

    def others_running() -> bool:
        for entry in sessions.iterdir():
            if entry == mine or not entry.name.isdigit():
                continue
            try:
                os.kill(int(entry.name), 0)
            except ProcessLookupError:
                entry.unlink(missing_ok=True)
                continue
            except PermissionError:
                pass
            return True
        return False

    try:
        yield others_running
    finally:
        mine.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def database_url() -> str:
    _ensure("postgres.sh", "127.0.0.1", 5432)
    return DATABASE_URL


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


class PrivateKafka:
    """A broker of its own (separate ports, data and logs) that a fault test may stop and start."""

    def __init__(self) -> None:
        self.port = free_port()
        self.controller_port = free_port()
        self.instance = unique("kafka-private")
        self.bootstrap = f"127.0.0.1:{self.port}"

    def _script(self, action: str) -> None:
        env = dict(
            os.environ,
            KAFKA_INSTANCE=self.instance,
            KAFKA_PORT=str(self.port),
            KAFKA_CONTROLLER_PORT=str(self.controller_port),
            KAFKA_HEAP="384m",
        )
        subprocess.run([str(SCRIPTS / "kafka.sh"), action], check=True, cwd=ROOT, env=env)

    def start(self) -> None:
        self._script("start")

    def stop(self) -> None:
        self._script("stop")

    def remove(self) -> None:
        self._script("reset")


@pytest.fixture
def private_kafka(kafka_bootstrap: str) -> Iterator[PrivateKafka]:
    """A separate single-node Kafka, started for this test and removed after it."""
    broker = PrivateKafka()
    broker.start()
    try:
        yield broker
    finally:
        broker.remove()


class PrivatePostgres:
    """A PostgreSQL cluster of its own, in a temporary directory, that a fault test may stop and start."""

    def __init__(self, base: Path) -> None:
        self.port = free_port()
        self.data = base / "data"
        self.url = f"postgresql://dossier:dossier@127.0.0.1:{self.port}/dossier"
        self.bin = Path(sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1])

    def _as_postgres(self, *args: str) -> None:
        done = subprocess.run(
            ["runuser", "-u", "postgres", "--", *args], cwd="/", capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr.strip()}")

    def init(self) -> None:
        self.data.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["chown", "-R", "postgres", str(self.data.parent)], check=True)
        self._as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust")
        self.start()
        psql = [str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-qc"]
        self._as_postgres(*psql, "create role dossier login password 'dossier'")
        self._as_postgres(*psql, "create database dossier owner dossier")

    def start(self) -> None:
        self._as_postgres(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-w",
            "-l",
            str(self.data.parent / "pg.log"),
            "-o",
            f"-p {self.port} -k {self.data.parent} -c listen_addresses=127.0.0.1",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-m", mode, "stop")


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A separate PostgreSQL with the `dossier` role and database, removed after the test."""
    # Not under pytest's tmp dir: the postgres user must be able to reach the data directory.
    base = Path(tempfile.mkdtemp(prefix="dossier-pg-"))
    os.chmod(base, 0o755)
    pg = PrivatePostgres(base)
    pg.init()
    try:
        yield pg
    finally:
        with contextlib.suppress(RuntimeError):
            pg.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)
