"""Fixtures of the metrics unit tests."""

from __future__ import annotations

import pytest
from metrics_support import MakeDossier, dossier_factory

from dossier_core.calendar import WorkingCalendar
from dossier_core.catalog import Catalog, default_catalog_dir, load_catalog


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog(default_catalog_dir())


@pytest.fixture(scope="session")
def calendar(catalog: Catalog) -> WorkingCalendar:
    return catalog.calendar()


@pytest.fixture(scope="session")
def make_dossier(catalog: Catalog) -> MakeDossier:
    return dossier_factory(catalog)
