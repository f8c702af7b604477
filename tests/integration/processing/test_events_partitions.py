"""The `events` table by month against the real PostgreSQL (and Kafka for the running service): the
migration of a populated table, events of any month in their partition, and `events archive|restore`
refusing what a dossier still needs, archiving what is safe, and restoring it."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka.errors import UnknownTopicOrPartitionError
from alembic import command
from processing_factory import Record, Sent, event, resent
from processing_harness import db, produce, read_topic, running_app, scalar, wait_until
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from dossier_core.calendar import VN_TZ
from dossier_core.catalog import load_catalog
from dossier_processing.bootstrap import create_engine
from dossier_processing.history import partitions
from dossier_processing.history.archive import Policy, archive, restore, survey
from dossier_processing.ingest import sql
from dossier_processing.ingest.consumer import apply_batch
from dossier_processing.ingest.decode import decode_messages
from dossier_processing.migrations import MIGRATIONS
from dossier_processing.settings import ProcessingSettings

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
NOW = datetime.now(VN_TZ)
COLUMNS = (
    "event_id, seq, dossier_code, agency_code, type, occurred_at, payload, kafka_partition, kafka_offset"
)


def at(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=VN_TZ)


def received(code: str, when: datetime) -> Sent:
    return event("received", code, when, procedure_code="1.004194", channel="direct")


@pytest.fixture
async def engine(processing_settings: ProcessingSettings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(processing_settings, pool_size=2)
    yield engine
    await engine.dispose()


async def apply(s: ProcessingSettings, engine: AsyncEngine, sent: Sequence[Sent]) -> None:
    incoming, rejected = decode_messages([Record(e.raw, offset=n) for n, e in enumerate(sent)])
    assert not rejected
    await apply_batch(engine, incoming, load_catalog(s.catalog_dir), NOW)


async def placement(s: ProcessingSettings) -> dict[str, str]:
    """Each stored event id → the partition holding it."""
    async with db(s) as conn:
        rows = await conn.fetch("select event_id, tableoid::regclass::text as part from events")
    return {r["event_id"]: r["part"] for r in rows}


def partition_of(when: datetime) -> str:
    return partitions.partition_name(partitions.month_of(when))


async def migrate(engine: AsyncEngine, schema: str, revision: str, *, down: bool = False) -> None:
    """Alembic to `revision`, on the service's migration runner's terms (lock, schema, version table)."""
    if not down:
        await MIGRATIONS.upgrade(engine, schema, revision)
        return

    def run(connection: Connection) -> None:
        connection.execute(text(f'set local search_path to "{schema}"'))
        config = MIGRATIONS.config(schema)
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


async def test_the_migration_keeps_every_row_of_a_populated_table_and_its_queries(
    processing_settings: ProcessingSettings, engine: AsyncEngine
) -> None:
    s = processing_settings
    await migrate(engine, s.db_schema, "head")
    code = "000.00.18.H49-210331-0001"
    # 23:30 on 31 March is March in Vietnam; 00:30 on 1 April is April there (and still March in UTC).
    sent = [
        received(code, at(2021, 3, 31, 23, 30)),
        event("processing", code, at(2021, 4, 1, 0, 30), step="thẩm định"),
        event("resolved", code, at(2021, 6, 2), result="cấp"),
        received("000.00.18.H49-991201-0001", at(2099, 12, 1)),
    ]
    await apply(s, engine, sent)
    stored = "select * from events order by event_id"
    async with db(s) as conn:
        before = await conn.fetch(stored)
        dossiers = await conn.fetch("select * from dossiers order by dossier_code")
    await migrate(engine, s.db_schema, "0002", down=True)  # the table as it was: one, unpartitioned
    assert await scalar(s, "select relkind::text from pg_class where oid = 'events'::regclass") == "r"
    assert await scalar(s, "select count(*) from events") == len(sent)

    await migrate(engine, s.db_schema, "head")

    async with db(s) as conn:
        assert await conn.fetch(stored) == before
        assert await conn.fetch("select * from dossiers order by dossier_code") == dossiers
        assert await conn.fetchval("select count(*) from event_ids") == len(sent)
        assert await conn.fetchval("select count(*) from events_default") == 0
    assert await placement(s) == {e.event_id: partition_of(e.occurred_at) for e in sent}
    assert {partition_of(e.occurred_at) for e in sent[:2]} == {"events_2021_03", "events_2021_04"}
    async with engine.connect() as conn:
        payloads = await sql.stored_payloads(conn, [e.event_id for e in sent] + ["never-sent"])
    assert payloads == {e.event_id: e.raw for e in sent}

    # The consumer goes on over the migrated rows: a duplicate changes nothing, and an earlier event
    # re-folds the dossier from its migrated history.
    earlier = event("processing", code, at(2021, 4, 20), step="phê duyệt")
    await apply(s, engine, [resent(sent[0]), earlier])
    assert await scalar(s, "select count(*) from events") == len(sent) + 1
    folded = "select status_code, event_count from dossiers where dossier_code = $1"
    async with db(s) as conn:
        assert tuple(await conn.fetchrow(folded, code)) == (9, 4)


async def test_events_of_any_month_land_in_their_month_partition(
    processing_settings: ProcessingSettings, engine: AsyncEngine
) -> None:
    s = processing_settings
    await MIGRATIONS.upgrade(engine, s.db_schema)
    instants = [at(2000, 1, 1, 0, 0), at(2019, 12, 31, 23, 59), at(2021, 4, 5), at(2099, 12, 31, 23, 0)]
    first = [received(f"000.00.18.H49-{t:%y%m%d}-0001", t) for t in instants]
    await apply(s, engine, first)  # no partition of these months yet: the DEFAULT one takes them
    assert set((await placement(s)).values()) == {partitions.DEFAULT_PARTITION}

    months = partitions.EventPartitions(engine, s.db_schema)
    created = await months.prepare(NOW, ahead=2)
    ahead = {partitions.next_month(partitions.month_of(NOW), n) for n in range(3)}
    assert set(created) == ahead | {partitions.month_of(t) for t in instants}
    assert await placement(s) == {e.event_id: partition_of(e.occurred_at) for e in first}

    later = [at(2021, 4, 30, 23, 59), at(2021, 5, 1, 0, 0), at(2035, 7, 15)]
    second = [received(f"000.00.18.H49-{t:%y%m%d}-0002", t) for t in later]
    assert await months.ensure(t for t in later) == [date(2021, 5, 1), date(2035, 7, 1)]
    assert await months.ensure(t for t in later) == []  # known: no query at all
    await apply(s, engine, second)
    assert await placement(s) == {e.event_id: partition_of(e.occurred_at) for e in [*first, *second]}
    assert await scalar(s, "select count(*) from events_default") == 0

    # A month of the current quarter is too recent to archive, whatever its dossiers.
    found = await survey(
        engine, s.db_schema, partitions.next_month(partitions.month_of(NOW)), Policy.of(s, NOW)
    )
    assert found[-1].month == partitions.month_of(NOW) and found[-1].too_recent is not None
    assert not found[-1].archivable


async def events_cli(s: ProcessingSettings, *args: str) -> tuple[int, str]:
    env = dict(
        os.environ,
        DATABASE_URL=s.database_url,
        PROCESSING_DB_SCHEMA=s.db_schema,
        PROCESSING_LOG_LEVEL="WARNING",
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dossier_processing", "events", *args,
        env=env, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def dead_letters(s: ProcessingSettings) -> dict[str, str]:
    """Each dead-lettered event id → its reason."""
    found = {}
    for record in await read_topic(s.kafka_bootstrap_servers, s.dlq_topic):
        headers = {k: v.decode() for k, v in record.headers}
        found[headers.get("dlq-event-id", "")] = headers["dlq-reason"]
    return found


async def test_archive_refuses_what_a_dossier_needs_archives_the_rest_and_restores_it(
    processing_settings: ProcessingSettings, processing_key: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    s = processing_settings
    store = tmp_path / "archive"
    done, still_open, recent, may = (f"000.00.18.H49-2103{d:02d}-0001" for d in (1, 2, 3, 4))
    history = {
        done: [received(done, at(2021, 3, 1)), event("resolved", done, at(2021, 3, 20), result="cấp")],
        still_open: [received(still_open, at(2021, 3, 25))],
        recent: [received(recent, at(2021, 3, 5)), event("resolved", recent, NOW - timedelta(days=10))],
        may: [received(may, at(2021, 5, 2)), event("resolved", may, at(2021, 5, 10), result="cấp")],
    }
    march = [e for code in (done, still_open, recent) for e in history[code][:1]] + history[done][1:]
    headers = {"Authorization": f"Bearer {processing_key}"}
    await produce(s, [e for events in history.values() for e in events])
    async with running_app(s) as client:
        await wait_until(lambda: _stored(s, 7), what="seven events")

        # Refused, naming the open dossier and the one that changed within the horizon; nothing moves.
        code, out = await events_cli(s, "archive", "--before", "2021-04", "--to", str(store))
        assert code == 1, out
        assert f"{still_open}: open" in out and f"{recent}: ended" in out and done not in out
        assert "refused" in out and not store.exists()
        assert await scalar(s, "select count(*) from events_2021_03") == len(march)

        # The open dossier ends (in April); the recent one still blocks under the configured horizon.
        await produce(s, [event("withdrawn", still_open, at(2021, 4, 2), reason="rút")])
        await wait_until(lambda: _stored(s, 8), what="the withdrawal")
        policy = Policy.of(s, NOW)
        lines: list[str] = []
        assert not await archive(engine, s.db_schema, date(2021, 4, 1), store, policy, lines.append)
        assert [line.strip().split(":")[0] for line in lines if line.startswith("    ")] == [recent]

        # With a horizon shorter than its last change, March is archived.
        short = Policy(NOW, refold_horizon_days=5, min_age_days=s.events_archive_min_age_days)
        assert await archive(engine, s.db_schema, date(2021, 4, 1), store, short, lines.append)
        assert (store / "events-2021-03.pgcopy").is_file() and (store / "events-2021-03.json").is_file()
        assert await scalar(s, "select to_regclass('events_2021_03') is null")
        assert await scalar(s, "select count(*) from events") == 8 - len(march)
        archived = await scalar(
            s, "select array_agg(dossier_code order by dossier_code) from archived_dossiers"
        )
        assert archived == sorted([done, still_open, recent])

        # The service still folds other dossiers and answers for every one; an archived dossier and an
        # archived event id are set aside, never applied on a partial history.
        late = event("processing", done, at(2021, 3, 10), step="thẩm định")
        again = resent(history[done][0])
        returned = event("returned", may, at(2021, 5, 12))
        await produce(s, [late, again, returned])
        await wait_until(lambda: _stored(s, 9 - len(march)), what="the May dossier's return")
        await wait_until(lambda: _dead(s, 2), what="two dead letters")
        assert await dead_letters(s) == {late.event_id: "archived", again.event_id: "archived"}
        assert (await client.get(f"/v1/dossiers/{may}", headers=headers)).json()["status"]["code"] == 10
        view = (await client.get(f"/v1/dossiers/{done}", headers=headers)).json()
        assert view["status"]["code"] == 9 and view["event_count"] == 2 and view["events"] == []

        # Restored: the month is back, its dossiers take events again, and a replayed event re-folds.
        month, rows = await restore(engine, s.db_schema, store / "events-2021-03.pgcopy")
        assert (month, rows) == (date(2021, 3, 1), len(march))
        assert await scalar(s, "select count(*) from archived_dossiers") == 0
        assert {e.event_id: partition_of(e.occurred_at) for e in march}.items() <= (
            await placement(s)
        ).items()
        await produce(s, [late])
        await wait_until(lambda: _event_count(s, done, 3), what="the late event re-folding the dossier")
        view = (await client.get(f"/v1/dossiers/{done}", headers=headers)).json()
        assert [e["event_id"] for e in view["events"]] == [
            history[done][0].event_id,
            late.event_id,
            history[done][1].event_id,
        ]


async def _stored(s: ProcessingSettings, n: int) -> bool:
    return bool(await scalar(s, "select count(*) from events") == n)


async def _dead(s: ProcessingSettings, n: int) -> bool:
    try:
        return len(await dead_letters(s)) >= n
    except UnknownTopicOrPartitionError:  # the service created the topic; the broker still learns it
        return False


async def _event_count(s: ProcessingSettings, code: str, n: int) -> bool:
    return bool(await scalar(s, "select event_count from dossiers where dossier_code = $1", code) == n)
