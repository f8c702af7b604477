"""Made-up applicants for `dossier.received`'s `data.applicant` (name, CCCD, phone, email): Vietnamese
names from common family, middle and given names, a 12-digit citizen identity number with a Quảng
Ninh-like province prefix, a mobile number and an email made of the name without diacritics. Nobody
real: the parts are drawn independently. Deterministic for a `random.Random`."""

from __future__ import annotations

import random
import unicodedata

__all__ = ["APPLICANT_SHARE", "applicant"]

#: The share of receipts that carry applicant data (the others were received without it).
APPLICANT_SHARE = 0.6

_FAMILY = (
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Vũ",
    "Võ",
    "Phan",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
)
_MIDDLE = ("Văn", "Thị", "Đức", "Minh", "Ngọc", "Thu", "Quang", "Thanh", "Hữu", "Bảo", "Gia", "Xuân")
_GIVEN = (
    "An", "Bình", "Châu", "Dũng", "Giang", "Hà", "Hải", "Hạnh", "Hiếu", "Hoa", "Hùng", "Hương",
    "Khánh", "Lan", "Linh", "Long", "Mai", "Nam", "Nga", "Phúc", "Quân", "Sơn", "Tâm", "Thảo",
    "Trang", "Tuấn", "Uyên", "Việt", "Yến",
)  # fmt: skip
#: CCCD province codes: Quảng Ninh (022) mostly, and neighbours.
_PROVINCES = ("022", "022", "022", "001", "031", "024", "020")
_MOBILE = ("090", "091", "093", "094", "096", "097", "098", "086", "088", "070", "079", "083")


def _ascii(text: str) -> str:
    flat = unicodedata.normalize("NFKD", text.replace("Đ", "D").replace("đ", "d"))
    return "".join(c for c in flat if c.isascii()).lower()


def applicant(rng: random.Random) -> dict[str, str]:
    """One applicant; about one in five gives no email, one in ten no phone."""
    family, middle, given = rng.choice(_FAMILY), rng.choice(_MIDDLE), rng.choice(_GIVEN)
    out = {
        "name": f"{family} {middle} {given}",
        "id_number": rng.choice(_PROVINCES) + f"{rng.randrange(10**9):09d}",
    }
    if rng.random() >= 0.1:
        out["phone"] = rng.choice(_MOBILE) + f"{rng.randrange(10**7):07d}"
    if rng.random() >= 0.2:
        out["email"] = f"{_ascii(given)}.{_ascii(family)}{rng.randrange(1000)}@example.vn"
    return out
