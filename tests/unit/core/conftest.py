"""Shared helpers for the domain-core unit tests: the shipped sample catalog and its calendar."""

from __future__ import annotations

import pytest

from dossier_core.calendar import WorkingCalendar
from dossier_core.catalog import Catalog
from dossier_core.catalog_csv import default_catalog_dir, load_catalog


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog(default_catalog_dir())


@pytest.fixture(scope="session")
def cal(catalog: Catalog) -> WorkingCalendar:
    return catalog.calendar()
