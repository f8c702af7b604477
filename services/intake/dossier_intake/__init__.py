"""Intake: the HTTP front door that writes counter systems' dossier events to Kafka (SPEC §3)."""
