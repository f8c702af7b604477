"""Dossier event streams for the processing tests and benchmark: protobuf bytes as intake writes them."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dossier_contracts.event_codec import decode_event, encode_event, event_to_proto, to_timestamp
from dossier_core.calendar import VN_TZ
from dossier_core.codes import EventType, StatusCode
from dossier_core.dossier import Dossier
from dossier_core.events import DossierEvent

AGENCIES = ("000.00.18.H49", "000.00.31.H49", "000.01.31.H49", "000.00.51.H49", "000.00.10.H49")
PROCEDURES = ("1.004194", "1.013835", "1.002099", "1.003984", "1.001193", "1.008312", "2.000908")
CHANNELS = ("direct", "online", "postal")
START = datetime(2025, 3, 3, 8, 0, tzinfo=VN_TZ)


@dataclass
class Record:
    """What the consumer reads of a Kafka record (a stand-in for aiokafka's `ConsumerRecord`)."""

    value: bytes | None
    key: bytes | None = b"k"
    topic: str = "dossier.events.v1"
    partition: int = 0
    offset: int = 0
    timestamp: int = 1_767_225_600_000  # ms: 2026-01-01 00:00 UTC


@dataclass(frozen=True)
class Sent:
    """One event as put on the topic."""

    event_id: str
    dossier_code: str
    type: str
    occurred_at: datetime
    raw: bytes


def event(event_type: str, code: str, at: datetime, agency: str | None = None, **data: Any) -> Sent:
    event_id = str(uuid.uuid4())
    body = {
        "event_id": event_id,
        "type": f"dossier.{event_type}",
        "dossier_code": code,
        "agency_code": agency or code.rsplit("-", 2)[0],
        "occurred_at": at.isoformat(),
        "data": data,
    }
    return Sent(event_id, code, body["type"], at, encode_event(event_to_proto(body, source="test")))


def with_id(sent: Sent, event_id: str) -> Sent:
    """Another event that reuses `event_id` (a conflict unless its content is the same)."""
    msg = decode_event(sent.raw)
    msg.event_id = event_id
    return Sent(event_id, sent.dossier_code, sent.type, sent.occurred_at, encode_event(msg))


def resent(sent: Sent, source: str = "another-key") -> Sent:
    """The same event sent again through intake: the same content, another `recorded_at` and `source`."""
    msg = decode_event(sent.raw)
    msg.recorded_at.CopyFrom(to_timestamp(datetime(2026, 1, 2, tzinfo=UTC)))
    msg.source = source
    return Sent(sent.event_id, sent.dossier_code, sent.type, sent.occurred_at, encode_event(msg))


def dossier_code(agency: str, n: int, day: datetime = START) -> str:
    return f"{agency}-{day:%y%m%d}-{n:04d}" if n < 10_000 else f"{agency}-{day:%y%m%d}-{n}"


def lifecycle(code: str, rng: random.Random, start: datetime) -> list[Sent]:
    """A plausible history: received, processing, maybe a pause, then an ending (or still open)."""
    t = start + timedelta(minutes=rng.randint(0, 600))
    step = lambda hours: t + timedelta(hours=hours)  # noqa: E731
    procedure = rng.choice(PROCEDURES)
    channel = rng.choice(CHANNELS)
    events = [event("received", code, t, procedure_code=procedure, channel=channel)]
    t = step(rng.uniform(0.5, 6))
    events.append(event("processing", code, t, step="thẩm định"))
    roll = rng.random()
    if roll < 0.25:
        t = step(rng.uniform(1, 30))
        events.append(event("supplement_requested", code, t, reason="thiếu giấy tờ"))
        t = step(rng.uniform(1, 60))
        events.append(event("supplement_received", code, t))
    elif roll < 0.35:
        t = step(rng.uniform(1, 30))
        events.append(event("fee_requested", code, t, amount=50000))
        t = step(rng.uniform(1, 10))
        events.append(event("fee_paid", code, t))
    end = rng.random()
    t = step(rng.uniform(1, 120))
    if end < 0.65:
        events.append(event("resolved", code, t, result="cấp"))
        if rng.random() < 0.7:
            events.append(event("returned", code, step(rng.uniform(1, 48))))
    elif end < 0.72:
        events.append(event("withdrawn", code, t, reason="công dân rút"))
    elif end < 0.75:
        events.append(event("refused", code, t, reason="không đủ điều kiện"))
    elif end < 0.8:
        events.append(
            event(
                "rescheduled",
                code,
                t,
                new_appointment_at=(t + timedelta(days=5)).isoformat(),
                reason="xin lỗi",
            )
        )
    return events


def stream(dossiers: int, seed: int = 7, start: datetime = START) -> Iterator[list[Sent]]:
    """One history per dossier, dossiers spread over agencies and days."""
    rng = random.Random(seed)
    for n in range(dossiers):
        agency = AGENCIES[n % len(AGENCIES)]
        day = start + timedelta(days=(n // 500) % 60)
        yield lifecycle(dossier_code(agency, n + 1, day), rng, day)


def interleave(histories: list[list[Sent]], rng: random.Random) -> list[Sent]:
    """All events, each dossier's in order, dossiers shuffled together (as a topic would see them)."""
    queues = [list(reversed(h)) for h in histories]
    out: list[Sent] = []
    live = [q for q in queues if q]
    while live:
        i = rng.randrange(len(live))
        out.append(live[i].pop())
        if not live[i]:
            live[i] = live[-1]
            live.pop()
    return out


def returned_at_of(dossier: Dossier, events: Iterable[DossierEvent]) -> datetime | None:
    """NgayTra as its rule reads, from the whole history: the first `returned` of a dossier at status
    10 (the reference the fold state's `returned_at` is held to)."""
    if dossier.status is not StatusCode.RETURNED:
        return None
    return min((e.occurred_at for e in events if e.type is EventType.RETURNED), default=None)
