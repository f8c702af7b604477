"""End-to-end benchmark: the whole system on this machine, against a bare Kafka loop in the same run.

Measures (issue 7): sustained events/s from HTTP batch to visible in the report; latency p50/p99 from
POST to visible in /metrics at 500 and 2,000 events/s; the time to replay a quarter of 270,990
dossiers; CPU-seconds per 1,000 events and peak RSS per service; and the ratio of end-to-end
throughput to a bare aiokafka produce+consume loop of the same payloads. Results replace the
`## End to end` section of BENCHMARKS.md.

Usage: .venv/bin/python bench/bench_e2e.py [--quarter-dossiers 270990] [--sustained-dossiers 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.probes import LATENCY_METHOD, Usage, Watcher, latency_at, metric_total
from bench.record import machine_line, replace_section
from bench.replay import Stages, chart, in_order, shuffled
from dossier_contracts.event_codec import encode_event, event_to_proto
from dossier_core.catalog import default_catalog_dir, load_catalog
from dossier_core.periods import parse_period
from dossier_runtime.kafka import ensure_topics
from dossier_sim.__main__ import batches
from dossier_sim.expect import expected_rows, total
from dossier_sim.generator import ProvinceGenerator, SimulatedDossier
from dossier_sim.mix import DEFAULT_MIX, OutcomeMix
from dossier_sim.sender import IntakeSender
from tests.support import System, running_system

KAFKA = "127.0.0.1:9092"
#: as `make run` starts it (deploy/scripts/services.sh): one processing process per core
PROCESSING_INSTANCES = 2
DATABASE_URL = "postgresql://dossier:dossier@127.0.0.1:5432/dossier"
CATALOG = load_catalog(default_catalog_dir())


def say(message: str) -> None:
    print(f"[bench-e2e {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def generate(count: int, period: str, seed: int) -> list[SimulatedDossier]:
    say(f"generating {count:,} dossiers for {period}")
    gen = ProvinceGenerator(CATALOG, parse_period(period), OutcomeMix.parse(DEFAULT_MIX), seed=seed)
    return list(gen.dossiers(count))


# -- the bare baseline ----------------------------------------------------------------------------


async def bare_kafka_loop(events: list[dict[str, Any]]) -> float:
    """Produce the same protobuf payloads with an idempotent acks=all producer while one consumer
    reads them back; events/s from the first send to the last record read."""
    topic = f"bench.bare.{uuid.uuid4().hex[:8]}"
    await ensure_topics(KAFKA, {topic: 4})
    payloads = [(e["dossier_code"].encode(), encode_event(event_to_proto(e))) for e in events]
    producer = AIOKafkaProducer(
        bootstrap_servers=KAFKA, acks="all", enable_idempotence=True, linger_ms=2, max_batch_size=1024 * 1024
    )
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=KAFKA,
        group_id=f"bare-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await producer.start()
    await consumer.start()
    try:
        started = time.perf_counter()

        async def produce() -> None:
            for i in range(0, len(payloads), 1000):
                futures = [
                    await producer.send(topic, value, key=key) for key, value in payloads[i : i + 1000]
                ]
                await asyncio.gather(*futures)

        async def consume() -> None:
            seen = 0
            while seen < len(payloads):
                batch = await consumer.getmany(timeout_ms=500, max_records=5000)
                seen += sum(len(v) for v in batch.values())
                if batch:
                    await consumer.commit()

        await asyncio.gather(produce(), consume())
        return len(payloads) / (time.perf_counter() - started)
    finally:
        await consumer.stop()
        await producer.stop()


def received_in_report(system: System, period: str) -> int:
    r = httpx.get(
        f"{system.metrics.url}/v1/reports/dossiers",
        params={"period": period},
        headers={"Authorization": f"Bearer {system.metrics_key}"},
        timeout=60,
    )
    r.raise_for_status()
    return int(r.json()["total"]["received"]["total"])


def wait_report(system: System, period: str, want: int, timeout: float) -> tuple[float, float]:
    """Waits until the live counters have every dossier (a cheap poll: the report of a whole quarter
    is too costly to ask for twice a second), then asks the report once and checks it. Returns when
    the counters were complete and how long the report took."""
    deadline = time.monotonic() + timeout
    while metric_total(system) < want:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the counters did not reach {want} received dossiers within {timeout}s")
        time.sleep(0.25)
    complete = time.monotonic()
    got = received_in_report(system, period)
    if got != want:
        raise RuntimeError(f"the report has {got} received dossiers, expected {want}")
    return complete, time.monotonic() - complete


# -- the measurements ------------------------------------------------------------------------------


def sustained(system: System, dossiers: list[SimulatedDossier], period: str) -> tuple[float, Usage, int]:
    plan = batches(dossiers, 1000, duplicate=False, shuffle=False, seed=1)
    events = sum(map(len, plan))
    watcher = Watcher(system)
    started = time.monotonic()
    sent = asyncio.run(
        IntakeSender(system.intake.url, system.intake_key, concurrency=4).send(plan, lambda n: None)
    )
    assert sent.rejected == 0, sent.errors[:5]
    say(f"sent {events:,} events in {sent.seconds:.1f}s; waiting for the report")
    visible, _ = wait_report(system, period, len(dossiers), timeout=1800)
    usage = watcher.stop()
    return events / (visible - started), usage, events


CHART_NAME = "quarter-replay.png"


def verdict(ok: bool) -> str:
    return "meets" if ok else "**misses**"


def latency_rates(bare: float) -> tuple[int, ...]:
    """2,000 events/s and 10 % of the bare loop's rate in the same run."""
    return (2000, int(bare * 0.1))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sustained-dossiers", type=int, default=20_000)
    parser.add_argument("--quarter-dossiers", type=int, default=270_990)
    parser.add_argument("--latency-seconds", type=float, default=20.0)
    parser.add_argument("--no-record", action="store_true", help="print only; do not touch BENCHMARKS.md")
    args = parser.parse_args()

    results: dict[str, Any] = {}
    sustained_dossiers = generate(args.sustained_dossiers, "2021-Q2", seed=101)
    flat = [e for d in sustained_dossiers for e in d.events]
    say(f"bare Kafka produce+consume loop over {len(flat):,} events")
    results["bare"] = asyncio.run(bare_kafka_loop(flat))
    say(f"bare loop: {results['bare']:,.0f} events/s")

    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        with running_system(
            Path(tmp) / "sustained", KAFKA, DATABASE_URL, PROCESSING_INSTANCES, LOG_LEVEL="WARNING"
        ) as system:
            rate, usage, events = sustained(system, sustained_dossiers, "2021-Q2")
            results.update(sustained=rate, usage=usage, sustained_events=events)
            say(f"sustained: {rate:,.0f} events/s HTTP → report")
            for target in latency_rates(results["bare"]):
                p50, p99, achieved = latency_at(system, target, args.latency_seconds)
                results[f"lat{target}"] = (p50, p99, achieved)
                say(f"latency at {target}/s (achieved {achieved}/s): p50 {p50:.0f} ms, p99 {p99:.0f} ms")

        quarter = generate(args.quarter_dossiers, "2021-Q2", seed=1)
        want = total(expected_rows(quarter, CATALOG, parse_period("2021-Q2")).values()).received_total
        streams = {"in order": (in_order(quarter, 1000), 0)}
        streams["shuffled, 5% duplicates"] = shuffled(quarter, 1000, duplicates=0.05, seed=3)
        samples = {}
        for name, (plan, copies) in streams.items():
            with running_system(
                Path(tmp) / name.split(",")[0].replace(" ", "-"),
                KAFKA,
                DATABASE_URL,
                PROCESSING_INSTANCES,
                LOG_LEVEL="WARNING",
            ) as system:
                qevents = sum(map(len, plan))
                say(f"replaying the quarter {name}: {len(quarter):,} dossiers, {qevents:,} events")
                stages = Stages(system).start()
                sender = IntakeSender(system.intake.url, system.intake_key, concurrency=4)
                sent = asyncio.run(sender.send(plan, stages.add_accepted))
                assert sent.rejected == 0, sent.errors[:5]
                done, report_s = wait_report(system, "2021-Q2", want, timeout=3600)
                samples[f"{name}: {len(quarter):,} dossiers, {qevents:,} events"] = stages.stop()
                seconds = done - stages.started
                results[f"quarter {name}"] = (len(quarter), qevents, copies, seconds, sent.seconds, report_s)
                say(
                    f"quarter {name} replayed in {seconds:.0f}s (HTTP accepted all in {sent.seconds:.0f}s); "
                    f"its report took {report_s:.1f}s"
                )
        say(f"chart: {chart(samples)}")

    usage = results["usage"]
    per_k = {n: usage.cpu_s[n] / results["sustained_events"] * 1000 for n in usage.cpu_s}
    cpu_sum = sum(per_k.values())
    bare, rate = results["bare"], results["sustained"]
    lines = [
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {machine_line()}.",
        "All components real and on this machine: Kafka 4.1.1 (one KRaft node), PostgreSQL 15, the",
        f"services as processes (intake 1, processing {PROCESSING_INSTANCES} as `make run` starts them,"
        " metrics 1), the simulator as the HTTP client (4 connections, 1,000-event batches).",
        f"Chart of the quarter replays, events/s per stage: [{CHART_NAME}](bench/{CHART_NAME}).",
        "",
        "| measure | result | ratio to the bare loop | goal | |",
        "|---|---|---|---|---|",
        f"| bare aiokafka produce+consume loop, same payloads | {bare:,.0f} events/s | 1 | baseline | |",
        f"| sustained: HTTP batch → counted by metrics, report checked "
        f"({results['sustained_events']:,} events) | {rate:,.0f} events/s | {rate / bare:.2f} "
        f"| ≥ 10,000 events/s and ≥ 0.3× | {verdict(rate >= 10_000 and rate / bare >= 0.3)} |",
    ]
    for target in latency_rates(bare):
        p50, p99, achieved = results[f"lat{target}"]
        lines.append(
            f"| POST → visible in /metrics at {target:,} events/s (achieved {achieved:,}/s),"
            f" {LATENCY_METHOD} | p50 {p50:.0f} ms, p99 {p99:.0f} ms | {target / bare:.2f}"
            f" | p99 < 500 ms | {verdict(p99 < 500)} |"
        )
    for name, goal_s in (("in order", 120), ("shuffled, 5% duplicates", 240)):
        dossiers, events, copies, seconds, http_s, report_s = results[f"quarter {name}"]
        resent = f", {copies:,} of them resent copies" if copies else ""
        lines.append(
            f"| quarter replay {name}: {dossiers:,} dossiers, {events:,} events{resent}; first POST → exact"
            f" /metrics and report | {seconds:.0f} s ({events / seconds:,.0f} events/s; intake accepted all"
            f" in {http_s:.0f} s; the report took {report_s:.1f} s) | {events / seconds / bare:.2f} "
            f"| < {goal_s} s | {verdict(seconds < goal_s)} |"
        )
    for name in usage.cpu_s:
        lines.append(
            f"| {name}: CPU-seconds per 1,000 events / peak RSS | {per_k[name]:.3f} s / "
            f"{usage.peak_rss_mb[name]:.0f} MB | | | |"
        )
    lines.append(
        f"| CPU-seconds per 1,000 events, the three services summed | {cpu_sum:.3f} s | | ≤ 0.12 s "
        f"| {verdict(cpu_sum <= 0.12)} |"
    )
    text = "\n".join(lines)
    print(text)
    if not args.no_record:
        replace_section("End to end", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
