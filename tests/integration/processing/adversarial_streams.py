"""The adversarial streams of `test_consumer_adversarial.py` and the model that says what each message must
get: valid "control" dossiers mixed with hostile input (ids reused with other content, resends and
replays, dossiers over the event limit, impossible transitions, late and far-past events, unicode in text
and codes, instants outside the contract, text too long, undecodable bytes), as hypothesis strategies and
as the explicit example with one of each kind."""

from __future__ import annotations

import itertools
import random
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hypothesis import strategies as st
from processing_factory import START, Sent, event, lifecycle, resent, with_id

from dossier_contracts.event_codec import decode_event, encode_event, event_type_of, occurred_at_of
from dossier_core.calendar import VN_TZ
from dossier_processing.ingest.decode import decode_messages

LIMIT = 8  # every control and ordinary hostile dossier has at most 7 events; oversized ones have more
AGENCY = "000.00.18.H49"
APPLIED, DUPLICATE = "applied", "duplicate"


@dataclass(frozen=True, eq=False)
class Msg:
    """One message on the topic and what the model needs of it."""

    key: bytes
    value: bytes
    event_id: str | None = None
    code: str | None = None
    token: str | None = None  # the identity of its content: a resend shares it, a conflict does not
    fixed: str | None = None  # an outcome the message decides alone: undecodable, out_of_bounds


def ok(sent: Sent, token: str | None = None) -> Msg:
    return Msg(
        sent.dossier_code.encode(), sent.raw, sent.event_id, sent.dossier_code, token or uuid.uuid4().hex
    )


def refused(sent: Sent) -> Msg:
    return Msg(sent.dossier_code.encode(), sent.raw, sent.event_id, sent.dossier_code, fixed="out_of_bounds")


def moved(sent: Sent, minutes: int) -> Sent:
    msg = decode_event(sent.raw)
    msg.occurred_at.seconds += minutes * 60
    return Sent(sent.event_id, sent.dossier_code, sent.type, sent.occurred_at, encode_event(msg))


def received(code: str, at: datetime, **data: Any) -> Sent:
    return event("received", code, at, procedure_code="1.004194", channel="online", **data)


texts = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=40)
specs = st.lists(
    st.one_of(
        st.tuples(st.just("control"), st.integers(0, 10_000)),
        st.tuples(st.just("impossible"), st.permutations(range(7)), st.integers(1, 7)),
        st.tuples(st.just("late")),
        st.tuples(st.just("far_past")),
        st.tuples(st.just("unicode_text"), texts, texts),
        st.tuples(st.just("out_of_range"), st.integers(0, 4)),
        st.tuples(st.just("unicode_code")),
        st.tuples(st.just("long_text")),
        st.tuples(st.just("undecodable"), st.integers(0, 2), st.binary(max_size=24)),
        st.tuples(st.just("oversized"), st.integers(1, 4)),
    ),
    min_size=2,
    max_size=12,
)
#: Messages that reuse the id of an applied event: conflicts (another dossier, time or type) and resends.
references = st.lists(
    st.one_of(
        st.tuples(st.just("conflict"), st.integers(0, 2), st.integers(0, 1000)),
        st.tuples(st.just("resend"), st.integers(0, 1), st.integers(0, 1000)),
    ),
    max_size=6,
)

#: One of each kind, run as an explicit example besides the random ones.
EVERY_KIND: list[tuple[Any, ...]] = [
    ("impossible", [3, 1, 2, 0, 4, 5, 6], 7),
    ("late",),
    ("far_past",),
    ("unicode_text", "Thiếu giấy tờ \u202e\r\n ✓ 𝔘", "Phòng \u200b QLHC"),
    *(("out_of_range", n) for n in range(5)),
    ("unicode_code",),
    ("long_text",),
    *(("undecodable", n, b"\x08\x01") for n in range(3)),
    ("oversized", 3),
]
EVERY_REFERENCE: list[tuple[Any, ...]] = [
    *(("conflict", n, 7 * n) for n in range(3)),
    *(("resend", n, 5 + n) for n in range(2)),
]


def build(
    plan: list[tuple[Any, ...]], controls_n: int, rng: random.Random, run: int
) -> tuple[list[Msg], dict[str, list[Sent]]]:
    """The stream of one example: each dossier's events in order, dossiers interleaved at random, and
    every conflict or resend after the event whose id it reuses."""
    numbers = itertools.count()
    code = lambda: f"{AGENCY}-250303-{run:04d}{next(numbers):03d}"  # noqa: E731
    h = lambda n: START + timedelta(hours=n)  # noqa: E731
    groups: list[list[Msg]] = []
    controls: dict[str, list[Sent]] = {}
    targets: list[Msg] = []  # events certain to be applied, whose ids conflicts and resends reuse
    references: list[tuple[Any, ...]] = []
    plan = list(plan)
    for _ in range(controls_n):
        plan.insert(rng.randint(0, len(plan)), ("control", rng.randint(0, 10_000)))
    for spec in plan:
        kind = spec[0]
        if kind == "control":
            c = code()
            controls[c] = lifecycle(c, random.Random(spec[1]), START)
            groups.append([ok(e) for e in controls[c]])
            targets += groups[-1]
        elif kind in ("impossible", "late", "far_past", "unicode_text"):
            c = code()
            if kind == "impossible":
                pool = [
                    event("processing", c, h(1)),
                    received(c, h(0)),
                    event("withdrawn", c, h(2), reason="rút"),
                    event("resolved", c, h(3)),
                    event("resumed", c, h(4)),
                    event("returned", c, h(5)),
                    event("submitted", c, h(6), procedure_code="1.004194", channel="postal"),
                ]
                sents = [pool[i] for i in spec[1][: spec[2]]]
            elif kind == "late":
                sents = [received(c, h(0)), event("processing", c, h(2)), event("resolved", c, h(5))]
                sents.append(event("processing", c, h(1), step="muộn"))
            elif kind == "far_past":
                at = datetime(2000, 1, 3, 8, tzinfo=VN_TZ)
                sents = [received(c, at), event("processing", c, at + timedelta(days=1))]
            else:
                sents = [
                    received(c, h(0)),
                    event("supplement_requested", c, h(1), reason=spec[1]),
                    event("supplement_received", c, h(2)),
                    event("processing", c, h(3), step=spec[2], department=spec[1]),
                ]
            groups.append([ok(e) for e in sents])
            targets += groups[-1]
        elif kind == "out_of_range":
            c = code()
            hostile = [
                received(c, datetime(1999, 12, 31, 23, 59, tzinfo=VN_TZ)),
                received(c, datetime(2100, 1, 1, tzinfo=VN_TZ)),
                received(c, datetime(1900, 1, 1, tzinfo=VN_TZ)),
                received(c, h(0), due_at="2150-01-01T17:00:00+07:00"),
                event("rescheduled", c, h(0), new_appointment_at="1970-01-01T00:00:00+07:00", reason="x"),
            ][spec[1]]
            groups.append([refused(hostile)])
        elif kind == "unicode_code":
            groups.append([refused(received(f"{AGENCY}-250303-\uff10\uff10\uff10{run % 10}", h(0)))])
        elif kind == "long_text":
            groups.append([refused(event("suspended", code(), h(1), reason="dài" * 700))])
        elif kind == "undecodable":
            valid = received(code(), h(0)).raw
            value = [b"", b"\xff" + spec[2], valid[: max(1, len(valid) * len(spec[2]) // 25)]][spec[1]]
            assert decode_messages([Record(value)])[1], "the undecodable example decodes"
            groups.append([Msg(b"junk", value, fixed="undecodable")])
        elif kind == "oversized":
            c = code()
            sents = [received(c, h(0))] + [
                event("processing", c, h(n), step=str(n)) for n in range(1, LIMIT + spec[1])
            ]
            groups.append([ok(e) for e in sents])
        else:
            references.append(spec)
    stream = _interleave(groups, rng)
    for kind, variant, pick in references:
        if not targets:
            continue
        target = targets[pick % len(targets)]
        sent = _as_sent(target)
        if kind == "resend":
            again = resent(sent) if variant == 0 else sent  # variant 1: the very same record again
            msg = ok(again, token=target.token)
        elif variant == 0:  # the id, for an event of another dossier
            msg = ok(with_id(received(code(), h(0)), sent.event_id))
        elif variant == 1:  # the id, for the same dossier at another time
            msg = ok(moved(sent, 1))
        else:  # the id, for another type
            other = "fee_paid" if sent.type == "dossier.processing" else "processing"
            msg = ok(with_id(event(other, sent.dossier_code, sent.occurred_at), sent.event_id))
        after = stream.index(target) + 1
        stream.insert(rng.randint(after, len(stream)), msg)
    return stream, controls


@dataclass
class Record:
    value: bytes
    key: bytes = b""
    topic: str = ""
    partition: int = 0
    offset: int = 0
    timestamp: int = 0  # ms since the epoch, as Kafka stamps a record


def _as_sent(msg: Msg) -> Sent:
    assert msg.event_id is not None and msg.code is not None
    decoded = decode_event(msg.value)
    return Sent(msg.event_id, msg.code, event_type_of(decoded), occurred_at_of(decoded), msg.value)


def _interleave(groups: list[list[Msg]], rng: random.Random) -> list[Msg]:
    queues = [list(reversed(g)) for g in groups if g]
    out: list[Msg] = []
    while queues:
        i = rng.randrange(len(queues))
        out.append(queues[i].pop())
        if not queues[i]:
            queues.pop(i)
    return out


def expected(stream: list[Msg]) -> tuple[list[str], Counter[str], set[str]]:
    """What each message must get, in stream order; events per dossier; dossiers flagged at the limit."""
    claimed: dict[str, str | None] = {}
    count: Counter[str] = Counter()
    flagged: set[str] = set()
    outcomes = []
    for m in stream:
        if m.fixed is not None:
            outcomes.append(m.fixed)
        elif m.event_id in claimed:
            outcomes.append(DUPLICATE if claimed[m.event_id] == m.token else "event_id_conflict")
        elif count[m.code or ""] >= LIMIT:
            outcomes.append("dossier_event_limit")
            flagged.add(m.code or "")
        else:
            claimed[m.event_id or ""] = m.token
            count[m.code or ""] += 1
            outcomes.append(APPLIED)
    return outcomes, count, flagged
