"""The revisions of the processing schema, in order (`0001_initial.py`, `0002_outbox_parking.py`, …)."""
