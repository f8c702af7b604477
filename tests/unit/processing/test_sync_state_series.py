"""The sync state's error classes (`portal/state.py`) and its `/metrics` families (`PortalSync`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from dossier_processing.observability import Metrics
from dossier_processing.portal.state import AgencySync, FailureReason, failure_reason


def _stored(exc: BaseException) -> str:
    """An exception as the push worker stores it in `sync_state.last_error`."""
    return f"{type(exc).__name__}: {exc}"


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (_stored(httpx.ReadTimeout("timed out")), FailureReason.TIMEOUT),
        (_stored(httpx.ConnectTimeout("timed out")), FailureReason.TIMEOUT),
        (_stored(TimeoutError()), FailureReason.TIMEOUT),
        (_stored(httpx.ConnectError("[Errno 111] Connection refused")), FailureReason.UNREACHABLE),
        (_stored(httpx.RemoteProtocolError("Server disconnected")), FailureReason.UNREACHABLE),
        ("CapNhatTienDoHoSoMC: " + _stored(httpx.ReadError("reset")), FailureReason.UNREACHABLE),
        ('HTTP 503: {"error_code": 99}', FailureReason.HTTP_ERROR),
        ("PortalRefused: HTTP 500: overloaded", FailureReason.HTTP_ERROR),
        ("HTTP 200 without a JSON error_code: <html>", FailureReason.HTTP_ERROR),
        ("portal error_code 3: bận", FailureReason.REJECTED),
        ("PortalRefused: portal error_code '1': {'error_code': 1}", FailureReason.REJECTED),
        ("DongBoHoSoMC: error_code 7: hệ thống bận", FailureReason.REJECTED),
        ("login failed: ConnectError: refused", FailureReason.SESSION),
        ("login refused: error_code 2: sai mật khẩu", FailureReason.SESSION),
        ("session refused: HTTP 401: expired", FailureReason.SESSION),
        ("unrecordable: KeyError: 'procedure_code'", FailureReason.UNRECORDABLE),
        ("something nobody foresaw", FailureReason.OTHER),
    ],
)
def test_each_stored_error_has_its_class(error: str, reason: FailureReason) -> None:
    assert failure_reason(error) is reason


def test_no_error_has_no_class() -> None:
    assert failure_reason(None) is None


def _families(registry: CollectorRegistry) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    text = generate_latest(registry).decode()
    return {
        family.name: {tuple(sorted(s.labels.items())): s.value for s in family.samples}
        for family in text_string_to_metric_families(text)
        if family.name.startswith("processing_portal_")
    }


def test_the_series_follow_the_last_state_read() -> None:
    metrics = Metrics()
    declared = generate_latest(metrics.registry).decode()
    for name in ("processing_portal_dossiers", "processing_portal_failed", "processing_portal_parked"):
        assert f"# TYPE {name} gauge" in declared  # declared where no push worker runs
    assert "# TYPE processing_portal_oldest_unsynced_seconds gauge" in declared

    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    metrics.portal_sync.observe(
        {
            "A": AgencySync(
                "A",
                synced=5,
                pending=2,
                failed={FailureReason.TIMEOUT: 3, FailureReason.REJECTED: 1},
                parked={"12": 2},
                oldest_unsynced_at=an_hour_ago,
            ),
            "B": AgencySync("B", synced=4),
        }
    )
    first = _families(metrics.registry)
    assert first["processing_portal_dossiers"] == {
        (("agency_code", "A"), ("state", "synced")): 5,
        (("agency_code", "A"), ("state", "failed")): 4,
        (("agency_code", "A"), ("state", "pending")): 2,
        (("agency_code", "A"), ("state", "parked")): 2,
        (("agency_code", "B"), ("state", "synced")): 4,
        (("agency_code", "B"), ("state", "failed")): 0,
        (("agency_code", "B"), ("state", "pending")): 0,
        (("agency_code", "B"), ("state", "parked")): 0,
    }
    assert first["processing_portal_parked"] == {(("agency_code", "A"), ("error_code", "12")): 2}
    assert first["processing_portal_failed"] == {
        (("agency_code", "A"), ("reason", "timeout")): 3,
        (("agency_code", "A"), ("reason", "rejected")): 1,
    }
    oldest = first["processing_portal_oldest_unsynced_seconds"]
    assert oldest[(("agency_code", "B"),)] == 0
    assert oldest[(("agency_code", "A"),)] >= 3600  # an hour at least, whenever it is scraped

    # the next read replaces the last: a reason gone is a series gone
    metrics.portal_sync.observe({"A": AgencySync("A", synced=11)})
    second = _families(metrics.registry)
    assert second["processing_portal_failed"] == second["processing_portal_parked"] == {}
    assert second["processing_portal_oldest_unsynced_seconds"] == {(("agency_code", "A"),): 0}
