"""Two metrics instances on one store: exactly one exports the province-wide counters, summed from every
partition's stored counters whoever owns it, and the other takes over when it stops."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from dossier_core.catalog import Catalog
from dossier_metrics.counters import COUNTER_COLUMNS
from dossier_metrics.settings import MetricsSettings
from dossier_metrics.state import STATE

pytestmark = pytest.mark.integration

Wait = Callable[..., Awaitable[None]]


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://metrics", timeout=30)


async def _scrape(app: FastAPI) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    async with _client(app) as client:
        text = (await client.get("/metrics")).text
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def _received(samples: dict[str, dict[tuple[tuple[str, str], ...], float]]) -> dict[str, float]:
    """Received dossiers by agency, from one scrape (channels summed)."""
    out: dict[str, float] = {}
    for labels, value in samples.get("dossier_received_total", {}).items():
        agency = dict(labels)["agency"]
        out[agency] = out.get(agency, 0) + value
    return out


async def test_one_exporter_at_a_time_from_the_stored_totals(
    catalog: Catalog,
    settings: MetricsSettings,
    stream_builder: Callable[..., Any],
    run_app: Callable[..., Any],
    produce: Callable[[list[tuple[str, bytes]]], Awaitable[None]],
    wait: Wait,
) -> None:
    settings = settings.model_copy(update={"counter_exporter_retry_s": 0.2})
    stream = stream_builder(catalog, dossiers=80, stale=0)
    await produce(stream.messages)
    async with contextlib.AsyncExitStack() as first_stack, contextlib.AsyncExitStack() as second_stack:
        first = await first_stack.enter_async_context(run_app(settings))
        second = await second_stack.enter_async_context(run_app(settings))
        store = STATE.of_app(first).projection.store

        async def all_applied() -> bool:
            offsets = await store.stored_offsets(settings.status_topic, range(3))
            return sum(offsets.values()) >= len(stream.messages)

        await wait(all_applied, 60)
        stored = await store.counter_totals()
        expected = {a: float(sum(c[:3])) for a, c in stored.items() if sum(c[:3])}
        assert expected, "the stream received dossiers"
        scrapes = [await _scrape(first), await _scrape(second)]
        exporters = [s["metrics_counter_exporter"][()] for s in scrapes]
        assert sorted(exporters) == [0.0, 1.0]
        leader, other = (scrapes[0], scrapes[1]) if exporters[0] == 1.0 else (scrapes[1], scrapes[0])
        assert "dossier_received_total" not in other and "dossier_agency_info" not in other
        assert {a: v for a, v in _received(leader).items() if v} == expected
        # every counter column, not only `received`, is the store's sum over all partitions
        for column, name in enumerate(COUNTER_COLUMNS):
            if name.startswith("resolved_"):
                timeliness = name.removeprefix("resolved_")
                got = {
                    dict(k)["agency"]: v
                    for k, v in leader["dossier_resolved_total"].items()
                    if dict(k)["timeliness"] == timeliness and v
                }
                assert got == {a: c[column] for a, c in stored.items() if c[column]}
        # "4 tại chỗ" goes the same way: the stored totals of every partition, from the exporter alone
        on_site = COUNTER_COLUMNS.index("received_on_site")
        want = {a: float(c[on_site]) for a, c in stored.items() if c[on_site]}
        assert want, "the stream received dossiers on the spot"
        got = {dict(k)["agency"]: v for k, v in leader["dossier_received_on_site_total"].items() if v}
        assert got == want and "dossier_received_on_site_total" not in other

        # the exporter stops: the other instance takes over with the same totals
        remaining = second if exporters[0] == 1.0 else first
        await (first_stack if exporters[0] == 1.0 else second_stack).aclose()

        async def took_over() -> bool:
            return STATE.of_app(remaining).collector.exporter.leading  # type: ignore[union-attr]

        await wait(took_over, 30)
        after = await _scrape(remaining)
        assert after["metrics_counter_exporter"][()] == 1.0
        assert {a: v for a, v in _received(after).items() if v} == expected
