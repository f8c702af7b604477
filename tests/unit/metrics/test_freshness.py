"""The freshness histogram: each accepted-at instant lands in the first bucket that holds its delay."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dossier_metrics.freshness import BUCKETS, NAME, Freshness


def _samples(freshness: Freshness) -> dict[str, float]:
    return {
        f"{s.name}{'{' + s.labels['le'] + '}' if 'le' in s.labels else ''}": s.value
        for s in freshness.metric().samples
    }


def test_delays_fall_in_their_buckets() -> None:
    f = Freshness()
    f.observe_visible([99.99, 99.5, 99.4, 90.0, -3500.0], now=100.0)  # 0.01, 0.5, 0.6, 10, 3600 s
    s = _samples(f)
    assert s[f"{NAME}_bucket{{0.025}}"] == 1
    assert s[f"{NAME}_bucket{{0.5}}"] == 2  # a delay equal to a bound is within it (le)
    assert s[f"{NAME}_bucket{{0.75}}"] == 3
    assert s[f"{NAME}_bucket{{10.0}}"] == 4
    assert s[f"{NAME}_bucket{{3600.0}}"] == 5
    assert s[f"{NAME}_bucket{{+Inf}}"] == 5
    assert s[f"{NAME}_count"] == 5
    assert abs(s[f"{NAME}_sum"] - (0.01 + 0.5 + 0.6 + 10 + 3600)) < 1e-6


def test_a_clock_behind_the_sender_counts_as_no_delay() -> None:
    f = Freshness()
    f.observe_visible([101.0], now=100.0)
    assert _samples(f)[f"{NAME}_bucket{{0.025}}"] == 1


@given(st.lists(st.floats(min_value=0, max_value=10_000), max_size=50))
def test_the_buckets_are_cumulative_and_complete(delays: list[float]) -> None:
    f = Freshness()
    f.observe_visible([1_000_000.0 - d for d in delays], now=1_000_000.0)
    s = _samples(f)
    counts = [s[f"{NAME}_bucket{{{b}}}"] for b in BUCKETS] + [s[f"{NAME}_bucket{{+Inf}}"]]
    assert counts == sorted(counts)
    assert counts[-1] == len(delays) == s[f"{NAME}_count"]
    for bound, count in zip(BUCKETS, counts, strict=False):
        assert count == sum(1 for d in delays if (1_000_000.0 - (1_000_000.0 - d)) <= bound)
