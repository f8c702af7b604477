"""What the consumer keeps in memory of recently touched dossiers: where each one's fold stands
(`FoldState`), so that later events resume it without its stored history, and the decoded history itself
while it fits, so that an earlier event re-folds it without re-reading and re-decoding the stored events.

An entry is only used when its version equals the version in the database (read in the same
transaction): every change to a dossier's events bumps that version, so a stale entry, e.g. after
another instance took the partition for a while, is never used. Both are least-recently-used maps
bounded by a size: histories by their events, fold states by their dossiers.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

from dossier_core.events import DossierEvent
from dossier_core.lifecycle import FoldState
from dossier_processing.ingest.plan import BatchPlan

V = TypeVar("V")


class _VersionedLru(Generic[V]):
    """Values by dossier code, each for one version, the least recently used evicted beyond `limit`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._entries: OrderedDict[str, tuple[int, V, int]] = OrderedDict()
        self._size = 0
        self.hits = 0
        self.misses = 0

    def get(self, code: str, version: int) -> V | None:
        entry = self._entries.get(code)
        if entry is None or entry[0] != version:
            self.misses += 1
            return None
        self._entries.move_to_end(code)
        self.hits += 1
        return entry[1]

    def put(self, code: str, version: int, value: V, size: int = 1) -> None:
        self.discard(code)
        if size > self.limit:
            return
        self._entries[code] = (version, value, size)
        self._size += size
        while self._size > self.limit:
            _, (_, _, evicted) = self._entries.popitem(last=False)
            self._size -= evicted

    def discard(self, code: str) -> None:
        old = self._entries.pop(code, None)
        if old is not None:
            self._size -= old[2]

    def __len__(self) -> int:
        return len(self._entries)


class HistoryCache:
    """Decoded histories (at most `max_events` events in all) and fold states (at most `max_states`
    dossiers) of recently touched dossiers."""

    def __init__(self, max_events: int, max_states: int = 0) -> None:
        self._histories: _VersionedLru[list[DossierEvent]] = _VersionedLru(max_events)
        self.states: _VersionedLru[FoldState] = _VersionedLru(max_states)

    def get(self, code: str, version: int) -> list[DossierEvent] | None:
        """The history of `code` at `version`, if kept."""
        return self._histories.get(code, version)

    def put(self, code: str, version: int, events: list[DossierEvent]) -> None:
        self._histories.put(code, version, events, len(events))

    def state(self, code: str, version: int) -> FoldState | None:
        """Where the fold of `code` at `version` stands, if kept."""
        return self.states.get(code, version)

    def remember(self, plan: BatchPlan) -> None:
        """Keep what a committed `plan` wrote: each dossier's new fold state, and its history when the
        plan had it (else an older one is dropped: it would never match again)."""
        for row in plan.dossiers:
            code, version = row.dossier_code, row.version
            self.states.put(code, version, plan.states[code])
            history = plan.histories.get(code)
            if history is None:
                self._histories.discard(code)
            else:
                self.put(code, version, history)

    def __len__(self) -> int:
        return len(self._histories)
