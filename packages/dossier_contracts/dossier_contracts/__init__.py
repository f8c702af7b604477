"""Wire contracts shared by the services: the protobuf messages of proto/ and their codecs."""

from dossier_contracts.gen.dossier.v1 import events_pb2, status_pb2

EVENTS_TOPIC = "dossier.events.v1"
STATUS_TOPIC = "dossier.status.v1"
EVENTS_DLQ_TOPIC = "dossier.events.dlq.v1"

__all__ = ["EVENTS_DLQ_TOPIC", "EVENTS_TOPIC", "STATUS_TOPIC", "events_pb2", "status_pb2"]
