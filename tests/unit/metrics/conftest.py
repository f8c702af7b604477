"""Fixtures of the metrics unit tests: dossiers built by the domain's own fold from SPEC §3 events."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from dossier_core.calendar import VN_TZ, WorkingCalendar
from dossier_core.catalog import Catalog, default_catalog_dir, load_catalog
from dossier_core.dossier import Dossier
from dossier_core.events import DossierEvent, EventType
from dossier_core.lifecycle import fold

AGENCY = "000.00.12.H49"  # Sở Tư pháp
PROCEDURE = "1.004194"  # Đăng ký tạm trú: 3 working days, extend

Step = tuple[str, datetime] | tuple[str, datetime, dict[str, Any]]
MakeDossier = Callable[..., Dossier]


def vn(text: str) -> datetime:
    """`2021-04-05 09:00` in Vietnam time."""
    return datetime.fromisoformat(text).replace(tzinfo=VN_TZ)


def dossier_factory(catalog: Catalog) -> MakeDossier:
    counter = itertools.count(1)

    def make(
        *steps: Step,
        agency: str = AGENCY,
        procedure: str = PROCEDURE,
        channel: str = "online",
        code: str | None = None,
    ) -> Dossier:
        code = code or f"{agency}-210405-{next(counter):04d}"
        events = []
        for seq, step in enumerate(steps):
            kind, at = step[0], step[1]
            data: dict[str, Any] = dict(step[2]) if len(step) > 2 else {}  # type: ignore[misc]
            if kind == "received":
                data = {"procedure_code": procedure, "channel": channel, **data}
            events.append(
                DossierEvent(
                    event_id=str(uuid.uuid4()),
                    type=EventType("dossier." + kind),
                    dossier_code=code,
                    agency_code=agency,
                    occurred_at=at,
                    data=data,
                    seq=seq,
                )
            )
        return fold(events, catalog)

    return make


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog(default_catalog_dir())


@pytest.fixture(scope="session")
def calendar(catalog: Catalog) -> WorkingCalendar:
    return catalog.calendar()


@pytest.fixture(scope="session")
def make_dossier(catalog: Catalog) -> MakeDossier:
    return dossier_factory(catalog)
