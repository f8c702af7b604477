"""One typed state object per service: what its bootstrap opens, the lifespan keeps on `app.state`
under one name, and every handler reads back with its type.

A service describes its state as a dataclass and opens it with an async context manager (its
bootstrap: connections, tasks, the keys file). `lifespan(slot, open_state)` runs that bootstrap for
the app's lifetime, so a unit test can open the same bootstrap with fakes and no app at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Generic, TypeVar

from starlette.applications import Starlette
from starlette.requests import Request

S = TypeVar("S")


class StateSlot(Generic[S]):
    """Where an app keeps its one `kind` object: `app.state.<name>`."""

    def __init__(self, name: str, kind: type[S]) -> None:
        self.name, self.kind = name, kind

    def put(self, app: Starlette, state: S) -> None:
        setattr(app.state, self.name, state)

    def take(self, app: Starlette) -> None:
        if hasattr(app.state, self.name):
            delattr(app.state, self.name)

    def of_app(self, app: Starlette) -> S:
        state = getattr(app.state, self.name, None)
        if isinstance(state, self.kind):
            return state
        raise RuntimeError(f"the app has no {self.kind.__name__} (its lifespan has not started)")

    def of(self, request: Request) -> S:
        """The state of the app serving `request` (on every request's path: kept to one lookup)."""
        state = getattr(request.app.state, self.name, None)
        if isinstance(state, self.kind):
            return state
        raise RuntimeError(f"the app has no {self.kind.__name__} (its lifespan has not started)")


def lifespan(
    slot: StateSlot[S], open_state: Callable[[], AbstractAsyncContextManager[S]]
) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    """An app lifespan that opens the state, keeps it in `slot` while the app runs, then closes it."""

    @asynccontextmanager
    async def run(app: Starlette) -> AsyncIterator[None]:
        async with open_state() as state:
            slot.put(app, state)
            try:
                yield
            finally:
                slot.take(app)

    return run
