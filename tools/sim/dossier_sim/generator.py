"""Generates the events of a province's dossiers for a period: receipts on working days at the
agencies valid then, real procedures of every unit with the durations the province applies, the
channel mix, "4 tại chỗ" for quick direct receipts, digitised receipts and fee payment channels
(Decision 766/QĐ-TTg), made-up applicants on most receipts (`applicants.py`), supplement pauses, fee
requests, reschedules, and endings chosen from an outcome mix. Deterministic for a seed."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from dossier_contracts.event_json import event_from_json
from dossier_core.calendar import VN_TZ, WorkingCalendar
from dossier_core.catalog import Agency, AgencyLevel, Catalog, DeadlineUnit, OnlineLevel, Procedure
from dossier_core.codes import Channel
from dossier_core.deadlines import legal_deadline, rule_for
from dossier_core.events import DossierEvent, parse_instant
from dossier_core.lifecycle import fold
from dossier_core.periods import Period
from dossier_sim.applicants import applicant
from dossier_sim.mix import Outcome, OutcomeMix

WORK_MINUTES_PER_DAY = 480
# Outcomes that end a dossier without a result: the event and its reason.
_STOPS = {
    Outcome.WITHDRAWN: ("dossier.withdrawn", "Công dân rút hồ sơ"),
    Outcome.REFUSED: ("dossier.refused", "Không đủ điều kiện"),
}
#: Of the quick direct receipts resolved in time, the share done "4 tại chỗ" (on the spot).
ON_SITE_SHARE = 0.5
#: Decision 766/QĐ-TTg mix, Quảng Ninh-like: online receipts are electronic files already (always
#: digitised); of the direct and postal ones, this share is scanned into the electronic file at receipt.
DIGITISED_SHARE = 0.8
#: The share of fees paid online, by the channel the dossier came through (the rest at the counter).
ONLINE_PAYMENT_SHARE = {Channel.ONLINE: 0.9, Channel.DIRECT: 0.3, Channel.POSTAL: 0.5}
LEVEL_WEIGHTS = {AgencyLevel.PROVINCE: 0.55, AgencyLevel.DISTRICT: 0.25, AgencyLevel.COMMUNE: 0.20}


def domain_event(event: dict[str, Any], seq: int) -> DossierEvent:
    """The domain event of a generated JSON event (what intake and processing will make of it: the
    applicant's data is sealed by intake and no part of the fold)."""
    data = event.get("data")
    if data and "applicant" in data:
        event = {**event, "data": {k: v for k, v in data.items() if k != "applicant"}}
    return event_from_json(event, seq)


@dataclass
class SimulatedDossier:
    code: str
    agency: str
    outcome: Outcome
    events: list[dict[str, Any]] = field(default_factory=list)


def happened_by(
    dossiers: Iterator[SimulatedDossier] | list[SimulatedDossier], now: datetime
) -> list[SimulatedDossier]:
    """The dossiers as they stand at `now`: later events left out, dossiers not begun yet dropped
    (intake refuses events dated more than a day ahead of its clock)."""
    out = []
    for d in dossiers:
        events = [e for e in d.events if (parse_instant(e["occurred_at"]) or now) <= now]
        if events:
            out.append(SimulatedDossier(d.code, d.agency, d.outcome, events))
    return out


class ProvinceGenerator:
    def __init__(
        self,
        catalog: Catalog,
        period: Period,
        mix: OutcomeMix,
        seed: int = 1,
        *,
        applicant_share: float = 0.0,
    ) -> None:
        """`applicant_share`: of the receipts, the share that carries applicant data (personal data:
        only an intake with `INTAKE_APPLICANT_PUBLIC_KEY` takes it; the simulator's default is
        `applicants.APPLICANT_SHARE`)."""
        self.catalog, self.period, self.mix = catalog, period, mix
        self.applicant_share = applicant_share
        self.calendar: WorkingCalendar = catalog.calendar()
        self.rng = random.Random(seed)
        self.uuid_rng = random.Random(seed + 1)
        # The Decision 766 flags draw from their own generator, so the rest of a seed's traffic is
        # as it was before they existed.
        self.flag_rng = random.Random(seed + 2)
        self.applicant_rng = random.Random(seed + 3)  # likewise the applicants
        self.procedures = list(catalog.procedures.values())
        self.days = [
            period.start + timedelta(days=i)
            for i in range((period.end - period.start).days + 1)
            if self.calendar.is_working_day(period.start + timedelta(days=i))
        ]
        if not self.days:
            raise ValueError(f"period {period.label} has no working day")
        self.sequence: dict[tuple[str, date], int] = defaultdict(int)
        #: dossier numbers of this seed start here, so runs with other seeds never share a dossier code
        self.run = (seed % 100_000) * 100_000
        self.outcomes, self.weights = zip(*mix.weights.items(), strict=True)
        self._agencies_on: dict[
            date, tuple[list[AgencyLevel], list[float], dict[AgencyLevel, list[Agency]]]
        ] = {}

    def dossiers(self, count: int) -> Iterator[SimulatedDossier]:
        for _ in range(count):
            yield self.one()

    # -- one dossier ------------------------------------------------------------------------------

    def one(self) -> SimulatedDossier:
        rng, cal = self.rng, self.calendar
        outcome: Outcome = rng.choices(self.outcomes, self.weights)[0]
        # Dossiers still pending at the end mostly arrived in its last weeks.
        day = rng.choice(self.days[-15:] if outcome is Outcome.PENDING else self.days)
        agency = self._agency(day)
        procedure = rng.choice(self.procedures)
        channel = self._channel(procedure)
        received_at = self._moment(day)
        self.sequence[(agency.code, day)] += 1
        code = f"{agency.code}-{day:%y%m%d}-{self.run + self.sequence[(agency.code, day)]:04d}"
        d = SimulatedDossier(code, agency.code, outcome)

        if channel is Channel.ONLINE:
            submitted_at = received_at - timedelta(minutes=rng.randint(5, 600))
            if agency.valid_from is not None:  # never before the agency existed (intake refuses it)
                opened = datetime.combine(agency.valid_from, datetime.min.time(), tzinfo=VN_TZ)
                submitted_at = max(submitted_at, min(opened, received_at))
            self._add(
                d,
                "dossier.submitted",
                submitted_at,
                {"procedure_code": procedure.code, "channel": channel.value},
            )
        data: dict[str, Any] = {"procedure_code": procedure.code, "channel": channel.value}
        if rng.random() < 0.3:
            data["applicant_type"] = rng.choice([1, 1, 1, 2, 3, 4])
        if self._on_site(procedure, channel, outcome):
            data["on_site"] = True
        if channel is Channel.ONLINE or self.flag_rng.random() < DIGITISED_SHARE:
            data["digitised"] = True
        if self.applicant_rng.random() < self.applicant_share:
            data["applicant"] = applicant(self.applicant_rng)
        self._add(d, "dossier.received", received_at, data)
        legal_due = legal_deadline(rule_for(procedure, channel), received_at, cal)
        # Work steps take a share of the time the law gives (a working day when there is no deadline).
        budget = cal.working_minutes_between(received_at, legal_due) if legal_due else WORK_MINUTES_PER_DAY
        budget = max(budget, 4)
        t = cal.add_working_minutes(received_at, rng.randint(1, max(1, budget // 5)))
        self._add(d, "dossier.processing", t, {"step": "thẩm định"})

        if rng.random() < 0.08:
            t = self._pause(
                d,
                t,
                budget,
                "dossier.supplement_requested",
                "dossier.supplement_received",
                {"reason": "Bổ sung giấy tờ"},
            )
        if rng.random() < 0.05:
            t = self._pause(
                d,
                t,
                budget,
                "dossier.fee_requested",
                "dossier.fee_paid",
                {"amount": rng.choice([50_000, 100_000, 150_000])},
            )
        if rng.random() < 0.01:
            t = self._pause(d, t, budget, "dossier.suspended", "dossier.resumed", {"reason": "Chờ xác minh"})
        # The deadline as the law computes it once every pause is closed (pauses move it).
        due = legal_due
        if len(d.events) > 3:
            due = fold((domain_event(e, i) for i, e in enumerate(d.events)), self.catalog).effective_due(
                t, cal
            )
        if due is not None and rng.random() < 0.02:
            new = cal.add_working_minutes(due, WORK_MINUTES_PER_DAY * rng.randint(1, 3))
            self._add(
                d,
                "dossier.rescheduled",
                t,
                {
                    "new_appointment_at": new.isoformat(),
                    "reason": "Phiếu xin lỗi và hẹn lại ngày trả kết quả",
                },
            )
        self._finish(d, t, due)
        return d

    def _finish(self, d: SimulatedDossier, t: datetime, due: datetime | None) -> None:
        rng, cal = self.rng, self.calendar
        if d.outcome is Outcome.PENDING:
            return
        if d.outcome in _STOPS:
            event_type, reason = _STOPS[d.outcome]
            self._add(d, event_type, cal.add_working_minutes(t, rng.randint(10, 600)), {"reason": reason})
            return
        finish = self._finish_time(t, due, d.outcome)
        self._add(d, "dossier.resolved", finish, {"result": "Đã giải quyết"})
        if rng.random() < 0.9:
            self._add(d, "dossier.returned", cal.add_working_minutes(finish, rng.randint(10, 900)), {})

    def _finish_time(self, t: datetime, due: datetime | None, outcome: Outcome) -> datetime:
        """A finish instant after `t` that lands early / on the due date / after it, where possible."""
        rng, cal = self.rng, self.calendar
        if due is None or due <= t:
            return cal.add_working_minutes(t, rng.randint(1, 240))
        if outcome is Outcome.LATE:
            return self._moment(cal.next_working_day(due.astimezone(VN_TZ).date()))
        due_day = due.astimezone(VN_TZ).date()
        opening = cal.next_working_moment(datetime.combine(due_day, datetime.min.time(), tzinfo=VN_TZ))
        if outcome is Outcome.ON_TIME or opening <= t:
            start = max(t, opening)
            span = cal.working_minutes_between(start, due)
            return cal.add_working_minutes(start, rng.randint(1, max(1, span - 1)))
        span = cal.working_minutes_between(t, opening)
        return cal.add_working_minutes(t, rng.randint(1, max(1, span - 1)))

    def _pause(
        self, d: SimulatedDossier, t: datetime, budget: int, start: str, end: str, data: dict[str, Any]
    ) -> datetime:
        """A pause (supplement, fee, suspension) opened after `t` and closed later; returns the resume."""
        rng, cal = self.rng, self.calendar
        began = cal.add_working_minutes(t, rng.randint(1, max(1, budget // 10)))
        self._add(d, start, began, data)
        resumed = cal.add_working_minutes(began, rng.randint(30, 3 * WORK_MINUTES_PER_DAY))
        self._add(d, end, resumed, self._payment(d) if end == "dossier.fee_paid" else {})
        return resumed

    def _payment(self, d: SimulatedDossier) -> dict[str, Any]:
        """How a fee is paid: online for `ONLINE_PAYMENT_SHARE` of the dossier's channel, else at the
        counter."""
        receipt = next(e for e in d.events if e["type"] == "dossier.received")
        channel = Channel(receipt["data"]["channel"])
        online = self.flag_rng.random() < ONLINE_PAYMENT_SHARE[channel]
        return {"payment_channel": "online" if online else "direct"}

    # -- helpers ----------------------------------------------------------------------------------

    def _agency(self, day: date) -> Agency:
        if day not in self._agencies_on:
            levels = {
                lvl: [a for a in self.catalog.agencies.values() if a.level is lvl and a.is_valid_on(day)]
                for lvl in LEVEL_WEIGHTS
            }
            choices = [lvl for lvl in LEVEL_WEIGHTS if levels[lvl]]
            self._agencies_on[day] = (choices, [LEVEL_WEIGHTS[lvl] for lvl in choices], levels)
        choices, weights, levels = self._agencies_on[day]
        return self.rng.choice(levels[self.rng.choices(choices, weights)[0]])

    def _on_site(self, procedure: Procedure, channel: Channel, outcome: Outcome) -> bool:
        """ "4 tại chỗ": a direct receipt of a procedure the province settles within a working day,
        resolved in time, is done on the spot for `ON_SITE_SHARE` of such dossiers."""
        if channel is not Channel.DIRECT or outcome not in (Outcome.EARLY, Outcome.ON_TIME):
            return False
        rule = rule_for(procedure, channel)
        quick = rule.unit is DeadlineUnit.SAME_DAY or (
            rule.duration is not None
            and (
                (rule.unit is DeadlineUnit.WORKING_DAYS and rule.duration <= 1)
                or (rule.unit is DeadlineUnit.WORKING_HOURS and rule.duration <= 8)
            )
        )
        return quick and self.rng.random() < ON_SITE_SHARE

    def _channel(self, procedure: Procedure) -> Channel:
        if procedure.online_level is OnlineLevel.NONE:
            return Channel.POSTAL if self.rng.random() < 0.05 else Channel.DIRECT
        r = self.rng.random()
        return Channel.ONLINE if r < 0.35 else Channel.POSTAL if r < 0.40 else Channel.DIRECT

    def _moment(self, day: date) -> datetime:
        """A random instant inside the working hours of a working day."""
        opening = self.calendar.next_working_moment(datetime.combine(day, datetime.min.time(), tzinfo=VN_TZ))
        return self.calendar.add_working_minutes(opening, self.rng.randint(0, WORK_MINUTES_PER_DAY - 1))

    def _add(self, d: SimulatedDossier, event_type: str, at: datetime, data: dict[str, Any]) -> None:
        d.events.append(
            {
                "event_id": str(uuid.UUID(int=self.uuid_rng.getrandbits(128), version=4)),
                "type": event_type,
                "dossier_code": d.code,
                "agency_code": d.agency,
                "occurred_at": at.astimezone(VN_TZ).isoformat(),
                "data": data,
            }
        )
