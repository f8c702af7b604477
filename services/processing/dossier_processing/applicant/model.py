"""The opened applicant data and the national portal's fields made of it. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field

from dossier_contracts.applicant_wire import applicant_from_json

__all__ = ["PORTAL_FIELDS", "Applicant", "applicant_fields"]

#: The national portal's record field of each applicant field (DongBoHoSoMC).
PORTAL_FIELDS = {"name": "ChuHoSo", "id_number": "MaDoiTuong", "phone": "SoDienThoai", "email": "Email"}


@dataclass(frozen=True)
class Applicant:
    """A dossier's applicant: name, identifier (CCCD, tax code…), phone and email ("" when not given).
    Personal data: its `repr` and `str` never show a value, so it cannot slip into a log line."""

    name: str = field(default="", repr=False)
    id_number: str = field(default="", repr=False)
    phone: str = field(default="", repr=False)
    email: str = field(default="", repr=False)

    def __repr__(self) -> str:
        return "Applicant(<withheld>)"

    __str__ = __repr__

    @classmethod
    def from_clear(cls, clear: bytes) -> Applicant:
        """The applicant of an opened blob; `ValueError` if it is not the applicant JSON."""
        return cls(**applicant_from_json(clear))


def applicant_fields(applicant: Applicant | None) -> dict[str, str]:
    """`ChuHoSo`, `MaDoiTuong`, `SoDienThoai` and `Email` of the portal's record; empty strings when
    the dossier has no applicant data (never given, or erased)."""
    return {portal: getattr(applicant, name) if applicant else "" for name, portal in PORTAL_FIELDS.items()}
