"""The pure domain costs every applied event pays (decode, fold, snapshot), measured in the benchmark's
own process on the same histories as `bench_processing.py`."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Protocol, cast


class Sent(Protocol):
    raw: bytes


def pure_costs(events: list[Sent], histories: list[list[Sent]]) -> dict[str, float]:
    """Microseconds per call of the domain steps every applied event pays, measured in this process
    (best of three runs of each step over the same 5,000 histories)."""
    from dossier_contracts.event_codec import decode_event
    from dossier_contracts.snapshot_codec import dossier_to_snapshot, event_from_proto
    from dossier_core.calendar import VN_TZ
    from dossier_core.catalog import default_catalog_dir, load_catalog
    from dossier_core.dossier import Dossier
    from dossier_core.events import DossierEvent
    from dossier_core.lifecycle import fold

    catalog = load_catalog(default_catalog_dir())
    calendar = catalog.calendar()
    sample = histories[:5000]
    now = datetime.now(VN_TZ)

    def best_of_3(step: Callable[[], object]) -> tuple[float, object]:
        """The fastest of three timed runs (the first pays one-time costs), and the step's result."""
        times, result = [], None
        for _ in range(3):
            started = time.perf_counter()
            result = step()
            times.append(time.perf_counter() - started)
        return min(times), result

    seconds, decoded_any = best_of_3(
        lambda: [[event_from_proto(decode_event(e.raw), i) for i, e in enumerate(h)] for h in sample]
    )
    decoded = cast(list[list[DossierEvent]], decoded_any)
    n_events = sum(map(len, decoded))
    decode_us = seconds / n_events * 1e6
    seconds, folded_any = best_of_3(lambda: [fold(h, catalog) for h in decoded])
    folded = cast(list[Dossier], folded_any)
    fold_us = seconds / len(sample) * 1e6
    seconds, _ = best_of_3(
        lambda: [
            dossier_to_snapshot(d, version=1, changed_at=now, field="", calendar=calendar) for d in folded
        ]
    )
    snapshot_us = seconds / len(sample) * 1e6
    return {
        "decode": decode_us,
        "fold": fold_us,
        "snapshot": snapshot_us,
        "per_dossier": n_events / len(sample),
    }
