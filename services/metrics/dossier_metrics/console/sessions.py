"""The console's sessions: a random id in an HttpOnly, SameSite=Strict cookie, kept in this process's
memory with an expiry, mapping to the reader key it was made from (by the key's SHA-256, never the
key itself) and a per-session token for the POST forms (CSRF).

A session is checked against the keys in force at every request: a key removed from
`METRICS_API_KEYS_FILE` (reloaded on SIGHUP) ends its sessions at their next request, and a key's
agencies are always the ones the file says now. Logging out deletes the session; an expired one is
dropped when next seen, and the oldest are dropped once `max_sessions` are kept.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from dossier_runtime.api_keys import ApiKey

COOKIE = "dossier_console"


@dataclass
class Session:
    """What a session id stands for. `csrf` must come back with every POST form."""

    key_sha256: str
    key_name: str
    expires_at: float
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))


class SessionStore:
    """Sessions by id, the least recently used first; `ttl_s` after its last use a session is gone."""

    def __init__(
        self, ttl_s: float, max_sessions: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_s = ttl_s
        self.max_sessions = max_sessions
        self.clock = clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def create(self, key: ApiKey) -> tuple[str, Session]:
        """A new session for `key`: its id (for the cookie) and the session."""
        while len(self._sessions) >= self.max_sessions:
            self._sessions.popitem(last=False)
        session_id = secrets.token_urlsafe(32)
        session = Session(key.key_sha256, key.name, self.clock() + self.ttl_s)
        self._sessions[session_id] = session
        return session_id, session

    def get(self, session_id: str | None) -> Session | None:
        """The live session of this id (its expiry pushed back), or None."""
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        now = self.clock()
        if session.expires_at <= now:
            del self._sessions[session_id]
            return None
        session.expires_at = now + self.ttl_s
        self._sessions.move_to_end(session_id)
        return session

    def delete(self, session_id: str | None) -> None:
        if session_id:
            self._sessions.pop(session_id, None)


def same_token(session: Session, token: str | None) -> bool:
    """Whether a form's CSRF token is the session's (compared in constant time)."""
    return token is not None and hmac.compare_digest(session.csrf.encode(), token.encode())
