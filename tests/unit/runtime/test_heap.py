"""Each service settles its heap before it serves: what start-up made is frozen, so the collector's
full passes skip the modules, the app and its validators, and young collections are rarer
(`dossier_runtime.heap`)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
import uvicorn

from dossier_intake import __main__ as intake_main
from dossier_metrics import __main__ as metrics_main
from dossier_processing import __main__ as processing_main
from dossier_runtime import heap


@pytest.fixture
def unfrozen() -> Iterator[None]:
    thresholds = gc.get_threshold()
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("unfrozen")
@pytest.mark.parametrize(
    ("entry", "argv"), [(intake_main, []), (processing_main, ["serve"]), (metrics_main, ["serve"])]
)
def test_the_heap_is_settled_once_the_app_is_built(
    monkeypatch: pytest.MonkeyPatch, entry: object, argv: list[str]
) -> None:
    settled_when_served: list[tuple[int, tuple[int, int, int]]] = []

    def run(server: uvicorn.Server, sockets: object = None) -> None:
        settled_when_served.append((gc.get_freeze_count(), gc.get_threshold()))
        server.started = True

    monkeypatch.setattr(uvicorn.Server, "run", run)
    monkeypatch.setattr(entry, "configure_logging", lambda service, level: None)
    assert gc.get_freeze_count() == 0
    assert entry.main(argv) == 0  # type: ignore[attr-defined]
    ((frozen, thresholds),) = settled_when_served
    assert frozen > 10_000
    assert thresholds == (heap.YOUNG, heap.MIDDLE, heap.OLD)
