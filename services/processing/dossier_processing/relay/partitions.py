"""The partition a record with a given key goes to: what aiokafka's `DefaultPartitioner` picks (Kafka's
murmur2 of the key, as the Java client), computed a 32-bit word at a time instead of byte by byte.

The relay groups a round's records per partition itself (one batch per partition, `relay.py`), so it
must pick exactly the partition the producer would have picked: every version of a dossier lands on
the same partition, before and after.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash of `data` (the unsigned 32-bit value, as `aiokafka.partitioner.murmur2`)."""
    length = len(data)
    h = _SEED ^ length
    whole = length // 4
    for k in struct.unpack_from(f"<{whole}I", data):
        k = (k * _M) & _MASK
        k ^= k >> 24
        h = ((h * _M) & _MASK) ^ ((k * _M) & _MASK)
    tail = length & 3
    if tail:
        rest = whole * 4
        if tail == 3:
            h ^= data[rest + 2] << 16
        if tail >= 2:
            h ^= data[rest + 1] << 8
        h = ((h ^ data[rest]) * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return h ^ (h >> 15)


def partition_for(key: bytes, partitions: Sequence[int]) -> int:
    """The partition of a keyed record among the topic's `partitions` (in the producer's order)."""
    return partitions[(murmur2(key) & 0x7FFFFFFF) % len(partitions)]
