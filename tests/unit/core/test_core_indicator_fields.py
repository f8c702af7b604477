"""The receipt's `digitised` flag and the fee payment's `payment_channel` (Decision 766/QĐ-TTg
indicators) through the fold and the status snapshot."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from dossier_contracts.snapshot_codec import (
    decode_snapshot,
    dossier_to_snapshot,
    encode_snapshot,
    snapshot_to_dossier,
)
from dossier_core.calendar import VN_TZ, WorkingCalendar
from dossier_core.catalog import Catalog
from dossier_core.codes import PAYMENT_CHANNELS, Channel
from dossier_core.event_data import DossierReceived, EventData, FeePaid, FeeRequested
from dossier_core.events import DossierEvent
from dossier_core.lifecycle import fold

CODE = "000.00.12.H49-210407-0001"
START = datetime(2021, 4, 7, 8, 0, tzinfo=VN_TZ)


def event(n: int, data: EventData) -> DossierEvent:
    return DossierEvent(f"e{n}", data.TYPE, CODE, "000.00.12.H49", START + timedelta(hours=n), data, seq=n)


def receipt(digitised: bool | None = None) -> DossierEvent:
    return event(0, DossierReceived(procedure_code="1.004194", channel=Channel.DIRECT, digitised=digitised))


def paid(channels: list[str | None]) -> list[DossierEvent]:
    """A receipt, then one fee requested and paid through each channel in turn."""
    events = [receipt()]
    for channel in channels:
        events.append(event(len(events), FeeRequested(amount=15000)))
        events.append(event(len(events), FeePaid(payment_channel=channel)))
    return events


def test_the_receipts_digitised_flag_is_the_dossiers(catalog: Catalog) -> None:
    assert fold([receipt(True)], catalog).digitised
    assert not fold([receipt(False)], catalog).digitised
    assert not fold([receipt()], catalog).digitised


def test_a_payment_names_the_dossiers_payment_channel(catalog: Catalog) -> None:
    assert fold(paid(["direct"]), catalog).payment_channel == "direct"
    assert fold(paid([None]), catalog).payment_channel is None
    assert fold([receipt()], catalog).payment_channel is None


@given(st.lists(st.sampled_from([*PAYMENT_CHANNELS, None]), min_size=1, max_size=4))
def test_online_once_any_fee_was_paid_online_else_the_latest_named(
    catalog: Catalog, channels: list[str | None]
) -> None:
    dossier = fold(paid(channels), catalog)
    named = [c for c in channels if c]
    expected = "online" if "online" in named else (named[-1] if named else None)
    assert dossier.payment_channel == expected


def test_a_payment_without_a_fee_requested_names_nothing(catalog: Catalog) -> None:
    dossier = fold([receipt(), event(1, FeePaid(payment_channel="online"))], catalog)
    assert dossier.payment_channel is None and dossier.anomalies


def test_the_snapshot_carries_both_and_gives_them_back(catalog: Catalog, cal: WorkingCalendar) -> None:
    for events in (paid(["online"]), [receipt(True)], paid([None])):
        dossier = fold(events, catalog)
        msg = dossier_to_snapshot(
            dossier, version=1, changed_at=START + timedelta(days=1), calendar=cal, field=""
        )
        back = snapshot_to_dossier(decode_snapshot(encode_snapshot(msg)))
        assert (back.digitised, back.payment_channel) == (dossier.digitised, dossier.payment_channel)


def test_a_dossier_without_them_serialises_as_before(catalog: Catalog, cal: WorkingCalendar) -> None:
    msg = dossier_to_snapshot(fold([receipt()], catalog), version=1, changed_at=START, calendar=cal, field="")
    assert not msg.digitised and not msg.payment_channel
    assert not any(f.name in ("digitised", "payment_channel") for f, _ in msg.ListFields())
