"""The two kinds of consumer failure, never confused.

*Deterministic*: the same input fails the same way every time (undecodable bytes, an event outside the
contract's bounds, an event id that already names another event, a full dossier, an event the domain
cannot apply, a row PostgreSQL refuses for its values). Only the offending event is set aside: it goes to
the dead-letter topic with its original bytes and one of the `Reason`s, and is never retried.

*Transient*: the database or Kafka is unavailable, a serialization failure or deadlock, a concurrent
writer. The work is retried with bounded back-off and nothing after it is skipped.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why an event was dead-lettered (the `dlq-reason` header and the `reason` label)."""

    UNDECODABLE = "undecodable"  # not a protobuf DossierEvent, or no event id, dossier code or payload
    OUT_OF_BOUNDS = "out_of_bounds"  # outside SPEC §3 bounds: instants, codes, text
    EVENT_ID_CONFLICT = "event_id_conflict"  # its event_id already names an event with other content
    DOSSIER_EVENT_LIMIT = "dossier_event_limit"  # its dossier already holds the maximum of events
    UNAPPLIABLE = "unappliable"  # the domain fold (or the snapshot) fails with it
    UNSTORABLE = "unstorable"  # PostgreSQL refuses the rows it leads to (data or constraint error)
    ARCHIVED = "archived"  # its event id or its dossier's history is in an archived month (`events restore`)


class DeterministicFailure(Exception):
    """Work that will fail the same way if retried; the caller sets the offending input aside."""

    def __init__(self, reason: Reason, error: str) -> None:
        super().__init__(f"{reason}: {error}")
        self.reason = reason
        self.error = error


#: SQLSTATE classes caused by the values written: 22 data exception (out of range, bad encoding, …),
#: 23 integrity constraint violation, 54 program limit exceeded (e.g. an index row too large).
_DETERMINISTIC_CLASSES = frozenset({"22", "23", "54"})
#: …except a unique violation, which only a concurrent writer of the same dossier version can cause here
#: (events are inserted `on conflict do nothing`, dossiers upserted): retried against the fresh state.
_CONCURRENT = frozenset({"23505"})


def _driver_error(exc: BaseException) -> tuple[BaseException, str] | None:
    """The innermost error that carries a SQLSTATE (the driver's own), through SQLAlchemy's wrapping
    and exception chaining, with that SQLSTATE."""
    found: tuple[BaseException, str] | None = None
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        state = getattr(current, "sqlstate", None)
        if isinstance(state, str) and state:
            found = (current, state)
        todo.extend([getattr(current, "orig", None), current.__cause__, current.__context__])
    return found


def sqlstate_of(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error, or `None` for any other error."""
    found = _driver_error(exc)
    return found[1] if found else None


def is_deterministic_db_error(exc: BaseException) -> bool:
    """True for errors PostgreSQL raises because of the values written (retrying cannot help);
    false for everything else: connection loss, serialization failure, deadlock, admin shutdown, …"""
    state = sqlstate_of(exc)
    return state is not None and state[:2] in _DETERMINISTIC_CLASSES and state not in _CONCURRENT


def describe(exc: BaseException) -> str:
    """`Type: message`, on one line, short enough for a Kafka header and a log line. A database error is
    described by the driver's message and SQLSTATE alone (not the statement and its parameters)."""
    driver = _driver_error(exc)
    if driver is not None:
        error, state = driver
        text = f"{type(error).__name__} (SQLSTATE {state}): {error}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    text = " ".join(text.split())
    return text if len(text) <= 1000 else text[:999] + "…"
