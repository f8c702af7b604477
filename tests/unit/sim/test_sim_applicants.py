"""The simulator's applicants: most receipts carry one, each is one intake takes, the draw leaves the
rest of a seed's traffic as it was, and the fold never sees the applicant."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from dossier_core.catalog_csv import default_catalog_dir, load_catalog
from dossier_core.periods import parse_period
from dossier_intake.admission import Admission, Rejection
from dossier_runtime.api_keys import ApiKey
from dossier_sim.applicants import APPLICANT_SHARE, applicant
from dossier_sim.generator import ProvinceGenerator, domain_event
from dossier_sim.mix import DEFAULT_MIX, OutcomeMix

CATALOG = load_catalog(default_catalog_dir())
Q2 = parse_period("2021-Q2")
KEY = ApiKey("sim", "0" * 64, ("*",))
NOW = datetime(2021, 7, 1, tzinfo=UTC)


def receipts(seed: int, count: int = 400, share: float = APPLICANT_SHARE) -> list[dict]:
    gen = ProvinceGenerator(CATALOG, Q2, OutcomeMix.parse(DEFAULT_MIX), seed=seed, applicant_share=share)
    return [e for d in gen.dossiers(count) for e in d.events if e["type"] == "dossier.received"]


def test_most_receipts_carry_a_valid_applicant() -> None:
    got = receipts(seed=5)
    with_applicant = [e["data"]["applicant"] for e in got if "applicant" in e["data"]]
    assert abs(len(with_applicant) / len(got) - APPLICANT_SHARE) < 0.08
    admission = Admission(KEY, CATALOG, NOW, takes_applicant=True)
    assert [r.errors for e in got if isinstance(r := admission.admit(e), Rejection)] == []
    assert all(len(values["id_number"]) == 12 for values in with_applicant)


def test_the_applicants_leave_the_rest_of_the_traffic_unchanged() -> None:
    with_them = receipts(seed=9)
    without_them = receipts(seed=9, share=0.0)  # the generator's default: none
    assert all("applicant" not in e["data"] for e in without_them)
    stripped = [{**e, "data": {k: v for k, v in e["data"].items() if k != "applicant"}} for e in with_them]
    assert stripped == without_them


def test_the_fold_never_sees_the_applicant() -> None:
    event = next(e for e in receipts(seed=3) if "applicant" in e["data"])
    data = domain_event(event, 0).data
    assert "applicant" not in data and "applicant_sealed" not in data
    assert data["procedure_code"] == event["data"]["procedure_code"]


def test_names_are_vietnamese_and_emails_plain_ascii() -> None:
    rng = random.Random(1)
    people = [applicant(rng) for _ in range(200)]
    assert all(len(p["name"].split()) == 3 for p in people)
    assert any(not p["name"].isascii() for p in people)
    assert all(p["email"].isascii() for p in people if "email" in p)
