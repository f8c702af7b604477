"""Applicant data on `dossier.received` (Decree 13/2023/NĐ-CP): bounded, refused without a key, and
sealed before the event is encoded for Kafka, so that only the private key's holder reads it."""

from __future__ import annotations

import base64
import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, SealedBox

from dossier_contracts.applicant_wire import applicant_from_json
from dossier_contracts.event_codec import decode_event
from dossier_core.catalog import Catalog
from dossier_core.catalog_csv import default_catalog_dir, load_catalog
from dossier_intake.admission import Admission, Rejection
from dossier_intake.applicant import ApplicantIn, sealer_from_key
from dossier_intake.examples import example_event
from dossier_intake.routes import records
from dossier_intake.schemas import Received
from dossier_runtime.api_keys import ApiKey

KEY = ApiKey("counter-qn", "0" * 64, ("*.H49",))
NOW = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)
APPLICANT = {
    "name": "Trần Thị Bích Ngọc",
    "id_number": "001203004567",
    "phone": "+84912345678",
    "email": "ngoc.tran@example.vn",
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(default_catalog_dir())


@pytest.fixture(scope="module")
def private_key() -> PrivateKey:
    return PrivateKey.generate()


def received(applicant: Any) -> dict[str, Any]:
    raw = copy.deepcopy(example_event("dossier.received"))
    raw["data"]["applicant"] = applicant
    return raw


def public_b64(key: PrivateKey) -> str:
    return base64.b64encode(bytes(key.public_key)).decode()


def test_the_event_on_kafka_carries_the_applicant_sealed_never_in_clear(
    catalog: Catalog, private_key: PrivateKey
) -> None:
    sealer = sealer_from_key(public_b64(private_key))
    model = Admission(KEY, catalog, NOW, takes_applicant=True).admit(received(APPLICANT))
    assert isinstance(model, Received)
    [(_, value)] = records([model.to_domain(sealer)], NOW, KEY.name)
    for text in APPLICANT.values():  # not in the bytes, in any encoding a reader might try
        assert text.encode() not in value
        assert text.encode("utf-16-le") not in value
    msg = decode_event(value)
    assert msg.received.procedure_code == "1.004194"
    assert applicant_from_json(SealedBox(private_key).decrypt(msg.received.applicant_sealed)) == APPLICANT


def test_sealing_twice_gives_different_bytes_that_open_the_same(private_key: PrivateKey) -> None:
    sealer = sealer_from_key(public_b64(private_key))
    assert sealer is not None
    applicant = ApplicantIn(**APPLICANT)
    one, two = sealer.seal(applicant), sealer.seal(applicant)
    assert one != two
    assert SealedBox(private_key).decrypt(one) == SealedBox(private_key).decrypt(two)


def test_another_key_cannot_open_it(private_key: PrivateKey) -> None:
    sealer = sealer_from_key(public_b64(private_key))
    assert sealer is not None
    sealed = sealer.seal(ApplicantIn(name="Lê Văn Hùng"))
    with pytest.raises(CryptoError):
        SealedBox(PrivateKey.generate()).decrypt(sealed)


def test_without_a_key_applicant_data_is_refused_and_the_rest_is_taken(catalog: Catalog) -> None:
    admission = Admission(KEY, catalog, NOW)  # takes_applicant defaults to False: the safe side
    outcome = admission.admit(received(APPLICANT))
    assert isinstance(outcome, Rejection) and outcome.status_code == 422
    assert [e["field"] for e in outcome.errors] == ["data.applicant"]
    assert "INTAKE_APPLICANT_PUBLIC_KEY" in outcome.errors[0]["message"]
    assert not isinstance(admission.admit(example_event("dossier.received")), Rejection)
    model = Admission(KEY, catalog, NOW, takes_applicant=True).admit(received(APPLICANT))
    assert isinstance(model, Received)
    with pytest.raises(ValueError, match="INTAKE_APPLICANT_PUBLIC_KEY"):
        model.to_domain(None)  # never encoded in clear, whatever the caller forgets


@pytest.mark.parametrize(
    ("applicant", "field"),
    [
        ({"name": "x" * 201}, "data.applicant.name"),
        ({"name": "   "}, "data.applicant.name"),
        ({"name": "Ngọc\u202e"}, "data.applicant.name"),
        ({"name": "Ngọc", "phone": "09-1234-abc"}, "data.applicant.phone"),
        ({"name": "Ngọc", "email": "ngoc at example.vn"}, "data.applicant.email"),
        ({"name": "Ngọc", "id_number": "0012 0300"}, "data.applicant.id_number"),
        ({"name": "Ngọc", "address": "Hạ Long"}, "data.applicant.address"),
        ({"phone": "0912345678"}, "data.applicant.name"),
        ("Ngọc", "data.applicant"),
    ],
)
def test_bad_applicant_fields_are_422_naming_the_field_without_echoing_the_value(
    catalog: Catalog, applicant: Any, field: str
) -> None:
    outcome = Admission(KEY, catalog, NOW, takes_applicant=True).admit(received(applicant))
    assert isinstance(outcome, Rejection) and outcome.status_code == 422
    assert [e["field"] for e in outcome.errors] == [field]
    shown = repr(outcome.errors)
    values = applicant.values() if isinstance(applicant, dict) else [applicant]
    for value in values:
        if value.strip():
            assert value not in shown


def test_the_models_repr_shows_no_value() -> None:
    applicant = ApplicantIn(**APPLICANT)
    for text in APPLICANT.values():
        assert text not in repr(applicant) and text not in str(applicant)


def test_a_malformed_public_key_stops_the_service_with_a_clear_message() -> None:
    assert sealer_from_key(None) is None and sealer_from_key("") is None
    for bad in ("not base64!", base64.b64encode(b"short").decode()):
        with pytest.raises(ValueError, match="INTAKE_APPLICANT_PUBLIC_KEY"):
            sealer_from_key(bad)
