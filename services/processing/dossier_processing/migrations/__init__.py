"""Alembic migrations of the processing schema; run at start and by `python -m dossier_processing migrate`.

They run through the services' shared runner (`dossier_runtime.migrations`): one transaction that first
takes the advisory lock `dossier-processing migrations <schema>`, so instances of one schema starting
together take turns (the first creates the schema and its tables, the others find it at the latest
revision and change nothing), while other schemas migrate without waiting."""

from __future__ import annotations

from pathlib import Path

from dossier_runtime.migrations import Migrations

MIGRATIONS = Migrations("processing", Path(__file__).resolve().parent)
