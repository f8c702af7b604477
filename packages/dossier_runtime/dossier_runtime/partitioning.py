"""Which partition a keyed record goes to: the Kafka clients' default.

`partition_of` is what aiokafka's `DefaultPartitioner` (and the Java client) computes: murmur2 of
the key, its sign bit cleared, modulo the number of partitions. The hash is computed here on 32-bit
words at about three times the speed of aiokafka's byte-by-byte version (9.4 → 2.6 µs per key),
because intake and processing's outbox relay group their records into one batch per partition
themselves: they must pick exactly the partition the producer would have, so that every event and
every version of a dossier lands on one partition. A unit test holds it to aiokafka's on any key.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF
_WORDS = struct.Struct("<I").iter_unpack


def murmur2(data: bytes) -> int:
    """The 32-bit (unsigned) MurmurHash2 of `data`, as Kafka's `Utils.murmur2`."""
    length = len(data)
    whole = length & ~3
    h = _SEED ^ length
    for (k,) in _WORDS(data[:whole]):
        k = (k * _M) & _MASK
        k = ((k ^ (k >> 24)) * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail = length - whole
    if tail:
        if tail == 3:
            h ^= data[whole + 2] << 16
        if tail >= 2:
            h ^= data[whole + 1] << 8
        h = ((h ^ data[whole]) * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return h ^ (h >> 15)


def partition_of(key: bytes, partitions: Sequence[int]) -> int:
    """The partition of a keyed record among `partitions` (all of the topic's, sorted)."""
    return partitions[(murmur2(key) & 0x7FFFFFFF) % len(partitions)]
