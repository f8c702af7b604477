"""The OpenAPI document tells the truth: schemathesis, with all its checks, against the running
intake process (real Kafka) with a valid key finds nothing.

All checks include: no 5xx, every status code, content type, header and body declared, requests
that break the schema refused, requests that follow it accepted. One allowance, written in the
OpenAPI document itself: a single event that follows the schema may still be refused with 422 for
what JSON Schema cannot say (the catalog, the dossier code's agency prefix and date, the clock).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from intake_harness import Keys, Server

from tests.support import run_schemathesis

pytestmark = pytest.mark.integration

EXAMPLES_PER_OPERATION = 25
CONFIG = """
[[operations]]
include-path = "/v1/events"
include-method = "POST"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "422", "429"]
"""


def test_schemathesis_finds_nothing(server: Server, keys: Keys, tmp_path: Path) -> None:
    run = run_schemathesis(
        server.url, keys.qn, tmp_path, examples=EXAMPLES_PER_OPERATION, seed=1, config=CONFIG
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    assert "6 selected / 6 total" in report  # the five of SPEC §3 and /v1/feedback/events
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in report, report
    assert "Traceback" not in server.log()
