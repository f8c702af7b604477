"""What can be checked without Kafka: settings, the OpenAPI document, the command line."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dossier_core.catalog import default_catalog_dir, load_catalog
from dossier_intake.__main__ import main
from dossier_intake.admission import Rejection, admit
from dossier_intake.app import create_app
from dossier_intake.settings import IntakeSettings
from dossier_runtime.api_keys import ApiKey

NOW = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)


def test_settings_come_from_intake_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTAKE_PORT", "9101")
    monkeypatch.setenv("INTAKE_API_KEYS_FILE", "/etc/intake/keys.csv")
    monkeypatch.setenv("INTAKE_RATE_LIMIT_PER_S", "5")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    settings = IntakeSettings()
    assert settings.port == 9101 and str(settings.api_keys_file) == "/etc/intake/keys.csv"
    assert settings.rate_limit_per_s == 5 and settings.kafka_bootstrap_servers == "kafka:9092"
    assert settings.events_topic == "dossier.events.v1" and settings.topic_partitions == 12
    assert settings.max_batch_events == 1000


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INTAKE_PORT", raising=False)
    assert IntakeSettings().port == 8001


def test_openapi_examples_are_admitted_events() -> None:
    doc = create_app(IntakeSettings()).openapi()
    body = doc["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/Event"}
    assert set(doc["components"]["schemas"]) >= {"Event", "Received", "ReceivedData", "Problem"}
    assert doc["components"]["schemas"]["Event"]["discriminator"]["propertyName"] == "type"
    catalog = load_catalog(default_catalog_dir())
    key = ApiKey("docs", "0" * 64, ("*",))
    for example in body["examples"].values():
        assert not isinstance(admit(example["value"], key, catalog, NOW), Rejection)
    batch = doc["paths"]["/v1/events:batch"]["post"]["requestBody"]["content"]["application/json"]
    assert batch["schema"]["properties"]["events"]["maxItems"] == 1000
    responses = doc["paths"]["/v1/events"]["post"]["responses"]
    assert {"202", "401", "403", "413", "422", "429", "503"} <= set(responses)
    assert "application/problem+json" in responses["503"]["content"]


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    assert caught.value.code == 0
    assert "INTAKE_API_KEYS_FILE" in capsys.readouterr().out
