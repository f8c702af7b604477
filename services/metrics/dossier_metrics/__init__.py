"""Metrics service: projects `dossier.status.v1` into per-agency counters, scrape-time gauges
and the official report form (SPEC §5)."""
