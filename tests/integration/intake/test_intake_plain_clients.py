"""A body over the limit gets the 413 problem even from clients that send the whole body before
reading (Python `urllib`, `requests`, httpx streaming; no `Expect: 100-continue`), with and without
`Content-Length`, on both event endpoints, against the real process."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
import requests
from intake_harness import Keys, Server, event, make_settings, serving

from dossier_runtime.api_keys import create_key

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    path = tmp_path_factory.mktemp("keys") / "intake_keys.csv"
    return Keys(path, create_key(path, "counter-qn", "*.H49"), create_key(path, "counter-other", "*.H22"))


@pytest.fixture(scope="module")
def server(kafka_bootstrap: str, keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One process for the module: each test here only reads answers, none depends on another."""
    settings = make_settings(kafka_bootstrap, "." + uuid.uuid4().hex[:10], keys)
    with serving(settings, tmp_path_factory.mktemp("intake") / "intake.log") as started:
        yield started


PATHS = ["/v1/events", "/v1/events:batch"]
BIG = 12 * 1024 * 1024
CHUNK = 64 * 1024


def chunks(total: int = BIG) -> Iterator[bytes]:
    for _ in range(total // CHUNK):
        yield b" " * CHUNK


def assert_413(status: int, content_type: str | None, connection: str | None, body: bytes) -> None:
    assert status == 413, body[:300]
    assert content_type == "application/problem+json"
    assert connection == "close"
    assert orjson.loads(body)["title"] == "Request body too large"


def urllib_post(
    url: str, data: bytes | Iterator[bytes], headers: dict[str, str]
) -> tuple[int, str | None, str | None, bytes]:
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, answer.headers["content-type"], answer.headers["connection"], answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["content-type"], exc.headers["connection"], exc.read()


@pytest.mark.parametrize("path", PATHS)
def test_urllib_receives_the_413(server: Server, keys: Keys, path: str) -> None:
    headers = {**keys.auth(), "Content-Type": "application/json"}
    assert_413(*urllib_post(server.url + path, b"{" + b" " * BIG + b"}", headers))
    # an iterable body is sent chunked, without Content-Length
    assert_413(*urllib_post(server.url + path, chunks(), headers))
    # the service is none the worse for it
    assert httpx.post(server.url + "/v1/events", json=event(), headers=keys.auth()).status_code == 202


@pytest.mark.parametrize("path", PATHS)
def test_requests_receives_the_413(server: Server, keys: Keys, path: str) -> None:
    with requests.Session() as session:
        for body in (b" " * BIG, chunks()):
            answer = session.post(server.url + path, data=body, headers=keys.auth(), timeout=60)
            assert_413(
                answer.status_code,
                answer.headers["content-type"],
                answer.headers["connection"],
                answer.content,
            )


@pytest.mark.parametrize("path", PATHS)
def test_httpx_streaming_receives_the_413(server: Server, keys: Keys, path: str) -> None:
    with httpx.Client(timeout=60) as client:
        chunked = client.post(server.url + path, content=chunks(), headers=keys.auth())
        sized = client.post(
            server.url + path, content=chunks(), headers={**keys.auth(), "Content-Length": str(BIG)}
        )
    for answer in (chunked, sized):
        assert_413(
            answer.status_code, answer.headers["content-type"], answer.headers["connection"], answer.content
        )


def test_other_early_answers_reach_plain_clients_too(server: Server, keys: Keys) -> None:
    status, content_type, connection, body = urllib_post(server.url + "/v1/events", b" " * BIG, {})
    assert (status, content_type, connection) == (401, "application/problem+json", "close")
    assert orjson.loads(body)["title"] == "Unauthorized"
    status, *_ = urllib_post(server.url + "/v1/events", b" " * BIG, keys.auth("dk_unknown"))
    assert status == 401


def raw_exchange(server: Server, head: bytes, body: bytes = b"") -> bytes:
    """Send `head` (and `body`) on a fresh connection; return all the server sent until it closed."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head + body)
        received = b""
        while data := sock.recv(65536):
            received += data
    return received


def test_expect_100_continue_gets_the_413_without_sending_the_body(server: Server, keys: Keys) -> None:
    head = (
        f"POST /v1/events HTTP/1.1\r\nHost: intake\r\nAuthorization: Bearer {keys.qn}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {BIG}\r\nExpect: 100-continue\r\n\r\n"
    ).encode()
    answer = raw_exchange(server, head)
    assert answer.startswith(b"HTTP/1.1 413 ")  # no "100 Continue" first: the body is never asked for
    assert b"connection: close" in answer.lower()


def test_a_body_too_large_to_drain_is_answered_at_once(server: Server, keys: Keys) -> None:
    declared = server.settings.drain_max_bytes + server.settings.max_body_bytes + 1
    head = (
        f"POST /v1/events:batch HTTP/1.1\r\nHost: intake\r\nAuthorization: Bearer {keys.qn}\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    ).encode()
    answer = raw_exchange(server, head)  # only the head is sent: the answer cannot wait for the body
    assert answer.startswith(b"HTTP/1.1 413 ")


def test_a_client_that_stops_sending_is_answered_after_the_drain_time(
    kafka_bootstrap: str, topic_suffix: str, keys: Keys, tmp_path: Path
) -> None:
    settings = make_settings(kafka_bootstrap, topic_suffix, keys, drain_max_s=0.5)
    with serving(settings, tmp_path / "intake.log") as slow:
        head = (
            f"POST /v1/events HTTP/1.1\r\nHost: intake\r\nAuthorization: Bearer {keys.qn}\r\n"
            f"Content-Length: {BIG}\r\n\r\n"
        ).encode()
        # then nothing more: the answer comes once the drain time is over (the socket would time out
        # after 30 s otherwise)
        answer = raw_exchange(slow, head, b" " * (5 * 1024 * 1024))
        assert answer.startswith(b"HTTP/1.1 413 ")
        assert httpx.get(slow.url + "/healthz").status_code == 200
