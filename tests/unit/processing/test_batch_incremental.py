"""The incremental path (fold states resumed, histories read only when needed) writes exactly what a
fresh re-fold of every touched dossier writes: the same rows, snapshots, rejections and counts."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from processing_factory import (
    START,
    Record,
    Sent,
    event,
    interleave,
    resent,
    returned_at_of,
    stream,
    with_id,
)

from dossier_contracts.event_codec import decode_event
from dossier_contracts.snapshot_codec import event_from_proto
from dossier_core.catalog import default_catalog_dir, load_catalog
from dossier_core.events import DossierEvent
from dossier_core.lifecycle import fold
from dossier_processing.ingest.decode import Incoming, decode_messages
from dossier_processing.ingest.history_cache import HistoryCache
from dossier_processing.ingest.plan import EVENT_LIMIT_ANOMALY, BatchPlan, process_batch, resume_points
from dossier_processing.ingest.sql import from_cache
from dossier_processing.models import DossierRow

CATALOG = load_catalog(default_catalog_dir())
NOW = START + timedelta(days=400)
ODD = ("processing", "returned", "resolved", "received", "supplement_received", "suspended", "resumed")


@dataclass
class Database:
    """The `events` and `dossiers` tables as far as the consumer reads them back."""

    events: dict[str, tuple[str, int, bytes]] = field(default_factory=dict)
    dossiers: dict[str, tuple[int, int, bool, str]] = field(default_factory=dict)
    seq: int = 0
    histories_read: int = 0

    def apply(self, items: list[Incoming], cache: HistoryCache | None, event_limit: int) -> BatchPlan:
        """What `consumer.apply_batch` does, with these tables instead of PostgreSQL."""
        seqs = list(range(self.seq + 1, self.seq + len(items) + 1))
        self.seq += len(items)
        payloads = {
            i.event.event_id: self.events[i.event.event_id][2]
            for i in items
            if i.event.event_id in self.events
        }
        points = resume_points(items, seqs, payloads)
        rows = [(code, *self.dossiers[code]) for code in points if code in self.dossiers]
        stored, unread = from_cache(rows, points, cache)
        self.histories_read += len(unread)
        for code, seq, payload in self.events.values():
            if code in unread:
                unread[code].append(event_from_proto(decode_event(payload), seq))
        plan = process_batch(
            items, stored, seqs, CATALOG, NOW, stored_payloads=payloads, event_limit=event_limit
        )
        for e in plan.events:
            self.events[e.event_id] = (e.dossier_code, e.seq, e.payload)
        for d in plan.dossiers:
            anomalies = orjson.loads(d.anomalies)
            flagged = EVENT_LIMIT_ANOMALY in anomalies
            self.dossiers[d.dossier_code] = (d.version, len(anomalies), flagged, d.last_event_id)
        if cache is not None:
            cache.remember(plan)
        return plan

    def history(self, code: str) -> list[DossierEvent]:
        return [
            event_from_proto(decode_event(payload), seq)
            for owner, seq, payload in self.events.values()
            if owner == code
        ]


def written(plan: BatchPlan) -> tuple[object, ...]:
    return plan.events, plan.dossiers, plan.rejected, plan.duplicates, plan.anomalies_added


def incoming(sent: list[Sent]) -> list[Incoming]:
    items, rejected = decode_messages([Record(e.raw, offset=i) for i, e in enumerate(sent)])
    assert not rejected
    return items


def hostile_stream(rng: random.Random, dossiers: int) -> list[Sent]:
    """Plausible histories with odd events (ties, earlier times, transitions that make no sense),
    delivered in order, shuffled or late, with resends, exact duplicates and `event_id` conflicts."""
    histories = list(stream(dossiers, seed=rng.randint(0, 10_000)))
    for history in histories:
        code = history[0].dossier_code
        for _ in range(rng.randint(0, 3)):
            near = rng.choice(history).occurred_at
            at = near if rng.random() < 0.3 else near + timedelta(minutes=rng.randint(-600, 600))
            history.insert(rng.randrange(len(history) + 1), event(rng.choice(ODD), code, at))
    order = rng.choice(("interleaved", "shuffled", "late"))
    sent = [e for h in histories for e in h]
    if order == "interleaved":
        sent = interleave(histories, rng)
    elif order == "shuffled":
        rng.shuffle(sent)
    else:
        sent = interleave(histories, rng)
        for _ in range(len(sent) // 5):
            i = rng.randrange(len(sent))
            sent.insert(min(len(sent), i + rng.randint(1, 30)), sent.pop(i))
    for _ in range(rng.randint(0, len(sent) // 4)):
        original = rng.choice(sent)
        again = rng.choice((original, resent(original), with_id(rng.choice(sent), original.event_id)))
        sent.insert(rng.randrange(len(sent) + 1), again)
    return sent


def batches(rng: random.Random, sent: list[Sent]) -> list[list[Sent]]:
    cuts = sorted(rng.sample(range(1, len(sent)), min(len(sent) - 1, rng.randint(1, 12))))
    return [sent[a:b] for a, b in zip([0, *cuts], [*cuts, len(sent)], strict=True)]


@settings(max_examples=100, deadline=None)
@given(
    st.integers(0, 2**32),
    st.integers(1, 8),
    st.sampled_from([3, 6, 500]),
    st.sampled_from([(0, 0), (0, 3), (0, 1_000), (6, 2), (40, 5), (10_000, 1_000)]),
)
def test_the_incremental_path_writes_what_a_full_re_fold_writes(
    seed: int, dossiers: int, event_limit: int, cache_sizes: tuple[int, int]
) -> None:
    rng = random.Random(seed)  # a seeded generator: Hypothesis' own random draws shrink towards 0
    incremental, full = Database(), Database()
    cache = HistoryCache(*cache_sizes)
    last_rows: dict[str, DossierRow] = {}
    for chunk in batches(rng, hostile_stream(rng, dossiers)):
        items = incoming(chunk)
        other_instance = rng.random() < 0.15  # writes without this cache: its entries go stale
        expected = full.apply(items, None, event_limit)
        got = incremental.apply(items, None if other_instance else cache, event_limit)
        assert written(got) == written(expected)
        last_rows.update((row.dossier_code, row) for row in got.dossiers)
    assert incremental.dossiers == full.dossiers
    for code, row in last_rows.items():  # NgayTra as the rows module defines it, from the whole history
        history = incremental.history(code)
        assert row.returned_at == returned_at_of(fold(history, CATALOG), history)


def test_events_in_order_resume_fold_states_without_reading_histories() -> None:
    rng = random.Random(3)
    sent = interleave(list(stream(40, seed=5)), rng)
    incremental, full = Database(), Database()
    cache = HistoryCache(max_events=0, max_states=1_000)  # no histories kept: only fold states
    for start in range(0, len(sent), 25):
        items = incoming(sent[start : start + 25])
        assert written(incremental.apply(items, cache, 500)) == written(full.apply(items, None, 500))
    assert incremental.histories_read == 0 and cache.states.hits > 0
    assert full.histories_read > 0


def test_an_earlier_event_reads_the_history_and_re_folds() -> None:
    history = next(stream(1, seed=11))
    code = history[0].dossier_code
    early = event("processing", code, history[0].occurred_at + timedelta(minutes=1))
    incremental, full = Database(), Database()
    cache = HistoryCache(max_events=0, max_states=10)
    for chunk in ([history[0]], history[1:], [early]):
        items = incoming(chunk)
        assert written(incremental.apply(items, cache, 500)) == written(full.apply(items, None, 500))
    assert incremental.histories_read == 1  # only the earlier event needed the stored history
