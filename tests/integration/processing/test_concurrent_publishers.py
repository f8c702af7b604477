"""Concurrent publishers under `kill -9`: two processing processes, each with a consumer, an outbox relay
and a push worker, on one schema, deliver to a fake portal (slow, refusing some batches) while a few
thousand events of hundreds of dossiers stream in. Mid-stream the relay's leader — and with it one push
worker — is killed and started again, then the new leader too. The first kill falls where each worker
is most fragile: the relay has published a round but not yet marked it sent, and the portal has taken
the push worker's batch but not yet answered. The second falls wherever the stream is.

What actually arrived is then held against processing (`publication_faults.py`):
- `dossier.status.v1`: every dossier's versions 1..n once each, in order on its partition, no gap, n
  its stored version, the last payload its stored snapshot;
- the portal (docs/processing.md: the push worker sends a dossier's latest version, so versions may be
  skipped): per dossier the versions it took strictly increase, none twice, the last is processing's
  version and its record what the change feed serves. The one exception the contract names: a batch
  a worker had in flight when it was killed may have been taken without the worker recording it, so
  its records may be posted again."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from processing_factory import interleave, stream
from processing_harness import all_synced, db, events_stored, read_topic, scalar, wait_until
from publication_faults import Posted, Published, portal_faults, status_topic_faults
from publishers_harness import EventStream, Instance, WitnessPortal, instances
from test_portal_sync import serve

from dossier_contracts.snapshot_codec import decode_snapshot
from dossier_processing.relay.recovery import OUTBOX_ID
from dossier_processing.settings import ProcessingSettings

pytestmark = pytest.mark.integration


async def test_two_relays_and_two_push_workers_publish_each_version_once_through_kills(
    processing_settings: ProcessingSettings, processing_key: str, tmp_path: Path
) -> None:
    s = processing_settings
    histories = list(stream(700, seed=43))
    ordered = interleave(histories, random.Random(43))
    n = len(ordered)
    events = EventStream(s, ordered, gates=[n * 2 // 5, n * 3 // 4])  # each kill falls before a gate
    portal = WitnessPortal(seed=43)
    killed: list[str] = []
    async with serve(portal.app) as url:
        processes = list(instances(s, url + "/api/DongBoHoSoMC", tmp_path))
        try:
            for p in processes:
                await p.start()
            streaming = asyncio.create_task(events.run())
            await events.reached(n // 5)
            leader, standby = await _leader(processes)
            unmarked = await _kill_in_the_windows(s, leader, portal)
            killed.append(leader.token)
            await _take_over(standby, leader)
            events.go[0].set()

            await events.reached(n // 2)
            leader, standby = await _leader(processes)
            killed.append(await leader.kill())
            await _take_over(standby, leader)
            events.go[1].set()

            await streaming
            await wait_until(lambda: events_stored(s, n), what="every event applied")
            await wait_until(lambda: _outbox_settled(s), what="every snapshot published")
            await wait_until(lambda: all_synced(s), timeout_s=90, what="portal holds every latest version")
            feed = await _sync_feed(processes[0].process.url, processing_key)
        finally:
            portal.release()
            for p in processes:
                await p.stop()

    async with db(s) as conn:
        stored = {r["dossier_code"]: r for r in await conn.fetch("select * from dossiers")}
        parked = await conn.fetchval("select count(*) from outbox where parked_at is not null")
    versions = {code: int(r["version"]) for code, r in stored.items()}
    records = await read_topic(s.kafka_bootstrap_servers, s.status_topic)

    # the run did what it is meant to test
    assert len(versions) == len(histories) and parked == 0
    assert sum(versions.values()) > 2 * len(versions), "too few versions per dossier to test their order"
    assert unmarked, "the first kill did not fall between publishing a round and marking it sent"
    assert set(killed) <= set(portal.senders), "a killed push worker never posted"

    # dossier.status.v1: 1..n once each, in order, no gap; the last one processing's snapshot
    assert status_topic_faults(map(_published, records), versions) == []
    outbox_ids = Counter(int(dict(r.headers)[OUTBOX_ID]) for r in records)
    assert {i: outbox_ids[i] for i in unmarked} == dict.fromkeys(unmarked, 1)  # recovered, not re-sent
    last = {r.key.decode(): r.value for r in sorted(records, key=lambda r: r.offset)}
    assert {c: bytes(r["snapshot"]) for c, r in stored.items()} == last

    # the portal: increasing versions, none taken twice, the last one processing's (as the feed serves it)
    in_flight = {r for r in map(portal.last_request_of, killed) if r is not None}
    assert portal_faults(portal.sent, portal.taken, versions, in_flight) == []
    assert {code: portal.records.get((code, v)) for code, v in versions.items()} == feed
    in_flight_codes = {p.dossier_code for p in portal.sent if p.request in in_flight}
    assert set(portal.overlaps) <= in_flight_codes, "a dossier was in two live requests at once"


async def _leader(processes: list[Instance]) -> tuple[Instance, Instance]:
    """(the instance whose relay publishes, the other); waits for one, and two at once would mean the
    election failed."""
    leaders: list[Instance] = []

    async def found() -> bool:
        leaders[:] = [p for p in processes if await p.published()]
        return bool(leaders)

    await wait_until(found, what="a relay publishing")
    assert len(leaders) == 1, "two relays published at once: the election failed"
    return leaders[0], next(p for p in processes if p is not leaders[0])


async def _kill_in_the_windows(s: ProcessingSettings, leader: Instance, portal: WitnessPortal) -> list[int]:
    """kill -9 `leader` once its relay has published a round and waits to mark it sent (the test holds
    the `relay_positions` rows the relay writes in that transaction) and the portal has taken a batch
    of its push worker without answering. Returns the outbox ids on the topic but unsent when it died."""
    portal.hold_next_from(leader.token)
    async with db(s) as conn, conn.transaction():
        await conn.execute("select * from relay_positions for update")
        holder = await conn.fetchval("select pg_backend_pid()")
        await wait_until(lambda: _relay_waits_for(s, holder), what="the relay waiting to mark a round")
        await wait_until(portal.holding, what="the portal holding a taken batch")
        await leader.kill()
        unmarked = await _unsent_on_topic(s, conn)
    portal.release()
    return unmarked


async def _relay_waits_for(s: ProcessingSettings, holder: int) -> bool:
    return bool(
        await scalar(
            s,
            "select count(*) > 0 from pg_stat_activity"
            " where $1 = any(pg_blocking_pids(pid)) and query like '%relay_positions%'",
            holder,
        )
    )


async def _unsent_on_topic(s: ProcessingSettings, conn: asyncpg.Connection) -> list[int]:
    on_topic = [
        int(dict(r.headers)[OUTBOX_ID]) for r in await read_topic(s.kafka_bootstrap_servers, s.status_topic)
    ]
    rows = await conn.fetch("select id from outbox where id = any($1) and sent_at is null", on_topic)
    return [r["id"] for r in rows]


async def _take_over(standby: Instance, killed: Instance) -> None:
    """Wait until the standby's relay publishes, then start the killed instance again."""

    async def publishing() -> bool:
        return bool(await standby.published())

    await wait_until(publishing, what="the standby relay taking over")
    await killed.start()


async def _outbox_settled(s: ProcessingSettings) -> bool:
    return (await scalar(s, "select count(*) from outbox where sent_at is null and parked_at is null")) == 0


async def _sync_feed(url: str, key: str) -> dict[str, dict[str, Any]]:
    """What `GET /v1/sync/changes` serves now: every dossier's current record."""
    out: dict[str, dict[str, Any]] = {}
    cursor: str | None = None
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client:
        while True:
            params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/v1/sync/changes", params=params, timeout=30)).json()
            out.update((r["MaHoSo"], r) for r in page["data"])
            cursor = page["next_cursor"]
            if not page["has_more"]:
                return out


def _published(record: Any) -> Published:
    snapshot = decode_snapshot(record.value)
    return Published(
        record.partition,
        record.offset,
        record.key.decode(),
        int(dict(record.headers)["version"]),
        snapshot.dossier_code,
        snapshot.version,
    )


def test_the_checks_find_a_planted_duplicate_gap_and_reorder() -> None:
    """The checks above can fail: each planted fault is named, an honest run passes."""
    good = [Published(0, o, "X", v, "X", v) for o, v in enumerate((1, 2, 3))]
    assert status_topic_faults(good, {"X": 3}) == []
    for versions in ((1, 2, 2, 3), (1, 3), (1, 3, 2), (1, 2)):
        planted = [Published(0, o, "X", v, "X", v) for o, v in enumerate(versions)]
        assert status_topic_faults(planted, {"X": 3}), versions
    assert status_topic_faults([*good, Published(1, 0, "X", 4, "X", 4)], {"X": 4})  # two partitions
    assert status_topic_faults([Published(0, 0, "X", 1, "Y", 1)], {"X": 1})  # header ≠ payload

    sent = [Posted("X", 1, 0), Posted("X", 3, 1)]
    assert portal_faults(sent, sent, {"X": 3}) == []
    assert portal_faults(sent, [*sent, Posted("X", 3, 2)], {"X": 3})  # taken twice
    assert portal_faults(sent, [Posted("X", 3, 1), Posted("X", 1, 0)], {"X": 3})  # older after newer
    assert portal_faults(sent, sent[:1], {"X": 3})  # the latest version never arrived
    assert portal_faults([*sent, Posted("X", 2, 2)], sent, {"X": 3})  # an older version sent later
    # a request in flight at a kill (1) may be taken and posted again, or taken late; nothing else may
    again = [Posted("X", 1, 0), Posted("X", 2, 1), Posted("X", 2, 2), Posted("X", 3, 3)]
    assert portal_faults(again, again, {"X": 3}, in_flight_at_kill={1}) == []
    assert portal_faults(again, again, {"X": 3}, in_flight_at_kill={2}) == []
    assert portal_faults(again, again, {"X": 3})
    late = [Posted("X", 1, 0), Posted("X", 3, 2), Posted("X", 2, 1)]
    assert portal_faults(again, late, {"X": 3}, in_flight_at_kill={1}) == []
    assert portal_faults(again, late, {"X": 3})
    assert portal_faults(sent, [*sent, Posted("X", 9, 5)], {"X": 3}, in_flight_at_kill={5})
    recorded = [Posted("X", 1, 0), Posted("X", 3, 1)]  # the killed worker had recorded its last request
    assert portal_faults(recorded, recorded, {"X": 3}, in_flight_at_kill={1}) == []
