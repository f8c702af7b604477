"""One metrics instance at a time exports the province-wide counters, read from the shared store.

Each instance owns some partitions of `dossier.status.v1` and keeps their counters, but a counter
exported per instance would fall on the old owner and jump on the new one at every rebalance, which
Prometheus reads as a reset (so `increase()` overcounts). Instead the instances elect one exporter by a
PostgreSQL advisory lock held on a connection of its own (as processing elects its outbox relay): the
exporter answers each scrape with `dossier_*_total` summed over every partition's stored counters,
which only grow whoever owns a partition, so:

- `sum by (agency)` over the instances is exact at every scrape: one instance exports each series;
- across a failover (the lock is freed the moment the exporter's session ends, kill -9 included),
  the new exporter continues from the same stored totals; the recording rules drop the `instance`
  label and bridge the seconds without an exporter (`last_over_time`), so `increase()` over the
  recorded series counts exactly what happened (deploy/prometheus/rules/recording.yml).

The gauges (`dossier_pending`, `dossier_due_soon`) stay per instance, over its own partitions: they are
not counters, and their sum over the instances is exact once an assignment has settled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dossier_metrics.counters import Counts
from dossier_runtime.db import try_session_lock

log = logging.getLogger(__name__)

Totals = Mapping[str, Counts]


class CounterExporter:
    """Holds (or waits for) the exporter's lock and reads the stored totals for a scrape."""

    def __init__(
        self,
        engine: AsyncEngine,
        read_totals: Callable[[], Awaitable[Totals]],
        lock_name: str,
        *,
        retry_s: float = 1.0,
        cache_s: float = 1.0,
    ) -> None:
        self.engine = engine
        self.read_totals = read_totals
        self.lock_name = lock_name
        self.retry_s = retry_s
        self.cache_s = cache_s
        self.leading = False
        self._lock: AsyncConnection | None = None
        self._cached: tuple[float, Totals] | None = None
        self._reading = asyncio.Lock()

    async def try_lead(self) -> bool:
        """Take the lock if no other session holds it; keeps the connection while leading."""
        if self._lock is not None:
            return await self._still_leading()
        conn = await self.engine.connect()
        try:
            got = await try_session_lock(conn, self.lock_name)
            await conn.commit()
        except Exception:
            await conn.close()
            raise
        if not got:
            await conn.close()
            return False
        self._lock, self.leading = conn, True
        log.info("exporting the province-wide counters", extra={"lock": self.lock_name})
        return True

    async def _still_leading(self) -> bool:
        assert self._lock is not None
        try:
            await self._lock.execute(text("select 1"))
            await self._lock.commit()
            return True
        except Exception as exc:
            log.warning("lost the counters' lock; another instance takes over", extra={"error": str(exc)})
            await self._release()
            return False

    async def _release(self) -> None:
        conn, self._lock, self.leading, self._cached = self._lock, None, False, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.invalidate()  # never hand a session holding the lock back to the pool
            with contextlib.suppress(Exception):
                await conn.close()

    async def run_forever(self) -> None:
        """Try for the lock until it is held, then check it is still held, every `retry_s`."""
        try:
            while True:
                try:
                    await self.try_lead()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("cannot ask for the counters' lock", extra={"error": str(exc)})
                    await self._release()
                await asyncio.sleep(self.retry_s)
        finally:
            await self._release()

    async def totals(self) -> Totals | None:
        """The stored counters of every partition by agency, or None when another instance exports
        them. Scrapes within `cache_s` of each other share one read; while the store does not answer,
        the last totals read are given again (until the lock's own connection is found gone)."""
        if not self.leading:
            return None
        async with self._reading:
            now = time.monotonic()
            if self._cached is not None and now - self._cached[0] < self.cache_s:
                return self._cached[1]
            try:
                totals = await self.read_totals()
            except Exception as exc:  # PostgreSQL down: the last totals read stay true until it is back
                log.warning("cannot read the stored counters", extra={"error": str(exc)})
                return self._cached[1] if self._cached is not None and self.leading else None
            if not self.leading:  # lost while reading: another instance may already export
                return None
            self._cached = (now, totals)
            return totals
