"""Fixtures: intake in-process or as a process, with a keys file and topics of its own per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from intake_harness import Intake, Keys, Server, make_settings, running, serving

from dossier_processing.applicant.keys import generate_key_pair
from dossier_runtime.api_keys import create_key


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    path = tmp_path / "intake_keys.csv"
    return Keys(path, create_key(path, "counter-qn", "*.H49"), create_key(path, "counter-other", "*.H22"))


@pytest.fixture
async def intake(kafka_bootstrap: str, topic_suffix: str, keys: Keys) -> AsyncIterator[Intake]:
    settings = make_settings(kafka_bootstrap, topic_suffix, keys)
    async with running(settings) as client:
        yield Intake(client, settings, keys)


@pytest.fixture
def server(kafka_bootstrap: str, topic_suffix: str, keys: Keys, tmp_path: Path) -> Iterator[Server]:
    """Intake as a process, with an applicant key (events may carry applicant data)."""
    public = generate_key_pair().public
    settings = make_settings(kafka_bootstrap, topic_suffix, keys, applicant_public_key=public)
    with serving(settings, tmp_path / "intake.log") as srv:
        yield srv
