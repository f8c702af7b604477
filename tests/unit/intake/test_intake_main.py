"""`dossier-intake` freezes what start-up made before it serves, so the collector's full passes
skip the modules, the app and its validators."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
import uvicorn

from dossier_intake import __main__ as entry


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("unfrozen")
def test_the_heap_is_frozen_once_the_app_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    frozen_when_served: list[int] = []

    def run(server: uvicorn.Server, sockets: object = None) -> None:
        frozen_when_served.append(gc.get_freeze_count())

    monkeypatch.setattr(uvicorn.Server, "run", run)
    monkeypatch.setattr(entry, "configure_logging", lambda service, level: None)
    assert gc.get_freeze_count() == 0
    assert entry.main([]) == 0
    assert len(frozen_when_served) == 1 and frozen_when_served[0] > 10_000
