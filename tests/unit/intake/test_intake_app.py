"""What can be checked without Kafka: settings, the OpenAPI document, the command line."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dossier_core.catalog_csv import default_catalog_dir, load_catalog
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


def test_openapi_declares_every_answer_each_endpoint_gives() -> None:
    doc = create_app(IntakeSettings()).openapi()
    expected = {
        ("/v1/events", "post"): {"202", "400", "401", "403", "413", "422", "429", "503"},
        ("/v1/events:batch", "post"): {"200", "400", "401", "413", "422", "429", "503"},
        ("/v1/feedback/events", "post"): {"202", "400", "401", "403", "413", "422", "429", "503"},
        ("/healthz", "get"): {"200"},
        ("/readyz", "get"): {"200", "503"},
        ("/metrics", "get"): {"200"},
    }
    operations = {(path, method) for path, item in doc["paths"].items() for method in item}
    assert operations == set(expected)
    for (path, method), statuses in expected.items():
        responses = doc["paths"][path][method]["responses"]
        assert set(responses) == statuses, path
        for status, response in responses.items():
            if int(status) >= 400:
                assert response["content"] == {
                    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                }
    headers = {
        (path, status): set(response.get("headers", {}))
        for path, item in doc["paths"].items()
        for operation in item.values()
        for status, response in operation["responses"].items()
    }
    assert headers[("/v1/events", "401")] == {"WWW-Authenticate"}
    assert headers[("/v1/events:batch", "429")] == headers[("/readyz", "503")] == {"Retry-After"}
    problem = doc["components"]["schemas"]["Problem"]
    assert problem["properties"]["errors"]["maxItems"] == 20 and "errors_truncated" in problem["properties"]
    assert "text/plain" in doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]


def test_openapi_states_the_bounds_json_schema_can_state() -> None:
    schemas = create_app(IntakeSettings()).openapi()["components"]["schemas"]
    received = schemas["Received"]["properties"]
    assert received["occurred_at"]["format"] == "date-time"
    assert received["agency_code"]["pattern"] == "^[!-~]+$"
    assert received["dossier_code"]["pattern"].startswith("^[!-~]+-[0-9]{2}")
    reason = schemas["ReasonData"]["properties"]["reason"]
    assert reason["maxLength"] == 2000 and "\\u202a-\\u202e" in reason["pattern"]
