"""The processing service, one folder per workload:

- `ingest/`: the consumer group on the events topic, its pure plan, rows, dead letters and SQL;
- `relay/`: the outbox relay to the status topic and its SQL;
- `portal/`: the national-portal change feed, the push worker and their SQL;
- `views/`: the operator HTTP API and its SQL.

`bootstrap.py` wires them (any worker can run alone); `app.py` is the FastAPI app, `__main__.py` the CLI.
"""
