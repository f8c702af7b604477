"""The reader's scope: key patterns as SQL `LIKE` patterns that select exactly what the key allows,
and cursors that are positions whatever printable-ASCII string they are."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from dossier_processing.access import sql_scope
from dossier_processing.cursors import (
    CURSOR_PATTERN,
    SYNC_CURSOR_PATTERN,
    decode_list_cursor,
    decode_sync_cursor,
)
from dossier_runtime.api_keys import ApiKey

AGENCIES = ["000.00.18.H49", "000.00.31.H49", "000.01.31.H49", "000.00.18.H22", "a_b%c\\d", "X18.H49"]


def key(*patterns: str) -> ApiKey:
    return ApiKey("k", "0" * 64, patterns)


def like(value: str, pattern: str) -> bool:
    """PostgreSQL's `LIKE` with its default escape character `\\`."""
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out += re.escape(pattern[i + 1])
            i += 2
            continue
        out += ".*" if c == "%" else "." if c == "_" else re.escape(c)
        i += 1
    return re.fullmatch(out, value, re.DOTALL) is not None


def test_keys_for_every_agency_or_with_sets_are_not_narrowed_in_sql() -> None:
    assert sql_scope(key("*")) is None
    assert sql_scope(key("000.00.18.H49", "*")) is None
    assert sql_scope(key("000.00.[13]8.H49")) is None


@given(
    st.lists(st.sampled_from(["000.00.18.H49", "*.H49", "000.0?.31.*", "a_b%c\\d", "*18*", "?"]), min_size=1)
)
def test_like_patterns_select_exactly_what_the_key_allows(patterns: list[str]) -> None:
    k = key(*patterns)
    scope = sql_scope(k)
    assert scope is not None
    for agency in AGENCIES:
        assert any(like(agency, p) for p in scope) == k.allows(agency), (agency, patterns, scope)


@given(st.from_regex(CURSOR_PATTERN, fullmatch=True))
def test_every_list_cursor_of_the_declared_shape_is_a_position(cursor: str) -> None:
    assert "\x00" not in decode_list_cursor(cursor)


@given(st.from_regex(SYNC_CURSOR_PATTERN, fullmatch=True))
def test_every_sync_cursor_of_the_declared_shape_is_a_position(cursor: str) -> None:
    xid, code = decode_sync_cursor(cursor)
    assert 0 <= xid < 2**64 and "\x00" not in code
