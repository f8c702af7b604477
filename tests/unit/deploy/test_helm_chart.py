"""The Helm chart (deploy/helm/dossier-tracking) lints and renders for the province and the nation, and
every object it renders is valid, strictly, against the Kubernetes schemas and the pinned operators' CRD
schemas; the check refuses an unknown field, so it can fail."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest

from tests.unit.deploy.helm_chart import (
    CHART,
    VALUES_FILES,
    Manifest,
    by_kind,
    crd_schemas,
    helm,
    helm_template,
    is_custom,
    render,
    validate,
)


@pytest.fixture(scope="module", params=VALUES_FILES)
def manifests(request: pytest.FixtureRequest) -> list[Manifest]:
    rendered: list[Manifest] = render(request.param)
    return rendered


@pytest.fixture(scope="module")
def province() -> list[Manifest]:
    return render("values.yaml")


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_helm_lint_passes_strictly(values_file: str) -> None:
    result = helm("lint", "--strict", str(CHART), "-f", str(CHART / values_file))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rendered_object_is_valid(manifests: list[Manifest]) -> None:
    failures = []
    for manifest in manifests:
        try:
            validate(manifest)
        except jsonschema.ValidationError as error:
            failures.append(f"{manifest['kind']}/{manifest['metadata']['name']}: {error.message}")
    assert not failures, "\n".join(failures)


def test_the_chart_renders_every_kind_it_promises(manifests: list[Manifest]) -> None:
    kinds = {m["kind"] for m in manifests}
    custom = {(m["apiVersion"], m["kind"]) for m in manifests if is_custom(m)}
    assert {"Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy", "Secret"} <= kinds
    assert {"HorizontalPodAutoscaler", "ConfigMap"} <= kinds
    # Every kept CRD schema is used, so none is kept for nothing and each is exercised here.
    assert custom == set(crd_schemas())


def mutated(manifests: list[Manifest], kind: str, change: Any) -> Manifest:
    manifest = copy.deepcopy(next(m for m in manifests if m["kind"] == kind))
    change(manifest)
    return manifest


def test_an_unknown_field_of_a_kubernetes_object_is_refused(province: list[Manifest]) -> None:
    def add_field(deployment: Manifest) -> None:
        deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}

    with pytest.raises(jsonschema.ValidationError):
        validate(mutated(province, "Deployment", add_field))


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("Kafka", ("spec", "kafka", "listeners", 0, "authentication")),
        ("KafkaUser", ("spec", "authorization", "acls", 0, "resource")),
        ("Cluster", ("spec", "bootstrap", "initdb")),
        ("Pooler", ("spec", "pgbouncer")),
        ("ScaledObject", ("spec",)),
        ("TriggerAuthentication", ("spec",)),
        ("ServiceMonitor", ("spec", "endpoints", 0)),
        ("PrometheusRule", ("spec", "groups", 0, "rules", 0)),
    ],
)
def test_an_unknown_field_of_a_custom_resource_is_refused(
    province: list[Manifest], kind: str, path: tuple[str | int, ...]
) -> None:
    def add_field(manifest: Manifest) -> None:
        node: Any = manifest
        for step in path:
            node = node[step]
        node["unknownField"] = "x"

    validate(mutated(province, kind, lambda _: None))
    with pytest.raises(jsonschema.ValidationError):
        validate(mutated(province, kind, add_field))


def test_an_unknown_metadata_field_of_a_custom_resource_is_refused(province: list[Manifest]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        validate(mutated(province, "Kafka", lambda kafka: kafka["metadata"].update(label={})))


def test_fields_the_schema_keeps_open_are_accepted(province: list[Manifest]) -> None:
    # A KafkaTopic's `config` keeps unknown fields (any topic setting), so strictness stops there.
    topic = mutated(province, "KafkaTopic", lambda t: t["spec"]["config"].update({"segment.ms": 3600000}))
    validate(topic)


def test_a_wrong_type_in_a_custom_resource_is_refused(province: list[Manifest]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        validate(mutated(province, "KafkaTopic", lambda t: t["spec"].update(partitions="twelve")))


@pytest.mark.parametrize("workload", ["processing.consumer", "metrics"])
def test_an_autoscaler_above_the_topics_partitions_does_not_render(workload: str) -> None:
    topic = "events" if workload.startswith("processing") else "status"
    partitions = by_kind(render("values.yaml"), "KafkaTopic")[f"dossier-{topic}-v1"]["spec"]["partitions"]
    assert render("values.yaml", f"{workload}.maxReplicas={partitions}")
    result = helm_template("values.yaml", f"{workload}.maxReplicas={partitions + 1}")
    assert result.returncode != 0
    assert "exceeds" in result.stderr
