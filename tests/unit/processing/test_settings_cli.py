"""Settings from the environment and the command line."""

from __future__ import annotations

import pytest

from dossier_processing.__main__ import main
from dossier_processing.settings import ProcessingSettings
from dossier_runtime.db import async_url


def test_spec_variables_and_prefixed_spellings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db:5432/dossier")
    monkeypatch.setenv("PROCESSING_PORT", "9102")
    monkeypatch.setenv("PROCESSING_API_KEYS_FILE", "/etc/keys.csv")
    monkeypatch.setenv("PROCESSING_PORTAL_URL", "https://portal.example/api/DongBoHoSoMC")
    s = ProcessingSettings()
    assert s.database_url == "postgresql://u:p@db:5432/dossier" and s.port == 9102
    assert str(s.api_keys_file) == "/etc/keys.csv" and s.portal_url.endswith("DongBoHoSoMC")
    assert s.events_topic == "dossier.events.v1" and s.status_topic == "dossier.status.v1"
    assert s.db_schema == "processing"
    monkeypatch.setenv("PROCESSING_DATABASE_URL", "postgresql://u:p@other/dossier")
    assert ProcessingSettings().database_url == "postgresql://u:p@other/dossier"


def test_database_url_spellings() -> None:
    assert async_url("postgresql://a@b/c") == "postgresql+asyncpg://a@b/c"
    assert async_url("postgresql+asyncpg://a@b/c") == "postgresql+asyncpg://a@b/c"
    with pytest.raises(ValueError):
        async_url("mysql://a@b/c")


def test_help_lists_the_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "serve" in out and "migrate" in out and "dlq" in out
