"""The Prometheus side: promtool validates the config and unit-tests every rule, and a real
Prometheus scraping a running metrics service answers every query of the Grafana dashboard, with the
`level` and `agency` variables on All and on a selection, the agency variable lists the level's
agencies by name, and the worklist table holds the agencies with the most overdue dossiers."""

from __future__ import annotations

import asyncio
import re
import subprocess
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import yaml
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from dossier_core.catalog import Catalog
from dossier_metrics.app import create_app
from dossier_metrics.settings import MetricsSettings
from tests import grafana_dashboard
from tests.support import ROOT, free_port

pytestmark = pytest.mark.integration

PROM = ROOT / "deploy" / "prometheus"
Produce = Callable[[list[tuple[str, bytes]]], Awaitable[None]]


def _rules(kind: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in sorted((PROM / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            out.extend(rule for rule in group["rules"] if kind in rule)
    return out


def test_promtool_checks_the_config_and_unit_tests_every_rule() -> None:
    check = subprocess.run(
        ["promtool", "check", "config", str(PROM / "prometheus.yml")], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    tests = sorted(str(p) for p in (PROM / "tests").glob("*.yml"))
    run = subprocess.run(["promtool", "test", "rules", *tests], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    tested = "\n".join(Path(p).read_text() for p in tests)
    runbook = (ROOT / "docs" / "runbook.md").read_text()
    for alert in _rules("alert"):
        name = alert["alert"]
        assert f"alertname: {name}" in tested, f"{name} has no promtool test"
        assert alert.get("for") and alert["labels"]["severity"] in ("warning", "critical")
        anchor = alert["annotations"]["runbook"].split("#", 1)[1]
        assert f"## {name}" in runbook and anchor == name.lower()
    for rule in _rules("record"):
        assert f"expr: {rule['record']}" in tested, f"{rule['record']} has no promtool test"


def dashboard_queries() -> list[str]:
    dashboard = grafana_dashboard.load()
    exprs = [t.expr for t in grafana_dashboard.targets(dashboard)]
    assert exprs
    return [*exprs, grafana_dashboard.agency_variable_query(dashboard)]


@pytest.fixture
def processing_stub() -> Iterator[int]:
    """Processing's two pipeline gauges, which the dashboard and alerts read (processing itself is
    another service; its real /metrics is tested there)."""
    registry = CollectorRegistry()
    Gauge("processing_consumer_lag_messages", "records behind", ["partition"], registry=registry).labels(
        "0"
    ).set(3)
    Gauge("processing_outbox_backlog", "unpublished snapshots", registry=registry).set(0)
    port = free_port()
    server, thread = start_http_server(port, "127.0.0.1", registry)
    yield port
    server.shutdown()
    thread.join(5)


async def _serve(settings: MetricsSettings) -> AsyncIterator[None]:
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=settings.port, log_config=None)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "metrics service did not start"
        await asyncio.sleep(0.05)
    try:
        yield
    finally:
        server.should_exit = True
        await task


def _prometheus_config(metrics_port: int, processing_port: int) -> str:
    return yaml.safe_dump(
        {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(PROM / "rules" / "recording.yml"), str(PROM / "rules" / "alerts.yml")],
            "scrape_configs": [
                {
                    "job_name": "dossier-metrics",
                    "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}],
                },
                {
                    "job_name": "dossier-processing",
                    "static_configs": [{"targets": [f"127.0.0.1:{processing_port}"]}],
                },
            ],
        }
    )


async def _query(client: httpx.AsyncClient, expr: str, at: float | None = None) -> list[Any]:
    params = {"query": expr} if at is None else {"query": expr, "time": str(at)}
    response = await client.get("/api/v1/query", params=params)
    body = response.json()
    assert body["status"] == "success", (expr, body)
    result: list[Any] = body["data"]["result"]
    return result


async def test_prometheus_scrapes_the_service_and_every_dashboard_query_has_data(
    catalog: Catalog,
    settings: MetricsSettings,
    produce: Produce,
    processing_stub: int,
    stream_builder: Callable[..., Any],
    wait: Callable[..., Awaitable[None]],
) -> None:
    stream = stream_builder(catalog, dossiers=60, stale=0)
    half = len(stream.messages) // 2
    await produce(stream.messages[:half])
    settings = settings.model_copy(update={"port": free_port()})
    web_port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "prometheus.yml"
        config.write_text(_prometheus_config(settings.port, processing_stub))
        serving = _serve(settings)
        await serving.__anext__()
        prometheus = subprocess.Popen(  # noqa: ASYNC220 - starts and returns at once
            [
                "prometheus",
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp}/data",
                f"--web.listen-address=127.0.0.1:{web_port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(Path(tmp) / "prometheus.log").open("wb"),
        )
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{web_port}", timeout=5) as client:

                async def scraped() -> bool:
                    try:
                        found = await _query(client, 'count_over_time(up{job="dossier-metrics"}[1m]) >= 2')
                    except (httpx.HTTPError, ValueError):  # not listening yet, or 503 while starting
                        return False
                    return bool(found)

                await wait(scraped, 60)
                # more snapshots while Prometheus watches, so increases and 7-day ratios are non-zero
                await produce(stream.messages[half:])
                await asyncio.sleep(4)

                async def ratio_recorded() -> bool:
                    return bool(await _query(client, "agency:dossier_resolved_late:ratio7d"))

                await wait(ratio_recorded, 30)
                await _check_dashboard(client, catalog)
                up = await _query(client, 'up{job="dossier-metrics"}')
                assert up[0]["value"][1] == "1"
                agencies = await _query(client, "count(dossier_agency_info)")
                assert int(agencies[0]["value"][1]) == len(catalog.agencies)
        finally:
            prometheus.terminate()
            prometheus.wait(10)
            with pytest.raises(StopAsyncIteration):
                await serving.__anext__()


async def _check_dashboard(client: httpx.AsyncClient, catalog: Catalog) -> None:
    """Every query of the dashboard has data with both variables on All; the agency variable lists a
    level's agencies by name; with that level and all its agencies selected (as Grafana writes a
    multi-value selection) every panel has data and shows only the selection; the worklist table
    holds the agencies with the most overdue dossiers."""
    dashboard = grafana_dashboard.load()
    names = {code: agency.name for code, agency in catalog.agencies.items()}
    empty = []
    for t in grafana_dashboard.targets(dashboard):
        result = await _query(client, grafana_dashboard.interpolate(t.expr))
        if not result:
            empty.append((t.title, t.target["refId"]))
        _check_labels(t, result, names, grafana_dashboard.level_texts(dashboard))
    assert not empty, f"dashboard queries without data: {empty}"

    level = await _level_with_data(client)
    in_level = {c: a.name for c, a in catalog.agencies.items() if a.level.value == level}
    variable = grafana_dashboard.interpolate(grafana_dashboard.agency_variable_query(dashboard), [level])
    assert grafana_dashboard.agency_options(dashboard, await _query(client, variable)) == in_level
    selected = sorted(in_level)
    for panel in grafana_dashboard.panels(dashboard):
        shown: list[Any] = []
        for target in panel["targets"]:
            t = grafana_dashboard.Target(panel, target)
            result = await _query(client, grafana_dashboard.interpolate(t.expr, [level], selected))
            _check_labels(t, result, in_level, grafana_dashboard.level_texts(dashboard), level)
            shown += result
        assert shown, f"{panel['title']}: no data for level {level}"
    await _check_worklist(client, dashboard)


def _check_labels(
    t: grafana_dashboard.Target,
    result: list[Any],
    names: dict[str, str],
    level_texts: dict[str, str],
    level: str | None = None,
) -> None:
    """Every series is of an agency shown (by its catalog name) and of the level asked."""
    for series in result:
        labels = series["metric"]
        if "agency" in labels:
            assert labels["agency"] in names, (t.title, labels)
            if "name" in labels or "{{name}}" in t.target.get("legendFormat", ""):
                assert labels.get("name") == names[labels["agency"]], (t.title, labels)
        if "level" in labels:
            assert labels["level"] in level_texts and labels["level"] == (level or labels["level"]), t.title
        if "level_name" in labels or "{{level_name}}" in t.target.get("legendFormat", ""):
            assert labels.get("level_name") == level_texts[labels["level"]], (t.title, labels)


async def _level_with_data(client: httpx.AsyncClient) -> str:
    """A level with overdue dossiers and dossiers resolved while Prometheus watched (so that the
    7-day ratio has a value), the first by name."""
    by_level = "* on (agency) group_left (level) max by (agency, level) (dossier_agency_info)"
    levels = await _query(
        client,
        f"count by (level) (agency:dossier_resolved_late:ratio7d {by_level}) and on (level) "
        f'(sum by (level) (dossier_pending{{state="overdue"}} {by_level}) > 0)',
    )
    assert levels, "no level has both overdue and recently resolved dossiers"
    return str(min(series["metric"]["level"] for series in levels))


async def _check_worklist(client: httpx.AsyncClient, dashboard: dict[str, Any]) -> None:
    """The worklist's first query holds the agencies with the most overdue dossiers (none without),
    and its other columns only those agencies (all read at one instant)."""
    worklist = grafana_dashboard.panels(dashboard)[0]
    assert worklist["title"] == "Cơ quan có nhiều hồ sơ quá hạn nhất"
    first, *columns = [grafana_dashboard.interpolate(t["expr"]) for t in worklist["targets"]]
    at = float((await _query(client, "time()"))[0])  # one instant for every query below
    rows = {s["metric"]["agency"]: float(s["value"][1]) for s in await _query(client, first, at)}
    overdue = {
        s["metric"]["agency"]: float(s["value"][1])
        for s in await _query(client, 'sum by (agency) (dossier_pending{state="overdue"})', at)
    }
    assert rows and all(count > 0 for count in rows.values())
    assert all(rows[agency] == overdue[agency] for agency in rows)
    left_out = [count for agency, count in overdue.items() if agency not in rows]
    assert max(left_out, default=0) <= min(rows.values())
    assert len(rows) == min(20, sum(1 for count in overdue.values() if count > 0))
    for expr in columns:
        assert {s["metric"]["agency"] for s in await _query(client, expr, at)} <= set(rows)


def test_dashboard_uses_only_known_series() -> None:
    known = {"up", "time"} | {r["record"] for r in _rules("record")}
    known |= {
        "dossier_received_total",
        "dossier_resolved_total",
        "dossier_withdrawn_total",
        "dossier_refused_total",
        "dossier_rescheduled_total",
        "dossier_pending",
        "dossier_due_soon",
        "dossier_agency_info",
        "dossier_projection_last_event_timestamp_seconds",
        "processing_consumer_lag_messages",
        "processing_outbox_backlog",
    }
    for expr in dashboard_queries():
        names = set(re.findall(r"\b((?:agency:)?dossier_[a-z_:0-9]+|up)\b", expr))
        assert names <= known, (expr, names - known)
