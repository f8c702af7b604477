"""The garbage collector's settings for a service process.

The services allocate several objects per event (decoded events, fold states, rows, protobuf
messages), and processing and metrics keep large caches of long-lived ones. With CPython's default
thresholds (a young collection every 700 allocations) the collector's passes were 25–35 % of
processing's CPU. `settle_heap`, called once the app is built and before it serves:

- freezes what start-up made (modules, the app, validators: about 100,000 objects that live as long
  as the process), so that full passes skip them (`gc.freeze`);
- collects the young generation every `YOUNG` allocations instead of 700, and the middle one every
  `MIDDLE` young passes. The services make few reference cycles, so garbage waits a little longer,
  not forever; memory stays as measured in BENCHMARKS.md.

Measured on `bench/bench_processing.py` (one process, 205,418 events): 4,635 → 6,812 events/s and
0.153 → 0.105 CPU-seconds per 1,000 events.
"""

from __future__ import annotations

import gc

YOUNG = 20_000
MIDDLE = 50
OLD = 1_000


def settle_heap() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG, MIDDLE, OLD)
