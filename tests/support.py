"""Helpers shared by the test tiers and the benchmarks (importable as `tests.support`): free ports,
unique names, and the three services run as real processes (`python -m dossier_<name>`) with topics,
schemas and consumer groups of their own."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from dossier_processing.applicant.keys import generate_key_pair
from dossier_runtime.api_keys import create_key

ROOT = Path(__file__).resolve().parents[1]


def port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def topic_names(bootstrap: str) -> set[str]:
    """The topics the broker holds now (internal ones included)."""
    return set(asyncio.run(_list_topics(bootstrap)))


async def _list_topics(bootstrap: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return list(await admin.list_topics())
    finally:
        await admin.close()


def delete_topics(bootstrap: str, names: set[str]) -> None:
    """Delete `names` (the private topics of a test session or a benchmark run): a broker that keeps
    every test topic soon holds tens of thousands of partition directories and runs out of files."""
    if names:
        asyncio.run(_delete_topics(bootstrap, sorted(names)))


async def _delete_topics(bootstrap: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=60_000)
    await admin.start()
    try:
        for i in range(0, len(names), 200):
            with contextlib.suppress(KafkaError):
                await admin.delete_topics(names[i : i + 200])
    finally:
        await admin.close()


def progress_printer(config: pytest.Config, prefix: str) -> Callable[[str], None]:
    """Progress lines of a long suite (`[prefix] text`) on the terminal, shown with or without `-s`."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")

    def line(text: str) -> None:
        if reporter is None:
            return
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            reporter.write_line(f"[{prefix}] {text}")

    return line


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@dataclass
class ServiceProcess:
    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    instance: int = 0  # several processes of one service (same consumer group) are instances 0, 1, …

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, wait: bool = True) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", f"dossier_{self.name}"], env=self.env, stdout=log, stderr=log, cwd=ROOT
        )
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited ({self.process.returncode}):\n{self.tail()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"{self.name} not ready after {timeout}s:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flush, no offset commit."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class System:
    intake: ServiceProcess
    processing: ServiceProcess
    metrics: ServiceProcess
    intake_key: str
    sync_key: str
    metrics_key: str
    env: dict[str, str] = field(default_factory=dict)
    #: processing instances beyond the first (same group and schema; they stand by for the relay)
    more_processing: tuple[ServiceProcess, ...] = ()

    @property
    def services(self) -> tuple[ServiceProcess, ...]:
        return (self.intake, self.processing, *self.more_processing, self.metrics)


def make_system(
    tmp_path: Path,
    kafka_bootstrap: str,
    database_url: str,
    processing_instances: int = 1,
    *,
    service_env: Mapping[str, Mapping[str, str]] | None = None,
    **overrides: str,
) -> System:
    """`overrides` apply to every service; `service_env` adds variables of one service (by name, e.g.
    its own Kafka credentials)."""
    suffix = uuid.uuid4().hex[:10]
    keys = tmp_path / "keys"
    intake_key = create_key(keys / "intake.csv", "e2e-counter", "*.H49")
    sync_key = create_key(keys / "processing.csv", "e2e-portal", "*")
    metrics_key = create_key(keys / "metrics.csv", "e2e-reader", "*")
    applicant_keys = generate_key_pair()  # applicant data: intake seals, processing opens
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "DATABASE_URL": database_url,
        "INTAKE_API_KEYS_FILE": str(keys / "intake.csv"),
        "PROCESSING_API_KEYS_FILE": str(keys / "processing.csv"),
        "METRICS_API_KEYS_FILE": str(keys / "metrics.csv"),
        "INTAKE_EVENTS_TOPIC": f"dossier.events.v1.{suffix}",
        "PROCESSING_EVENTS_TOPIC": f"dossier.events.v1.{suffix}",
        "INTAKE_DLQ_TOPIC": f"dossier.events.dlq.v1.{suffix}",
        "PROCESSING_DLQ_TOPIC": f"dossier.events.dlq.v1.{suffix}",
        "PROCESSING_STATUS_TOPIC": f"dossier.status.v1.{suffix}",
        "METRICS_STATUS_TOPIC": f"dossier.status.v1.{suffix}",
        "PROCESSING_DB_SCHEMA": f"p_{suffix}",
        "METRICS_DB_SCHEMA": f"m_{suffix}",
        "PROCESSING_CONSUMER_GROUP": f"processing-{suffix}",
        "METRICS_CONSUMER_GROUP": f"metrics-{suffix}",
        "INTAKE_FEEDBACK_TOPIC": f"feedback.events.v1.{suffix}",
        "PROCESSING_FEEDBACK_EVENTS_TOPIC": f"feedback.events.v1.{suffix}",
        "PROCESSING_FEEDBACK_STATUS_TOPIC": f"feedback.status.v1.{suffix}",
        "METRICS_FEEDBACK_STATUS_TOPIC": f"feedback.status.v1.{suffix}",
        "PROCESSING_FEEDBACK_CONSUMER_GROUP": f"processing-feedback-{suffix}",
        "METRICS_FEEDBACK_CONSUMER_GROUP": f"metrics-feedback-{suffix}",
        "PROCESSING_PORTAL_SYNC_TOPIC": f"portal.sync.v1.{suffix}",
        "METRICS_PORTAL_SYNC_TOPIC": f"portal.sync.v1.{suffix}",
        "METRICS_PORTAL_SYNC_CONSUMER_GROUP": f"metrics-portal-sync-{suffix}",
        "INTAKE_TOPIC_PARTITIONS": "4",
        "PROCESSING_TOPIC_PARTITIONS": "4",
        "METRICS_STATUS_TOPIC_PARTITIONS": "4",
        "INTAKE_RATE_LIMIT_PER_S": "0",
        "INTAKE_PORT": str(free_port()),
        "PROCESSING_PORT": str(free_port()),
        "METRICS_PORT": str(free_port()),
        "LOG_LEVEL": "INFO",
        "INTAKE_APPLICANT_PUBLIC_KEY": applicant_keys.public,
        "PROCESSING_APPLICANT_PRIVATE_KEY": applicant_keys.private,
        **overrides,
    }
    logs = tmp_path / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    own = {name: {**env, **(service_env or {}).get(name, {})} for name in ("intake", "processing", "metrics")}
    services = {
        name: ServiceProcess(name, int(env[f"{name.upper()}_PORT"]), own[name], logs / f"{name}.log")
        for name in ("intake", "processing", "metrics")
    }
    more = tuple(
        ServiceProcess(
            "processing",
            port,
            {**own["processing"], "PROCESSING_PORT": str(port)},
            logs / f"processing-{i}.log",
            instance=i,
        )
        for i, port in ((i, free_port()) for i in range(1, processing_instances))
    )
    return System(
        **services,
        intake_key=intake_key,
        sync_key=sync_key,
        metrics_key=metrics_key,
        env=env,
        more_processing=more,
    )


@contextmanager
def running_system(
    tmp_path: Path,
    kafka_bootstrap: str,
    database_url: str,
    processing_instances: int = 1,
    *,
    service_env: Mapping[str, Mapping[str, str]] | None = None,
    **overrides: str,
) -> Iterator[System]:
    """The three services started on their own topics and schemas (processing as
    `processing_instances` processes), stopped (and their schemas dropped) afterwards."""
    system = make_system(
        tmp_path, kafka_bootstrap, database_url, processing_instances, service_env=service_env, **overrides
    )
    try:
        # Started together, then waited for: each process spends its first seconds importing and
        # migrating on its own, so the system is ready in about the time of the slowest one.
        for service in system.services:
            service.start(wait=False)
        for service in system.services:
            service.wait_ready()
        yield system
    finally:
        for service in system.services:
            service.stop()
        with contextlib.suppress(Exception):  # the broker may be one a test stopped
            delete_topics(kafka_bootstrap, {v for k, v in system.env.items() if k.endswith("_TOPIC")})
        for var in ("PROCESSING_DB_SCHEMA", "METRICS_DB_SCHEMA"):
            subprocess.run(
                ["psql", database_url, "-qc", f"drop schema if exists {system.env[var]} cascade"],
                check=False,
                capture_output=True,
            )


def run_schemathesis(
    service_url: str,
    key: str,
    workdir: Path,
    *,
    examples: int,
    seed: int = 20261201,
    phases: str | None = None,
    config: str | None = None,
    hooks: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Schemathesis with all its checks against a running service's OpenAPI document, with a key.

    Its run state goes under `workdir`, never into the checkout. `config` is the text of a
    schemathesis.toml, `hooks` a module of schemathesis hooks importable from the checkout."""
    options = ["--no-color"]
    if config is not None:
        (workdir / "schemathesis.toml").write_text(config)
        options += ["--config-file", str(workdir / "schemathesis.toml")]
    run = [
        *("run", f"{service_url}/openapi.json", "--checks", "all"),
        *("--header", f"Authorization: Bearer {key}"),
        *("--max-examples", str(examples), "--seed", str(seed)),
        *("--generation-database", "none", "--request-timeout", "30", "--workers", "2"),
        *("--suppress-health-check", "all"),
    ]
    if phases is not None:
        run += ["--phases", phases]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if hooks is not None:
        env["SCHEMATHESIS_HOOKS"] = hooks
    return subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", *options, *run],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
