"""Rendering the Helm chart of deploy/helm and checking what it renders strictly.

Kubernetes' own kinds are checked by kubernetes-validate's strict schemas for `KUBERNETES_VERSION`; the
operators' kinds (Strimzi, CloudNativePG, KEDA, prometheus-operator) by the schemas kept in
deploy/helm/crd-schemas, made strict the way the API server prunes: an object refuses every field its
schema does not name, unless it says `x-kubernetes-preserve-unknown-fields`.
"""

from __future__ import annotations

import json
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[3]
HELM = ROOT / ".cache/helm/helm"
CHART = ROOT / "deploy/helm/dossier-tracking"
CRD_SCHEMAS = ROOT / "deploy/helm/crd-schemas"
VALUES_FILES = ("values.yaml", "values-nation.yaml")
KUBERNETES_VERSION = "1.34"
RELEASE = "dossier"
COMPONENT = "app.kubernetes.io/component"

Manifest = dict[str, Any]


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the pinned helm (`make test-tools` installs it) on the chart."""
    assert HELM.exists(), f"{HELM} is missing: run `make test-tools`"
    return subprocess.run([str(HELM), *args], capture_output=True, text=True, check=False, timeout=120)


def render(values_file: str, *overrides: str) -> list[Manifest]:
    """The chart's objects for `values_file` and `--set` overrides; fails on a helm error."""
    result = helm_template(values_file, *overrides)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def helm_template(values_file: str, *overrides: str) -> subprocess.CompletedProcess[str]:
    sets = [arg for override in overrides for arg in ("--set", override)]
    values = str(CHART / values_file)
    return helm("template", RELEASE, str(CHART), "--namespace", RELEASE, "-f", values, *sets)


@cache
def crd_schemas() -> dict[tuple[str, str], Manifest]:
    """The strict schema of each (apiVersion, kind) kept in deploy/helm/crd-schemas."""
    schemas = {}
    for path in sorted(CRD_SCHEMAS.glob("*/*.json")):
        document = json.loads(path.read_text())
        schemas[(document["apiVersion"], document["kind"])] = strict(document["schema"], top=True)
    return schemas


def strict(node: Any, top: bool = False) -> Any:
    """`node` with `additionalProperties: false` on every object that neither keeps unknown fields nor
    says what its other properties are. The top level's `metadata` is left to `validate_metadata`."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: strict(value) for key, value in node.items()}
    if top:
        out["properties"] = {**out["properties"], "metadata": {"type": "object"}}
    keeps_unknown = node.get("x-kubernetes-preserve-unknown-fields") is True
    if node.get("type") == "object" and not keeps_unknown and "additionalProperties" not in node:
        properties = out.get("properties", {})
        if node.get("x-kubernetes-embedded-resource"):
            properties = {"apiVersion": {}, "kind": {}, "metadata": {}, **properties}
        out["properties"] = properties
        out["additionalProperties"] = False
    return out


def is_custom(manifest: Manifest) -> bool:
    """Whether `manifest` is of a kind an operator defines (its API group is not Kubernetes' own)."""
    group = manifest["apiVersion"].rpartition("/")[0]
    return "." in group and not group.endswith(".k8s.io")


def validate(manifest: Manifest) -> None:
    """Raise `jsonschema.ValidationError` (or a subclass) unless `manifest` is valid, strictly."""
    if not is_custom(manifest):
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        return
    key = (manifest["apiVersion"], manifest["kind"])
    assert key in crd_schemas(), f"no CRD schema kept for {key}"
    jsonschema.Draft7Validator(crd_schemas()[key]).validate(manifest)
    validate_metadata(manifest["metadata"])


def validate_metadata(metadata: Manifest) -> None:
    """A custom object's metadata against Kubernetes' ObjectMeta, strictly (carried by a ConfigMap)."""
    carrier = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}
    kubernetes_validate.validate(carrier, KUBERNETES_VERSION, strict=True)


def by_kind(manifests: list[Manifest], kind: str) -> dict[str, Manifest]:
    """The objects of one kind, by name."""
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def env_of(deployment: Manifest) -> dict[str, Manifest]:
    """The container's environment entries by name."""
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {entry["name"]: entry for entry in container["env"]}


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def component(manifest: Manifest) -> str:
    """The service an object belongs to (intake, processing, metrics, kafka, postgres, …)."""
    value: str = manifest["metadata"]["labels"][COMPONENT]
    return value


def resolved_env(deployment: Manifest) -> dict[str, str]:
    """The pod's environment as the kubelet would give it, a stand-in for each value from a Secret."""
    values = {
        name: entry.get("value", f"secret-of-{name.lower()}") for name, entry in env_of(deployment).items()
    }
    return {
        name: re.sub(r"\$\((\w+)\)", lambda m: values[m.group(1)], value) for name, value in values.items()
    }
