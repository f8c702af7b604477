"""The outbox relay: publishes `DossierStatusChanged` snapshots written by the consumer's transactions.

One relay is active per schema (a PostgreSQL advisory lock elects it), so snapshots leave in outbox
order and a dossier's versions reach `dossier.status.v1` in order (key = dossier code). The relay has its
own idempotent producer (acks=all, `PROCESSING_RELAY_MAX_REQUEST_SIZE`). After publishing, the rows are
marked sent together with the status topic's end offsets. A crash between the broker's acknowledgement
and that mark is healed on the next start: the relay reads the topic from the last recorded offsets and
marks what it finds there as sent (by the `outbox-id` header) before publishing anything else — so each
snapshot is published once (`recovery.py`).

A row that can never be published (larger than the maximum request size, or refused by the broker for a
reason that concerns that record alone) is *parked* (`parking.py`): `parked_at` and `park_reason` are
set, it is counted in `processing_outbox_parked_total{reason}` and `processing_outbox_parked`, and the
relay moves on. A later version of the same dossier is still published (consumers keep the newest
version), so one dossier can never stop the others. Every other failure (broker unreachable, timeouts,
authorisation) is transient: nothing is parked, and the relay retries with a bounded back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaProducer
from aiokafka import errors as kafka_errors
from aiokafka.structs import RecordMetadata
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dossier_processing.observability import Metrics
from dossier_processing.relay import sql
from dossier_processing.relay.batching import batches, split_oversized
from dossier_processing.relay.parking import Outcome, describe, park_reason
from dossier_processing.relay.recovery import headers_of, reconcile
from dossier_processing.relay.sql import OutboxRow
from dossier_processing.settings import ProcessingSettings
from dossier_runtime.db import try_session_lock
from dossier_runtime.kafka import client_options
from dossier_runtime.retry import Backoff, Streak

log = logging.getLogger(__name__)


class LeadershipLost(RuntimeError):
    pass


def relay_producer(settings: ProcessingSettings) -> AIOKafkaProducer:
    """The relay's own idempotent producer (restarted after a broker refusal resets its sequences)."""
    return AIOKafkaProducer(
        **client_options(settings.kafka),
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_request_size=settings.relay_max_request_size,
    )


class OutboxRelay:
    def __init__(
        self,
        settings: ProcessingSettings,
        engine: AsyncEngine,
        metrics: Metrics,
        new_producer: Callable[[ProcessingSettings], AIOKafkaProducer] = relay_producer,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.metrics = metrics
        self.topic = settings.status_topic
        self._new_producer = new_producer
        self._producer: AIOKafkaProducer | None = None
        self._stopping = asyncio.Event()
        self._work = asyncio.Event()
        self._last_gauges = 0.0
        self._last_purge = time.monotonic()
        self.published = 0
        self.parked = 0

    def stop(self) -> None:
        self._stopping.set()
        self._work.set()

    def wake(self) -> None:
        """New outbox rows were committed: publish now instead of at the next idle poll."""
        self._work.set()

    async def _idle(self) -> None:
        """Wait for a wake-up, or `relay_idle_s` (rows written by another instance's consumer)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._work.wait(), self.settings.relay_idle_s)
        self._work.clear()

    async def run(self) -> None:
        failures = Streak(Backoff(0.5, self.settings.retry_max_backoff_s))
        while not self._stopping.is_set():
            try:
                await self._lead()
                failures.succeeded()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                delay = failures.failed()
                log.warning(
                    "outbox relay interrupted; retrying", extra={"error": describe(exc), "in_s": delay}
                )
                await self._sleep(delay)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    @property
    def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("the relay's producer runs only while the relay leads")
        return self._producer

    async def _start_producer(self) -> None:
        producer = self._new_producer(self.settings)
        try:
            await producer.start()
        except BaseException:
            with contextlib.suppress(Exception):
                await producer.stop()
            raise
        self._producer = producer

    async def _stop_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()

    async def _restart_producer(self) -> None:
        """A fresh producer id: after the broker refused a record, the old producer's sequence numbers
        for that partition are ahead of the broker's and every later record there would be refused."""
        await self._stop_producer()
        await self._start_producer()

    async def _lead(self) -> None:
        """Hold the relay lock of this schema and publish until stopped or the lock is lost."""
        lock_name = f"{self.settings.db_schema}.outbox-relay"
        async with self.engine.connect() as lock:
            got = await try_session_lock(lock, lock_name)
            await lock.commit()
            if not got:
                await self._sleep(2.0)
                return
            try:
                await self._start_producer()
                await reconcile(self.engine, self.producer, self.settings.kafka, self.topic)
                while not self._stopping.is_set():
                    await self._check_lock(lock)
                    if await self.publish_once() == 0:
                        await self._idle()
            finally:
                await self._stop_producer()
                # Only the leader reports the outbox; a former leader must not add a stale figure
                # to the sum over instances.
                self.metrics.outbox_backlog.set(0)
                self.metrics.outbox_parked.set(0)
                self.metrics.outbox_age.oldest = None
                with contextlib.suppress(Exception):
                    await sql.unlock(lock, lock_name)
                    await lock.commit()

    async def _check_lock(self, lock: AsyncConnection) -> None:
        try:
            await lock.execute(text("select 1"))
            await lock.commit()
        except Exception as exc:
            raise LeadershipLost("the relay's lock connection is gone") from exc

    async def publish_once(self) -> int:
        """Publish (or park) up to one batch of unsent snapshots; returns how many were settled."""
        async with self.engine.connect() as conn:
            rows = await sql.unsent(conn, self.settings.relay_batch_size)
        await self._gauges(force=not rows)
        if not rows:
            return 0
        settled, refused = await self._publish_batch(rows)
        if refused:
            # Which record the broker refused is only certain when each is sent alone: one refusal
            # also fails the records batched or queued behind it on the same partition.
            settled += await self._publish_alone(refused)
        return settled

    async def _publish_batch(self, rows: Sequence[OutboxRow]) -> tuple[int, list[OutboxRow]]:
        """Send every row at once, a batch per partition (`batching.py`), and record the outcome. Rows
        the producer refuses before sending (too large) are parked; rows the broker refuses are
        returned, to be tried alone. A transient error records what was settled and raises (the
        rest stays unsent, for the next attempt)."""
        outcome = Outcome()
        sent: list[tuple[Sequence[OutboxRow], asyncio.Future[RecordMetadata]]] = []
        not_sent: kafka_errors.KafkaError | None = None
        oversized, fitting = split_oversized(rows, self.settings.relay_max_request_size)
        for row in oversized:
            try:
                sent.append(([row], await self._send(row)))
            except kafka_errors.KafkaError as exc:
                reason = park_reason(exc)
                if reason is None:
                    not_sent = exc
                    break
                outcome.parked.append((row, reason, describe(exc)))
        if not_sent is None:
            partitions = list(await self.producer.partitions_for(self.topic))
            for batch in batches(self.producer, fitting, partitions):
                try:
                    future = await self.producer.send_batch(
                        batch.builder, self.topic, partition=batch.partition
                    )
                except kafka_errors.KafkaError as exc:
                    not_sent = exc
                    break
                sent.append((batch.rows, future))
        results = await asyncio.gather(*(f for _, f in sent), return_exceptions=True)
        refused: list[tuple[OutboxRow, BaseException]] = []
        for (sent_rows, _), result in zip(sent, results, strict=True):
            if isinstance(result, BaseException):
                refused.extend((row, result) for row in sent_rows)
            else:
                outcome.delivered(sent_rows, result)
        settled = await self._record(outcome)
        if not_sent is not None:
            raise not_sent
        if refused and all(park_reason(exc) is None for _, exc in refused):
            first = refused[0][1]
            raise first if isinstance(first, Exception) else RuntimeError(describe(first))
        return settled, [row for row, _ in refused]

    async def _publish_alone(self, rows: Sequence[OutboxRow]) -> int:
        """Send each refused row alone, in outbox order, on a fresh producer, and park those refused
        again for a reason of their own. A transient error records what was settled and raises."""
        outcome = Outcome()
        try:
            await self._restart_producer()
            for row in rows:
                try:
                    outcome.delivered([row], await (await self._send(row)))
                except kafka_errors.KafkaError as exc:
                    reason = park_reason(exc)
                    if reason is None:
                        raise
                    outcome.parked.append((row, reason, describe(exc)))
                    await self._restart_producer()
        finally:
            settled = await self._record(outcome)
        return settled

    async def _send(self, row: OutboxRow) -> asyncio.Future[RecordMetadata]:
        future: asyncio.Future[RecordMetadata] = await self.producer.send(
            self.topic, value=row.payload, key=row.dossier_code.encode(), headers=headers_of(row)
        )
        return future

    async def _record(self, outcome: Outcome) -> int:
        """Mark published rows sent (with the topic's new end offsets) and park the others, in one
        transaction; then count them. Returns how many rows were settled."""
        if not len(outcome):
            return 0
        async with self.engine.begin() as conn:
            await sql.mark_sent(conn, [r.id for r in outcome.published])
            await sql.save_relay_positions(conn, self.topic, outcome.positions)
            await sql.park(conn, [(r.id, f"{reason}: {error}") for r, reason, error in outcome.parked])
        self.metrics.outbox_published.inc(len(outcome.published))
        self.published += len(outcome.published)
        for row, reason, error in outcome.parked:
            self.metrics.outbox_parked_total.labels(reason).inc()
            self.parked += 1
            log.error(
                "snapshot parked: the status topic refuses it",
                extra={
                    "outbox_id": row.id,
                    "dossier_code": row.dossier_code,
                    "version": row.version,
                    "bytes": len(row.payload),
                    "reason": reason,
                    "error": error,
                },
            )
        if outcome.parked:
            await self._gauges(force=True)
        return len(outcome)

    async def _gauges(self, *, force: bool) -> None:
        now = time.monotonic()
        if not force and now - self._last_gauges < 1.0:
            return
        self._last_gauges = now
        async with self.engine.connect() as conn:
            count, oldest = await sql.outbox_backlog(conn)
            parked = await sql.parked_count(conn)
            if now - self._last_purge > 3600:
                self._last_purge = now
                await sql.purge_sent_outbox(conn, self.settings.outbox_retention_days)
                await conn.commit()
        self.metrics.outbox_backlog.set(count)
        self.metrics.outbox_age.oldest = oldest
        self.metrics.outbox_parked.set(parked)
