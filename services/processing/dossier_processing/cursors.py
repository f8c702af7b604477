"""The positions of the paged reads: the dossier list's cursor (the last code seen) and the change feed's
(`<transaction id>.<code>`), with the OpenAPI patterns that are their whole rule.

Cursors are printable ASCII; characters outside it, and `%`, are percent-encoded. Every string of that
shape is a valid position, and a position reveals nothing: what is served after it is still limited to
the key's agencies.
"""

from __future__ import annotations

from urllib.parse import quote, unquote

#: a cursor is printed ASCII; any such string is a position
CURSOR_PATTERN = r"^[!-~]+$"
SYNC_CURSOR_PATTERN = r"^[0-9]{1,19}\.[!-~]*$"
MAX_CURSOR = 400
#: a cursor keeps these characters as they are; others (and `%`) are percent-encoded
_CURSOR_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "%")


def encode_list_cursor(code: str) -> str:
    return quote(code, safe=_CURSOR_SAFE)


def decode_list_cursor(cursor: str) -> str:
    """The code after which the page starts (any printable-ASCII string is a position)."""
    return unquote(cursor, errors="replace").replace("\x00", "")


def encode_sync_cursor(xid: int, code: str) -> str:
    return f"{xid}.{quote(code, safe=_CURSOR_SAFE)}"


def decode_sync_cursor(cursor: str) -> tuple[int, str]:
    """(transaction id, code) after which changes are served."""
    xid, _, code = cursor.partition(".")
    return int(xid), decode_list_cursor(code)
