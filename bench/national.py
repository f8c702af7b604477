"""A national-shaped year of dossiers for the report benchmark: a catalog of 34 provinces and the
`DossierStatusChanged` snapshots processing would publish for their dossiers, partition by partition.

Catalog (`write_catalog`): 34 provinces of skewed sizes (Zipf weights, the biggest about 3x the
average). `000.00.00.H49` is Quảng Ninh with the sample catalog's agencies; the other 33 have
generated codes `000.00.00.H01`..`H33` and names. Each has its People's Committee and 12 departments
(province level), districts (`000.00.72..99.Hxx`) and their communes (`000.mm.<district>.Hxx`): 3,820
agencies in all. Procedures and swap days are the sample catalog's.

Dossiers (`PartitionStream`): received on the working days of the statutory year 2021 (2020-12-15 ..
2021-12-14, quarters 2021-Q1..Q4), at an agency of a province drawn by its weight (levels 45/25/30 %;
communes handle civil-status, certification and residence procedures); channels online 40 %, direct
52 %, postal 8 %; 15 % with a supplement pause (a third of them weeks long, so some span a quarter
end), 4 % a fee pause, 3 % a reschedule; about 75 % resolved (early/on time/late 45/43/12 %), 4 %
withdrawn, 3 % refused, the rest still open (12 % of each day's dossiers, 60 % in the last 30 working
days: about 18 % in all), and an open dossier's supplement pause may never close. Each dossier is
folded by the domain (`lifecycle.fold_state` / `resume`) and published as two versions, as received
and as it ends, each `snapshot_of` as processing makes it, emitted in the order of `changed_at`
within the partition. Deterministic for (seed, partition)."""

from __future__ import annotations

import csv
import heapq
import random
import shutil
from bisect import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any

from dossier_contracts.snapshot_codec import snapshot_of
from dossier_core.calendar import VN_TZ
from dossier_core.catalog import AgencyLevel, Catalog, OnlineLevel, default_catalog_dir
from dossier_core.codes import Channel, EventType
from dossier_core.dossier import Dossier
from dossier_core.event_data import DATA_CLASSES
from dossier_core.events import DossierEvent
from dossier_core.lifecycle import FoldState, fold_state, resume
from dossier_core.periods import Period, parse_period

PROVINCES = 34
YEAR = parse_period("2021")
WORK_MINUTES_PER_DAY = 480
LEVEL_WEIGHTS = {AgencyLevel.PROVINCE: 0.45, AgencyLevel.DISTRICT: 0.25, AgencyLevel.COMMUNE: 0.30}
COMMUNE_FIELDS = frozenset({"Hộ tịch", "Chứng thực", "Đăng ký, quản lý cư trú"})
DEPARTMENTS = (
    "Văn phòng Ủy ban nhân dân",
    "Trung tâm Phục vụ hành chính công",
    "Công an",
    "Sở Tư pháp",
    "Sở Tài chính",
    "Sở Xây dựng",
    "Sở Nông nghiệp và Môi trường",
    "Sở Công Thương",
    "Sở Y tế",
    "Sở Giáo dục và Đào tạo",
    "Sở Nội vụ",
    "Thuế",
)
SAMPLE_PROVINCE = "H49"
#: adds an event to the dossier being made: (type, occurred_at, **data) -> occurred_at
Add = Callable[..., datetime]


@dataclass(frozen=True)
class Province:
    suffix: str
    name: str
    weight: float  # share of the country's dossiers


def provinces() -> list[Province]:
    """The 34 provinces, biggest first; H49 (Quảng Ninh) is the 11th."""
    raw = [1 / (i + 5.5) for i in range(PROVINCES)]
    suffixes = [f"H{n:02d}" for n in range(1, PROVINCES)]
    suffixes.insert(10, SAMPLE_PROVINCE)
    return [
        Province(s, "Quảng Ninh" if s == SAMPLE_PROVINCE else f"mẫu {s}", w / sum(raw))
        for s, w in zip(suffixes, raw, strict=True)
    ]


def province_root(province: Province) -> str:
    return f"000.00.00.{province.suffix}"


def _agency_rows(province: Province, rng: random.Random) -> list[list[str]]:
    root, s, name = province_root(province), province.suffix, province.name
    rows = [[root, f"Ủy ban nhân dân tỉnh {name}", "province", ""]]
    rows += [
        [f"000.00.{60 + j}.{s}", f"{d} tỉnh {name}", "province", root] for j, d in enumerate(DEPARTMENTS)
    ]
    for k in range(min(28, round(4 + 5 * province.weight * PROVINCES))):
        district = f"000.00.{72 + k}.{s}"
        rows.append([district, f"Ủy ban nhân dân huyện số {k + 1} tỉnh {name}", "district", root])
        rows += [
            [
                f"000.{m:02d}.{72 + k}.{s}",
                f"Ủy ban nhân dân xã số {m} huyện {k + 1} tỉnh {name}",
                "commune",
                district,
            ]
            for m in range(1, rng.randint(6, 14) + 1)
        ]
    return [[*row, "", ""] for row in rows]


def write_catalog(directory: Path) -> Path:
    """The national catalog's three CSV files in `directory` (the same files for every call)."""
    directory.mkdir(parents=True, exist_ok=True)
    sample = default_catalog_dir()
    for name in ("procedures.csv", "calendar.csv"):
        shutil.copyfile(sample / name, directory / name)
    with (sample / "agencies.csv").open(encoding="utf-8", newline="") as handle:
        header, *sample_rows = list(csv.reader(handle))
    rng = random.Random(13)
    rows: list[list[str]] = []
    for province in provinces():
        rows += _agency_rows(province, rng)
        if province.suffix == SAMPLE_PROVINCE:
            rows += [row for row in sample_rows if row[0] != province_root(province)]
    with (directory / "agencies.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    return directory


def partition_share(total: int, partition: int, partitions: int) -> int:
    return total // partitions + (1 if partition < total % partitions else 0)


class PartitionStream:
    """The snapshots of one partition's share of `total` dossiers over the year, in `changed_at` order,
        as `(dossiers generated so far, raw snapshot)`. `code_tag` goes before each dossier's number, and
    `year` is the statutory year whose working days receive them."""

    def __init__(
        self,
        catalog: Catalog,
        total: int,
        partition: int,
        partitions: int,
        seed: int,
        code_tag: str = "",
        year: Period = YEAR,
    ) -> None:
        self.catalog, self.calendar = catalog, catalog.calendar()
        self.partition, self.partitions, self.code_tag = partition, partitions, code_tag
        self.count = partition_share(total, partition, partitions)
        self.rng = random.Random(seed * 1000 + partition)
        day, self.days = year.start, []
        while day <= year.end:
            if self.calendar.is_working_day(day):
                self.days.append(day)
            day += timedelta(days=1)
        self.weights = list(accumulate(p.weight for p in provinces()))
        self.levels = list(LEVEL_WEIGHTS)
        self.level_weights = list(accumulate(LEVEL_WEIGHTS.values()))
        self.agencies: list[dict[AgencyLevel, list[str]]] = []
        for province in provinces():
            by_level: dict[AgencyLevel, list[str]] = {level: [] for level in LEVEL_WEIGHTS}
            for agency in catalog.agencies.values():
                if agency.code.endswith(province.suffix) and agency.is_valid_on(year.end):
                    by_level[agency.level].append(agency.code)
            self.agencies.append(by_level)
        procedures = sorted(catalog.procedures.values(), key=lambda p: p.code)
        self.procedures = {
            level: [p for p in procedures if level is not AgencyLevel.COMMUNE or p.field in COMMUNE_FIELDS]
            for level in LEVEL_WEIGHTS
        }
        self.numbers: dict[tuple[str, date], int] = {}

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        pending: list[tuple[datetime, int, bytes]] = []
        made, order, days = 0, 0, len(self.days)
        for i, day in enumerate(self.days):
            opening = datetime.combine(day, datetime.min.time(), tzinfo=VN_TZ)
            while pending and pending[0][0] < opening:
                yield made, heapq.heappop(pending)[2]
            open_share = 0.6 if i >= days - 30 else 0.12
            for _ in range(self.count * (i + 1) // days - self.count * i // days):
                for changed_at, raw in self.dossier(day, open_share):
                    order += 1
                    heapq.heappush(pending, (changed_at, order, raw))
                made += 1
        while pending:
            yield made, heapq.heappop(pending)[2]

    def _event_id(self) -> str:
        """A random version-4 UUID's text (without `uuid.UUID`'s checks: a quarter of the cost)."""
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"

    def _moment(self, day: date) -> datetime:
        opening = self.calendar.next_working_moment(datetime.combine(day, datetime.min.time(), tzinfo=VN_TZ))
        return self.calendar.add_working_minutes(opening, self.rng.randint(0, WORK_MINUTES_PER_DAY - 1))

    def dossier(self, day: date, open_share: float) -> list[tuple[datetime, bytes]]:
        """One dossier received on `day`: its two snapshots with their `changed_at`."""
        rng, cal = self.rng, self.calendar
        by_level = self.agencies[bisect(self.weights, rng.random() * self.weights[-1])]
        level = self.levels[bisect(self.level_weights, rng.random() * self.level_weights[-1])]
        agency = rng.choice(by_level[level] or by_level[AgencyLevel.PROVINCE])
        procedure = rng.choice(self.procedures[level])
        r = rng.random()
        if procedure.online_level is OnlineLevel.NONE:
            channel = Channel.POSTAL if r < 0.1 else Channel.DIRECT
        else:
            channel = Channel.ONLINE if r < 0.4 else Channel.POSTAL if r < 0.48 else Channel.DIRECT
        number = self.numbers.get((agency, day), 0)
        self.numbers[(agency, day)] = number + 1
        code = f"{agency}-{day:%y%m%d}-{self.code_tag}{number * self.partitions + self.partition:05d}"
        events: list[DossierEvent] = []

        def add(kind: EventType, at: datetime, **data: Any) -> datetime:
            typed = DATA_CLASSES[kind].from_typed(data)
            events.append(DossierEvent(self._event_id(), kind, code, agency, at, typed, len(events)))
            return at

        received = self._moment(day)
        data: dict[str, Any] = {"procedure_code": procedure.code, "channel": channel}
        if channel is Channel.ONLINE:
            add(EventType.SUBMITTED, received - timedelta(minutes=rng.randint(5, 600)), **data)
        if rng.random() < 0.3:
            data["applicant_type"] = rng.choice((1, 1, 1, 2, 3, 4))
        add(EventType.RECEIVED, received, **data)
        receipt = events[-1]
        first = fold_state(events, self.catalog)
        due = first.dossier.legal_due_at
        budget = max(4, cal.working_minutes_between(received, due) if due else WORK_MINUTES_PER_DAY)
        done = len(events)
        t = add(
            EventType.PROCESSING,
            cal.add_working_minutes(received, rng.randint(1, budget // 5)),
            step="thẩm định",
        )
        r = rng.random()
        outcome = "open" if r < open_share else "withdrawn" if r < open_share + 0.04 else ""
        if not outcome and r < open_share + 0.07:
            outcome = "refused"
        if rng.random() < 0.15:
            t = self._pause(
                add, t, budget, EventType.SUPPLEMENT_REQUESTED, EventType.SUPPLEMENT_RECEIVED, outcome
            )
        if rng.random() < 0.04:
            t = self._pause(add, t, budget, EventType.FEE_REQUESTED, EventType.FEE_PAID, "")
        middle = first
        if len(events) > done + 1:  # paused: the deadline has moved
            middle = resume(first, events[done:], self.catalog)
            done, due = len(events), middle.dossier.effective_due(t, cal)
        if due is not None and rng.random() < 0.03:
            later = cal.add_working_minutes(due, WORK_MINUTES_PER_DAY * rng.randint(1, 3))
            add(EventType.RESCHEDULED, t, new_appointment_at=later, reason="Phiếu xin lỗi và hẹn lại")
        self._finish(add, t, due, outcome)
        last = resume(middle, events[done:], self.catalog)
        return [
            self._snapshot(first, 1, received, receipt),
            self._snapshot(last, 2, events[-1].occurred_at, events[-1]),
        ]

    def _snapshot(
        self, state: FoldState, version: int, at: datetime, last: DossierEvent
    ) -> tuple[datetime, bytes]:
        dossier: Dossier = state.dossier
        changed_at = at + timedelta(seconds=self.rng.randint(1, 30))
        procedure = self.catalog.procedures.get(dossier.procedure_code or "")
        msg = snapshot_of(
            dossier,
            version=version,
            changed_at=changed_at,
            field=procedure.field if procedure else "",
            last_event_id=last.event_id,
            effective_due_at=dossier.effective_due(changed_at, self.calendar),
            timeliness=dossier.timeliness(self.calendar),
            accepted_ms=int(changed_at.timestamp() * 1000) - self.rng.randint(50, 500),
        )
        return changed_at, msg.SerializeToString()

    def _pause(
        self, add: Add, t: datetime, budget: int, start: EventType, end: EventType, outcome: str
    ) -> datetime:
        """A pause begun after `t`: closed after hours to weeks, or never when the dossier stays open."""
        rng, cal = self.rng, self.calendar
        began = add(start, cal.add_working_minutes(t, rng.randint(1, max(1, budget // 3))))
        if outcome == "open" and rng.random() < 0.5:
            return began
        days = rng.randint(1, 5) if rng.random() < 0.67 else rng.randint(5, 40)
        return add(end, cal.add_working_minutes(began, days * WORK_MINUTES_PER_DAY - rng.randint(0, 400)))

    def _finish(self, add: Add, t: datetime, due: datetime | None, outcome: str) -> None:
        rng, cal = self.rng, self.calendar
        if outcome == "open":
            return
        if outcome:
            kind = EventType.WITHDRAWN if outcome == "withdrawn" else EventType.REFUSED
            add(kind, cal.add_working_minutes(t, rng.randint(10, 3000)), reason="Không đủ điều kiện")
            return
        r = rng.random()
        if due is None or due <= t:
            finish = cal.add_working_minutes(t, rng.randint(1, 240))
        elif r < 0.12:  # late: one to ten working days after the deadline
            finish = cal.add_working_minutes(due, rng.randint(60, 10 * WORK_MINUTES_PER_DAY))
        else:  # early: before the due day; on time: on it
            due_day = datetime.combine(due.astimezone(VN_TZ).date(), datetime.min.time(), tzinfo=VN_TZ)
            opening = cal.next_working_moment(due_day)
            start = t if r < 0.12 + 0.45 or opening <= t else opening
            end = opening if start < opening else due
            span = max(2, cal.working_minutes_between(start, end))
            finish = cal.add_working_minutes(start, rng.randint(1, span - 1))
        add(EventType.RESOLVED, finish, result="Đã giải quyết")
        if rng.random() < 0.85:
            add(EventType.RETURNED, cal.add_working_minutes(finish, rng.randint(10, 900)))
