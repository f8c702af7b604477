"""What the Helm chart renders fits together and fits the services: every variable a pod gets is a
setting its service reads and accepts, each service reaches Kafka as its own user with just the ACLs it
needs and PostgreSQL through the Pooler, autoscalers stay within the partitions, every workload has its
disruption budget, network policy, probes and scrape, and the Prometheus rules and Grafana dashboards
are the very files of deploy/prometheus and deploy/grafana."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from dossier_contracts import EVENTS_DLQ_TOPIC, EVENTS_TOPIC, STATUS_TOPIC
from dossier_contracts.portal_sync import PORTAL_SYNC_TOPIC
from dossier_intake.settings import IntakeSettings
from dossier_metrics.settings import MetricsSettings
from dossier_processing.settings import ProcessingSettings
from dossier_runtime.api_keys import ApiKeyRing
from tests.unit.deploy.helm_chart import (
    ROOT,
    VALUES_FILES,
    Manifest,
    by_kind,
    component,
    env_of,
    render,
    resolved_env,
    selects,
    validate,
)

SETTINGS: dict[str, type[BaseSettings]] = {
    "intake": IntakeSettings,
    "processing": ProcessingSettings,
    "metrics": MetricsSettings,
}
#: variables set only to build others (`$(NAME)` in DATABASE_URL), read by no service
BUILDING_BLOCKS = {"DATABASE_USER", "DATABASE_PASSWORD"}

#: the feedback topics, as the services name them by default (not in the contracts package)
FEEDBACK_EVENTS = str(IntakeSettings.model_fields["feedback_topic"].default)
FEEDBACK_STATUS = str(MetricsSettings.model_fields["feedback_status_topic"].default)
assert ProcessingSettings.model_fields["feedback_events_topic"].default == FEEDBACK_EVENTS
assert ProcessingSettings.model_fields["feedback_status_topic"].default == FEEDBACK_STATUS


@pytest.fixture(scope="module", params=[*VALUES_FILES, "portal"])
def manifests(request: pytest.FixtureRequest) -> list[Manifest]:
    if request.param == "portal":
        return render(
            "values.yaml",
            "processing.portal.url=https://portal.invalid/sync",
            "processing.portal.loginUrl=https://portal.invalid/login",
            "processing.portal.accountSecret=dvcqg-account",
            "processing.portal.unitCode=000.00.00.H49",
        )
    return render(request.param)


def deployments(manifests: list[Manifest]) -> dict[str, Manifest]:
    return by_kind(manifests, "Deployment")


def pod_labels(deployment: Manifest) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels


def setting_names(settings: type[BaseSettings]) -> set[str]:
    """Every environment variable `settings` reads."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    names = set()
    for name, field in settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {choice.upper() for choice in alias.choices if isinstance(choice, str)}
        else:
            names.add(alias.upper() if isinstance(alias, str) else f"{prefix}{name}".upper())
    return names


def test_every_variable_is_a_setting_its_service_reads(manifests: list[Manifest]) -> None:
    for name, deployment in deployments(manifests).items():
        unknown = set(env_of(deployment)) - BUILDING_BLOCKS - setting_names(SETTINGS[component(deployment)])
        assert not unknown, f"{name} sets variables its service does not read: {sorted(unknown)}"


def test_every_services_settings_accept_the_pods_environment(
    manifests: list[Manifest], monkeypatch: pytest.MonkeyPatch
) -> None:
    for deployment in deployments(manifests).values():
        with monkeypatch.context() as env:
            for name, value in resolved_env(deployment).items():
                env.setenv(name, value)
            settings: Any = SETTINGS[component(deployment)]()
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert [p["containerPort"] for p in container["ports"]] == [settings.port]
        assert container["command"] == [f"dossier-{component(deployment)}"]
        assert settings.kafka_security_protocol == "SASL_SSL"


def test_processing_workloads_split_the_workers(manifests: list[Manifest]) -> None:
    processing = {n: d for n, d in deployments(manifests).items() if component(d) == "processing"}
    workers = {}
    for name, deployment in processing.items():
        env = resolved_env(deployment)
        workers[name] = {w for w in ("CONSUMER", "RELAY", "PORTAL") if env[f"PROCESSING_RUN_{w}"] == "true"}
    assert all(len(runs) == 1 for runs in workers.values()), workers
    expected = {"CONSUMER", "RELAY"} | ({"PORTAL"} if len(processing) == 3 else set())
    assert set().union(*workers.values()) == expected


def test_each_service_is_its_own_kafka_user_over_tls(manifests: list[Manifest]) -> None:
    (kafka,) = by_kind(manifests, "Kafka").values()
    users = by_kind(manifests, "KafkaUser")
    (listener,) = kafka["spec"]["kafka"]["listeners"]
    assert listener["tls"] is True and listener["authentication"]["type"] == "scram-sha-512"
    assert kafka["spec"]["kafka"]["authorization"]["type"] == "simple"
    bootstrap = f"{kafka['metadata']['name']}-kafka-bootstrap:{listener['port']}"
    seen: dict[str, set[str]] = {}
    for name, deployment in deployments(manifests).items():
        env = env_of(deployment)
        user = env["KAFKA_SASL_USERNAME"]["value"]
        assert user in users, name
        assert env["KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": user, "key": "password"}
        assert env["KAFKA_BOOTSTRAP_SERVERS"]["value"] == bootstrap
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        assert volumes["kafka-ca"]["secret"]["secretName"] == f"{kafka['metadata']['name']}-cluster-ca-cert"
        seen.setdefault(component(deployment), set()).add(user)
    assert all(len(u) == 1 for u in seen.values()) and len(set().union(*seen.values())) == len(seen)
    for user in users.values():
        assert user["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]


def acls(user: Manifest) -> set[tuple[str, str, str]]:
    return {
        (acl["resource"]["type"], acl["resource"].get("name", ""), operation)
        for acl in user["spec"]["authorization"]["acls"]
        for operation in acl["operations"]
    }


def test_kafka_users_hold_exactly_the_acls_their_service_needs(manifests: list[Manifest]) -> None:
    users = by_kind(manifests, "KafkaUser")
    groups = {component(d): resolved_env(d) for d in deployments(manifests).values()}
    processing_group = groups["processing"]["PROCESSING_CONSUMER_GROUP"]
    metrics_group = groups["metrics"]["METRICS_CONSUMER_GROUP"]
    processing_feedback = groups["processing"]["PROCESSING_FEEDBACK_CONSUMER_GROUP"]
    metrics_feedback = groups["metrics"]["METRICS_FEEDBACK_CONSUMER_GROUP"]
    metrics_portal_sync = groups["metrics"]["METRICS_PORTAL_SYNC_CONSUMER_GROUP"]
    write, read = ("Write", "Describe"), ("Read", "Describe")
    needed = {
        "intake": {
            ("topic", t, op) for t in (EVENTS_TOPIC, EVENTS_DLQ_TOPIC, FEEDBACK_EVENTS) for op in write
        }
        | {("cluster", "", "IdempotentWrite")},
        "processing": {
            ("topic", t, op) for t in (EVENTS_TOPIC, EVENTS_DLQ_TOPIC, FEEDBACK_EVENTS) for op in read
        }
        | {
            ("topic", t, op)
            for t in (STATUS_TOPIC, EVENTS_DLQ_TOPIC, FEEDBACK_STATUS, PORTAL_SYNC_TOPIC)
            for op in write
        }
        | {("topic", STATUS_TOPIC, "Read"), ("group", processing_group, "Read")}
        | {("group", processing_feedback, "Read"), ("cluster", "", "IdempotentWrite")},
        "metrics": {
            ("topic", t, op) for t in (STATUS_TOPIC, FEEDBACK_STATUS, PORTAL_SYNC_TOPIC) for op in read
        }
        | {("group", metrics_group, "Read"), ("group", metrics_feedback, "Read")}
        | {("group", metrics_portal_sync, "Read")},
    }
    for deployment in deployments(manifests).values():
        user = env_of(deployment)["KAFKA_SASL_USERNAME"]["value"]
        assert acls(users[user]) == needed[component(deployment)], user


def test_topics_are_the_contracts_replicated_three_times_with_two_in_sync(manifests: list[Manifest]) -> None:
    topics = by_kind(manifests, "KafkaTopic").values()
    assert {t["spec"]["topicName"] for t in topics} == {
        EVENTS_TOPIC,
        STATUS_TOPIC,
        EVENTS_DLQ_TOPIC,
        FEEDBACK_EVENTS,
        FEEDBACK_STATUS,
        PORTAL_SYNC_TOPIC,
    }
    for topic in topics:
        assert topic["spec"]["replicas"] == 3
        assert topic["spec"]["config"]["min.insync.replicas"] == 2
        compacted = topic["spec"]["topicName"] == PORTAL_SYNC_TOPIC
        assert topic["spec"]["config"].get("cleanup.policy", "delete") == (
            "compact" if compacted else "delete"
        )
    (kafka,) = by_kind(manifests, "Kafka").values()
    assert kafka["metadata"]["annotations"] == {
        "strimzi.io/kraft": "enabled",
        "strimzi.io/node-pools": "enabled",
    }
    pools = by_kind(manifests, "KafkaNodePool").values()
    assert sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"]) >= 3
    assert sum(p["spec"]["replicas"] for p in pools if "controller" in p["spec"]["roles"]) % 2 == 1


def test_scaled_objects_read_their_deployments_group_within_the_partitions(manifests: list[Manifest]) -> None:
    topics = {t["spec"]["topicName"]: t for t in by_kind(manifests, "KafkaTopic").values()}
    auths = by_kind(manifests, "TriggerAuthentication")
    config_maps = by_kind(manifests, "ConfigMap")
    scaled = by_kind(manifests, "ScaledObject")
    assert {component(s) for s in scaled.values()} == {"processing", "metrics"}
    for name, scaled_object in scaled.items():
        target = deployments(manifests)[scaled_object["spec"]["scaleTargetRef"]["name"]]
        assert "replicas" not in target["spec"], "the autoscaler owns the replicas"
        (trigger,) = scaled_object["spec"]["triggers"]
        meta = trigger["metadata"]
        env = resolved_env(target)
        assert meta["consumerGroup"] in {
            env.get("PROCESSING_CONSUMER_GROUP"),
            env.get("METRICS_CONSUMER_GROUP"),
        }
        assert meta["bootstrapServers"] == env["KAFKA_BOOTSTRAP_SERVERS"]
        assert meta["topic"] in {env.get("PROCESSING_EVENTS_TOPIC"), env.get("METRICS_STATUS_TOPIC")}
        assert scaled_object["spec"]["maxReplicaCount"] <= topics[meta["topic"]]["spec"]["partitions"], name
        assert meta["sasl"] == "scram_sha512" and meta["tls"] == "enable"
        auth = auths[trigger["authenticationRef"]["name"]]["spec"]
        (username,) = auth["configMapTargetRef"]
        user = config_maps[username["name"]]["data"][username["key"]]
        secrets = {ref["parameter"]: ref["name"] for ref in auth["secretTargetRef"]}
        assert secrets["password"] == user and user in by_kind(manifests, "KafkaUser")
        lag_user = by_kind(manifests, "KafkaUser")[user]
        assert ("group", meta["consumerGroup"], "Describe") in acls(lag_user)
        assert all(op == "Describe" for _, _, op in acls(lag_user)), "the lag reader only describes"


def test_intake_scales_on_cpu(manifests: list[Manifest]) -> None:
    (hpa,) = by_kind(manifests, "HorizontalPodAutoscaler").values()
    target = deployments(manifests)[hpa["spec"]["scaleTargetRef"]["name"]]
    assert component(target) == "intake" and "replicas" not in target["spec"]
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]


def test_the_database_is_reached_through_the_pooler(manifests: list[Manifest]) -> None:
    (cluster,) = by_kind(manifests, "Cluster").values()
    (pooler,) = by_kind(manifests, "Pooler").values()
    assert cluster["spec"]["instances"] == 3
    assert pooler["spec"]["cluster"]["name"] == cluster["metadata"]["name"]
    assert pooler["spec"]["type"] == "rw"
    database = cluster["spec"]["bootstrap"]["initdb"]["database"]
    for name, deployment in deployments(manifests).items():
        env = env_of(deployment)
        if component(deployment) == "intake":
            assert "DATABASE_URL" not in env
            continue
        url = resolved_env(deployment)["DATABASE_URL"]
        assert url.endswith(f"@{pooler['metadata']['name']}:5432/{database}"), name
        for part in ("DATABASE_USER", "DATABASE_PASSWORD"):
            assert env[part]["valueFrom"]["secretKeyRef"]["name"] == f"{cluster['metadata']['name']}-app"


def test_every_workload_has_probes_a_budget_a_policy_and_a_service(manifests: list[Manifest]) -> None:
    budgets = by_kind(manifests, "PodDisruptionBudget").values()
    policies = by_kind(manifests, "NetworkPolicy").values()
    services = by_kind(manifests, "Service").values()
    for name, deployment in deployments(manifests).items():
        labels = pod_labels(deployment)
        assert selects(deployment["spec"]["selector"]["matchLabels"], labels)
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
        assert [b for b in budgets if selects(b["spec"]["selector"]["matchLabels"], labels)], name
        assert [p for p in policies if selects(p["spec"]["podSelector"]["matchLabels"], labels)], name
        assert [s for s in services if selects(s["spec"]["selector"], labels)], name


def test_every_service_is_scraped_as_its_prometheus_job(manifests: list[Manifest]) -> None:
    services = by_kind(manifests, "Service")
    monitors = by_kind(manifests, "ServiceMonitor").values()
    jobs = {
        job["job_name"]
        for job in yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())["scrape_configs"]
    }
    for name, service in services.items():
        (monitor,) = [
            m
            for m in monitors
            if selects(m["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
        ]
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["path"] == "/metrics" and endpoint["port"] == service["spec"]["ports"][0]["name"]
        assert service["metadata"]["labels"][monitor["spec"]["jobLabel"]] in jobs, name


def test_prometheus_rules_are_the_files_of_deploy_prometheus(manifests: list[Manifest]) -> None:
    rules = by_kind(manifests, "PrometheusRule").values()
    sources = sorted((ROOT / "deploy/prometheus/rules").glob("*.yml"))
    assert len(rules) == len(sources)
    by_source = {r["metadata"]["annotations"]["dossier-tracking/source"]: r for r in rules}
    for path in sources:
        rule = by_source[str(path.relative_to(ROOT))]
        assert rule["spec"] == {"groups": yaml.safe_load(path.read_text())["groups"]}


def dashboards(manifests: list[Manifest]) -> dict[str, Any]:
    return {
        key: json.loads(text)
        for config_map in by_kind(manifests, "ConfigMap").values()
        if config_map["metadata"]["labels"].get("grafana_dashboard") == "1"
        for key, text in config_map["data"].items()
    }


def test_grafana_dashboards_are_the_files_of_deploy_grafana(manifests: list[Manifest]) -> None:
    sources = {p.name: json.loads(p.read_text()) for p in (ROOT / "deploy/grafana/dashboards").glob("*.json")}
    assert dashboards(manifests) == sources


def test_the_dashboards_datasource_can_be_renamed() -> None:
    renamed = dashboards(render("values.yaml", "grafana.datasourceUid=prometheus"))
    for name, dashboard in renamed.items():
        source = (ROOT / "deploy/grafana/dashboards" / name).read_text()
        assert "dossier-prometheus" in source
        assert "dossier-prometheus" not in json.dumps(dashboard)
        assert json.dumps(dashboard) == json.dumps(
            json.loads(source.replace('"dossier-prometheus"', '"prometheus"'))
        )


def test_api_keys_secrets_hold_files_the_services_load(manifests: list[Manifest], tmp_path: Path) -> None:
    secrets = by_kind(manifests, "Secret")
    for name, deployment in deployments(manifests).items():
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        secret = secrets[volumes["api-keys"]["secret"]["secretName"]]
        path = tmp_path / "keys.csv"
        path.write_text(secret["stringData"]["keys.csv"])
        assert len(ApiKeyRing.load(path)) == 0, name  # the default: no key is valid until one is added
        key_file = resolved_env(deployment)[f"{component(deployment).upper()}_API_KEYS_FILE"]
        mounts = {
            m["name"]: m["mountPath"]
            for m in deployment["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
        }
        assert key_file == f"{mounts['api-keys']}/keys.csv"


def test_the_replay_user_exists_only_when_asked_for(manifests: list[Manifest]) -> None:
    assert not [name for name in by_kind(manifests, "KafkaUser") if name.endswith("-operator")]
    users = by_kind(render("values.yaml", "kafka.operatorUser=true"), "KafkaUser")
    (operator,) = [user for name, user in users.items() if name.endswith("-operator")]
    validate(operator)
    assert acls(operator) == {
        ("topic", EVENTS_DLQ_TOPIC, "Read"),
        ("topic", EVENTS_DLQ_TOPIC, "Describe"),
        ("topic", EVENTS_TOPIC, "Write"),
        ("topic", EVENTS_TOPIC, "Describe"),
        ("cluster", "", "IdempotentWrite"),
    }
