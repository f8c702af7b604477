"""What a reader of `dossier.status.v1` and the national portal would hold against processing: the
duplicates, gaps and reorders in what actually arrived, as readable lines (empty = nothing wrong).
Pure functions over what was read, so a test can also hand them a planted fault."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise


@dataclass(frozen=True)
class Published:
    """One record read back from the status topic."""

    partition: int
    offset: int
    key: str
    version: int  # the `version` header
    snapshot_code: str  # what the payload says
    snapshot_version: int


@dataclass(frozen=True)
class Posted:
    """One record of a request to the portal, and the number of that request (in arrival order)."""

    dossier_code: str
    version: int
    request: int


def status_topic_faults(records: Iterable[Published], versions: Mapping[str, int]) -> list[str]:
    """Every dossier's versions 1..n on one partition, each once, in offset order, with n its stored
    version; headers that agree with the payload; no dossier processing does not know."""
    faults: list[str] = []
    by_code: dict[str, list[Published]] = defaultdict(list)
    for r in records:
        by_code[r.key].append(r)
        if (r.snapshot_code, r.snapshot_version) != (r.key, r.version):
            faults.append(
                f"{r.partition}@{r.offset}: key/header {r.key} v{r.version} carries "
                f"{r.snapshot_code} v{r.snapshot_version}"
            )
    for code in sorted(by_code.keys() - versions.keys()):
        faults.append(f"{code}: published, unknown to processing")
    for code, n in sorted(versions.items()):
        seen = by_code.get(code, [])
        partitions = {r.partition for r in seen}
        if len(partitions) > 1:
            faults.append(f"{code}: on partitions {sorted(partitions)}")
        got = [r.version for r in sorted(seen, key=lambda r: (r.partition, r.offset))]
        if got != list(range(1, n + 1)):
            faults.append(f"{code}: versions {_runs(got)} on the topic, stored version {n}")
    return faults


def portal_faults(
    sent: Sequence[Posted],
    taken: Sequence[Posted],
    versions: Mapping[str, int],
    in_flight_at_kill: Collection[int] = (),
) -> list[str]:
    """Per dossier, the versions posted never go back (a refused one is retried with the same or a
    newer one), the versions the portal took (`taken`, in the order it took them) strictly increase —
    none taken twice, none older after a newer one — and the last is processing's version.

    The exception the contract names: a request a worker had in flight when it was killed
    (`in_flight_at_kill`) may have been taken without the worker recording it, and its lease ended
    with the worker's connection. Its records may therefore be posted again, or be taken after the
    newer version another worker posted meanwhile: a record of such a request that the portal also
    took at the same or a newer version from another request is left out of the order."""
    faults: list[str] = []
    posted: dict[str, list[int]] = defaultdict(list)
    for p in sent:
        if p.request not in in_flight_at_kill:
            posted[p.dossier_code].append(p.version)
    for code, got in sorted(posted.items()):
        if got != sorted(got):
            faults.append(f"{code}: versions posted {got} (an older one after a newer one)")
    newest: dict[str, int] = defaultdict(int)  # the newest version taken from a request nobody killed
    for t in taken:
        if t.request not in in_flight_at_kill:
            newest[t.dossier_code] = max(newest[t.dossier_code], t.version)
    accepted: dict[str, list[int]] = defaultdict(list)
    for t in taken:
        if t.dossier_code not in versions:
            faults.append(f"{t.dossier_code}: portal took v{t.version}, unknown to processing")
        elif t.request not in in_flight_at_kill or t.version > newest[t.dossier_code]:
            accepted[t.dossier_code].append(t.version)
    for code, n in sorted(versions.items()):
        got = accepted.get(code, [])
        if any(a >= b for a, b in pairwise(got)):
            faults.append(f"{code}: portal took versions {got} (repeated or out of order)")
        if not got or got[-1] != n:
            faults.append(f"{code}: portal's last version {got[-1] if got else None}, processing has {n}")
    return faults


def _runs(versions: list[int]) -> str:
    """`[1, 2, 3, 5]` → `1-3,5`: short enough for a failure message over thousands of records."""
    if not versions:
        return "none"
    out: list[str] = []
    start = prev = versions[0]
    for v in [*versions[1:], None]:
        if v is not None and v == prev + 1:
            prev = v
            continue
        out.append(str(start) if start == prev else f"{start}-{prev}")
        if v is not None:
            start = prev = v
    return ",".join(out)
