"""The PostgreSQL sessions the services can open at their largest fit the Pooler and the database, with
room to spare.

Every service reaches PostgreSQL through PgBouncer in session mode, so each client session holds a server
session of its own for as long as it lives. The worst case is counted from the rendered chart (each
Deployment's fixed replicas, or its autoscaler's maximum, plus the pod a rolling update adds) and from
the services' own engines, built from each pod's environment exactly as the services build them (pool
size plus overflow), so a changed pool, setting or replica count shows here."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from dossier_metrics.app import build_state
from dossier_metrics.settings import MetricsSettings
from dossier_processing.bootstrap import create_engine
from dossier_processing.settings import ProcessingSettings
from tests.unit.deploy.helm_chart import VALUES_FILES, Manifest, by_kind, component, render, resolved_env

#: the optional push worker runs in the worst case
WITH_PORTAL = "processing.portal.url=https://portal.invalid/sync"
#: the share of the Pooler's pool the services may fill at most; the rest is for pods beyond the count
#: (one terminating while its replacement connects) and an operator's own sessions
HEADROOM = 0.8
#: PostgreSQL's `superuser_reserved_connections` unless the chart sets it
POSTGRES_SUPERUSER_RESERVED = 3


@dataclass(frozen=True)
class Budget:
    #: Deployment name -> (pods at most, sessions a pod may open)
    workloads: dict[str, tuple[int, int]]
    default_pool_size: int
    max_client_conn: int
    pooler_instances: int
    max_connections: int
    superuser_reserved: int

    @property
    def sessions(self) -> int:
        return sum(pods * per_pod for pods, per_pod in self.workloads.values())

    def problems(self) -> list[str]:
        """What does not fit; empty when everything does."""
        found = []
        # The Service spreads connections, not sessions evenly: one PgBouncer pod may get them all.
        if self.sessions > HEADROOM * self.default_pool_size:
            found.append(f"{self.sessions} sessions exceed {HEADROOM:.0%} of default_pool_size")
        if self.sessions > self.max_client_conn:
            found.append(f"{self.sessions} sessions exceed max_client_conn {self.max_client_conn}")
        # A full pool, the superuser's reserve and each PgBouncer's own log-in session (its auth query).
        needed = self.default_pool_size + self.superuser_reserved + self.pooler_instances
        if needed > self.max_connections:
            found.append(f"the pool and the reserved sessions ({needed}) exceed max_connections")
        return found


def surge(deployment: Manifest, replicas: int) -> int:
    """The pods a rolling update adds beside `replicas`."""
    value = deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"]
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(replicas * int(value[:-1]) / 100)
    return int(value)


def max_pods(manifests: list[Manifest], name: str) -> int:
    """A Deployment's pods at most: its replicas, or its autoscaler's maximum, and the update's surge."""
    deployment = by_kind(manifests, "Deployment")[name]
    scalers = [
        *(
            s["spec"]["maxReplicaCount"]
            for s in by_kind(manifests, "ScaledObject").values()
            if s["spec"]["scaleTargetRef"]["name"] == name
        ),
        *(
            h["spec"]["maxReplicas"]
            for h in by_kind(manifests, "HorizontalPodAutoscaler").values()
            if h["spec"]["scaleTargetRef"]["name"] == name
        ),
    ]
    if "replicas" in deployment["spec"]:
        assert not scalers, f"{name}: fixed replicas and an autoscaler"
        replicas = int(deployment["spec"]["replicas"])
    else:
        (replicas,) = scalers
    return replicas + surge(deployment, replicas)


@contextmanager
def pod_environment(deployment: Manifest, keys_file: Path) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as env:
        for name, value in resolved_env(deployment).items():
            env.setenv(name, value)
        env.setenv(f"{component(deployment).upper()}_API_KEYS_FILE", str(keys_file))
        yield


def capacity(engine: AsyncEngine) -> int:
    """The most connections `engine` opens at once: its pool and the overflow beyond it."""
    pool = engine.pool
    assert isinstance(pool, QueuePool), type(pool)
    return pool.size() + pool._max_overflow


def sessions_per_pod(deployment: Manifest, keys_file: Path) -> int:
    """The sessions one pod of `deployment` may hold, from the engines its service builds."""
    if "DATABASE_URL" not in resolved_env(deployment):
        return 0
    with pod_environment(deployment, keys_file):
        match component(deployment):
            case "processing":
                # One engine serves every worker; the relay's lock connection is one of its own.
                return capacity(create_engine(ProcessingSettings()))
            case "metrics":
                state = build_state(MetricsSettings())
                # The counters' exporter holds its lock on a connection of the writers' engine.
                assert state.collector.exporter is not None
                assert state.collector.exporter.engine is state.projection.engine
                return capacity(state.projection.engine) + capacity(state.report_engine)
            case other:
                raise AssertionError(f"{other} connects to PostgreSQL but its sessions are not counted")


def budget(manifests: list[Manifest], keys_file: Path) -> Budget:
    (cluster,) = by_kind(manifests, "Cluster").values()
    (pooler,) = by_kind(manifests, "Pooler").values()
    postgres = cluster["spec"]["postgresql"]["parameters"]
    pgbouncer = pooler["spec"]["pgbouncer"]["parameters"]
    return Budget(
        workloads={
            name: (max_pods(manifests, name), sessions_per_pod(deployment, keys_file))
            for name, deployment in by_kind(manifests, "Deployment").items()
        },
        default_pool_size=int(pgbouncer["default_pool_size"]),
        max_client_conn=int(pgbouncer["max_client_conn"]),
        pooler_instances=int(pooler["spec"]["instances"]),
        max_connections=int(postgres["max_connections"]),
        superuser_reserved=int(postgres.get("superuser_reserved_connections", POSTGRES_SUPERUSER_RESERVED)),
    )


@pytest.fixture
def keys_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys.csv"
    path.write_text("name,key_sha256,agencies\n")
    return path


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_the_services_sessions_at_their_largest_fit_the_pooler_and_postgres(
    values_file: str, keys_file: Path
) -> None:
    manifests = render(values_file, WITH_PORTAL)
    counted = budget(manifests, keys_file)
    by_service = {
        component(d) for name, d in by_kind(manifests, "Deployment").items() if counted.workloads[name][1] > 0
    }
    assert by_service == {"processing", "metrics"}, "intake never connects; the other two always do"
    assert not counted.problems(), (counted.problems(), counted.workloads)


def test_the_count_follows_replicas_and_pool_settings(keys_file: Path) -> None:
    manifests = render("values.yaml", WITH_PORTAL)
    base = budget(manifests, keys_file)
    metrics, consumer = "dossier-metrics", "dossier-processing-consumer"
    (scaler,) = [s for s in by_kind(manifests, "ScaledObject").values() if s["metadata"]["name"] == metrics]
    partitions = by_kind(manifests, "KafkaTopic")["dossier-status-v1"]["spec"]["partitions"]
    added = partitions - scaler["spec"]["maxReplicaCount"]
    pods, per_pod = base.workloads[metrics]
    widened = budget(render("values.yaml", WITH_PORTAL, f"metrics.maxReplicas={partitions}"), keys_file)
    assert widened.workloads[metrics] == (pods + added, per_pod)
    assert widened.sessions - base.sessions == added * per_pod > 0
    pool = ProcessingSettings().db_pool_size + 1
    larger = budget(
        render("values.yaml", WITH_PORTAL, f"processing.env.PROCESSING_DB_POOL_SIZE={pool}"), keys_file
    )
    assert larger.workloads[consumer][1] == base.workloads[consumer][1] + 1
    reports = MetricsSettings().report_concurrency + 1
    wider = budget(
        render("values.yaml", WITH_PORTAL, f"metrics.env.METRICS_REPORT_CONCURRENCY={reports}"), keys_file
    )
    assert wider.workloads[metrics][1] == per_pod + 1


def test_the_check_refuses_what_does_not_fit(keys_file: Path) -> None:
    sessions = budget(render("values.yaml", WITH_PORTAL), keys_file).sessions
    # a pool just too small for the services at their largest, with the headroom kept
    small_pool = f"postgres.pooler.parameters.default_pool_size={math.floor(sessions / HEADROOM) - 1}"
    assert budget(render("values.yaml", WITH_PORTAL, small_pool), keys_file).problems()
    # a PgBouncer pod that cannot accept every service session
    few_clients = f"postgres.pooler.parameters.max_client_conn={sessions - 1}"
    assert budget(render("values.yaml", WITH_PORTAL, few_clients), keys_file).problems()
    # a database that cannot take the pool besides its reserved sessions
    pool = budget(render("values.yaml"), keys_file).default_pool_size
    assert budget(render("values.yaml", f"postgres.parameters.max_connections={pool}"), keys_file).problems()
