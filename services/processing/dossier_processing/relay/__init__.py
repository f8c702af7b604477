"""The outbox relay: publishes the snapshots the consumer's transactions wrote to `dossier.status.v1`,
once each and in order, parking the ones the topic refuses for good; with its SQL."""
