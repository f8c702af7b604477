"""Processing as two processes in one consumer group (as `make run` starts it): the partitions are
shared, one instance leads the outbox relay and the other stands by. Killing either instance mid-stream
(the relay's leader included) loses nothing and doubles nothing: the report and live series are exact."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_e2e_faults import _run_with_fault
from tests.e2e.traffic import Traffic
from tests.support import ServiceProcess, System, running_system

pytestmark = pytest.mark.e2e


@pytest.fixture
def two_instances(tmp_path: Path, kafka_bootstrap: str, database_url: str) -> Iterator[System]:
    with running_system(tmp_path, kafka_bootstrap, database_url, processing_instances=2) as started:
        yield started


def _assigned_partitions(instance: ServiceProcess) -> float:
    """How many partitions of the events topic this instance reads (its lag gauge has one per partition)."""
    text = httpx.get(f"{instance.url}/metrics", timeout=10).text
    return sum(1 for line in text.splitlines() if line.startswith("processing_consumer_lag_messages{"))


def _published(instance: ServiceProcess) -> float:
    """Snapshots this instance's relay published (0 while it stands by)."""
    text = httpx.get(f"{instance.url}/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("processing_outbox_published_total")
    )


def _kill_and_restart(instance: ServiceProcess) -> None:
    instance.kill()
    time.sleep(1)
    instance.start()


def test_two_instances_share_the_partitions(two_instances: System) -> None:
    first, second = two_instances.processing, two_instances.more_processing[0]
    traffic = Traffic.generate(600, seed=51)

    def fault() -> None:  # no fault: both instances simply work side by side
        pass

    _run_with_fault(two_instances, traffic, fault)
    # Both consumed: each reports lag for the partitions it was given (4 partitions, 2 instances).
    assert _assigned_partitions(first) >= 1
    assert _assigned_partitions(second) >= 1


def test_relay_leader_killed_mid_stream(two_instances: System) -> None:
    """Whichever instance leads the relay (it has published) is killed; the other takes the relay over."""
    instances = (two_instances.processing, two_instances.more_processing[0])
    roles: dict[str, ServiceProcess] = {}

    def fault() -> None:
        deadline = time.monotonic() + 60
        while not any(_published(i) for i in instances):
            assert time.monotonic() < deadline, "no instance published a snapshot"
            time.sleep(0.2)
        leaders = [i for i in instances if _published(i)]
        assert len(leaders) == 1, "two instances published at once: the relay's lock failed"
        roles["leader"] = leaders[0]
        roles["standby"] = next(i for i in instances if i is not leaders[0])
        _kill_and_restart(leaders[0])

    _run_with_fault(two_instances, Traffic.generate(1000, seed=52), fault)
    assert _published(roles["standby"]) > 0, "the standby never took over the relay"


def test_standby_instance_killed_mid_stream(two_instances: System) -> None:
    standby = two_instances.more_processing[0]
    _run_with_fault(two_instances, Traffic.generate(1000, seed=53), lambda: _kill_and_restart(standby))
