"""What the chart sets for failures, for the province and the nation: PostgreSQL loses no acknowledged
commit in a failover, a host that vanished gives up its sessions (and their advisory locks) in bounded
time on both sides of PgBouncer, and a lost Kafka broker is fenced within intake's send timeout."""

from __future__ import annotations

import pytest

from dossier_intake.settings import IntakeSettings
from tests.unit.deploy.helm_chart import VALUES_FILES, Manifest, by_kind, component, render, resolved_env


@pytest.fixture(scope="module", params=VALUES_FILES)
def manifests(request: pytest.FixtureRequest) -> list[Manifest]:
    rendered: list[Manifest] = render(request.param)
    return rendered


def test_a_commit_is_on_a_replica_before_it_returns(manifests: list[Manifest]) -> None:
    (cluster,) = by_kind(manifests, "Cluster").values()
    synchronous = cluster["spec"]["postgresql"]["synchronous"]
    assert synchronous["method"] == "any" and synchronous["dataDurability"] == "required"
    assert synchronous["failoverQuorum"] is True, "promote only a replica known to hold every commit"
    # at least one replica confirms each commit, and one replica lost or drained leaves writes going
    assert 1 <= synchronous["number"] < cluster["spec"]["instances"] - 1


def dead_peer_s(idle: str, interval: str, count: str) -> int:
    """How long a silent peer keeps a connection: the idle time, then every unanswered probe."""
    return int(idle) + int(interval) * int(count)


def test_a_vanished_host_loses_its_sessions_on_both_sides_of_the_pooler(manifests: list[Manifest]) -> None:
    (cluster,) = by_kind(manifests, "Cluster").values()
    (pooler,) = by_kind(manifests, "Pooler").values()
    postgres = cluster["spec"]["postgresql"]["parameters"]
    pgbouncer = pooler["spec"]["pgbouncer"]["parameters"]
    # PostgreSQL drops a lost PgBouncer's sessions; PgBouncer drops a lost service pod's, and with it
    # its server session (and the advisory locks the relay and the counters' exporter hold there).
    server = dead_peer_s(
        postgres["tcp_keepalives_idle"], postgres["tcp_keepalives_interval"], postgres["tcp_keepalives_count"]
    )
    assert pgbouncer["tcp_keepalive"] == "1"
    client = dead_peer_s(pgbouncer["tcp_keepidle"], pgbouncer["tcp_keepintvl"], pgbouncer["tcp_keepcnt"])
    assert server == client, "either side of the pooler lets go of a lost peer as fast as the other"
    # Data sent and never acknowledged (keepalives wait while it is outstanding) ends no later.
    assert int(postgres["tcp_user_timeout"]) == int(pgbouncer["tcp_user_timeout"]) == client * 1000


def test_a_lost_broker_is_fenced_within_intakes_send_timeout(manifests: list[Manifest]) -> None:
    (kafka,) = by_kind(manifests, "Kafka").values()
    config = kafka["spec"]["kafka"]["config"]
    (intake,) = [d for d in by_kind(manifests, "Deployment").values() if component(d) == "intake"]
    env = resolved_env(intake)
    send_timeout_s = float(env.get("INTAKE_KAFKA_SEND_TIMEOUT_S", IntakeSettings().kafka_send_timeout_s))
    session_ms = config["broker.session.timeout.ms"]
    assert session_ms < send_timeout_s * 1000, "a write to a lost leader would wait past the timeout"
    # several heartbeats per session, so one late heartbeat does not fence a live broker
    assert config["broker.heartbeat.interval.ms"] * 3 <= session_ms
