"""The applicant's data inside `dossier.received`'s `applicant_sealed`: what intake seals and
processing opens (docs/security.md, "Decree 13/2023/NĐ-CP").

The clear text is a compact JSON object `{"name", "id_number", "phone", "email"}` (absent fields left
out), sealed with an X25519 sealed box (libsodium's `crypto_box_seal`, PyNaCl's `SealedBox`) to
processing's public key: whoever holds only the public key (intake) can seal but never open. Keys are
written as standard base64 of their 32 raw bytes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

__all__ = ["APPLICANT_FIELDS", "applicant_from_json", "applicant_to_json"]

#: The applicant's fields, in this order everywhere.
APPLICANT_FIELDS = ("name", "id_number", "phone", "email")


def applicant_to_json(values: Mapping[str, str | None]) -> bytes:
    """The clear text to seal: the fields that are set, as compact JSON."""
    fields = {name: values[name] for name in APPLICANT_FIELDS if values.get(name)}
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()


def applicant_from_json(clear: bytes) -> dict[str, str]:
    """The fields of an opened clear text; `ValueError` for anything that is not such an object."""
    try:
        parsed = json.loads(clear)
    except ValueError:
        raise ValueError("the applicant data is not JSON") from None
    if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
        raise ValueError("the applicant data is not an object of strings")
    return {name: parsed[name] for name in APPLICANT_FIELDS if name in parsed}
