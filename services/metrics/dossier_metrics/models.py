"""Tables of the projection (all in the service's own schema, see `db.py`).

- `dossier_snapshot`: the latest `DossierStatusChanged` of each dossier (older versions are ignored),
  with the columns the report query filters on and the counter contribution already counted for it.
- `agency_counter`: per Kafka partition and agency, the counters of SPEC §5. Kept per partition so
  that each instance of a scaled-out group exposes only what it owns and Prometheus can sum them.
- `consumed_offset`: the next offset to read per topic partition, written in the same transaction.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import ARRAY

from dossier_metrics.counters import COUNTER_COLUMNS

metadata = MetaData()

dossier_snapshot = Table(
    "dossier_snapshot",
    metadata,
    Column("dossier_code", String, primary_key=True),
    Column("partition", Integer, nullable=False, index=True),
    Column("version", BigInteger, nullable=False),
    Column("agency_code", String, nullable=False, index=True),
    Column("procedure_code", String, nullable=False),
    Column("field", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=True, index=True),
    # When the dossier left the agency's hands; null while it is open.
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("counted", ARRAY(Integer), nullable=False),
    Column("payload", LargeBinary, nullable=False),
)

agency_counter = Table(
    "agency_counter",
    metadata,
    Column("partition", Integer, nullable=False),
    Column("agency_code", String, nullable=False),
    *(Column(name, BigInteger, nullable=False, server_default="0") for name in COUNTER_COLUMNS),
    PrimaryKeyConstraint("partition", "agency_code"),
)

consumed_offset = Table(
    "consumed_offset",
    metadata,
    Column("topic", String, nullable=False),
    Column("partition", Integer, nullable=False),
    Column("next_offset", BigInteger, nullable=False),
    PrimaryKeyConstraint("topic", "partition"),
)
