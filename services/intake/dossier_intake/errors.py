"""Error lists that stay small whatever the input: at most `MAX_ERRORS` per event (SPEC §3), and
every echoed field name or message cut to a bounded length with invisible characters escaped.

A request body may hold hundreds of thousands of unknown keys, or a 4 MiB field name; neither the
answer nor the log line may grow with it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from dossier_runtime import openapi
from dossier_runtime.problems import Problem

#: SPEC §3: a problem lists at most 20 errors per event.
MAX_ERRORS = openapi.MAX_ERRORS
MAX_FIELD_CHARS = 100
MAX_MESSAGE_CHARS = 300

#: Characters never allowed in free text, and escaped wherever input is echoed: the control
#: characters (Unicode category Cc) and the bidirectional formatting characters (marks, embeddings,
#: overrides and isolates) that can make text display in another order than it is stored.
#: A regular-expression character class, valid both in Python and in ECMA-262 (JSON Schema).
FORBIDDEN_CLASS = r"\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
FORBIDDEN = re.compile(f"[{FORBIDDEN_CLASS}]")


def printable(text: str, limit: int) -> str:
    """`text` cut to `limit` characters (`…` marks a cut), forbidden characters shown as `\\uXXXX`."""
    shown = FORBIDDEN.sub(_escape, text[:limit])
    if len(text) > limit or len(shown) > limit:
        return shown[:limit] + "…"
    return shown


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def bounded_error(field: str, message: str, type_: str | None = None) -> dict[str, Any]:
    """One `{"field", "message"[, "type"]}` entry with the field name and message bounded."""
    error: dict[str, Any] = {
        "field": printable(field, MAX_FIELD_CHARS),
        "message": printable(message, MAX_MESSAGE_CHARS),
    }
    if type_ is not None:
        error["type"] = type_
    return error


def first_errors(errors: Iterable[dict[str, Any]], total: int) -> tuple[list[dict[str, Any]], int]:
    """The first `MAX_ERRORS` of `total` errors, and how many were left out."""
    listed: list[dict[str, Any]] = []
    for error in errors:
        if len(listed) == MAX_ERRORS:
            break
        listed.append(error)
    return listed, max(0, total - len(listed))


def truncation_note(truncated: int) -> str:
    return (
        f" Only the first {MAX_ERRORS} errors are listed; {truncated} more were left out."
        if truncated
        else ""
    )


class ErrorsProblem(Problem):
    """A problem whose `errors` list was cut to `MAX_ERRORS`; `errors_truncated` (an RFC 9457
    extension member) says how many more there were."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        errors: Sequence[dict[str, Any]],
        errors_truncated: int = 0,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(
            status, title, detail + truncation_note(errors_truncated), errors=errors, headers=headers
        )
        self.errors_truncated = errors_truncated

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body = super().body(instance)
        if self.errors_truncated:
            body["errors_truncated"] = self.errors_truncated
        return body
