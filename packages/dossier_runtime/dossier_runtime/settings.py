"""Settings every service has. Each service subclasses `ServiceSettings` with its own env prefix.

The variables named in SPEC §7 (`KAFKA_BOOTSTRAP_SERVERS`, `DATABASE_URL`, `DOSSIER_CATALOG_DIR`) are
read without prefix; a prefixed spelling (e.g. `PROCESSING_DATABASE_URL`) wins when both are set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings

from dossier_core.catalog import default_catalog_dir
from dossier_runtime.kafka import KafkaConnection, TopicPolicy

DEFAULT_DATABASE_URL = "postgresql://dossier:dossier@127.0.0.1:5432/dossier"


def shared_field(name: str, prefix: str, default: object) -> object:
    """A field read from `<PREFIX>_<NAME>` or, failing that, the unprefixed `<NAME>`."""
    return Field(default=default, validation_alias=AliasChoices(f"{prefix}{name}", name))


class ServiceSettings(BaseSettings):
    """Fields common to the three services; subclasses set `model_config` with their prefix."""

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS"),
    )
    # How the clients reach a secured cluster (docs/operations.md, "Kafka settings"). Unprefixed: each
    # process (pod) of a service carries its own user's credentials.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", validation_alias=AliasChoices("KAFKA_SECURITY_PROTOCOL")
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = Field(
        default="SCRAM-SHA-512", validation_alias=AliasChoices("KAFKA_SASL_MECHANISM")
    )
    kafka_sasl_username: str | None = Field(
        default=None, validation_alias=AliasChoices("KAFKA_SASL_USERNAME")
    )
    kafka_sasl_password: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("KAFKA_SASL_PASSWORD")
    )
    kafka_ssl_ca_file: Path | None = Field(default=None, validation_alias=AliasChoices("KAFKA_SSL_CA_FILE"))
    kafka_ssl_cert_file: Path | None = Field(
        default=None, validation_alias=AliasChoices("KAFKA_SSL_CERT_FILE")
    )
    kafka_ssl_key_file: Path | None = Field(default=None, validation_alias=AliasChoices("KAFKA_SSL_KEY_FILE"))
    kafka_ssl_check_hostname: bool = Field(
        default=True, validation_alias=AliasChoices("KAFKA_SSL_CHECK_HOSTNAME")
    )
    # Settings of the topics a service creates when they do not exist yet (existing topics are left as
    # they are; a replication factor below this one is logged at start).
    kafka_replication_factor: int = Field(
        default=1, ge=1, le=16, validation_alias=AliasChoices("KAFKA_REPLICATION_FACTOR")
    )
    kafka_min_insync_replicas: int | None = Field(
        default=None, ge=1, le=16, validation_alias=AliasChoices("KAFKA_MIN_INSYNC_REPLICAS")
    )
    #: days `dossier.events.v1` keeps events (-1: for good; processing keeps every event in PostgreSQL)
    kafka_events_retention_days: int = Field(
        default=-1, ge=-1, validation_alias=AliasChoices("KAFKA_EVENTS_RETENTION_DAYS")
    )
    #: days `dossier.status.v1` keeps snapshots (-1: for good; a metrics rebuild reads it from the start)
    kafka_status_retention_days: int = Field(
        default=-1, ge=-1, validation_alias=AliasChoices("KAFKA_STATUS_RETENTION_DAYS")
    )
    catalog_dir: Path = Field(
        default_factory=default_catalog_dir,
        validation_alias=AliasChoices("DOSSIER_CATALOG_DIR"),
    )
    host: str = "127.0.0.1"
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _kafka_security_is_complete(self) -> ServiceSettings:
        if self.kafka_security_protocol.startswith("SASL") and not (
            self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs KAFKA_SASL_USERNAME and "
                "KAFKA_SASL_PASSWORD"
            )
        if (self.kafka_ssl_cert_file is None) != (self.kafka_ssl_key_file is None):
            raise ValueError("KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE go together")
        replicas, min_isr = self.kafka_replication_factor, self.kafka_min_insync_replicas
        if min_isr is not None and min_isr > replicas:
            raise ValueError(
                f"KAFKA_MIN_INSYNC_REPLICAS={min_isr} exceeds KAFKA_REPLICATION_FACTOR={replicas}: "
                "no write could ever be acknowledged"
            )
        return self

    @property
    def kafka(self) -> KafkaConnection:
        """Where and how every Kafka client of this service connects."""
        password = self.kafka_sasl_password
        return KafkaConnection(
            bootstrap=self.kafka_bootstrap_servers,
            security_protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            sasl_username=self.kafka_sasl_username,
            sasl_password=password.get_secret_value() if password else None,
            ssl_ca_file=self.kafka_ssl_ca_file,
            ssl_cert_file=self.kafka_ssl_cert_file,
            ssl_key_file=self.kafka_ssl_key_file,
            ssl_check_hostname=self.kafka_ssl_check_hostname,
        )

    @property
    def topic_policy(self) -> TopicPolicy:
        """Replication of the topics this service creates."""
        return TopicPolicy(self.kafka_replication_factor, self.kafka_min_insync_replicas)
