"""The local 3-node secured Kafka cluster (`deploy/scripts/kafka-cluster.sh`): started once per session
(or reused when it already runs, and then left running), with topics and ACLs of the session's own
(`<topic>.<suffix>`, the same ACL lines as the cluster's own topics), removed at the end."""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.helpers import create_ssl_context

from tests.support import ROOT, progress_printer

SCRIPT = ROOT / "deploy" / "scripts" / "kafka-cluster.sh"
#: Partitions of the session's topics: two led by each node.
PARTITIONS = 6

Say = Callable[[str], None]


@pytest.fixture(scope="session")
def say(pytestconfig: pytest.Config) -> Say:
    """Prints a progress line of the cluster suite, with or without `-s`."""
    return progress_printer(pytestconfig, "kafka-cluster")


def _script(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(SCRIPT), *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=240
    )
    if done.returncode != 0:
        raise RuntimeError(f"kafka-cluster.sh {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


@dataclass(frozen=True)
class KafkaCluster:
    suffix: str  # appended to every topic and group name of this session

    @property
    def events_topic(self) -> str:
        return f"dossier.events.v1{self.suffix}"

    @property
    def status_topic(self) -> str:
        return f"dossier.status.v1{self.suffix}"

    @property
    def dlq_topic(self) -> str:
        return f"dossier.events.dlq.v1{self.suffix}"

    def env(self, user: str) -> dict[str, str]:
        """The KAFKA_* variables `kafka-cluster.sh env <user>` prints."""
        out = {}
        for line in _script("env", user).splitlines():
            name, _, value = line.removeprefix("export ").partition("=")
            out[name] = shlex.split(value)[0]
        return out

    @property
    def bootstrap(self) -> str:
        return self.env("admin")["KAFKA_BOOTSTRAP_SERVERS"]

    @property
    def ca_file(self) -> str:
        return self.env("admin")["KAFKA_SSL_CA_FILE"]

    def client_options(self, user: str, password: str | None = None) -> dict[str, Any]:
        """aiokafka keyword arguments of `user` over SASL_SSL (with `password` instead of the real one)."""
        env = self.env(user)
        return {
            "bootstrap_servers": env["KAFKA_BOOTSTRAP_SERVERS"],
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": env["KAFKA_SASL_MECHANISM"],
            "sasl_plain_username": user,
            "sasl_plain_password": env["KAFKA_SASL_PASSWORD"] if password is None else password,
            "ssl_context": create_ssl_context(cafile=env["KAFKA_SSL_CA_FILE"]),
        }

    def leaders(self, topic: str) -> dict[int, int]:
        """Partition -> id of the node leading it, as the cluster says now."""
        return asyncio.run(self._leaders(topic))

    async def _leaders(self, topic: str) -> dict[int, int]:
        admin = AIOKafkaAdminClient(**self.client_options("admin"))
        await admin.start()
        try:
            (described,) = await admin.describe_topics([topic])
            return {p["partition"]: p["leader"] for p in described["partitions"]}
        finally:
            await admin.close()

    def kill(self, node: int) -> None:
        """kill -9 one node's JVM and wait until it is gone."""
        pid = int(_script("pid", str(node)))
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        raise AssertionError(f"node {node} (pid {pid}) still alive after SIGKILL")

    def start(self) -> None:
        """Start what is not running (a killed node), wait until all three nodes serve."""
        _script("start")


@pytest.fixture(scope="session")
def kafka_cluster(say: Say) -> Iterator[KafkaCluster]:
    running = (
        subprocess.run([str(SCRIPT), "status"], cwd=ROOT, capture_output=True, check=False).returncode == 0
    )
    started = time.monotonic()
    if running:
        say("reusing the running 3-node cluster")
    else:
        say("starting the 3-node cluster (kafka-cluster.sh start)")
        _script("start")
        say(f"cluster up in {time.monotonic() - started:.0f} s")
    cluster = KafkaCluster(suffix=f".{uuid.uuid4().hex[:10]}")
    provision_env = {**os.environ, "KAFKA_CLUSTER_PARTITIONS": str(PARTITIONS)}
    _script("provision", cluster.suffix, env=provision_env)
    say(f"topics and ACLs *{cluster.suffix}: {PARTITIONS} partitions, RF 3, min ISR 2")
    try:
        yield cluster
    finally:
        _script("unprovision", cluster.suffix)
        say(f"removed the topics and ACLs *{cluster.suffix}")
        if not running:
            _script("stop")
            say("cluster stopped")
