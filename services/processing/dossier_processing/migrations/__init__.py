"""Alembic migrations of the processing schema; run by `python -m dossier_processing migrate` or at start."""
