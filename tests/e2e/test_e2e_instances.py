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
from tests.e2e.traffic import Traffic, live_series
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

    # A process is ready when it serves HTTP; its consumer joins the group a moment later. Both
    # must hold partitions (4 partitions, 2 instances) before the traffic, or one may do it all.
    deadline = time.monotonic() + 90
    while not (_assigned_partitions(first) and _assigned_partitions(second)):
        assert time.monotonic() < deadline, "the two instances never shared the partitions"
        time.sleep(0.5)
    _run_with_fault(two_instances, traffic, fault)
    # Both consumed: each reports lag for the partitions it was given.
    assert _assigned_partitions(first) >= 1
    assert _assigned_partitions(second) >= 1


def test_relay_leader_killed_mid_stream(two_instances: System) -> None:
    """Whichever instance leads the relay (it has published) is killed while events still arrive (sent
    at 300 a second); the other takes the relay over and publishes, then the killed one comes back
    (restarted at once, it could win the lock back first). The report stays exact."""
    system, traffic = two_instances, Traffic.generate(1000, seed=52)
    instances = (system.processing, system.more_processing[0])
    sender = traffic.send_in_background(system.intake.url, system.intake_key, traffic.plan(size=50), rate=300)
    deadline = time.monotonic() + 60
    while not any(_published(i) for i in instances):
        assert time.monotonic() < deadline, "no instance published a snapshot"
        time.sleep(0.2)
    leaders = [i for i in instances if _published(i)]
    assert len(leaders) == 1, "two instances published at once: the relay's lock failed"
    standby = next(i for i in instances if i is not leaders[0])
    leaders[0].kill()
    assert sender.is_alive(), "the traffic ended before the fault: nothing left to take over"
    while not _published(standby):
        assert time.monotonic() < deadline + 60, "the standby never took over the relay"
        time.sleep(0.2)
    leaders[0].start()
    sender.join(timeout=600)
    assert traffic.sent is not None and traffic.sent.accepted == traffic.event_count, traffic.sent
    assert traffic.report_differences(system.metrics.url, system.metrics_key, timeout=240) == []
    assert live_series(system.metrics.url) == traffic.expected_live()


def test_standby_instance_killed_mid_stream(two_instances: System) -> None:
    standby = two_instances.more_processing[0]
    _run_with_fault(two_instances, Traffic.generate(1000, seed=53), lambda: _kill_and_restart(standby))
