"""Small helpers shared by the test tiers (importable as `tests.support`)."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"
