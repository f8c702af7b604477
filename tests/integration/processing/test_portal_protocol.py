"""The push worker against the fake portal adapter (`tests/fake_portal.py`, real HTTP), with the real
Kafka and PostgreSQL: login sessions that expire, per-record error codes (transient and permanent),
calls slower than the worker's timeout, 503s and a closed port. Each version of each dossier reaches
the portal once and in order, with the right `isUpdating`; its progress steps follow, each once; every
body is schema-valid; a permanently rejected dossier is parked with its reason until an operator
re-queues it (`dossier-processing portal requeue`)."""

from __future__ import annotations

import asyncio
import os
import random
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from processing_factory import AGENCIES, PROCEDURES, START, dossier_code, event, interleave, stream
from processing_harness import db, events_stored, produce, running_app, scalar, wait_until
from pydantic import SecretStr

from dossier_processing.settings import ProcessingSettings
from tests.fake_portal import PASSWORD, USERNAME, FakePortal

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


def _portal_settings(s: ProcessingSettings, portal: FakePortal, **extra: Any) -> ProcessingSettings:
    return s.model_copy(
        update={
            "portal_url": portal.url + "/api",
            "portal_login_url": portal.url + "/login",
            "portal_username": USERNAME,
            "portal_password": SecretStr(PASSWORD),
            "portal_timeout_s": 0.5,
            "portal_batch_size": 25,
            **extra,
        }
    )


async def _settled(s: ProcessingSettings, parked: set[str]) -> bool:
    """Whether every dossier but `parked` is fully synced (record and progress at its latest version)
    and every one of `parked` is parked at its latest version."""
    rows = await _states(s)
    return bool(rows) and all(
        (r["parked_at"] is not None and r["parked_version"] == r["version"])
        if r["dossier_code"] in parked
        else (r["synced_version"] == r["progress_version"] == r["version"] and r["parked_at"] is None)
        for r in rows
    )


async def _states(s: ProcessingSettings) -> list[Any]:
    async with db(s) as conn:
        return list(
            await conn.fetch(
                "select d.dossier_code, d.version, s.* from dossiers d"
                " left join sync_state s using (dossier_code) order by d.dossier_code"
            )
        )


async def test_each_version_once_in_order_through_sessions_errors_slowness_and_downtime(
    processing_settings: ProcessingSettings,
) -> None:
    histories = list(stream(120, seed=31))
    refused = {h[0].dossier_code for h in histories[::15]}  # the portal does not know their procedure
    portal = FakePortal(
        seed=31,
        session_calls=4,
        transient_rate=0.1,
        slow_every=9,
        down_every=7,
        reject=lambda service, item: (
            "11" if item["MaHoSo"] in refused and service == "DongBoHoSoMC" else None
        ),
    )
    events = interleave(histories, random.Random(31))
    third = len(events) // 3 + 1
    waves = [events[i : i + third] for i in range(0, len(events), third)]  # several versions each
    async with portal:
        s = _portal_settings(processing_settings, portal)
        async with running_app(s):
            await produce(s, waves[0])
            await wait_until(lambda: _some_synced(s), what="a first batch accepted")
            await portal.go_down()
            await produce(s, waves[1])
            await wait_until(
                lambda: _failed_with(s, "ConnectError"), timeout_s=30, what="a refused connection recorded"
            )
            await portal.come_back()
            await produce(s, waves[2])
            await wait_until(lambda: events_stored(s, len(events)), what="all events applied")
            await wait_until(
                lambda: _settled(s, refused), timeout_s=90, what="every dossier synced or parked"
            )
        states = {r["dossier_code"]: r for r in await _states(s)}

    # what a correct sender never does
    assert portal.violations == [], portal.violations[:5]
    assert portal.wrong_updating == []
    assert portal.regressions == []
    assert portal.repeated_steps == []
    # the faults did happen
    assert portal.logins > 1 and portal.expired_answers > 0
    assert portal.calls["slow"] > 0 and portal.calls["down"] > 0 and portal.transient_answers > 0
    assert portal.updating[False] > 0 and portal.updating[True] > 0
    # each latest version arrived, after the earlier ones, each once; the progress steps too
    assert len(states) == 120
    for h in histories:
        code = h[0].dossier_code
        st = states[code]
        if code in refused:
            assert portal.accepted[code] == [] and portal.progress[code] == []
            assert st["park_reason"].startswith("DongBoHoSoMC: error_code 11") and st["error_code"] == "11"
            assert st["parked_version"] == st["version"] and st["synced_version"] == 0
            posted = [(service, which) for service, _, which in portal.rejected[code]]
            assert len(posted) == len(set(posted)), f"{code}: a parked version was posted again {posted}"
            continue
        assert portal.accepted[code][-1] == st["version"], code
        steps = portal.progress[code]
        assert len(steps) == len(h) == len(st["progress_sent"]), code  # one step per event, each once
        assert [x["ThoiDiemXuLy"] for x in steps] == sorted(x["ThoiDiemXuLy"] for x in steps)
        assert steps[0]["NoiDungXuLy"] == "Tiếp nhận hồ sơ"
    assert max(len(v) for v in portal.accepted.values()) > 1  # dossiers went through several versions


async def _some_synced(s: ProcessingSettings) -> bool:
    return bool(await scalar(s, "select count(*) > 0 from sync_state where synced_version > 0"))


async def _failed_with(s: ProcessingSettings, error: str) -> bool:
    return bool(await scalar(s, "select count(*) > 0 from sync_state where last_error like $1", f"%{error}%"))


async def cli(s: ProcessingSettings, *args: str) -> tuple[int, str, str]:
    env = dict(
        os.environ,
        DATABASE_URL=s.database_url,
        PROCESSING_DB_SCHEMA=s.db_schema,
        PROCESSING_LOG_LEVEL="WARNING",
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dossier_processing",
        "portal",
        *args,
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


async def test_parked_dossiers_wait_for_an_operator_and_requeue_sends_them(
    processing_settings: ProcessingSettings,
) -> None:
    histories = list(stream(12, seed=5))
    refused = {h[0].dossier_code for h in histories[:3]}
    fixed: set[str] = set()
    portal = FakePortal(
        seed=5,
        reject=lambda service, item: (
            "12" if item["MaHoSo"] in refused - fixed and service == "DongBoHoSoMC" else None
        ),
    )
    async with portal:
        s = _portal_settings(processing_settings, portal)
        await produce(s, [e for h in histories for e in h])
        async with running_app(s):
            await wait_until(lambda: events_stored(s, sum(map(len, histories))), what="events applied")
            await wait_until(lambda: _settled(s, refused), timeout_s=60, what="synced or parked")
            code, listed, _ = await cli(s, "parked")
            assert code == 0 and all(c in listed for c in refused) and "error_code 12" in listed
            one = sorted(refused)[0]
            fixed.add(one)  # the cause is fixed for one of them (its agency registered at the portal)
            code, out, _ = await cli(s, "requeue", one)
            assert code == 0 and out.strip() == f"re-queued 1 parked dossier: {one}"
            await wait_until(
                lambda: _settled(s, refused - {one}), timeout_s=30, what="the re-queued one synced"
            )
            fixed.update(refused)
            code, out, _ = await cli(s, "requeue", "--all-parked")
            assert code == 0 and out.startswith("re-queued 2 parked dossiers")
            await wait_until(lambda: _settled(s, set()), timeout_s=30, what="all synced")
    assert portal.violations == []
    assert set(portal.rejected) == refused
    for code in refused:  # never posted again while parked at a version; taken once re-queued
        posted = Counter(which for _, _, which in portal.rejected[code])
        assert max(posted.values()) == 1, f"{code}: {posted}"
        assert len(portal.accepted[code]) == 1


async def test_a_dossier_the_portal_lost_is_sent_again_whole(processing_settings: ProcessingSettings) -> None:
    histories = list(stream(10, seed=8))
    lost = {h[0].dossier_code for h in histories[:3]}
    portal = FakePortal(seed=8, forget=lost)
    async with portal:
        s = _portal_settings(processing_settings, portal)
        await produce(s, [e for h in histories for e in h])
        async with running_app(s):
            await wait_until(lambda: events_stored(s, sum(map(len, histories))), what="events applied")
            await wait_until(lambda: _settled(s, set()), timeout_s=60, what="all synced")
        states = {r["dossier_code"]: r for r in await _states(s)}
    assert portal.violations == [] and portal.forget == set()
    # each lost dossier's progress was answered "not held"; its record then went again as new
    assert sorted(portal.wrong_updating) == sorted((code, True) for code in lost)
    assert {code for code, _ in portal.regressions} <= lost
    for h in histories:
        code = h[0].dossier_code
        assert portal.accepted[code][-1] == states[code]["version"] and code in portal.holds
        assert len(portal.progress[code]) == len(h) and portal.repeated_steps == []


async def test_a_late_step_is_sent_once_and_no_held_one_again(
    processing_settings: ProcessingSettings,
) -> None:
    """A step that happened before steps the portal already holds (its event came late) is sent once,
    after them; the steps it holds are not sent again (steps are known by their event, not counted)."""
    code = dossier_code(AGENCIES[0], 1)
    received = event("received", code, START, procedure_code=PROCEDURES[0], channel="direct")
    later = event("processing", code, START + timedelta(hours=3), step="thẩm định", department="Phòng A")
    late = event("processing", code, START + timedelta(hours=1), step="phân công", department="Phòng B")
    portal = FakePortal(seed=9)
    async with portal:
        s = _portal_settings(processing_settings, portal)
        async with running_app(s):
            await produce(s, [received, later])
            await wait_until(lambda: events_stored(s, 2), what="the first two events applied")
            await wait_until(lambda: _settled(s, set()), timeout_s=60, what="the first steps synced")
            assert [x["NoiDungXuLy"] for x in portal.progress[code]][-1].endswith("thẩm định")
            await produce(s, [late])
            await wait_until(lambda: events_stored(s, 3), what="the late event applied")
            await wait_until(lambda: _settled(s, set()), timeout_s=60, what="the late step synced")
        state = {r["dossier_code"]: r for r in await _states(s)}[code]
    assert portal.violations == [] and portal.repeated_steps == []
    contents = [x["NoiDungXuLy"] for x in portal.progress[code]]
    assert len(contents) == 3 and contents[-1].endswith("phân công"), contents
    assert sorted(state["progress_sent"]) == sorted([received.event_id, later.event_id, late.event_id])
