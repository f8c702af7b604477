"""Admission order: shape (422), then the key's agencies (403), then the catalog (422)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dossier_core.catalog import Catalog
from dossier_core.catalog_csv import default_catalog_dir, load_catalog
from dossier_intake.admission import Rejection, admit
from dossier_intake.examples import example_event
from dossier_runtime.api_keys import ApiKey

QN = ApiKey("counter-qn", "0" * 64, ("*.H49",))
ONE_AGENCY = ApiKey("police", "1" * 64, ("000.00.10.H49",))

NOW = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)


def at_agency(raw: dict[str, Any], agency: str) -> dict[str, Any]:
    return raw | {"agency_code": agency, "dossier_code": f"{agency}-250405-0001"}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(default_catalog_dir())


def test_a_valid_event_is_admitted(catalog: Catalog) -> None:
    assert not isinstance(admit(example_event("dossier.received"), QN, catalog, NOW), Rejection)
    assert not isinstance(admit(example_event("dossier.received"), ONE_AGENCY, catalog, NOW), Rejection)


def test_outside_the_keys_patterns_is_403_before_the_catalog(catalog: Catalog) -> None:
    raw = example_event("dossier.fee_paid") | {
        "agency_code": "000.00.12.H49",
        "dossier_code": "000.00.12.H49-250405-0001",
    }
    outcome = admit(raw, ONE_AGENCY, catalog, NOW)
    assert isinstance(outcome, Rejection) and outcome.status_code == 403
    raw = at_agency(example_event("dossier.fee_paid"), "X.H22")
    outcome = admit(raw, QN, catalog, NOW)
    assert isinstance(outcome, Rejection) and outcome.status_code == 403
    assert outcome.event_id == raw["event_id"] and outcome.event_type == "dossier.fee_paid"


def test_unknown_agency_and_procedure_are_422_together(catalog: Catalog) -> None:
    raw = example_event("dossier.received") | {
        "agency_code": "000.00.99.H49",
        "dossier_code": "000.00.99.H49-250405-0001",
    }
    raw["data"] = {"procedure_code": "9.999999", "channel": "online"}
    outcome = admit(raw, QN, catalog, NOW)
    assert isinstance(outcome, Rejection) and outcome.status_code == 422
    assert [e["field"] for e in outcome.errors] == ["agency_code", "data.procedure_code"]


def test_a_malformed_event_is_422_and_keeps_what_can_identify_it(catalog: Catalog) -> None:
    raw = example_event("dossier.received") | {"occurred_at": "yesterday"}
    outcome = admit(raw, ONE_AGENCY, catalog, NOW)
    assert isinstance(outcome, Rejection) and outcome.status_code == 422
    assert outcome.event_id == raw["event_id"] and outcome.event_type == "dossier.received"
    outcome = admit({"event_id": 7, "type": ["x"]}, QN, catalog, NOW)
    assert isinstance(outcome, Rejection) and outcome.event_id is None and outcome.event_type is None
