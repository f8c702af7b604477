"""The feedback worker: reads `feedback.events.v1`, stores each event once (`feedback_events`, unique by
event_id), folds every item a batch touched from all its events (`dossier_core.feedback.fold_feedback`,
deadline `PROCESSING_FEEDBACK_DEADLINE_DAYS` working days), stores the state (`feedback`, its
`version` raised by one) and publishes it to `feedback.status.v1`; only then are the offsets committed.

A failure anywhere leaves the offsets where they were and the batch is read again: events already
stored are ignored, their items folded and published again under a higher version, which a reader
takes as the newer snapshot. A record that is not a feedback event is logged and skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import timedelta, timezone
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dossier_contracts.feedback_codec import decode_feedback_event, encode_feedback_status
from dossier_core.calendar import WorkingCalendar
from dossier_core.feedback import FeedbackEvent, FeedbackEventType, FeedbackState, fold_feedback
from dossier_processing.settings import ProcessingSettings
from dossier_runtime.kafka import client_options

log = logging.getLogger(__name__)

#: an item's state with the version it is published under
Published = tuple[FeedbackState, int]

_INSERT = text(
    """
    insert into feedback_events (event_id, feedback_code, agency_code, type, occurred_at,
                                 occurred_offset_minutes, subject, handler, note)
    values (:event_id, :feedback_code, :agency_code, :type, :occurred_at, :offset, :subject, :handler, :note)
    on conflict (event_id) do nothing
    """
)
_HISTORY = text(
    """
    select event_id, seq, feedback_code, agency_code, type, occurred_at, occurred_offset_minutes,
           subject, handler, note
    from feedback_events where feedback_code = :code
    """
)
_UPSERT = text(
    """
    insert into feedback as f (feedback_code, agency_code, stage, received_at, assigned_at, answered_at,
                               published_at, withdrawn_at, due_at, version)
    values (:feedback_code, :agency_code, :stage, :received_at, :assigned_at, :answered_at,
            :published_at, :withdrawn_at, :due_at, 1)
    on conflict (feedback_code) do update set
        agency_code = excluded.agency_code, stage = excluded.stage, received_at = excluded.received_at,
        assigned_at = excluded.assigned_at, answered_at = excluded.answered_at,
        published_at = excluded.published_at, withdrawn_at = excluded.withdrawn_at,
        due_at = excluded.due_at, version = f.version + 1
    returning version
    """
)


class FeedbackWorker:
    def __init__(self, settings: ProcessingSettings, engine: AsyncEngine, calendar: WorkingCalendar) -> None:
        self.settings, self.engine, self.calendar = settings, engine, calendar
        self._stopping = asyncio.Event()
        self.skipped = 0

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        s = self.settings
        consumer = AIOKafkaConsumer(
            s.feedback_events_topic,
            **client_options(s.kafka),
            group_id=s.feedback_consumer_group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        producer = AIOKafkaProducer(**client_options(s.kafka), enable_idempotence=True, acks="all")
        await _until_started(consumer.start, self._stopping)
        await _until_started(producer.start, self._stopping)
        try:
            while not self._stopping.is_set():
                batch = await consumer.getmany(timeout_ms=s.poll_timeout_ms, max_records=s.batch_size)
                records = [r for msgs in batch.values() for r in msgs]
                if not records:
                    continue
                try:
                    await self.apply(records, producer)
                    await consumer.commit()
                except Exception:
                    log.exception("feedback batch failed; it is read again")
                    for partition, msgs in batch.items():
                        consumer.seek(partition, msgs[0].offset)
                    await asyncio.sleep(1.0)
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()
            with contextlib.suppress(Exception):
                await producer.stop()

    async def apply(
        self, records: Sequence[Any], producer: AIOKafkaProducer
    ) -> list[tuple[FeedbackState, int]]:
        """Store, fold and publish one batch of records; the states published with their versions."""
        events = []
        for record in records:
            try:
                events.append(decode_feedback_event(record.value))
            except Exception as exc:
                self.skipped += 1
                log.warning(
                    "feedback record skipped",
                    extra={"partition": record.partition, "offset": record.offset, "error": repr(exc)},
                )
        async with self.engine.begin() as conn:
            states = await self.store(conn, events)
        futures = [
            await producer.send(
                self.settings.feedback_status_topic,
                encode_feedback_status(state, version),
                key=state.feedback_code.encode(),
            )
            for state, version in states
        ]
        await asyncio.gather(*futures)
        return states

    async def store(
        self, conn: AsyncConnection, events: Sequence[FeedbackEvent]
    ) -> list[tuple[FeedbackState, int]]:
        """Insert the events (duplicates ignored) and refold every item they touch."""
        for event in events:
            offset = event.occurred_at.utcoffset() or timedelta(0)
            await conn.execute(
                _INSERT,
                {
                    "event_id": event.event_id,
                    "feedback_code": event.feedback_code,
                    "agency_code": event.agency_code,
                    "type": event.type.value,
                    "occurred_at": event.occurred_at,
                    "offset": int(offset.total_seconds()) // 60,
                    "subject": event.subject,
                    "handler": event.handler,
                    "note": event.note,
                },
            )
        out = []
        for code in dict.fromkeys(e.feedback_code for e in events):
            rows = (await conn.execute(_HISTORY, {"code": code})).mappings().all()
            state = fold_feedback(
                [_event(row) for row in rows], self.calendar, self.settings.feedback_deadline_days
            )
            values = {name: getattr(state, name) for name in _COLUMNS}
            version = (await conn.execute(_UPSERT, {**values, "stage": state.stage.value})).scalar_one()
            out.append((state, int(version)))
        return out


_COLUMNS = (
    "feedback_code",
    "agency_code",
    "received_at",
    "assigned_at",
    "answered_at",
    "published_at",
    "withdrawn_at",
    "due_at",
)


def _event(row: Any) -> FeedbackEvent:
    zone = timezone(timedelta(minutes=row["occurred_offset_minutes"]))
    return FeedbackEvent(
        event_id=row["event_id"],
        type=FeedbackEventType(row["type"]),
        feedback_code=row["feedback_code"],
        agency_code=row["agency_code"],
        occurred_at=row["occurred_at"].astimezone(zone),
        subject=row["subject"],
        handler=row["handler"],
        note=row["note"],
        seq=row["seq"],
    )


async def _until_started(start: Any, stopping: asyncio.Event) -> None:
    """Call `start` until it succeeds (Kafka may not answer yet) or the worker is stopped."""
    while not stopping.is_set():
        try:
            await start()
            return
        except Exception as exc:
            log.warning("feedback worker waiting for Kafka", extra={"error": repr(exc)})
            await asyncio.sleep(1.0)
