"""Operational plumbing shared by the services: settings, JSON logs, Kafka topics, problem details."""
