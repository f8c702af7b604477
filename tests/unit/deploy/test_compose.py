"""docker-compose.yml is valid against the Compose Specification's JSON schema, and everything it names
(build files, mounted paths, secrets, volumes, commands, ports) exists in the project."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
# The Compose Specification schema as shipped by the npm package dclint 3.1.0 (`make test-tools`).
SCHEMA = ROOT / ".cache/dclint/node_modules/dclint/schemas/compose.schema.json"
SERVICE_PORTS = {"intake": 8001, "processing": 8002, "metrics": 8003}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_valid_against_the_compose_specification(compose: dict[str, Any]) -> None:
    assert SCHEMA.exists(), "run `make test-tools` to fetch the Compose Specification schema"
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator(schema).validate(compose)


def test_an_invalid_file_is_rejected_by_the_same_check() -> None:
    schema = json.loads(SCHEMA.read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schema).validate({"services": {"x": {"ports": {"not": "a list"}}}})


def test_build_files_exist(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        build = service.get("build")
        if build:
            context = ROOT / build["context"]
            assert (context / build.get("dockerfile", "Dockerfile")).is_file(), name


def test_bind_mounts_and_secrets_exist(compose: dict[str, Any]) -> None:
    declared_volumes = set(compose.get("volumes", {}))
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: {source} is missing"
            else:
                assert source in declared_volumes, f"{name}: volume {source} is not declared"
        for secret in service.get("secrets", []):
            assert secret in compose["secrets"], f"{name}: secret {secret} is not declared"
    for secret in compose["secrets"].values():
        assert (ROOT / secret["file"]).is_file(), secret["file"]


def test_every_dependency_is_a_service(compose: dict[str, Any]) -> None:
    names = set(compose["services"])
    for service in compose["services"].values():
        assert set(service.get("depends_on", [])) <= names


def test_service_commands_are_console_scripts_and_ports_match(compose: dict[str, Any]) -> None:
    members = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]["members"]
    projects = [
        tomllib.loads((ROOT / member / "pyproject.toml").read_text())["project"] for member in members
    ]
    scripts = {script for project in projects for script in project.get("scripts", {})}
    for name, port in SERVICE_PORTS.items():
        service = compose["services"][name]
        assert service["command"][0] in scripts
        assert f"127.0.0.1:{port}:{port}" in service["ports"]
    published = [p.rsplit(":", 2)[-2] for s in compose["services"].values() for p in s.get("ports", [])]
    assert all(p.startswith("127.0.0.1:") for s in compose["services"].values() for p in s.get("ports", []))
    assert len(published) == len(set(published)), "a host port is published twice"


def test_prometheus_in_compose_scrapes_every_service() -> None:
    config = yaml.safe_load((ROOT / "deploy/compose/prometheus.yml").read_text())
    targets = {t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    assert {f"{name}:{port}" for name, port in SERVICE_PORTS.items()} <= targets
