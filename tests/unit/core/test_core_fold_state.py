"""The resumable fold: resuming a state with later events gives what folding the whole history gives."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_core_properties import CATALOG, histories

from dossier_core.codes import EventType, StatusCode
from dossier_core.events import DossierEvent
from dossier_core.lifecycle import fold, fold_state, resume, sort_key

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def histories_with_ties(draw: st.DrawFn) -> list[DossierEvent]:
    """A history in sort order where some events share their `occurred_at` (arrival breaks the tie)."""
    events: list[DossierEvent] = draw(histories())
    tied: list[DossierEvent] = []
    for event in events:
        if tied and draw(st.integers(0, 3)) == 0:
            event = replace(event, occurred_at=tied[-1].occurred_at)
        tied.append(event)
    return tied


def _shuffled(events: list[DossierEvent], rnd: random.Random) -> list[DossierEvent]:
    return rnd.sample(events, len(events))


@SETTINGS
@given(histories_with_ties(), st.randoms(use_true_random=False))
def test_resuming_at_every_split_gives_the_whole_fold(events: list[DossierEvent], rnd: random.Random) -> None:
    if not events:
        return
    whole = fold_state(_shuffled(events, rnd), CATALOG)
    assert whole.dossier == fold(events, CATALOG) and whole.last_key == sort_key(events[-1])
    for split in range(1, len(events) + 1):
        state = fold_state(_shuffled(events[:split], rnd), CATALOG)
        assert resume(state, _shuffled(events[split:], rnd), CATALOG) == whole


@SETTINGS
@given(histories_with_ties(), st.lists(st.integers(1, 12), max_size=6), st.randoms(use_true_random=False))
def test_resuming_chunk_by_chunk_gives_the_whole_fold(
    events: list[DossierEvent], cuts: list[int], rnd: random.Random
) -> None:
    if not events:
        return
    bounds = sorted({min(c, len(events)) for c in cuts} | {1, len(events)})
    state = fold_state(events[:1], CATALOG)
    for a, b in pairwise(bounds):
        state = resume(state, _shuffled(events[a:b], rnd), CATALOG)
    assert state == fold_state(events, CATALOG)
    assert state.dossier.event_count == len(events)


@SETTINGS
@given(histories())
def test_the_state_knows_the_first_returned_while_the_dossier_is_returned(
    events: list[DossierEvent],
) -> None:
    if not events:
        return
    state = fold_state(events, CATALOG)
    returned = [e.occurred_at for e in events if e.type is EventType.RETURNED]
    assert state.first_returned_at == (min(returned) if returned else None)
    is_returned = state.dossier.status is StatusCode.RETURNED
    assert state.returned_at == (state.first_returned_at if is_returned else None)


@SETTINGS
@given(histories())
def test_an_event_that_sorts_before_the_state_is_refused(events: list[DossierEvent]) -> None:
    if len(events) < 2:
        return
    state = fold_state(events[1:], CATALOG)
    with pytest.raises(ValueError, match="sorts before"):
        resume(state, events[:1], CATALOG)
    late = events[-1]
    same_key = replace(late, event_id=f"{late.event_id}-again")
    with pytest.raises(ValueError, match="sorts before"):
        resume(state, [same_key], CATALOG)
    later = replace(same_key, occurred_at=late.occurred_at + timedelta(minutes=1))
    assert resume(state, [later], CATALOG).dossier.event_count == len(events)
    assert resume(state, [], CATALOG) is state
