"""The pure batch step against hostile input: event-id conflicts, resends, the per-dossier event limit,
events the fold cannot apply, and events outside the bounds. Only the offending event is set aside."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from processing_factory import START, Record, Sent, event, resent, with_id

from dossier_contracts.snapshot_codec import decode_snapshot
from dossier_core.catalog import default_catalog_dir, load_catalog
from dossier_core.lifecycle import fold_state
from dossier_processing.ingest import plan as plan_module
from dossier_processing.ingest.decode import Incoming, decode_messages
from dossier_processing.ingest.failures import Reason
from dossier_processing.ingest.plan import (
    EVENT_LIMIT_ANOMALY,
    BatchPlan,
    StoredDossier,
    keep_applicable,
    process_batch,
)

CATALOG = load_catalog(default_catalog_dir())
NOW = START + timedelta(days=400)
CODE = "000.00.18.H49-250303-0001"
OTHER = "000.00.18.H49-250303-0002"


def incoming(sent: list[Sent]) -> list[Incoming]:
    items, rejected = decode_messages(
        [Record(e.raw, key=e.dossier_code.encode(), offset=i) for i, e in enumerate(sent)]
    )
    assert not rejected
    return items


def run(sent: list[Sent], stored: dict[str, StoredDossier] | None = None, **kw: Any) -> BatchPlan:
    items = incoming(sent)
    return process_batch(items, stored or {}, list(range(1, len(items) + 1)), CATALOG, NOW, **kw)


def received(code: str = CODE, at: datetime = START) -> Sent:
    return event("received", code, at, procedure_code="1.004194", channel="direct")


def reasons(plan: BatchPlan) -> list[tuple[str | None, Reason]]:
    return [(r.event_id, r.reason) for r in plan.rejected]


def test_an_id_stored_for_another_dossier_is_a_conflict_and_the_rest_is_applied() -> None:
    original = received(OTHER)
    hostile = with_id(received(CODE), original.event_id)
    fresh = received("000.00.18.H49-250303-0003")
    plan = run([hostile, fresh], stored_payloads={original.event_id: original.raw})
    assert reasons(plan) == [(original.event_id, Reason.EVENT_ID_CONFLICT)]
    assert "dossier_code" in plan.rejected[0].error and plan.rejected[0].raw == hostile.raw
    assert plan.rejected[0].key == CODE.encode()
    assert [e.event_id for e in plan.events] == [fresh.event_id] and plan.duplicates == 0


def test_the_same_id_with_other_type_or_time_is_a_conflict_within_one_batch() -> None:
    first = received()
    other_time = with_id(
        event("received", CODE, START + timedelta(minutes=1), procedure_code="1.004194", channel="direct"),
        first.event_id,
    )
    other_type = with_id(event("processing", CODE, START), first.event_id)
    plan = run([first, other_time, other_type])
    assert [e.event_id for e in plan.events] == [first.event_id]
    assert reasons(plan) == [(first.event_id, Reason.EVENT_ID_CONFLICT)] * 2
    assert "occurred_at" in plan.rejected[0].error and "type" in plan.rejected[1].error


def test_a_resend_with_another_recorded_at_is_a_duplicate_stored_or_in_the_batch() -> None:
    first = received()
    again = resent(first)
    assert again.raw != first.raw
    stored_plan = run([again], stored_payloads={first.event_id: first.raw})
    assert stored_plan.duplicates == 1 and not stored_plan.rejected and not stored_plan.events
    in_batch = run([first, again])
    assert in_batch.duplicates == 1 and not in_batch.rejected and len(in_batch.events) == 1


def test_events_beyond_the_limit_are_set_aside_and_the_dossier_is_flagged() -> None:
    sent = [received()] + [event("processing", CODE, START + timedelta(hours=h)) for h in range(1, 6)]
    plan = run(sent, event_limit=4)
    assert [e.event_id for e in plan.events] == [e.event_id for e in sent[:4]]
    assert reasons(plan) == [(e.event_id, Reason.DOSSIER_EVENT_LIMIT) for e in sent[4:]]
    (row,) = plan.dossiers
    assert row.event_count == 4 and EVENT_LIMIT_ANOMALY in row.anomalies
    assert EVENT_LIMIT_ANOMALY in decode_snapshot(row.snapshot).anomalies


def test_a_full_dossier_is_flagged_once_by_a_new_version_without_events() -> None:
    history = [i.event for i in incoming([received(), event("processing", CODE, START + timedelta(hours=1))])]
    full = StoredDossier(version=2, events=history, last_event_id=history[-1].event_id)
    late = event("resolved", CODE, START + timedelta(hours=2))
    plan = run([late], {CODE: full}, event_limit=2)
    assert reasons(plan) == [(late.event_id, Reason.DOSSIER_EVENT_LIMIT)] and not plan.events
    (row,) = plan.dossiers
    assert row.version == 3 and row.event_count == 2 and row.last_event_id == history[-1].event_id
    assert EVENT_LIMIT_ANOMALY in row.anomalies and plan.anomalies_added == 1
    flagged = StoredDossier(3, 1, history, limit_reached=True, last_event_id=history[-1].event_id)
    again = run([event("returned", CODE, START + timedelta(hours=3))], {CODE: flagged}, event_limit=2)
    assert [r.reason for r in again.rejected] == [Reason.DOSSIER_EVENT_LIMIT] and not again.dossiers


def test_the_flag_survives_a_re_fold_with_a_higher_limit() -> None:
    history = [i.event for i in incoming([received()])]
    flagged = StoredDossier(2, 1, history, limit_reached=True, last_event_id=history[0].event_id)
    plan = run([event("processing", CODE, START + timedelta(hours=1))], {CODE: flagged}, event_limit=10)
    (row,) = plan.dossiers
    assert row.event_count == 2 and EVENT_LIMIT_ANOMALY in row.anomalies and plan.anomalies_added == 0


def test_duplicates_of_a_full_dossier_stay_duplicates() -> None:
    first = received()
    history = [i.event for i in incoming([first])]
    plan = run([resent(first)], {CODE: StoredDossier(1, 0, history)}, event_limit=1)
    assert plan.duplicates == 1 and not plan.rejected and not plan.dossiers


@pytest.mark.parametrize("stored_as", ["history", "fold state"])
def test_only_the_event_the_fold_cannot_apply_is_set_aside(
    monkeypatch: pytest.MonkeyPatch, stored_as: str
) -> None:
    sent = [received()] + [
        event("processing", CODE, START + timedelta(hours=h), step=f"s{h}") for h in range(1, 9)
    ]
    poison = {sent[3].event_id, sent[6].event_id}
    calls = []

    def guarded(real: Any) -> Any:
        def folds(base: Any, *rest: Any) -> Any:
            events = rest[0] if len(rest) == 2 else base
            calls.append(len(events))
            bad = poison & {e.event_id for e in events}
            if bad:
                raise ValueError(f"cannot apply {sorted(bad)}")
            return real(base, *rest)

        return folds

    stored: dict[str, StoredDossier] = {}
    if stored_as == "fold state":  # the first event is stored: the batch resumes its fold state
        first = incoming(sent[:1])[0].event
        folded = fold_state([first], CATALOG)
        stored[CODE] = StoredDossier(1, 0, None, last_event_id=first.event_id, folded=folded)
        monkeypatch.setattr(plan_module, "resume", guarded(plan_module.resume))
        sent = sent[1:]
    else:
        monkeypatch.setattr(plan_module, "fold_state", guarded(plan_module.fold_state))
    fresh = received(OTHER)
    plan = run([*sent, fresh], stored)
    assert sorted(r.event_id for r in plan.rejected) == sorted(poison)
    assert all(r.reason is Reason.UNAPPLIABLE and "cannot apply" in r.error for r in plan.rejected)
    kept = [e.event_id for e in sent if e.event_id not in poison]
    assert [e.event_id for e in plan.events] == [*kept, fresh.event_id]
    assert {r.dossier_code: r.event_count for r in plan.dossiers} == {CODE: 7, OTHER: 1}
    assert len(calls) <= 1 + 2 * (1 + 4) + 1  # two bisections of 9 events, not one fold per event


def test_keep_applicable_costs_one_attempt_without_failure_and_finds_every_bad_item() -> None:
    attempts: list[list[int]] = []

    def attempt(items: list[int]) -> int:
        attempts.append(items)
        if any(i % 7 == 3 for i in items):
            raise ValueError("bad")
        return sum(items)

    kept, failed, result = keep_applicable(list(range(3)), attempt)
    assert (kept, failed, result, len(attempts)) == ([0, 1, 2], [], 3, 1)
    kept, failed, result = keep_applicable(list(range(30)), attempt)
    assert [i for i, _ in failed] == [3, 10, 17, 24]
    assert kept == [i for i in range(30) if i % 7 != 3] and result == sum(kept)
    kept, failed, result = keep_applicable([3], attempt)
    assert (kept, [i for i, _ in failed], result) == ([], [3], None)


def test_events_outside_the_bounds_are_rejected_at_decode() -> None:
    def at(when: datetime, **data: Any) -> Sent:
        return event("received", CODE, when, procedure_code="1.004194", channel="direct", **data)

    vn = START.tzinfo
    hostile = [
        at(datetime(1999, 12, 31, 23, 59, tzinfo=vn)),
        at(datetime(2100, 1, 1, tzinfo=vn)),
        at(START, due_at=datetime(2150, 1, 1, tzinfo=vn).isoformat()),
        event("processing", "000.00.18.H49-261201-\uff10\uff10\uff10\uff11", START),
        event("processing", CODE, START, step="x" * 2001),
        event("supplement_requested", CODE, START, reason="nul\x00"),
    ]
    fine = [
        at(datetime(2000, 1, 1, tzinfo=vn)),
        at(datetime(2099, 12, 31, 23, 59, tzinfo=vn)),
        event("supplement_requested", CODE, START, reason="Thiếu giấy tờ \u202e ✓ 𝔘"),
    ]
    # 9999-12-31T23:59:59-05:00 is in year 10000 in UTC: not even a Python datetime
    beyond = at(datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-5))))
    records = [Record(e.raw, offset=i) for i, e in enumerate([*hostile, *fine, beyond])]
    items, rejected = decode_messages(records)
    assert [i.event.event_id for i in items] == [e.event_id for e in fine]
    assert rejected.pop().reason is Reason.UNDECODABLE
    assert [(r.event_id, r.reason) for r in rejected] == [(e.event_id, Reason.OUT_OF_BOUNDS) for e in hostile]
    assert "occurred_at" in rejected[0].error and "data.due_at" in rejected[2].error
    assert "printable ASCII" in rejected[3].error and "data.step" in rejected[4].error


def test_undecodable_messages_keep_their_key_and_bytes() -> None:
    items, rejected = decode_messages([Record(b"\xff\x00", key=b"key", offset=4)])
    assert not items
    (r,) = rejected
    assert (r.raw, r.key, r.offset, r.reason, r.event_id) == (
        b"\xff\x00",
        b"key",
        4,
        Reason.UNDECODABLE,
        None,
    )


def test_when_the_stored_history_alone_no_longer_folds_the_new_events_are_set_aside_at_once() -> None:
    attempts: list[list[int]] = []

    def attempt(items: list[int]) -> int:
        attempts.append(items)
        raise ValueError("the stored history does not fold")

    kept, failed, result = keep_applicable(list(range(100)), attempt, base_counts=True)
    assert (kept, result) == ([], None) and [i for i, _ in failed] == list(range(100))
    assert attempts == [list(range(100)), []]
