"""Applicant data through the running intake process and the real Kafka: what reaches the topic is
sealed, a refusal (no key, a bad field) names the field and never repeats the data, and the data is
in no answer and no log line."""

from __future__ import annotations

import asyncio
import base64
import uuid
from pathlib import Path

import httpx
import pytest
from intake_harness import Keys, event, make_settings, read_topic, serving
from nacl.public import PrivateKey, SealedBox

from dossier_contracts.applicant_wire import applicant_from_json
from dossier_contracts.gen.dossier.v1 import events_pb2
from dossier_processing.applicant.keys import generate_key_pair

pytestmark = pytest.mark.integration


def planted() -> dict[str, str]:
    """An applicant whose name appears nowhere else (a fresh suffix per test)."""
    tag = uuid.uuid4().hex[:8]
    return {
        "name": f"Hoàng Thị Mỹ Duyên {tag}",
        "id_number": "0311" + str(uuid.uuid4().int)[:8],
        "phone": "09" + str(uuid.uuid4().int)[:8],
        "email": f"duyen.{tag}@example.vn",
    }


def test_the_topic_holds_only_the_sealed_data_and_no_log_line_or_answer_repeats_it(
    kafka_bootstrap: str, topic_suffix: str, keys: Keys, tmp_path: Path
) -> None:
    pair = generate_key_pair()
    settings = make_settings(kafka_bootstrap, topic_suffix, keys, applicant_public_key=pair.public)
    applicant, refused = planted(), planted()
    good = event(applicant=applicant)
    bad_email = event(applicant={**refused, "email": refused["name"]})  # not an email: the name
    with serving(settings, tmp_path / "intake.log") as srv:
        single = httpx.post(srv.url + "/v1/events", json=good, headers=keys.auth())
        batch = httpx.post(
            srv.url + "/v1/events:batch", json={"events": [bad_email, event()]}, headers=keys.auth()
        )
        log = srv.log()
    assert single.status_code == 202, single.text
    assert batch.status_code == 200
    results = batch.json()["results"]
    assert [r["status"] for r in results] == ["rejected", "accepted"]
    assert [e["field"] for e in results[0]["errors"]] == ["data.applicant.email"]
    written = on_topic(kafka_bootstrap, settings.events_topic)
    raw = b"".join(m.SerializeToString() for m in written)
    answers = single.text + batch.text
    for values in (applicant, refused):
        for value in values.values():
            assert value.encode() not in raw
            assert value not in answers
            assert value not in log
    [sealed] = [m.received.applicant_sealed for m in written if m.received.HasField("applicant_sealed")]
    opened = SealedBox(PrivateKey(base64.b64decode(pair.private))).decrypt(sealed)
    assert applicant_from_json(opened) == applicant


def test_without_a_key_applicant_data_is_refused_and_not_written(
    kafka_bootstrap: str, topic_suffix: str, keys: Keys, tmp_path: Path
) -> None:
    settings = make_settings(kafka_bootstrap, topic_suffix, keys)  # no INTAKE_APPLICANT_PUBLIC_KEY
    applicant = planted()
    with serving(settings, tmp_path / "intake.log") as srv:
        refused = httpx.post(srv.url + "/v1/events", json=event(applicant=applicant), headers=keys.auth())
        plain = httpx.post(srv.url + "/v1/events", json=event(), headers=keys.auth())
        log = srv.log()
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in refused.json()["errors"]] == ["data.applicant"]
    assert "INTAKE_APPLICANT_PUBLIC_KEY" in refused.json()["errors"][0]["message"]
    assert plain.status_code == 202
    written = on_topic(kafka_bootstrap, settings.events_topic)
    assert len(written) == 1  # only the event without applicant data
    raw = written[0].SerializeToString()
    for value in applicant.values():
        assert value.encode() not in raw and value not in refused.text and value not in log


def on_topic(bootstrap: str, topic: str) -> list[events_pb2.DossierEvent]:
    return [m[3] for m in asyncio.run(read_topic(bootstrap, topic)).messages]
