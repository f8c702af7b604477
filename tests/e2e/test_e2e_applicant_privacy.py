"""Applicant data (Decree 13/2023/NĐ-CP) through the real services and a fake national portal: a planted
applicant is found where it must be (the sync feed, the push to the portal, opened by processing) and
nowhere else: not in any Kafka topic the system wrote, not in any table (the metrics service's, and
processing's in clear), not in any service log, nor in the other read APIs, the console and /metrics. After
`dossier-processing erase-applicant` it is gone from the feed too.

The simulator sends a quarter with made-up applicants on every receipt first (its `--expect` holds the
report exact); their identity numbers and emails are looked for in the same places."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from dossier_core.catalog_csv import default_catalog_dir, load_catalog
from dossier_core.periods import parse_period
from dossier_runtime.db import plain_url
from dossier_sim.generator import ProvinceGenerator
from dossier_sim.mix import DEFAULT_MIX, OutcomeMix
from tests.fake_portal import PASSWORD, USERNAME, FakePortal
from tests.support import ROOT, System, running_system, topic_names

pytestmark = pytest.mark.e2e

AGENCY = "000.00.10.H49"
PROCEDURE = "1.004194"
SIM_DOSSIERS, SIM_SEED = 120, 23
CONSOLE_PAGES = ("/tong-quan", "/viec-can-xu-ly", "/ho-so", "/bao-cao", "/chi-so", "/van-hanh")


def planted() -> dict[str, str]:
    tag = uuid.uuid4().hex[:6]
    return {
        "name": f"Lương Thị Bí Mật {tag}",
        "id_number": "022" + f"{uuid.uuid4().int % 10**9:09d}",
        "phone": "+8491" + f"{uuid.uuid4().int % 10**7:07d}",
        "email": f"bi.mat.{tag}@example.vn",
    }


def event(event_type: str, code: str, at: str, **data: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": event_type,
        "dossier_code": code,
        "agency_code": code.rsplit("-", 2)[0],
        "occurred_at": at,
        "data": data,
    }


def sim_applicants() -> list[dict[str, str]]:
    """The applicants the simulator sends (the same seed gives the same traffic)."""
    gen = ProvinceGenerator(
        load_catalog(default_catalog_dir()),
        parse_period("2021-Q2"),
        OutcomeMix.parse(DEFAULT_MIX),
        seed=SIM_SEED,
        applicant_share=1.0,
    )
    return [
        e["data"]["applicant"]
        for d in gen.dossiers(SIM_DOSSIERS)
        for e in d.events
        if e["type"] == "dossier.received"
    ]


def run_sim(system: System) -> None:
    run = subprocess.run(
        [
            *(sys.executable, "-m", "dossier_sim", "--period", "2021-Q2"),
            *("--dossiers", str(SIM_DOSSIERS), "--seed", str(SIM_SEED), "--applicants", "1"),
            *("--intake-url", system.intake.url, "--metrics-url", system.metrics.url),
            *("--key", system.intake_key, "--expect", "--expect-timeout", "240", "--quiet"),
        ],
        cwd=ROOT,
        env={**os.environ, "DOSSIER_SIM_METRICS_KEY": system.metrics_key},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]


def wait_for(what: str, check: Any, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


async def _topic_bytes(bootstrap: str, topics: set[str]) -> dict[str, bytes]:
    """Every record of each topic, key, value and headers, as one byte string per topic."""
    return {topic: await _one_topic(bootstrap, topic) for topic in sorted(topics)}


async def _one_topic(bootstrap: str, topic: str) -> bytes:
    probe = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await probe.start()
    try:
        parts = await probe.partitions_for(topic)
    finally:
        await probe.stop()
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await reader.start()
    chunks: list[bytes] = []
    try:
        tps = [TopicPartition(topic, p) for p in parts]
        ends = await reader.end_offsets(tps)
        pending = [tp for tp in tps if ends[tp] > 0]
        if pending:
            reader.assign(pending)
            await reader.seek_to_beginning(*pending)
        while pending:
            for msgs in (await reader.getmany(*pending, timeout_ms=1000)).values():
                for m in msgs:
                    chunks += [m.key or b"", m.value or b"", *(k.encode() + v for k, v in m.headers)]
            pending = [tp for tp in pending if await reader.position(tp) < ends[tp]]
    finally:
        await reader.stop()
    return b"\x00".join(chunks)


async def _schema_text(database_url: str, schema: str) -> dict[str, str]:
    """Every row of every table of `schema`, as text (bytea as hex), one string per table."""
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        tables = await conn.fetch(
            "select table_name from information_schema.tables "
            "where table_schema = $1 and table_type = 'BASE TABLE'",
            schema,
        )
        out = {}
        for t in tables:
            rows = await conn.fetch(f'select t::text as row from "{schema}"."{t["table_name"]}" t')
            out[t["table_name"]] = "\n".join(r["row"] for r in rows)
        return out
    finally:
        await conn.close()


def where(values: list[str], places: dict[str, str | bytes]) -> list[tuple[str, str]]:
    """(place, value) for every value found in a place: as UTF-8 bytes, as text, or as the hex text
    PostgreSQL gives for bytea."""
    found = []
    for place, content in places.items():
        for value in values:
            raw = value.encode()
            in_text = isinstance(content, str) and (value in content or raw.hex() in content)
            if in_text or (isinstance(content, bytes) and raw in content):
                found.append((place, value))
    return found


def test_a_planted_applicant_is_only_in_the_sync_feed_and_the_push(
    tmp_path: Path, kafka_bootstrap: str, database_url: str
) -> None:
    with (
        FakePortal().in_thread() as portal,
        running_system(
            tmp_path,
            kafka_bootstrap,
            database_url,
            PROCESSING_PORTAL_URL=portal.url + "/api",
            PROCESSING_PORTAL_LOGIN_URL=portal.url + "/login",
            PROCESSING_PORTAL_USERNAME=USERNAME,
            PROCESSING_PORTAL_PASSWORD=PASSWORD,
        ) as system,
    ):
        run_sim(system)
        kept, erased = planted(), planted()
        a, b = (f"{AGENCY}-250407-{uuid.uuid4().int % 10**6:06d}" for _ in range(2))
        auth = {"Authorization": f"Bearer {system.intake_key}"}
        base = {"procedure_code": PROCEDURE, "channel": "direct"}
        events = [
            event("dossier.received", a, "2025-04-07T09:00:00+07:00", **base, applicant=kept),
            event("dossier.processing", a, "2025-04-07T10:00:00+07:00", step="Thẩm định"),
            event("dossier.received", b, "2025-04-07T09:30:00+07:00", **base, applicant=erased),
        ]
        answer = httpx.post(f"{system.intake.url}/v1/events:batch", json={"events": events}, headers=auth)
        assert [r["status"] for r in answer.json()["results"]] == ["accepted"] * 3, answer.text
        # refused on the way in, each naming the field: a bad email (the name in it), another
        # province's agency, and a body that is not JSON
        bad = event(
            "dossier.received",
            a,
            "2025-04-07T09:00:00+07:00",
            **base,
            applicant={**kept, "email": kept["name"]},
        )
        assert httpx.post(f"{system.intake.url}/v1/events", json=bad, headers=auth).status_code == 422
        other = event(
            "dossier.received",
            "000.00.10.H22-250407-0001",
            "2025-04-07T09:00:00+07:00",
            **base,
            applicant=kept,
        )
        assert httpx.post(f"{system.intake.url}/v1/events", json=other, headers=auth).status_code == 403
        broken = (
            '{"type": "dossier.received", "data": {"applicant": {"name": "' + kept["name"] + '"'
        ).encode()
        assert httpx.post(f"{system.intake.url}/v1/events", content=broken, headers=auth).status_code == 400

        sync = {"Authorization": f"Bearer {system.sync_key}"}
        reader = {"Authorization": f"Bearer {system.metrics_key}"}

        def feed() -> dict[str, str]:
            records: dict[str, str] = {}
            cursor = None
            while True:
                params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
                page = httpx.get(
                    f"{system.processing.url}/v1/sync/changes", params=params, headers=sync
                ).json()
                records |= {r["MaHoSo"]: r["ChuHoSo"] for r in page["data"]}
                if not page["has_more"]:
                    return records
                cursor = page["next_cursor"]

        def pushed(code: str, name: str) -> bool:
            return any(c == code and r["ChuHoSo"] == name for (c, _), r in list(portal.records.items()))

        wait_for("the planted dossiers in the feed", lambda: feed().get(a) == kept["name"] and b in feed())
        wait_for(
            "the push of the planted applicant", lambda: pushed(a, kept["name"]) and pushed(b, erased["name"])
        )

        def projected() -> bool:  # the metrics service stored both planted dossiers' states
            tables = asyncio.run(_schema_text(database_url, system.env["METRICS_DB_SCHEMA"]))
            return all(any(code in rows for rows in tables.values()) for code in (a, b))

        wait_for("the planted dossiers in the metrics tables", projected)
        record = next(r for (c, _), r in list(portal.records.items()) if c == a)
        assert (record["MaDoiTuong"], record["SoDienThoai"], record["Email"]) == (
            kept["id_number"],
            kept["phone"],
            kept["email"],
        )
        assert portal.violations == []

        erase = subprocess.run(
            [sys.executable, "-m", "dossier_processing", "erase-applicant", b, "--by", "e2e"],
            cwd=ROOT,
            env=system.processing.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert erase.returncode == 0, erase.stderr
        assert feed()[b] == "" and feed()[a] == kept["name"]

        # Everything else the system holds or shows.
        apis = {
            f"processing {path}": httpx.get(f"{system.processing.url}{path}", headers=sync).text
            for path in (
                f"/v1/dossiers/{a}",
                f"/v1/dossiers/{b}",
                f"/v1/dossiers?agency={AGENCY}",
                "/metrics",
            )
        }
        apis |= {
            f"metrics {path}": httpx.get(f"{system.metrics.url}{path}", headers=reader).text
            for path in (
                "/v1/reports/dossiers?period=2025-Q2&group_by=agency",
                "/v1/stats/live",
                "/metrics",
            )
        }
        apis["intake /metrics"] = httpx.get(f"{system.intake.url}/metrics").text
        with httpx.Client(base_url=system.metrics.url, timeout=60) as console:  # the Vietnamese console
            login = console.post("/dang-nhap", data={"key": system.metrics_key, "tiep": "/tong-quan"})
            assert login.status_code == 303, login.text
            for path in (*CONSOLE_PAGES, f"/ho-so/{a}", f"/ho-so/{b}"):
                page = console.get(path)
                assert page.status_code == 200, (path, page.status_code)
                apis[f"console {path}"] = page.text
            assert a in apis[f"console /ho-so/{a}"]  # the console does show the dossier itself
        suffix = system.env["INTAKE_EVENTS_TOPIC"].rsplit(".", 1)[-1]
        topics = {t for t in topic_names(kafka_bootstrap) if t.endswith(suffix)}
        assert system.env["INTAKE_EVENTS_TOPIC"] in topics and system.env["PROCESSING_STATUS_TOPIC"] in topics
        on_topics = asyncio.run(_topic_bytes(kafka_bootstrap, topics))
        assert (
            on_topics[system.env["INTAKE_EVENTS_TOPIC"]] and on_topics[system.env["PROCESSING_STATUS_TOPIC"]]
        )
        metrics_tables = asyncio.run(_schema_text(database_url, system.env["METRICS_DB_SCHEMA"]))
        processing_tables = asyncio.run(_schema_text(database_url, system.env["PROCESSING_DB_SCHEMA"]))
        assert len(metrics_tables) >= 5 and any(metrics_tables.values())  # the metrics schema was read
        assert {"applicants", "applicant_erasures", "events"} <= set(processing_tables)
        logs = {s.log_path.name: s.log_path.read_text(errors="replace") for s in system.services}
        logs["erase-applicant"] = erase.stdout + erase.stderr
        places: dict[str, str | bytes] = {
            **{f"topic {t}": v for t, v in on_topics.items()},
            **{f"metrics table {t}": v for t, v in metrics_tables.items()},
            **{f"processing table {t}": v for t, v in processing_tables.items()},
            **{f"log {n}": v for n, v in logs.items()},
            **{f"API {n}": v for n, v in apis.items()},
        }
        secrets_ = [*kept.values(), *erased.values()]
        secrets_ += [v for p in sim_applicants() for k, v in p.items() if k in ("id_number", "email")]
        assert where(secrets_, places) == []
        # the same search finds them where they must be: the push (both, before the erasure)
        pushed_text = str(list(portal.records.values()))
        assert {v for _, v in where(secrets_, {"push": pushed_text})} >= {*kept.values(), *erased.values()}
        # the erasure is audited (who, which dossier), without the data
        assert (
            b in processing_tables["applicant_erasures"] and "e2e" in processing_tables["applicant_erasures"]
        )
        assert '"applicant_erasure"' in logs["erase-applicant"]
