"""The API keys in force in a service: the ring of one keys file (SPEC §3 format), reloaded on SIGHUP.

A reload swaps the whole ring at once; a file that cannot be read or parsed leaves the previous keys
in force and is logged as an error. Reloads are counted by outcome (`ok`, `error`), and a service
that exports them to Prometheus passes a `KeyObserver`. Keys themselves are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, Protocol

from dossier_runtime.api_keys import ApiKey, ApiKeyRing

log = logging.getLogger(__name__)

Outcome = Literal["ok", "error"]


class KeyObserver(Protocol):
    """Told how many keys are in force after each load, and each reload's outcome."""

    def keys_in_force(self, count: int) -> None: ...

    def keys_reloaded(self, outcome: Outcome) -> None: ...


class KeyFile:
    """The keys of `path`, or none at all when no file is configured (every keyed request is then
    refused; `setting` names the variable an operator sets, for the warning).

    A file that does not load at start raises `ApiKeyFileError`: a service does not start on it."""

    def __init__(self, path: Path | None, *, setting: str, observer: KeyObserver | None = None) -> None:
        self.path, self.observer = path, observer
        self.reloads: Counter[Outcome] = Counter()
        if path is None:
            self.ring = ApiKeyRing()
            log.warning(f"{setting} is not set: every request that needs a key is refused")
        else:
            self.ring = ApiKeyRing.load(path)
        if observer is not None:
            observer.keys_in_force(len(self.ring))

    def __len__(self) -> int:
        return len(self.ring)

    def authenticate(self, key: str | None) -> ApiKey | None:
        """The key in force whose hash matches `key`, if any."""
        return self.ring.authenticate(key)

    def by_hash(self, digest: str) -> ApiKey | None:
        """The key in force with this SHA-256, if it is still in force (it may have been removed since)."""
        return self.ring.by_hash(digest)

    def reload(self) -> bool:
        """Read the file again; on any error keep the keys in force. True when the new keys are in force."""
        if self.path is None:
            return False
        try:
            ring = ApiKeyRing.load(self.path)
        except Exception as exc:
            self._count("error")
            log.error("API keys not reloaded; the previous keys stay in force", extra={"error": str(exc)})
            return False
        self.ring = ring
        if self.observer is not None:
            self.observer.keys_in_force(len(ring))
        self._count("ok")
        log.info("API keys reloaded", extra={"keys": len(ring), "file": str(self.path)})
        return True

    @contextlib.contextmanager
    def reloading_on_sighup(self) -> Iterator[bool]:
        """Reload on SIGHUP while inside the block (yields False where the running loop cannot take
        signals, e.g. outside the main thread); the handler is removed on leaving."""
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGHUP, self.reload)
        except (RuntimeError, ValueError, NotImplementedError):
            log.warning("SIGHUP reload unavailable in this thread")
            yield False
            return
        try:
            yield True
        finally:
            loop.remove_signal_handler(signal.SIGHUP)

    def _count(self, outcome: Outcome) -> None:
        self.reloads[outcome] += 1
        if self.observer is not None:
            self.observer.keys_reloaded(outcome)
