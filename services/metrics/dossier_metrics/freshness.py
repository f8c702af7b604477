"""How fresh `/metrics` is: for every applied snapshot that carries `accepted_at` (when intake accepted
the newest event the version applies), the seconds from that instant to the moment the live index
counts the version, exposed as the histogram `metrics_event_visible_seconds`.

This is how the POST → visible latency is measured without loading the service: the service observes
each version once, as it makes it visible, and a reader needs one scrape at the start and one at the end
of a window. The buckets are fine around the goal (p99 < 0.5 s), so `histogram_quantile` and the
fraction under 0.5 s are read straight from them. Intake and metrics read the same clock on one host;
across hosts the figures carry their clock offset (NTP keeps it to milliseconds).
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterable

from prometheus_client.core import HistogramMetricFamily

#: upper bounds in seconds (the last bucket, +Inf, is implied)
BUCKETS = (
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.25,
    0.3,
    0.4,
    0.5,
    0.75,
    1.0,
    1.5,
    2.0,
    3.0,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    3600.0,
)
NAME = "metrics_event_visible_seconds"


class Freshness:
    """Counts per bucket (not cumulative), their sum, and the number of observations."""

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)
        self.sum = 0.0

    def observe_visible(self, accepted_at: Iterable[float], now: float | None = None) -> None:
        """Record versions accepted at these instants (seconds since the epoch) as visible `now`."""
        now = time.time() if now is None else now
        for at in accepted_at:
            delay = max(0.0, now - at)
            self.counts[bisect.bisect_left(BUCKETS, delay)] += 1
            self.sum += delay

    def metric(self) -> HistogramMetricFamily:
        cumulative, running = [], 0
        for bound, count in zip((*BUCKETS, float("inf")), self.counts, strict=True):
            running += count
            cumulative.append((str(bound) if bound != float("inf") else "+Inf", running))
        return HistogramMetricFamily(
            NAME,
            "Seconds from intake accepting an event to its dossier's version being counted in /metrics.",
            buckets=cumulative,
            sum_value=self.sum,
        )
