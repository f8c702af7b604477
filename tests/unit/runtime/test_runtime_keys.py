"""The keys file of a service: loaded at start, reloaded on SIGHUP, a bad file keeps the keys in force,
reloads are counted by outcome and told to an observer."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

import pytest

from dossier_runtime.api_keys import ApiKeyFileError, create_key
from dossier_runtime.keys import KeyFile, Outcome


class Observer:
    def __init__(self) -> None:
        self.in_force: list[int] = []
        self.outcomes: list[Outcome] = []

    def keys_in_force(self, count: int) -> None:
        self.in_force.append(count)

    def keys_reloaded(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)


def test_a_reload_swaps_the_keys_and_a_bad_file_keeps_them(tmp_path: Path) -> None:
    path = tmp_path / "keys.csv"
    first = create_key(path, "first", "*")
    observer = Observer()
    keys = KeyFile(path, setting="X_API_KEYS_FILE", observer=observer)
    assert keys.authenticate(first) is not None and len(keys) == 1
    second = create_key(path, "second", "*.H49")
    assert keys.authenticate(second) is None
    assert keys.reload() is True
    found = keys.authenticate(second)
    assert found is not None and found.name == "second" and found.allows("000.00.12.H49")
    path.write_text("not,a,keys file\n")
    assert keys.reload() is False
    assert keys.authenticate(first) is not None and keys.authenticate(second) is not None
    path.write_bytes(b"\xff\xfe not text")
    assert keys.reload() is False and len(keys) == 2
    assert dict(keys.reloads) == {"ok": 1, "error": 2}
    assert observer.in_force == [1, 2] and observer.outcomes == ["ok", "error", "error"]


def test_a_bad_file_at_start_stops_the_start(tmp_path: Path) -> None:
    path = tmp_path / "keys.csv"
    path.write_text("name,key_sha256,agencies\nsomeone,not-a-digest,*\n")
    with pytest.raises(ApiKeyFileError, match=r"keys\.csv:2:key_sha256"):
        KeyFile(path, setting="X_API_KEYS_FILE")
    with pytest.raises(ApiKeyFileError, match="cannot read"):
        KeyFile(tmp_path / "missing.csv", setting="X_API_KEYS_FILE")


def test_without_a_file_no_key_is_in_force(caplog: pytest.LogCaptureFixture) -> None:
    observer = Observer()
    with caplog.at_level(logging.WARNING, logger="dossier_runtime.keys"):
        keys = KeyFile(None, setting="X_API_KEYS_FILE", observer=observer)
    assert "X_API_KEYS_FILE is not set" in caplog.text
    assert keys.authenticate("dk_anything") is None and keys.authenticate(None) is None
    assert keys.reload() is False and not keys.reloads and observer.in_force == [0]


async def test_sighup_reloads_while_the_handler_is_installed(tmp_path: Path) -> None:
    path = tmp_path / "keys.csv"
    create_key(path, "first", "*")
    keys = KeyFile(path, setting="X_API_KEYS_FILE")
    second = create_key(path, "second", "*")
    with keys.reloading_on_sighup() as installed:
        assert installed
        os.kill(os.getpid(), signal.SIGHUP)
        for _ in range(200):
            if keys.reloads["ok"]:
                break
            await asyncio.sleep(0.01)
    assert keys.reloads["ok"] == 1 and keys.authenticate(second) is not None
    assert not asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)  # removed on leaving
