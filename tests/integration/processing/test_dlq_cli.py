"""`dossier-processing dlq list|replay` as an operator runs it, against the real Kafka: dead letters
listed by reason and time, then the ones whose cause was fixed (a limit raised) replayed and applied."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from processing_factory import START, event, with_id
from processing_harness import produce, read_topic, running_app, scalar, wait_until

from dossier_core.calendar import VN_TZ
from dossier_processing.settings import ProcessingSettings

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
A = "000.00.18.H49-250303-0001"
B = "000.00.18.H49-250303-0002"


async def cli(s: ProcessingSettings, *args: str) -> tuple[int, str, str]:
    env = dict(
        os.environ,
        KAFKA_BOOTSTRAP_SERVERS=s.kafka_bootstrap_servers,
        PROCESSING_EVENTS_TOPIC=s.events_topic,
        PROCESSING_DLQ_TOPIC=s.dlq_topic,
        PROCESSING_LOG_LEVEL="WARNING",
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dossier_processing",
        "dlq",
        *args,
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_list_by_reason_and_time_then_replay_after_the_limit_is_raised(
    processing_settings: ProcessingSettings,
) -> None:
    s = processing_settings.model_copy(update={"dossier_event_limit": 3})
    history = [event("received", A, START, procedure_code="1.004194", channel="direct")] + [
        event("processing", A, START + timedelta(hours=n), step=f"bước {n}") for n in range(1, 5)
    ]
    other = event("received", B, START, procedure_code="1.004194", channel="online")
    conflict = with_id(event("processing", B, START + timedelta(hours=1)), other.event_id)
    await produce(s, [*history, other, conflict, (B.encode(), b"\xffnot an event")])
    async with running_app(s):
        await wait_until(lambda: _dead_letters(s, 4), what="four dead letters")
    before = datetime.now(VN_TZ) - timedelta(days=1)

    code, out, err = await cli(s, "list")
    assert code == 0, err
    assert "4 dead letters (by reason: dossier_event_limit 2, event_id_conflict 1, undecodable 1)" in out
    lines = [line for line in out.splitlines() if " dlq " in line]
    assert len(lines) == 4 and sum(f"event {e.event_id}" in line for line in lines for e in history[3:]) == 2
    assert "scanned 4/4 dead letters, 4 selected" in err

    _, out, _ = await cli(
        s, "list", "--reason", "event_id_conflict", "--reason", "undecodable", "--limit", "1"
    )
    assert "2 dead letters (by reason: event_id_conflict 1, undecodable 1)" in out and "… and 1 more" in out
    _, out, _ = await cli(s, "list", "--since", "1h")
    assert "4 dead letters" in out
    _, out, _ = await cli(s, "list", "--until", before.isoformat())
    assert "0 dead letters (by reason: none)" in out
    _, out, _ = await cli(s, "list", "--since", (datetime.now(VN_TZ) + timedelta(hours=1)).isoformat())
    assert "0 dead letters" in out

    code, out, err = await cli(s, "replay", "--reason", "dossier_event_limit", "--dry-run")
    assert code == 0, err
    assert f"would replay to {s.events_topic}: 2 dead letters (by reason: dossier_event_limit 2)" in out
    assert len(await read_topic(s.kafka_bootstrap_servers, s.events_topic)) == 8  # nothing sent

    code, out, err = await cli(s, "replay", "--reason", "dossier_event_limit", "--since", "1h")
    assert code == 0, err
    assert f"replayed to {s.events_topic}: 2 dead letters" in out and "2 replayed" in err
    replayed = (await read_topic(s.kafka_bootstrap_servers, s.events_topic))[8:]
    assert sorted((m.key, m.value) for m in replayed) == sorted((A.encode(), e.raw) for e in history[3:])
    assert all(dict(m.headers)["dlq-replay-of"].startswith(s.dlq_topic.encode()) for m in replayed)

    raised = s.model_copy(update={"dossier_event_limit": 10})
    async with running_app(raised):
        await wait_until(lambda: _event_count(s, A, 5), what="the replayed events applied")
    code, out, _ = await cli(s, "list")
    assert "4 dead letters" in out  # the dead-letter topic is a log: replaying adds, never removes


async def _dead_letters(s: ProcessingSettings, n: int) -> bool:
    return len(await read_topic(s.kafka_bootstrap_servers, s.dlq_topic)) >= n


async def _event_count(s: ProcessingSettings, code: str, n: int) -> bool:
    return await scalar(s, "select event_count from dossiers where dossier_code = $1", code) == n


async def test_help_and_a_bad_time_are_explained(processing_settings: ProcessingSettings) -> None:
    code, out, _ = await cli(processing_settings, "replay", "--help")
    assert code == 0 and "--dry-run" in out and "--reason REASON" in out and "dossier_event_limit" in out
    code, _, err = await cli(processing_settings, "list", "--since", "yesterday")
    assert code == 2 and "neither an ISO 8601 instant" in err
    code, _, err = await cli(processing_settings, "replay")
    assert code == 2 and "--reason" in err
    unreachable = processing_settings.model_copy(update={"kafka_bootstrap_servers": "127.0.0.1:1"})
    code, _, err = await cli(unreachable, "list")
    assert code == 1 and "Kafka at 127.0.0.1:1" in err and "Traceback" not in err
