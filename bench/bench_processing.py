"""Processing throughput (consume → fold → upsert → outbox → commit) against a bare asyncpg COPY.

    python bench/bench_processing.py [--dossiers 50000] [--quick]

1. Generates a stream of plausible dossier histories (≥ 200,000 events over ≥ 50,000 dossiers, each
   dossier's events in order, dossiers interleaved) and writes it to a private topic (6 partitions).
2. Starts `python -m dossier_processing serve` as its own process (private schema, topics and consumer
   group; outbox relay on) and times from its first stored event to its last, sampling its RSS.
3. Baseline, same run and same machine: one asyncpg connection `copy_records_to_table` of the same event
   rows into a table shaped like `events` (same columns, primary key and index), in 10,000-row chunks.
Writes the `## Processing` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import psutil
from aiokafka import AIOKafkaProducer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "unit" / "processing"))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from domain_costs import pure_costs  # noqa: E402
from processing_factory import Sent, interleave, stream  # noqa: E402
from record import machine_line, replace_section  # noqa: E402

from dossier_runtime.kafka import ensure_topics  # noqa: E402
from tests.support import delete_topics  # noqa: E402

BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://dossier:dossier@127.0.0.1:5432/dossier")
GOALS = {"events_s": 10_000, "ratio": 0.25, "rss_mb": 300}
PARTITIONS = 6


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def produce(topic: str, events: list[Sent]) -> float:
    await ensure_topics(BOOTSTRAP, {topic: PARTITIONS})
    producer = AIOKafkaProducer(
        bootstrap_servers=BOOTSTRAP, acks="all", linger_ms=20, max_batch_size=256 * 1024
    )
    await producer.start()
    started = time.perf_counter()
    try:
        for i in range(0, len(events), 5000):
            futures = [
                await producer.send(topic, value=e.raw, key=e.dossier_code.encode())
                for e in events[i : i + 5000]
            ]
            await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return time.perf_counter() - started


async def count_events(conn: asyncpg.Connection, schema: str) -> int:
    try:
        return int(await conn.fetchval(f"select count(*) from {schema}.events"))
    except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
        return 0


async def run_service(schema: str, suffix: str, total: int, instances: int = 1) -> dict[str, float]:
    """Start `instances` processing processes in one consumer group (the first also relays the outbox)
    and time them from the first stored event to the last."""
    procs = []
    for i in range(instances):
        env = dict(
            os.environ,
            DATABASE_URL=DATABASE_URL,
            KAFKA_BOOTSTRAP_SERVERS=BOOTSTRAP,
            PROCESSING_PORT=str(free_port()),
            PROCESSING_DB_SCHEMA=schema,
            PROCESSING_EVENTS_TOPIC="bench.events" + suffix,
            PROCESSING_STATUS_TOPIC="bench.status" + suffix,
            PROCESSING_DLQ_TOPIC="bench.dlq" + suffix,
            PROCESSING_CONSUMER_GROUP="bench" + suffix,
            PROCESSING_TOPIC_PARTITIONS=str(PARTITIONS),
            PROCESSING_LOG_LEVEL="WARNING",
            PROCESSING_RUN_RELAY="true" if i == 0 else "false",
        )
        procs.append(
            subprocess.Popen(  # noqa: ASYNC220 - started once, before anything is timed
                [sys.executable, "-m", "dossier_processing", "serve"], env=env, cwd=ROOT
            )
        )
    watched = [psutil.Process(p.pid) for p in procs]
    conn = await asyncpg.connect(DATABASE_URL)
    peak_rss = 0
    first_at = last_at = 0.0
    cpu_before = 0.0

    def rss() -> int:
        return sum(w.memory_info().rss for w in watched)

    try:
        deadline = time.monotonic() + 900
        stored = 0
        while stored < total and time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            peak_rss = max(peak_rss, rss())
            stored = await count_events(conn, schema)
            now = time.perf_counter()
            if stored and not first_at:
                first_at = now
                cpu_before = sum(sum(w.cpu_times()[:2]) for w in watched)
            last_at = now
            for p in procs:
                if p.poll() is not None:
                    raise RuntimeError(f"processing exited with {p.returncode}")
        if stored < total:
            raise RuntimeError(f"only {stored} of {total} events stored in time")
        # the outbox relay drains behind the consumer; wait for it so the RSS covers both
        while await conn.fetchval(f"select count(*) from {schema}.outbox where sent_at is null"):
            peak_rss = max(peak_rss, rss())
            await asyncio.sleep(0.25)
        relay_done = time.perf_counter()
        cpu = sum(sum(w.cpu_times()[:2]) for w in watched) - cpu_before
        dossiers = int(await conn.fetchval(f"select count(*) from {schema}.dossiers"))
        outbox = int(await conn.fetchval(f"select count(*) from {schema}.outbox"))
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        await conn.close()
    # The first sample only says the first batch landed some time in the last 0.25 s.
    seconds = max(last_at - first_at, 1e-6) + 0.25
    return {
        "seconds": seconds,
        "events_s": total / seconds,
        "rss_mb": peak_rss / 2**20,
        "cpu_per_1000": cpu / total * 1000,
        "dossiers": dossiers,
        "outbox": outbox,
        "relay_lag_s": relay_done - last_at,
    }


async def copy_baseline(events: list[Sent], schema: str) -> float:
    rows = [
        (e.event_id, i, e.dossier_code, e.dossier_code.rsplit("-", 2)[0], e.type, e.occurred_at, e.raw, 0, i)
        for i, e in enumerate(events)
    ]
    conn = await asyncpg.connect(DATABASE_URL)
    try:
        await conn.execute(f"create table {schema}.copy_baseline (like {schema}.events including all)")
        started = time.perf_counter()
        for i in range(0, len(rows), 10_000):
            await conn.copy_records_to_table(
                "copy_baseline",
                schema_name=schema,
                records=rows[i : i + 10_000],
                columns=[
                    "event_id",
                    "seq",
                    "dossier_code",
                    "agency_code",
                    "type",
                    "occurred_at",
                    "payload",
                    "kafka_partition",
                    "kafka_offset",
                ],
            )
        return time.perf_counter() - started
    finally:
        await conn.close()


async def scenario(histories: list[list[Sent]], order: str, instances: int) -> dict[str, float]:
    """One measured run on a fresh topic and schema, with the bare COPY of the same rows after it."""
    suffix = "." + uuid.uuid4().hex[:8]
    schema = "bench_processing_" + suffix[1:]
    events = interleave(histories, random.Random(2021))
    if order == "shuffled":  # each dossier's events spread over the stream, later ones often first
        random.Random(2022).shuffle(events)
    total = len(events)
    print(f"[{order}, {instances} instance(s)] {total:,} events; writing them to the topic …", flush=True)
    await produce("bench.events" + suffix, events)
    result = await run_service(schema, suffix, total, instances)
    copy_s = await copy_baseline(events, schema)
    result.update(total=total, copy_s=copy_s, copy_rate=total / copy_s)
    result["ratio"] = result["events_s"] / result["copy_rate"]
    print(
        f"  {result['events_s']:,.0f} events/s, {result['cpu_per_1000']:.3f} CPU-s per 1,000 events,"
        f" peak RSS {result['rss_mb']:.0f} MB; bare COPY {result['copy_rate']:,.0f} rows/s;"
        f" ratio {result['ratio']:.2f}",
        flush=True,
    )
    conn = await asyncpg.connect(DATABASE_URL)
    await conn.execute(f"drop schema if exists {schema} cascade")
    await conn.close()
    await asyncio.to_thread(
        delete_topics, BOOTSTRAP, {f"bench.{name}{suffix}" for name in ("events", "status", "dlq")}
    )
    return result


#: (order, instances, goal in events/s): the goals of issue 12 are for the system as `make run` starts it
SCENARIOS = [("interleaved", 1, None), ("interleaved", 2, 10_000), ("shuffled", 2, 5_000)]


def verdict(ok: bool) -> str:
    return "meets" if ok else "**misses**"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, help="how many dossiers (default 52,000; 5,000 with --quick)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one scenario (--order, --instances), no BENCHMARKS.md update, 5,000 dossiers by default",
    )
    parser.add_argument("--instances", type=int, default=2, help="processing processes (one group), --quick")
    parser.add_argument("--order", choices=["interleaved", "shuffled"], default="interleaved", help="--quick")
    args = parser.parse_args()
    n = args.dossiers or (5_000 if args.quick else 52_000)
    print(f"generating {n:,} dossier histories …", flush=True)
    histories = list(stream(n, seed=2021))
    if args.quick:
        await scenario(histories, args.order, args.instances)
        return
    results = [(order, k, goal, await scenario(histories, order, k)) for order, k, goal in SCENARIOS]
    events = interleave(histories, random.Random(2021))
    costs = pure_costs(events, histories)
    rows = [
        f"| date | {datetime.now(UTC):%Y-%m-%d %H:%M} UTC | | |",
        f"| machine | {machine_line()} | | |",
    ]
    for order, k, goal, r in results:
        rate = r["events_s"]
        goal_text = f"≥ {goal:,} events/s and ≥ 0.25× COPY" if goal else "—"
        ok = verdict(rate >= goal and r["ratio"] >= GOALS["ratio"]) if goal else ""
        rows.append(
            f"| {order}, {k} instance{'s' if k > 1 else ''}: {r['total']:,} events in {r['seconds']:.1f} s"
            f" | **{rate:,.0f} events/s**, {r['ratio']:.2f}× the bare COPY ({r['copy_rate']:,.0f} rows/s);"
            f" {r['cpu_per_1000']:.3f} CPU-s per 1,000 events; peak RSS {r['rss_mb']:.0f} MB;"
            f" {r['dossiers']:,} dossiers, {r['outbox']:,} snapshots; relay done {r['relay_lag_s']:.1f} s"
            f" after the consumer | {goal_text} | {ok} |"
        )
    rows.append(
        f"| pure domain cost, one core | decode {costs['decode']:.0f} µs/event; fold of a whole history"
        f" ({costs['per_dossier']:.1f} events) {costs['fold']:.0f} µs; snapshot {costs['snapshot']:.0f} µs"
        " | | |"
    )
    body = f"""
`bench/bench_processing.py`: {results[0][3]["total"]:,} events over {n:,} dossiers (plausible histories),
written to a private 6-partition topic, then consumed by `python -m dossier_processing serve` as 1 or 2
processes in one consumer group (the first relays the outbox), timed from the first stored event to the
last. **Interleaved**: each dossier's events in order, dossiers interleaved. **Shuffled**: the same
events in a random order over the whole stream, so a dossier's later events often arrive before its
earlier ones. Bare baseline in the same run, after each scenario: one asyncpg connection
`copy_records_to_table` of the same event rows into a table shaped like `events` (same columns, primary
key and index), 10,000 rows per COPY. The service does much more per event than the COPY: decode,
dedupe, fold, compute deadlines, write the dossier row and its outbox snapshot, and publish it.

| measured | value | goal | |
|---|---|---|---|
{chr(10).join(rows)}
"""
    replace_section("Processing", body)
    print("BENCHMARKS.md updated")


if __name__ == "__main__":
    asyncio.run(main())
