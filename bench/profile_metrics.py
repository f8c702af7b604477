"""CPU per snapshot applied by the metrics projection, end to end of its consumer loop.

    .venv/bin/python bench/profile_metrics.py [--dossiers 5000] [--batch 500] [--cprofile out.prof]

1. Folds plausible dossier histories (`tests/unit/processing/processing_factory.py`, dossiers
   interleaved as on the events topic) into one `DossierStatusChanged` per version, as processing
   publishes them, and writes them to a private status topic (3 partitions, key = dossier code).
2. Replays that topic with the service's own consumer (`StatusConsumer.replay`: Kafka fetch, decode,
   store in PostgreSQL in a private schema with the offsets, live index), `--batch` records per
   poll, and reports process CPU and wall time per snapshot. `--cprofile FILE` profiles that
   replay only (the set-up is not in it); `py-spy record -f raw -- python bench/profile_metrics.py`
   works too. The topic and the schema are removed at the end.

`--direct` leaves Kafka out: the same snapshots, split over the partitions by key, go straight to
`Projector.apply` in polls of `--batch` records (everything of the consumer loop but the fetch).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import random
import sys
import time
import uuid
import zlib
from datetime import timedelta
from pathlib import Path

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "unit" / "processing"))

from processing_factory import interleave, stream  # noqa: E402

from dossier_contracts.snapshot_codec import dossier_to_snapshot, encode_snapshot  # noqa: E402
from dossier_contracts.upcast import decode  # noqa: E402
from dossier_core.catalog import Catalog, default_catalog_dir, load_catalog  # noqa: E402
from dossier_core.events import DossierEvent  # noqa: E402
from dossier_core.lifecycle import fold  # noqa: E402
from dossier_metrics.app import build_projection  # noqa: E402
from dossier_metrics.migrations import upgrade  # noqa: E402
from dossier_metrics.projector import Consumed  # noqa: E402
from dossier_metrics.settings import MetricsSettings  # noqa: E402
from dossier_runtime.kafka import ensure_topics  # noqa: E402

PARTITIONS = 3


def snapshots(catalog: Catalog, dossiers: int, seed: int) -> list[tuple[str, bytes]]:
    """(dossier code, snapshot) per event, in the interleaved order of the events, each snapshot the
    fold of its dossier's events so far."""
    calendar = catalog.calendar()
    histories = list(stream(dossiers, seed=seed))
    folded: dict[str, list[DossierEvent]] = {}
    out: list[tuple[str, bytes]] = []
    for seq, sent in enumerate(interleave(histories, random.Random(seed))):
        events = folded.setdefault(sent.dossier_code, [])
        events.append(decode(sent.raw, seq))
        dossier = fold(events, catalog)
        msg = dossier_to_snapshot(
            dossier,
            version=len(events),
            changed_at=sent.occurred_at + timedelta(seconds=2),
            field="lĩnh vực",
            calendar=calendar,
            last_event_id=sent.event_id,
        )
        out.append((sent.dossier_code, encode_snapshot(msg)))
    return out


async def produce(bootstrap: str, topic: str, messages: list[tuple[str, bytes]]) -> None:
    await ensure_topics(bootstrap, {topic: PARTITIONS})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key.encode()) for key, value in messages]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


Polls = list[dict[int, list[Consumed]]]


def polls(messages: list[tuple[str, bytes]], batch: int) -> Polls:
    """The messages as a consumer would poll them: split over the partitions by key, then up to
    `batch` records per poll taken from the partitions in turn."""
    queues: list[list[Consumed]] = [[] for _ in range(PARTITIONS)]
    for key, value in messages:
        queue = queues[zlib.crc32(key.encode()) % PARTITIONS]
        queue.append(Consumed(len(queue), value))
    share = max(1, batch // PARTITIONS)
    rounds = max(len(q) for q in queues) // share + 1
    out = [{p: q[r * share : (r + 1) * share] for p, q in enumerate(queues)} for r in range(rounds)]
    return [{p: records for p, records in poll.items() if records} for poll in out]


async def replay(
    settings: MetricsSettings, profile: cProfile.Profile | None, direct: Polls | None
) -> tuple[int, float, float]:
    """(messages, CPU seconds, wall seconds) of one replay into a fresh schema."""
    projection = build_projection(settings)
    try:
        await upgrade(projection.engine, settings.db_schema)
        for partition in range(PARTITIONS):
            await projection.projector.load_partition(partition)
        cpu, wall = time.process_time(), time.perf_counter()
        if profile is not None:
            profile.enable()
        if direct is None:
            count = await projection.consumer.replay()
        else:
            count = 0
            for poll in direct:
                for partition, records in poll.items():
                    await projection.projector.apply(settings.status_topic, partition, records)
                    count += len(records)
        if profile is not None:
            profile.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        async with projection.engine.begin() as conn:
            await conn.execute(text(f"drop schema {settings.db_schema} cascade"))
    finally:
        await projection.engine.dispose()
    return count, cpu, wall


async def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dossiers", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=500, help="METRICS_MAX_BATCH_RECORDS")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--runs", type=int, default=1, help="replays of the same topic, each into a fresh schema"
    )
    parser.add_argument("--cprofile", type=Path, help="write a cProfile of the (last) replay here")
    parser.add_argument("--direct", action="store_true", help="apply without Kafka (see above)")
    args = parser.parse_args()

    catalog = load_catalog(default_catalog_dir())
    messages = snapshots(catalog, args.dossiers, args.seed)
    suffix = uuid.uuid4().hex[:10]
    base = MetricsSettings(
        status_topic=f"dossier.status.v1.profile-{suffix}",
        status_topic_partitions=PARTITIONS,
        max_batch_records=args.batch,
        poll_timeout_ms=100,
    )
    direct = polls(messages, args.batch) if args.direct else None
    if not args.direct:
        await produce(base.kafka_bootstrap_servers, base.status_topic, messages)
    print(f"{len(messages)} snapshots of {args.dossiers} dossiers on {base.status_topic}", flush=True)
    try:
        for run in range(args.runs):
            settings = base.model_copy(update={"db_schema": f"profile_{suffix}_{run}"})
            profile = cProfile.Profile() if args.cprofile and run == args.runs - 1 else None
            count, cpu, wall = await replay(settings, profile, direct)
            print(
                f"run {run + 1}: {count} snapshots, batch {args.batch}: "
                f"{cpu / count * 1e6:.0f} µs CPU and {wall / count * 1e6:.0f} µs wall per snapshot",
                flush=True,
            )
            if profile is not None:
                profile.dump_stats(args.cprofile)
    finally:
        if not args.direct:
            admin = AIOKafkaAdminClient(bootstrap_servers=base.kafka_bootstrap_servers)
            await admin.start()
            try:
                await admin.delete_topics([base.status_topic])
            finally:
                await admin.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
