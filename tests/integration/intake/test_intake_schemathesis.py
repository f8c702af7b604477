"""The OpenAPI document tells the truth: schemathesis, with all its checks, against the running
intake process (real Kafka) with a valid key finds nothing.

All checks include: no 5xx, every status code, content type, header and body declared, requests
that break the schema refused, requests that follow it accepted. One allowance, written in the
OpenAPI document itself: a single event that follows the schema may still be refused with 422 for
what JSON Schema cannot say (the catalog, the dossier code's agency prefix and date, the clock).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from intake_harness import Keys, Server

pytestmark = pytest.mark.integration

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
EXAMPLES_PER_OPERATION = 25
CONFIG = """
[[operations]]
include-path = "/v1/events"
include-method = "POST"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "422", "429"]
"""


def test_schemathesis_finds_nothing(server: Server, keys: Keys, tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    run = subprocess.run(
        [
            str(SCHEMATHESIS),
            "--config-file",
            str(config),
            "--no-color",
            "run",
            f"{server.url}/openapi.json",
            "--checks",
            "all",
            "--header",
            f"Authorization: Bearer {keys.qn}",
            "--max-examples",
            str(EXAMPLES_PER_OPERATION),
            "--seed",
            "1",
            "--generation-database",
            "none",
            "--request-timeout",
            "30",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    assert "5 selected / 5 total" in report
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in report, report
    assert "Traceback" not in server.log()
