"""The relay picks the partition aiokafka's default partitioner picks, for any key and partition count."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given, settings
from hypothesis import strategies as st

from dossier_processing.relay.partitions import murmur2, partition_for


@settings(max_examples=1000)
@given(st.binary(max_size=80))
def test_murmur2_is_kafkas(data: bytes) -> None:
    assert murmur2(data) == aiokafka_murmur2(data)


@settings(max_examples=500)
@given(
    st.one_of(st.binary(max_size=64), st.text(max_size=40).map(str.encode)),
    st.integers(1, 64).map(lambda n: list(range(n))),
)
def test_partition_for_is_the_default_partitioners(key: bytes, partitions: list[int]) -> None:
    assert partition_for(key, partitions) == DefaultPartitioner()(key, partitions, partitions)


def test_dossier_codes_spread_as_before() -> None:
    codes = [f"000.00.{a:02d}.H49-250303-{n:04d}".encode() for a in range(5) for n in range(200)]
    assert [partition_for(c, [0, 1, 2]) for c in codes] == [
        DefaultPartitioner()(c, [0, 1, 2], [0, 1, 2]) for c in codes
    ]
