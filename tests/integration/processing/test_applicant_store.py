"""Applicant data in processing against the real Kafka and PostgreSQL: the consumer keeps the latest
received blob, sealed; only the private key opens it; the dossier API never shows it; and
`dossier-processing erase-applicant` removes it (stored events included), audits it, and a replay of
the old events does not bring it back."""

from __future__ import annotations

import asyncio
import base64
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from nacl.public import PublicKey, SealedBox
from processing_factory import START, Sent, event
from processing_harness import db, process_env, produce, read_topic, running_app, scalar, wait_until
from pydantic import SecretStr

from dossier_contracts.applicant_wire import applicant_to_json
from dossier_processing.applicant import applicant_fields, load_applicants
from dossier_processing.applicant.keys import Opener, generate_key_pair
from dossier_processing.applicant.store import sealed_of
from dossier_processing.bootstrap import create_engine
from dossier_processing.settings import ProcessingSettings

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
CODE = "000.00.18.H49-250303-0007"
OTHER = "000.00.18.H49-250303-0008"
PAIR = generate_key_pair()
FIRST = {"name": "Vũ Đình Trọng", "id_number": "034099001111", "phone": "0903111222", "email": "t@x.vn"}
LATEST = {"name": "Vũ Đình Trọng Nghĩa", "phone": "0903999888"}


def sealed(values: dict[str, str]) -> str:
    box = SealedBox(PublicKey(base64.b64decode(PAIR.public)))
    return base64.b64encode(box.encrypt(applicant_to_json(values))).decode()


def received(code: str, hours: int, applicant: dict[str, str]) -> Sent:
    at = START + timedelta(hours=hours)
    return event(
        "received", code, at, procedure_code="1.004194", channel="direct", applicant_sealed=sealed(applicant)
    )


async def opened(s: ProcessingSettings, codes: list[str]) -> dict[str, dict[str, str]]:
    engine = create_engine(s, pool_size=1)
    try:
        async with engine.connect() as conn:
            found = await load_applicants(conn, codes, Opener.of(PAIR.private))
    finally:
        await engine.dispose()
    return {code: applicant_fields(a) for code, a in found.items()}


async def erase_cli(s: ProcessingSettings, code: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "dossier_processing", "erase-applicant", code, "--by", "can-bo-phap-che"),
        env=process_env(s, PROCESSING_LOG_LEVEL="INFO"),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def stored_bytes(s: ProcessingSettings) -> bytes:
    """Every stored event payload and dossier snapshot, concatenated."""
    async with db(s) as conn:
        events = await conn.fetch("select payload from events")
        dossiers = await conn.fetch("select snapshot from dossiers")
    return b"".join([r["payload"] for r in events] + [r["snapshot"] for r in dossiers])


async def test_latest_received_is_kept_sealed_and_erased_for_good(
    processing_settings: ProcessingSettings, processing_key: str
) -> None:
    s = processing_settings.model_copy(update={"applicant_private_key": SecretStr(PAIR.private)})
    first, latest, other = received(CODE, 0, FIRST), received(CODE, 2, LATEST), received(OTHER, 0, FIRST)
    await produce(s, [latest, first, other])  # the later receipt arrives first: latest by occurred_at wins
    async with running_app(s) as client:
        await wait_until(lambda: _count(s, "applicants", 2), what="two applicants stored")
        assert await opened(s, [CODE, OTHER]) == {
            CODE: {"ChuHoSo": LATEST["name"], "MaDoiTuong": "", "SoDienThoai": LATEST["phone"], "Email": ""},
            OTHER: {
                "ChuHoSo": FIRST["name"],
                "MaDoiTuong": FIRST["id_number"],
                "SoDienThoai": FIRST["phone"],
                "Email": FIRST["email"],
            },
        }
        with pytest.raises(ValueError, match="cannot be opened"):  # another key opens nothing
            Opener.of(generate_key_pair().private).open(base64.b64decode(sealed(FIRST)))
        auth = {"Authorization": f"Bearer {processing_key}"}
        assert await feed_applicants(client, auth) == {CODE: LATEST["name"], OTHER: FIRST["name"]}
        view = await client.get(f"/v1/dossiers/{CODE}", headers=auth)
        assert view.status_code == 200
        assert all("applicant_sealed" not in e["data"] for e in view.json()["events"])
        at_rest = await stored_bytes(s)
        status = b"".join(r.value for r in await read_topic(s.kafka_bootstrap_servers, s.status_topic))
        for values in (FIRST, LATEST):
            for value in values.values():
                assert value.encode() not in at_rest and value.encode() not in status

        code, out = await erase_cli(s, CODE)
        assert code == 0, out
        assert "applicant_erasure" in out and "can-bo-phap-che" in out  # the audit log line: who, which
        for value in (*FIRST.values(), *LATEST.values()):
            assert value not in out
        assert set(await opened(s, [CODE, OTHER])) == {OTHER}
        assert await feed_applicants(client, auth) == {CODE: "", OTHER: FIRST["name"]}
        async with db(s) as conn:
            audit = await conn.fetch("select * from applicant_erasures")
            payloads = await conn.fetch("select dossier_code, payload from events")
        assert [
            (r["dossier_code"], r["erased_by"], r["applicant_rows"], r["events_cleared"]) for r in audit
        ] == [(CODE, "can-bo-phap-che", 1, 2)]
        kept = {(r["dossier_code"], sealed_of(bytes(r["payload"])) is not None) for r in payloads}
        assert kept == {(CODE, False), (OTHER, True)}  # stripped from the erased dossier's stored events only

        # Old events again (a replay from Kafka or the dead letters) and a new receipt with data.
        await produce(s, [first, latest, received(CODE, 5, FIRST)])
        await wait_until(lambda: _count(s, "events", 4), what="the new receipt applied")
        assert set(await opened(s, [CODE, OTHER])) == {OTHER}
        dead = await read_topic(s.kafka_bootstrap_servers, s.dlq_topic)
        assert dead == []  # resent originals are duplicates of the erased events, not conflicts


async def feed_applicants(client: httpx.AsyncClient, auth: dict[str, str]) -> dict[str, str]:
    """`ChuHoSo` of each dossier in the sync feed (the one read API that carries applicant data)."""
    page = await client.get("/v1/sync/changes", headers=auth)
    assert page.status_code == 200, page.text
    return {r["MaHoSo"]: r["ChuHoSo"] for r in page.json()["data"]}


async def _count(s: ProcessingSettings, table: str, n: int) -> bool:
    return bool(await scalar(s, f"select count(*) from {table}") == n)
