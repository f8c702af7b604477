"""Settings every service has. Each service subclasses `ServiceSettings` with its own env prefix.

The variables named in SPEC §7 (`KAFKA_BOOTSTRAP_SERVERS`, `DATABASE_URL`, `DOSSIER_CATALOG_DIR`) are
read without prefix; a prefixed spelling (e.g. `PROCESSING_DATABASE_URL`) wins when both are set.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings

from dossier_core.catalog import default_catalog_dir

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
    catalog_dir: Path = Field(
        default_factory=default_catalog_dir,
        validation_alias=AliasChoices("DOSSIER_CATALOG_DIR"),
    )
    host: str = "127.0.0.1"
    log_level: str = "INFO"
