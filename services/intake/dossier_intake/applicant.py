"""The applicant's personal data on `dossier.received` (Decree 13/2023/NĐ-CP): its bounds, and its
sealing before anything is written to Kafka.

The HTTP API takes `data.applicant = {name, id_number, phone, email}` in clear; the event on
`dossier.events.v1` carries only `data.applicant_sealed`, the clear JSON sealed to processing's
public key (`dossier_contracts.applicant_wire`). Intake holds the public key alone
(`INTAKE_APPLICANT_PUBLIC_KEY`): it can seal, never open. Without the key an event carrying applicant
data is refused (422 naming `data.applicant`), never written in clear. Error messages never repeat
the values (pydantic's are shape-only; the inputs are left out of every error, `admission`).
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from nacl.exceptions import CryptoError
from nacl.public import PublicKey, SealedBox
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, WithJsonSchema
from pydantic_core import PydanticCustomError

from dossier_contracts.applicant_wire import applicant_to_json
from dossier_intake.bounded import TEXT_PATTERN, Text

__all__ = ["KEY_MISSING", "ApplicantIn", "ApplicantSealer", "sealer_from_key"]

#: At most this many characters in the name (ChuHoSo).
MAX_NAME = 200
#: Citizen identity card (CCCD, 12 digits), older ID card (9), tax code (10, or 10-3 for a branch),
#: passport or enterprise code: ASCII capitals, digits and hyphens.
ID_NUMBER_PATTERN = r"^[0-9A-Z][0-9A-Z-]{4,19}$"
#: A phone number: digits, optionally after `+` (e.g. 0912345678, +84912345678).
PHONE_PATTERN = r"^\+?[0-9]{8,15}$"
#: An email address: one `@`, no spaces, a dot in the domain (RFC 5321's 254 characters at most).
EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"
#: Why an event with applicant data is refused by an intake without the public key.
KEY_MISSING = (
    "this service takes no applicant data: it has no key to seal it with (INTAKE_APPLICANT_PUBLIC_KEY); "
    "the event was not written"
)


def _short(value: str) -> str:
    if len(value) > MAX_NAME:
        raise PydanticCustomError("string_too_long", f"must be at most {MAX_NAME} characters")
    return value


Name = Annotated[
    Text,
    AfterValidator(_short),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": MAX_NAME, "pattern": TEXT_PATTERN}),
]


class ApplicantIn(BaseModel):
    """The applicant as sent: the holder's name (ChuHoSo), identifier (MaDoiTuong: CCCD, tax code…),
    phone (SoDienThoai) and email (Email). Its `repr` shows no value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    id_number: Annotated[str, StringConstraints(pattern=ID_NUMBER_PATTERN)] | None = None
    phone: Annotated[str, StringConstraints(pattern=PHONE_PATTERN)] | None = None
    email: Annotated[str, StringConstraints(max_length=254, pattern=EMAIL_PATTERN)] | None = None

    def __repr__(self) -> str:
        return f"ApplicantIn(<{len(self.model_fields_set)} fields withheld>)"

    __str__ = __repr__


class ApplicantSealer:
    """Seals applicant data to processing's public key (a fresh ephemeral key per seal)."""

    def __init__(self, public_key: PublicKey) -> None:
        self._box = SealedBox(public_key)

    def seal(self, applicant: ApplicantIn) -> bytes:
        return self._box.encrypt(applicant_to_json(applicant.model_dump()))


def sealer_from_key(encoded: str | None) -> ApplicantSealer | None:
    """The sealer of a base64 X25519 public key (`None`: no key, applicant data is refused);
    `ValueError` for a value that is not such a key."""
    if not encoded:
        return None
    try:
        raw = base64.b64decode(encoded.strip(), validate=True)
        return ApplicantSealer(PublicKey(raw))
    except (binascii.Error, ValueError, CryptoError, TypeError):
        raise ValueError(
            "INTAKE_APPLICANT_PUBLIC_KEY must be the standard base64 of a 32-byte X25519 public key"
        ) from None
