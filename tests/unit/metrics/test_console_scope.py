"""The console's sessions (expiry, logout, the oldest dropped beyond the limit, CSRF tokens) and the
agency tree a key sees (each agency under its nearest allowed ancestor, nothing else)."""

from __future__ import annotations

from dossier_core.catalog import Catalog
from dossier_metrics.console.scope import AgencyTree
from dossier_metrics.console.sessions import SessionStore, same_token
from dossier_runtime.api_keys import ApiKey

PROVINCE, DISTRICT, WARD = "000.00.00.H49", "000.00.31.H49", "000.01.31.H49"


def key(*patterns: str) -> ApiKey:
    return ApiKey("reader", "ab" * 32, patterns)


def test_a_session_lives_while_used_and_ends_at_logout_or_expiry() -> None:
    now = [0.0]
    store = SessionStore(ttl_s=60, max_sessions=2, clock=lambda: now[0])
    first, session = store.create(key("*"))
    now[0] = 50
    assert store.get(first) is session  # used: lives 60 s from now
    now[0] = 100
    assert store.get(first) is session
    now[0] = 161
    assert store.get(first) is None and len(store) == 0
    second, _ = store.create(key("*"))
    store.delete(second)
    assert store.get(second) is None
    a, _ = store.create(key("*"))
    b, _ = store.create(key("*"))
    c, _ = store.create(key("*"))
    assert store.get(a) is None and store.get(b) is not None and store.get(c) is not None
    assert store.get(None) is None and store.get("") is None


def test_csrf_tokens_are_per_session() -> None:
    store = SessionStore(ttl_s=60)
    _, one = store.create(key("*"))
    _, two = store.create(key("*"))
    assert one.csrf != two.csrf
    assert same_token(one, one.csrf) and not same_token(one, two.csrf) and not same_token(one, None)


def test_the_tree_holds_only_allowed_agencies_under_their_nearest_allowed_ancestor(catalog: Catalog) -> None:
    everything = AgencyTree.of(catalog, key("*"), extra=["999.99.99.X00"])
    assert everything.listed() is None
    assert PROVINCE in everything.roots and "999.99.99.X00" in everything.roots
    assert everything.path(WARD) == [PROVINCE, DISTRICT, WARD]
    assert set(everything.subtree(DISTRICT)) == {
        c for c, a in catalog.agencies.items() if a.parent_code == DISTRICT
    } | {DISTRICT}

    # the province and the ward, not the district between them: the ward hangs under the province
    skipping = AgencyTree.of(catalog, key(PROVINCE, WARD))
    assert skipping.visible == {PROVINCE, WARD}
    assert skipping.roots == [PROVINCE] and skipping.children[PROVINCE] == [WARD]
    assert skipping.path(WARD) == [PROVINCE, WARD]
    assert skipping.listed() == sorted([PROVINCE, WARD])

    one = AgencyTree.of(catalog, key(WARD), extra=["999.99.99.X00"])
    assert one.roots == [WARD] and one.path(WARD) == [WARD] and one.subtree(WARD) == [WARD]
    assert [code for code, _, _ in one.options()] == [WARD]
    assert DISTRICT not in one and "999.99.99.X00" not in one
