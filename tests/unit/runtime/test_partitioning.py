"""The partition choice of intake and the outbox relay is the Kafka clients' default for keyed records
(aiokafka's `DefaultPartitioner`, the Java client's murmur2), whatever the key and the partition count."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner, murmur2
from hypothesis import given
from hypothesis import strategies as st

from dossier_runtime import partitioning


@given(st.binary(max_size=200))
def test_murmur2_is_kafkas(key: bytes) -> None:
    assert partitioning.murmur2(key) == murmur2(key)


@given(st.binary(min_size=1, max_size=120), st.integers(min_value=1, max_value=64))
def test_partition_is_the_default_partitioners(key: bytes, count: int) -> None:
    partitions = list(range(count))
    assert partitioning.partition_of(key, partitions) == DefaultPartitioner()(key, partitions, partitions)


def test_dossier_codes_of_every_tail_length() -> None:
    for code in ("000.00.10.H49-250405-0001", "000.00.10.H49-250405-00012", "1-250405-0001234"):
        key = code.encode()
        assert partitioning.murmur2(key) == murmur2(key)


def test_dossier_codes_spread_as_the_producer_spreads_them() -> None:
    codes = [f"000.00.{a:02d}.H49-250303-{n:04d}".encode() for a in range(5) for n in range(200)]
    assert [partitioning.partition_of(c, [0, 1, 2]) for c in codes] == [
        DefaultPartitioner()(c, [0, 1, 2], [0, 1, 2]) for c in codes
    ]
