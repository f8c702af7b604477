"""Intake throughput and latency against a bare aiokafka producer loop, same broker, same run.

    python bench/bench_intake.py [--quick] [--no-record]

Starts `python -m dossier_intake` as a process on a private topic, then measures:
  1. bare loop: one idempotent acks=all aiokafka producer sending the same events, already encoded as
     protobuf, with `send()` + gather in chunks of 1,000 (the ceiling intake is compared to);
  2. batch endpoint: concurrent clients posting 1,000-event batches;
  3. single-event endpoint: concurrent clients posting one event per request;
  4. latency: single-event POSTs at a fixed 500 requests/s (open loop, latency measured from each
     request's scheduled start so a stall is not hidden).
The HTTP client is a minimal keep-alive HTTP/1.1 client on asyncio streams, to leave the CPU to the
service. Writes the figures to the `## Intake` section of BENCHMARKS.md (not with `--no-record`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load import closed_loop, fixed_rate, percentile
from bench.record import machine_line, replace_section
from dossier_contracts.event_codec import encode_event, event_to_proto
from dossier_runtime.api_keys import create_key
from dossier_runtime.kafka import ensure_topics
from tests.support import free_port

ROOT = Path(__file__).resolve().parents[1]
BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
AGENCIES = [f"000.00.{n:02d}.H49" for n in (1, 2, 10, 12, 14, 16)]
LIFECYCLE: list[tuple[str, dict[str, Any]]] = [
    ("dossier.received", {"procedure_code": "1.004194", "channel": "online", "applicant_type": 1}),
    ("dossier.processing", {"step": "Thẩm định"}),
    ("dossier.fee_requested", {"amount": 15000}),
    ("dossier.fee_paid", {}),
    ("dossier.resolved", {"result": "Đã cấp"}),
    ("dossier.returned", {}),
]
GOALS = {"batch": 10_000, "single": 2_000, "ratio": 0.5, "p99_ms": 50.0}


def events(count: int) -> list[dict[str, Any]]:
    """A realistic mix: each dossier goes through its lifecycle, dossiers spread over agencies."""
    out = []
    for i in range(count):
        agency = AGENCIES[(i // len(LIFECYCLE)) % len(AGENCIES)]
        event_type, data = LIFECYCLE[i % len(LIFECYCLE)]
        out.append(
            {
                "event_id": str(uuid.uuid4()),
                "type": event_type,
                "dossier_code": f"{agency}-250405-{(i // len(LIFECYCLE)) % 1_000_000:06d}",
                "agency_code": agency,
                "occurred_at": "2025-04-05T09:15:00+07:00",
                "data": data,
            }
        )
    return out


def start_intake(workdir: Path, topic: str) -> tuple[subprocess.Popen[bytes], int, str]:
    keys = workdir / "keys.csv"
    key = create_key(keys, "bench", "*.H49")
    port = free_port()
    env = dict(
        os.environ,
        KAFKA_BOOTSTRAP_SERVERS=BOOTSTRAP,
        INTAKE_PORT=str(port),
        INTAKE_API_KEYS_FILE=str(keys),
        INTAKE_EVENTS_TOPIC=topic,
        INTAKE_DLQ_TOPIC=topic + ".dlq",
        INTAKE_RATE_LIMIT_PER_S="0",
    )
    log = (workdir / "intake.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "dossier_intake"], env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return process, port, key
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"intake did not start; see {workdir / 'intake.log'}")
        time.sleep(0.2)


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


async def bare_loop(evs: list[dict[str, Any]], topic: str) -> float:
    now = datetime.now(UTC)
    records = [
        (e["dossier_code"].encode(), encode_event(event_to_proto(e, recorded_at=now, source="bench")))
        for e in evs
    ]
    producer = AIOKafkaProducer(
        bootstrap_servers=BOOTSTRAP,
        acks="all",
        enable_idempotence=True,
        linger_ms=2,
        max_batch_size=1024 * 1024,
    )
    await producer.start()
    try:
        await producer.send_and_wait(topic, records[0][1], key=records[0][0])  # metadata, connection
        started = time.perf_counter()
        for chunk in chunks(records, 1000):
            futures = [await producer.send(topic, value=v, key=k) for k, v in chunk]
            await asyncio.gather(*futures)
        return len(records) / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def run(quick: bool, record: bool = True) -> None:
    batch_events, single_events, rate_seconds = (20_000, 4_000, 4) if quick else (100_000, 20_000, 10)
    load_before = os.getloadavg()[0]
    suffix = uuid.uuid4().hex[:8]
    topic, bare_topic = f"bench.intake.{suffix}", f"bench.intake.bare.{suffix}"
    await ensure_topics(BOOTSTRAP, {topic: 12, bare_topic: 12})
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp:
        process, port, key = start_intake(Path(tmp), topic)
        try:
            warm = [orjson.dumps({"events": c}) for c in chunks(events(5_000), 1000)]
            await closed_loop(port, key, "/v1/events:batch", warm, 1000, 2)

            bare = await bare_loop(events(batch_events), bare_topic)
            print(f"bare aiokafka loop      {bare:10,.0f} events/s")
            bodies = [orjson.dumps({"events": c}) for c in chunks(events(batch_events), 1000)]
            batch = await closed_loop(port, key, "/v1/events:batch", bodies, 1000, 4)
            print(f"batch endpoint (x1000)  {batch:10,.0f} events/s  ({batch / bare:.2f} x bare)")
            singles = [orjson.dumps(e) for e in events(single_events)]
            single = await closed_loop(port, key, "/v1/events", singles, 1, 64)
            print(f"single-event endpoint   {single:10,.0f} events/s  (64 concurrent clients)")
            at_rate = [orjson.dumps(e) for e in events(500 * rate_seconds)]
            lat = await fixed_rate(port, key, at_rate, 500.0)
            p50, p99, worst = (percentile(lat, 50) * 1e3, percentile(lat, 99) * 1e3, lat[-1] * 1e3)
            print(f"single at 500 req/s     p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms")
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)

    if not record:
        return

    def verdict(ok: bool) -> str:
        return "meets" if ok else "misses"

    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    latency = f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms"
    rows = [
        ("date", stamp, "", ""),
        ("machine", machine_line(), "", ""),
        ("1-minute load average before the run (other work on the machine)", f"{load_before:.2f}", "", ""),
        ("bare aiokafka producer loop", f"{bare:,.0f} events/s", "", ""),
        (
            "batch endpoint, 1,000 events/request, 4 clients",
            f"{batch:,.0f} events/s",
            f"≥ {GOALS['batch']:,}",
            verdict(batch >= GOALS["batch"]),
        ),
        (
            "batch ÷ bare loop",
            f"{batch / bare:.2f}",
            f"≥ {GOALS['ratio']}",
            verdict(batch / bare >= GOALS["ratio"]),
        ),
        (
            "single-event endpoint, 64 clients",
            f"{single:,.0f} events/s",
            f"≥ {GOALS['single']:,}",
            verdict(single >= GOALS["single"]),
        ),
        (
            f"single-event latency at 500 req/s ({len(lat):,} requests)",
            latency,
            f"p99 < {GOALS['p99_ms']:.0f} ms",
            verdict(p99 < GOALS["p99_ms"]),
        ),
    ]
    table = "\n".join("| " + " | ".join(row) + " |" for row in rows)
    section = f"""## Intake

`bench/bench_intake.py` (`make bench-intake`): `python -m dossier_intake` as a process (one uvicorn
worker, uvloop, httptools) on a private 12-partition topic of the local single-node Kafka; events are
a mix of six lifecycle types over six Quảng Ninh agencies. The bare loop is one idempotent acks=all
aiokafka producer sending the same events already encoded as protobuf (`send()` + gather per
1,000). Clients are minimal keep-alive HTTP/1.1 connections on the same machine; the broker, the
service and the clients share its cores.{" Quick run (fewer events)." if quick else ""}

| measured | value | goal | |
|---|---|---|---|
{table}
"""
    replace_section("Intake", section.removeprefix("## Intake\n"))
    print("recorded in BENCHMARKS.md")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer events (a smoke run, still recorded)")
    parser.add_argument(
        "--no-record", action="store_true", help="print the figures only; leave BENCHMARKS.md as it is"
    )
    args = parser.parse_args()
    asyncio.run(run(args.quick, record=not args.no_record))


if __name__ == "__main__":
    main()
