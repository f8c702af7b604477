"""The in-memory side of the projection: per-agency counters and the open dossiers of the partitions
this instance owns, kept in step with the database (changed only after a batch has committed).

Gauges depend on the clock, so they are computed at scrape time (`LiveIndex.figures`). An open dossier
whose answers can no longer change until its next snapshot (no open pause, every recorded instant in
the past) is "settled": its effective deadline is constant from then on, so only that instant is kept
and a scrape compares it with the clock. Other open dossiers keep their `Dossier` and are asked
through the domain at every scrape (`Dossier.pending_state`, `is_paused_at`, `effective_due`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from dossier_core.calendar import WorkingCalendar
from dossier_core.dossier import Dossier
from dossier_core.timeliness import PendingState
from dossier_metrics.counters import WIDTH, ZERO, Counts, add

Clock = Callable[[], datetime]
GAUGES = ("in_time", "overdue", "paused", "due_soon")


class OpenEntry:
    """One open dossier. `due` is its deadline (POSIX seconds) once settled, `dossier` is kept while
    it is not settled, `settled_from` is the instant from which `due` holds."""

    __slots__ = ("agency", "dossier", "due", "settled_from")

    def __init__(self, agency: str, due: float | None, settled_from: float, dossier: Dossier | None) -> None:
        self.agency = agency
        self.due = due
        self.settled_from = settled_from
        self.dossier = dossier

    def is_settled_at(self, now_ts: float) -> bool:
        """Whether `due` answers for `now` (else the domain is asked)."""
        dossier = self.dossier
        if dossier is None:
            return True
        return now_ts >= self.settled_from and all(p.ended_at is not None for p in dossier.pauses)


def settled_from(dossier: Dossier) -> float:
    """The last instant recorded on the dossier that its time-dependent answers depend on."""
    instants = [dossier.received_at] if dossier.received_at else []
    for pause in dossier.pauses:
        instants.append(pause.started_at)
        if pause.ended_at is not None:
            instants.append(pause.ended_at)
    return max(t.timestamp() for t in instants) if instants else 0.0


def open_entry(dossier: Dossier, now: datetime, calendar: WorkingCalendar) -> OpenEntry | None:
    """The index entry of a dossier, or None when it is not open (never received, or ended)."""
    if not dossier.is_received or dossier.ended_at is not None:
        return None
    since = settled_from(dossier)
    has_open_pause = any(p.ended_at is None for p in dossier.pauses)
    at = datetime.fromtimestamp(since, now.tzinfo) if since > now.timestamp() else now
    due = dossier.effective_due(at, calendar)  # BEYOND_CALENDAR past the calendar's years, never raises
    keep = has_open_pause or since > now.timestamp()
    return OpenEntry(dossier.agency_code, due.timestamp() if due else None, since, dossier if keep else None)


@dataclass
class PartitionView:
    counters: dict[str, Counts]
    open: dict[str, OpenEntry]


@dataclass
class LiveFigures:
    """Everything `/metrics` and `/v1/stats/live` show at one instant, as columns over `codes`:
    `counters[k][i]` is counter k (`counters.COUNTER_COLUMNS`) of agency `codes[i]`, `gauges[k][i]` is
    gauge k (`GAUGES`). Columns keep a scrape of 10,000 agencies to a few large lists."""

    at: datetime
    codes: list[str]
    counters: list[list[int]]
    gauges: list[list[int]]
    last_event_ts: float | None
    #: whether the counters and `dossier_agency_info` are written (false on an instance that is not
    #: the counters' exporter: `counters` is then empty)
    province_wide: bool = True

    def counters_of(self, code: str) -> Counts:
        """One agency's counters (a linear search: for tests and single look-ups)."""
        i = self.codes.index(code)
        return tuple(column[i] for column in self.counters)

    def gauges_of(self, code: str) -> list[int]:
        i = self.codes.index(code)
        return [column[i] for column in self.gauges]


class LiveIndex:
    def __init__(self, calendar: WorkingCalendar, clock: Clock) -> None:
        self.calendar = calendar
        self.clock = clock
        self.partitions: dict[int, PartitionView] = {}
        self.last_event_ts: float | None = None
        # Agencies get a position on first sight; counter totals are columns over positions.
        self.positions: dict[str, int] = {}
        self.codes: list[str] = []
        self.totals: list[list[int]] = [[] for _ in range(WIDTH)]

    def _position(self, agency: str) -> int:
        found = self.positions.get(agency)
        if found is None:
            found = self.positions[agency] = len(self.codes)
            self.codes.append(agency)
            for column in self.totals:
                column.append(0)
        return found

    def _add_totals(self, agency: str, counts: Counts, sign: int = 1) -> None:
        i = self._position(agency)
        for k, value in enumerate(counts):
            self.totals[k][i] += sign * value

    # -- kept in step with the store ------------------------------------------------

    def load_partition(
        self, partition: int, counters: Mapping[str, Counts], dossiers: Iterable[Dossier], last: float | None
    ) -> None:
        self.drop_partition(partition)
        view = PartitionView(dict(counters), {})
        now = self.clock()
        for dossier in dossiers:
            entry = open_entry(dossier, now, self.calendar)
            if entry is not None:
                view.open[dossier.dossier_code] = entry
        self.partitions[partition] = view
        for agency, counts in view.counters.items():
            self._add_totals(agency, counts)
        self._saw(last)

    def drop_partition(self, partition: int) -> None:
        view = self.partitions.pop(partition, None)
        if view is None:
            return
        for agency, counts in view.counters.items():
            self._add_totals(agency, counts, -1)

    def apply(
        self, partition: int, dossiers: Iterable[Dossier], deltas: Mapping[str, Counts], last: float | None
    ) -> None:
        """After a committed batch: the dossiers whose newer snapshot was stored, and the deltas."""
        view = self.partitions.setdefault(partition, PartitionView({}, {}))
        now = self.clock()
        for dossier in dossiers:
            entry = open_entry(dossier, now, self.calendar)
            if entry is None:
                view.open.pop(dossier.dossier_code, None)
            else:
                view.open[dossier.dossier_code] = entry
        for agency, delta in deltas.items():
            view.counters[agency] = add(view.counters.get(agency, ZERO), delta)
            self._add_totals(agency, delta)
        self._saw(last)

    def _saw(self, ts: float | None) -> None:
        if ts is not None and (self.last_event_ts is None or ts > self.last_event_ts):
            self.last_event_ts = ts

    @property
    def open_count(self) -> int:
        return sum(len(view.open) for view in self.partitions.values())

    # -- scrape time -----------------------------------------------------------------

    def figures(self, agencies: Iterable[str] = ()) -> LiveFigures:
        """Counters and gauges now, with a zero row for each of `agencies` (the catalog's)."""
        for agency in agencies:
            if agency not in self.positions:
                self._position(agency)
        now = self.clock()
        now_ts = now.timestamp()
        horizon = due_soon_horizon(now, self.calendar)
        calendar = self.calendar
        positions = self.positions
        n = len(self.codes)
        in_time, overdue_col, paused_col, due_soon = [0] * n, [0] * n, [0] * n, [0] * n
        for view in self.partitions.values():
            for entry in view.open.values():
                i = positions.get(entry.agency)
                if i is None:
                    i = self._position(entry.agency)
                    for column in (in_time, overdue_col, paused_col, due_soon):
                        column.append(0)
                dossier = entry.dossier
                if dossier is None or entry.is_settled_at(now_ts):
                    due = entry.due
                    if due is not None and due < now_ts:
                        overdue_col[i] += 1
                    else:
                        in_time[i] += 1
                        if due is not None and due <= horizon:
                            due_soon[i] += 1
                    continue
                paused = dossier.is_paused_at(now)
                state = dossier.pending_state(now, calendar)
                in_time_now = state is PendingState.IN_TIME and not paused
                eff = dossier.effective_due(now, calendar) if in_time_now else None
                if state is None:
                    continue
                if state is PendingState.OVERDUE:
                    overdue_col[i] += 1
                else:
                    in_time[i] += 1
                if paused:
                    paused_col[i] += 1
                elif eff is not None and eff.timestamp() <= horizon:  # due_soon needs the deadline now
                    due_soon[i] += 1
        return LiveFigures(
            now,
            list(self.codes),
            [list(column) for column in self.totals],
            [in_time, overdue_col, paused_col, due_soon],
            self.last_event_ts,
        )


def due_soon_horizon(now: datetime, calendar: WorkingCalendar) -> float:
    """`dossier_due_soon` counts active, unpaused dossiers not yet overdue whose effective deadline
    falls within one working day (8 working hours by default) of working time from now."""
    horizon: datetime = calendar.add_working_minutes(now, calendar.hours.minutes_per_day)
    return horizon.timestamp()
