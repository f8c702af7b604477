"""Service wiring shared by the services: settings, JSON logs, Kafka topics, problem details, API keys
and their SIGHUP reloading, database engines, migrations, retries, health routes and typed state."""
