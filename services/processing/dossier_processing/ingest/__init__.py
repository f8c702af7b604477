"""The consumer of `dossier.events.v1`: decode, the pure plan of a batch and the rows it writes, bounds,
failures and dead letters (with the `dlq` command), the history cache, and the consumer's SQL."""
