"""Every series the alert rules and the Grafana dashboard read is one the running services expose."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.traffic import Traffic
from tests.support import ROOT, System

pytestmark = pytest.mark.e2e

_TOKEN = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_PREFIXES = ("dossier_", "intake_", "processing_")


def _dashboard_expressions(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr":
                yield value
            else:
                yield from _dashboard_expressions(value)
    elif isinstance(node, list):
        for value in node:
            yield from _dashboard_expressions(value)


def referenced_series() -> set[str]:
    expressions = list(
        _dashboard_expressions(
            json.loads((ROOT / "deploy/grafana/dashboards/dossier-overview.json").read_text())
        )
    )
    for rules in (ROOT / "deploy/prometheus/rules").glob("*.yml"):
        for group in yaml.safe_load(rules.read_text())["groups"]:
            expressions += [rule["expr"] for rule in group["rules"]]
    # Recording-rule names (level:metric:operation) contain colons and are not scraped.
    return {
        token
        for expr in expressions
        for token in _TOKEN.findall(expr)
        if token.startswith(_PREFIXES) and ":" not in token
    }


def exposed_series(system: System) -> set[str]:
    names: set[str] = set()
    for service in system.services:
        text = httpx.get(f"{service.url}/metrics", timeout=30).text
        for family in text_string_to_metric_families(text):
            names.update(sample.name for sample in family.samples)
    return names


def test_rules_and_dashboard_read_only_series_that_exist(system: System) -> None:
    # One dossier through the pipeline, so the projection has a last event to report.
    traffic = Traffic.generate(1, seed=5)
    assert traffic.send(system.intake.url, system.intake_key, traffic.plan()).rejected == 0
    assert traffic.report_differences(system.metrics.url, system.metrics_key) == []
    wanted = referenced_series()
    assert {"dossier_pending", "processing_consumer_lag_messages", "processing_outbox_backlog"} <= wanted
    assert wanted - exposed_series(system) == set()
