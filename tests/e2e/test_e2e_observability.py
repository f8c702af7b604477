"""Every series the alert rules and the Grafana dashboard (its panels and its variables) read is one the
running services expose, and every agency level they expose is one the dashboard's `level` variable offers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests import grafana_dashboard
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
    dashboard = grafana_dashboard.load()
    expressions = [*_dashboard_expressions(dashboard), grafana_dashboard.agency_variable_query(dashboard)]
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


def exposed_samples(system: System) -> list[Sample]:
    samples: list[Sample] = []
    for service in system.services:
        text = httpx.get(f"{service.url}/metrics", timeout=30).text
        for family in text_string_to_metric_families(text):
            samples.extend(family.samples)
    return samples


#: series that only some deployments expose: the push worker's, where `PROCESSING_PORTAL_URL` is set
#: (the portal sync rules read them; without a push worker there is nothing to sync)
ONLY_WITH_THE_PUSH_WORKER = {"processing_portal_dossiers", "processing_portal_oldest_unsynced_seconds"}


def test_rules_and_dashboard_read_only_series_that_exist(system: System) -> None:
    # One dossier through the pipeline, so the projection has a last event to report.
    traffic = Traffic.generate(1, seed=5)
    assert traffic.send(system.intake.url, system.intake_key, traffic.plan()).rejected == 0
    assert traffic.report_differences(system.metrics.url, system.metrics_key) == []
    wanted = referenced_series()
    assert {"dossier_pending", "dossier_agency_info", "processing_consumer_lag_messages"} <= wanted
    samples = exposed_samples(system)
    assert wanted - {sample.name for sample in samples} - ONLY_WITH_THE_PUSH_WORKER == set()
    # declared by processing all the same (a labelled gauge without samples until the worker sets them)
    declared = httpx.get(f"{system.processing.url}/metrics", timeout=30).text
    for name in ONLY_WITH_THE_PUSH_WORKER:
        assert f"# TYPE {name} gauge" in declared, name
    levels = {s.labels["level"] for s in samples if s.name == "dossier_agency_info"}
    assert levels and levels <= set(grafana_dashboard.level_texts(grafana_dashboard.load()))
