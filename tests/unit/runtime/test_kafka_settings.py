"""Kafka connection settings: every client gets TLS and SASL from the same environment variables, and
settings that could never work are refused at start."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError

from dossier_runtime.kafka import KafkaConnection, TopicPolicy, client_options
from dossier_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    pass


def test_plaintext_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KAFKA_SECURITY_PROTOCOL", "KAFKA_REPLICATION_FACTOR", "KAFKA_MIN_INSYNC_REPLICAS"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert client_options(settings.kafka) == {
        "bootstrap_servers": "127.0.0.1:9092",
        "security_protocol": "PLAINTEXT",
    }
    assert settings.topic_policy == TopicPolicy(1, None)
    assert settings.topic_policy.configs() == {}


def test_sasl_ssl_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ca = _self_signed_ca(tmp_path)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "b1:9094,b2:9094,b3:9094")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "intake")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "s3cret")
    monkeypatch.setenv("KAFKA_SSL_CA_FILE", str(ca))
    monkeypatch.setenv("KAFKA_REPLICATION_FACTOR", "3")
    monkeypatch.setenv("KAFKA_MIN_INSYNC_REPLICAS", "2")
    settings = Settings()
    options = client_options(settings.kafka)
    assert options["bootstrap_servers"] == "b1:9094,b2:9094,b3:9094"
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("intake", "s3cret")
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    assert settings.topic_policy.configs() == {"min.insync.replicas": "2"}
    assert settings.topic_policy.replication_factor == 3
    # the password never shows in the settings' text (logs, errors)
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": "intake"}, "KAFKA_SASL_PASSWORD"),
        ({"KAFKA_SECURITY_PROTOCOL": "TLS"}, "KAFKA_SECURITY_PROTOCOL"),
        ({"KAFKA_SASL_MECHANISM": "GSSAPI"}, "KAFKA_SASL_MECHANISM"),
        ({"KAFKA_REPLICATION_FACTOR": "2", "KAFKA_MIN_INSYNC_REPLICAS": "3"}, "KAFKA_MIN_INSYNC_REPLICAS=3"),
        ({"KAFKA_SSL_CERT_FILE": "/tmp/c.pem"}, "KAFKA_SSL_KEY_FILE"),
    ],
)
def test_settings_that_cannot_work_are_refused(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=message):
        Settings()


def test_plaintext_connection_from_a_bare_bootstrap() -> None:
    assert client_options("h:1") == {"bootstrap_servers": "h:1"}
    assert KafkaConnection("h:1").options() == {"bootstrap_servers": "h:1", "security_protocol": "PLAINTEXT"}


def _self_signed_ca(tmp_path: Path) -> Path:
    """A CA certificate in PEM, made by the `openssl` command line."""
    key, cert = tmp_path / "ca.key", tmp_path / "ca.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=test CA"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert
