"""Applicant data in processing: opened only with the private key, never shown by `repr`, never in the
status snapshot, and neither a second sealing nor an erasure makes a resent event a conflict."""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path

import pytest
from nacl.public import PrivateKey, PublicKey, SealedBox
from processing_factory import START, Record, Sent, event
from test_portal_history import history as portal_history
from test_portal_history import row as portal_row

from dossier_contracts.applicant_wire import applicant_to_json
from dossier_contracts.event_codec import decode_event, encode_event
from dossier_core.catalog import default_catalog_dir, load_catalog
from dossier_intake.applicant import MAX_NAME, ApplicantIn, sealer_from_key
from dossier_processing.__main__ import main as processing_main
from dossier_processing.applicant import Applicant, applicant_fields
from dossier_processing.applicant.keys import Opener, generate_key_pair
from dossier_processing.applicant.store import sealed_of, without_applicant
from dossier_processing.ingest.bounds import MAX_SEALED_BYTES, out_of_bounds
from dossier_processing.ingest.decode import Incoming, decode_messages
from dossier_processing.ingest.plan import StoredDossier, process_batch
from dossier_processing.portal.record import portal_record

CATALOG = load_catalog(default_catalog_dir())
NOW = START + timedelta(days=400)
CODE = "000.00.18.H49-250303-0001"
CLEAR = {"name": "Phạm Quốc Khánh", "id_number": "022199001234", "phone": "0987654321", "email": "k@x.vn"}
PAIR = generate_key_pair()


def seal(values: dict[str, str], public: str = PAIR.public) -> bytes:
    return SealedBox(PublicKey(base64.b64decode(public))).encrypt(applicant_to_json(values))


def received(sealed: bytes | None) -> Sent:
    data = {"procedure_code": "1.004194", "channel": "direct"}
    if sealed is not None:
        data["applicant_sealed"] = base64.b64encode(sealed).decode()
    return event("received", CODE, START, **data)


def incoming(sent: list[Sent]) -> list[Incoming]:
    items, rejected = decode_messages([Record(e.raw, offset=i) for i, e in enumerate(sent)])
    assert not rejected
    return items


def resealed(sent: Sent) -> Sent:
    """The same event sent again through intake: the same applicant, sealed anew."""
    msg = decode_event(sent.raw)
    msg.received.applicant_sealed = seal(CLEAR)
    return Sent(sent.event_id, sent.dossier_code, sent.type, sent.occurred_at, encode_event(msg))


def test_the_private_key_opens_what_was_sealed_to_its_public_key() -> None:
    applicant = Applicant.from_clear(Opener.of(PAIR.private).open(seal(CLEAR)))
    assert applicant == Applicant(**CLEAR)
    assert applicant_fields(applicant) == {
        "ChuHoSo": CLEAR["name"],
        "MaDoiTuong": CLEAR["id_number"],
        "SoDienThoai": CLEAR["phone"],
        "Email": CLEAR["email"],
    }
    with pytest.raises(ValueError, match="cannot be opened"):
        Opener.of(generate_key_pair().private).open(seal(CLEAR))


def test_no_applicant_gives_empty_portal_fields_and_partial_data_empty_strings() -> None:
    assert applicant_fields(None) == {"ChuHoSo": "", "MaDoiTuong": "", "SoDienThoai": "", "Email": ""}
    partial = Applicant.from_clear(applicant_to_json({"name": "Đỗ Thị Lan"}))
    assert applicant_fields(partial)["ChuHoSo"] == "Đỗ Thị Lan" and applicant_fields(partial)["Email"] == ""


def test_repr_and_str_never_show_a_value() -> None:
    applicant = Applicant(**CLEAR)
    shown = f"{applicant!r} {applicant} {[applicant]} {PAIR!r}"
    for value in CLEAR.values():
        assert value not in shown
    assert PAIR.private not in shown


def test_a_malformed_private_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="PROCESSING_APPLICANT_PRIVATE_KEY") as info:
        Opener.of("c2VjcmV0LWJ1dC1zaG9ydA==")
    assert "c2VjcmV0" not in str(info.value)


def test_the_blob_can_be_stripped_from_a_stored_payload() -> None:
    sent = received(seal(CLEAR))
    assert sealed_of(sent.raw) is not None
    stripped = without_applicant(sent.raw)
    assert stripped is not None and sealed_of(stripped) is None
    assert decode_event(stripped).received.procedure_code == "1.004194"
    assert without_applicant(stripped) is None  # nothing left to strip
    assert without_applicant(received(None).raw) is None


def test_the_status_snapshot_carries_no_trace_of_the_applicant() -> None:
    blob = seal(CLEAR)
    plan = process_batch(incoming([received(blob)]), {}, [1], CATALOG, NOW)
    (row,) = plan.dossiers
    assert blob not in row.snapshot and blob[:16] not in row.snapshot
    assert sealed_of(plan.events[0].payload) == blob  # the stored event keeps it, sealed, until erased


def test_a_resealed_or_erased_copy_of_a_stored_event_is_a_duplicate_not_a_conflict() -> None:
    first = received(seal(CLEAR))
    item = incoming([first])[0]
    stored = {CODE: StoredDossier(version=1, events=[item.event])}
    for payload in (first.raw, without_applicant(first.raw)):  # as stored: intact, or erased
        assert payload is not None
        plan = process_batch(
            incoming([resealed(first)]), stored, [2], CATALOG, NOW, stored_payloads={first.event_id: payload}
        )
        assert plan.duplicates == 1 and not plan.rejected and not plan.events
    other = decode_event(first.raw)
    other.received.procedure_code = "1.013835"  # other content under the same id is still a conflict
    changed = Sent(first.event_id, CODE, first.type, first.occurred_at, encode_event(other))
    plan = process_batch(
        incoming([changed]), stored, [3], CATALOG, NOW, stored_payloads={first.event_id: first.raw}
    )
    assert [r.reason.value for r in plan.rejected] == ["event_id_conflict"]


def test_the_generated_key_pair_fits_together() -> None:
    pair = generate_key_pair()
    private = PrivateKey(base64.b64decode(pair.private))
    assert base64.b64encode(bytes(private.public_key)).decode() == pair.public


def test_the_portal_record_carries_the_opened_applicant_and_nothing_without_one() -> None:
    h = portal_history((2, "processing", {"step": "Thẩm định"}))
    record = portal_record(portal_row(h), CATALOG, h, Applicant(**CLEAR))
    assert (record["ChuHoSo"], record["MaDoiTuong"], record["SoDienThoai"], record["Email"]) == (
        CLEAR["name"],
        CLEAR["id_number"],
        CLEAR["phone"],
        CLEAR["email"],
    )
    bare = portal_record(portal_row(h), CATALOG, h)
    assert {k: v for k, v in bare.items() if k in ("ChuHoSo", "MaDoiTuong", "SoDienThoai", "Email")} == {
        "ChuHoSo": "",
        "MaDoiTuong": "",
        "SoDienThoai": "",
        "Email": "",
    }
    assert {k: v for k, v in record.items() if k not in applicant_fields(None)} == {
        k: v for k, v in bare.items() if k not in applicant_fields(None)
    }


def test_the_largest_applicant_intake_takes_is_within_the_consumers_bound_and_a_huge_blob_is_not() -> None:
    largest = ApplicantIn(
        name="Ữ" * MAX_NAME,  # 3 bytes in UTF-8
        id_number="0" * 20,
        phone="+" + "9" * 15,
        email="a" * 64 + "@" + "b" * 185 + ".vn",
    )
    blob = sealer_from_key(PAIR.public).seal(largest)  # type: ignore[union-attr]
    assert len(blob) < MAX_SEALED_BYTES
    (ok,) = incoming([received(blob)])
    assert out_of_bounds(ok.event) is None
    items, rejected = decode_messages([Record(received(b"\x01" * (MAX_SEALED_BYTES + 1)).raw)])
    assert not items
    assert [(r.reason.value, r.error) for r in rejected] == [
        ("out_of_bounds", f"data.applicant_sealed is longer than {MAX_SEALED_BYTES} bytes")
    ]


def test_applicant_keys_writes_a_pair_the_private_file_readable_by_its_owner_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    private, public = tmp_path / "applicant-private.key", tmp_path / "applicant-public.key"
    args = ["applicant-keys", "--private-file", str(private), "--public-file", str(public)]
    assert processing_main(args) == 0
    assert private.stat().st_mode & 0o777 == 0o600
    secret = private.read_text().strip()
    assert secret not in capsys.readouterr().out  # the command names the files, never the key
    sealed = SealedBox(PublicKey(base64.b64decode(public.read_text().strip()))).encrypt(b'{"name":"An"}')
    assert Applicant.from_clear(Opener.of(secret).open(sealed)).name == "An"


def test_erase_applicant_refuses_a_code_that_is_not_printable_ascii(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert processing_main(["erase-applicant", "000.00.18.H49-250303-０００１"]) == 2
    assert "printable ASCII" in capsys.readouterr().err
