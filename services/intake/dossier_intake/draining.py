"""Answers that plain HTTP/1.1 clients receive even when the body was refused unread.

A client without `Expect: 100-continue` (Python `urllib`, `requests`) writes its whole body before
it reads anything. When the service answers early (413 for a body over the limit, 401, 429) and
then closes the connection with the body's rest still unread, the kernel resets the connection
and the client sees "connection reset by peer" instead of the answer; `urllib` also asks for
`Connection: close`, so uvicorn closes right after answering.

`UnreadBodyDrain` therefore reads and discards what is left of the body before the answer starts,
up to `max_bytes` and `max_seconds`, and marks the answer `Connection: close`. It does not read:
- when the request announced `Expect: 100-continue` and the app never asked for the body (the
  client is waiting for a go-ahead and will not send it; reading would give that go-ahead);
- when the declared `Content-Length` leaves more than `max_bytes` unread (such a client may still
  see a reset: there is no cheap way to serve it).
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class UnreadBodyDrain:
    """Pure ASGI middleware; requests without a body pass straight through."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_seconds: float) -> None:
        self.app, self.max_bytes, self.max_seconds = app, max_bytes, max_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared: int | None = None
        chunked = expect_continue = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = int(value) if value.isdigit() else None
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"expect" and value.lower() == b"100-continue":
                expect_continue = True
        if not chunked and not declared:
            await self.app(scope, receive, send)  # no body to leave unread
            return
        body = _BodyProgress(receive, declared)

        async def send_after_draining(message: Message) -> None:
            if message["type"] == "http.response.start" and not body.complete:
                if body.asked or not expect_continue:
                    await self._drain(body)
                headers = [*message.get("headers", []), (b"connection", b"close")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, body.receive, send_after_draining)

    async def _drain(self, body: _BodyProgress) -> None:
        if body.declared is not None and body.declared - body.received > self.max_bytes:
            return
        limit = body.received + self.max_bytes
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.max_seconds):
                while not body.complete and body.received <= limit:
                    await body.receive()


class _BodyProgress:
    """Wraps `receive` to know whether the app asked for the body, how much came, and whether it
    came to its end (or the client went away)."""

    def __init__(self, receive: Receive, declared: int | None) -> None:
        self._receive, self.declared = receive, declared
        self.asked = self.complete = False
        self.received = 0

    async def receive(self) -> Message:
        self.asked = True
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            self.complete = not message.get("more_body", False)
        else:
            self.complete = True  # http.disconnect: nothing more will come
        return message
