"""Decoded event histories of recently touched dossiers, so a re-fold need not re-read and re-decode
the stored events. An entry is only used when its version equals the version in the database (read in
the same transaction): every change to a dossier's events bumps that version, so a stale entry, e.g.
after another instance took the partition for a while, is never used."""

from __future__ import annotations

from collections import OrderedDict

from dossier_core.events import DossierEvent


class HistoryCache:
    def __init__(self, max_events: int) -> None:
        self.max_events = max_events
        self._entries: OrderedDict[str, tuple[int, list[DossierEvent]]] = OrderedDict()
        self._size = 0
        self.hits = 0
        self.misses = 0

    def get(self, code: str, version: int) -> list[DossierEvent] | None:
        entry = self._entries.get(code)
        if entry is None or entry[0] != version:
            self.misses += 1
            return None
        self._entries.move_to_end(code)
        self.hits += 1
        return entry[1]

    def put(self, code: str, version: int, events: list[DossierEvent]) -> None:
        old = self._entries.pop(code, None)
        if old is not None:
            self._size -= len(old[1])
        if len(events) > self.max_events:
            return
        self._entries[code] = (version, events)
        self._size += len(events)
        while self._size > self.max_events:
            _, (_, evicted) = self._entries.popitem(last=False)
            self._size -= len(evicted)

    def __len__(self) -> int:
        return len(self._entries)
