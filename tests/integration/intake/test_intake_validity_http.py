"""Agency validity over HTTP against the real Kafka: an event of an agency not valid on its date,
beyond the grace period (`INTAKE_AGENCY_VALIDITY_GRACE_DAYS`), is a 422 problem naming
`agency_code`; the last day of grace and the first day of validity are taken; in a batch only the
refused event is left out of the topic."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from intake_harness import Intake, Keys, event, make_settings, read_topic, running

from dossier_core.catalog_csv import default_catalog_dir, load_catalog

pytestmark = pytest.mark.integration

GRACE = 10
CATALOG = load_catalog(default_catalog_dir())
DISTRICT = CATALOG.agencies["000.00.31.H49"]  # thành phố Hạ Long, abolished with the districts
COMMUNE = CATALOG.agencies["000.00.59.H49"]  # xã Quảng La of the two-tier structure
assert DISTRICT.valid_to is not None and COMMUNE.valid_from is not None
LAST_GRACE_DAY = DISTRICT.valid_to + timedelta(days=GRACE)


def at(day: object, time: str) -> str:
    return f"{day}T{time}+07:00"


@pytest.fixture
async def intake(kafka_bootstrap: str, topic_suffix: str, keys: Keys) -> AsyncIterator[Intake]:
    settings = make_settings(kafka_bootstrap, topic_suffix, keys, agency_validity_grace_days=GRACE)
    async with running(settings) as client:
        yield Intake(client, settings, keys)


def of(agency: str, occurred_at: str, event_type: str = "dossier.resolved") -> dict[str, object]:
    return event(event_type, agency=agency, occurred_at=occurred_at)


async def test_beyond_the_grace_period_is_a_422_problem_naming_agency_code(intake: Intake) -> None:
    day_after = LAST_GRACE_DAY + timedelta(days=1)
    response = await intake.post(of(DISTRICT.code, at(day_after, "00:00:00")))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 422 and body["title"] == "Invalid event"
    (error,) = body["errors"]
    assert error["field"] == "agency_code"
    assert str(DISTRICT.valid_to) in error["message"] and str(LAST_GRACE_DAY) in error["message"]
    written = await read_topic(intake.settings.kafka_bootstrap_servers, intake.settings.events_topic)
    assert written.event_ids == []


async def test_both_sides_of_the_grace_period_and_of_valid_from_in_one_batch(intake: Intake) -> None:
    day_before = COMMUNE.valid_from - timedelta(days=1)
    events = [
        of(DISTRICT.code, at(DISTRICT.valid_to, "16:00:00")),  # its last valid day
        of(DISTRICT.code, at(LAST_GRACE_DAY, "23:59:59")),  # the last day of grace
        of(DISTRICT.code, at(LAST_GRACE_DAY + timedelta(days=1), "00:00:00")),  # one day too late
        of(COMMUNE.code, at(COMMUNE.valid_from, "00:00:00"), "dossier.received"),  # its first day
        of(COMMUNE.code, at(day_before, "23:59:59"), "dossier.received"),  # before it existed
    ]
    response = await intake.batch(events)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "accepted", "rejected", "accepted", "rejected"]
    for refused in (results[2], results[4]):
        assert refused["status_code"] == 422
        assert [e["field"] for e in refused["errors"]] == ["agency_code"]
    assert "valid from" in results[4]["errors"][0]["message"]
    written = await read_topic(intake.settings.kafka_bootstrap_servers, intake.settings.events_topic)
    assert sorted(written.event_ids) == sorted(str(events[i]["event_id"]) for i in (0, 1, 3))
