"""Schemathesis with every check against the running processing service (a real process on the real
Kafka and PostgreSQL, with a reader key and dossiers stored): every answer is one the OpenAPI document
declares, with the declared media type, headers and schema; what the schema calls valid is accepted
and what it calls invalid is refused; the key is enforced."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from processing_factory import interleave, stream
from processing_harness import events_stored, process_env, produce, wait_until

from dossier_processing.settings import ProcessingSettings
from dossier_processing.views.api_models import DOSSIER_EXAMPLE
from tests.support import ServiceProcess, free_port, run_schemathesis

pytestmark = pytest.mark.integration

EXAMPLES_PER_OPERATION = 40


@pytest.fixture
def processing_process(processing_settings: ProcessingSettings, tmp_path: Path) -> Iterator[ServiceProcess]:
    s = processing_settings
    env = process_env(
        s,
        PROCESSING_PORT=str(free_port()),
        PROCESSING_API_KEYS_FILE=str(s.api_keys_file),
        LOG_LEVEL="INFO",
    )
    process = ServiceProcess("processing", int(env["PROCESSING_PORT"]), env, tmp_path / "processing.log")
    try:
        yield process
    finally:
        process.stop()


async def test_schemathesis_finds_nothing(
    processing_settings: ProcessingSettings,
    processing_process: ServiceProcess,
    processing_key: str,
    tmp_path: Path,
) -> None:
    s = processing_settings
    histories = list(stream(40, seed=9))
    assert histories[0][0].dossier_code == DOSSIER_EXAMPLE  # the document's example is a stored dossier
    await produce(s, interleave(histories, random.Random(9)))
    await asyncio.to_thread(processing_process.start)
    total = sum(map(len, histories))
    await wait_until(lambda: events_stored(s, total), what="events applied")

    run = await asyncio.to_thread(
        run_schemathesis,
        processing_process.url,
        processing_key,
        tmp_path,
        examples=EXAMPLES_PER_OPERATION,
        phases="examples,coverage,fuzzing",
    )
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
    assert "Traceback" not in processing_process.tail(400)
