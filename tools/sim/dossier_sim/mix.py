"""How a simulated province's dossiers end, in shares that add up to 1.

The default follows Quảng Ninh's report for Q2 2021 (127/BC-UBND): of 270,990 dossiers, 118,221
early, 133,729 on time, 310 late and 18,730 pending; withdrawals and refusals are small additions.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

E = TypeVar("E", bound=StrEnum)


class Outcome(StrEnum):
    EARLY = "early"
    ON_TIME = "on_time"
    LATE = "late"
    PENDING = "pending"
    WITHDRAWN = "withdrawn"
    REFUSED = "refused"


DEFAULT_MIX = "early=43.5,on_time=49.3,late=0.2,pending=6.8,withdrawn=0.1,refused=0.1"


@dataclass(frozen=True)
class OutcomeMix:
    weights: dict[Outcome, float]

    @classmethod
    def parse(cls, text: str) -> OutcomeMix:
        """`early=40,on_time=50,late=2,pending=8` (any positive numbers; normalised)."""
        return cls(parse_shares(text, Outcome, "outcome"))


def parse_shares(text: str, names: type[E], what: str) -> dict[E, float]:
    """`name=number,…` with names of `names` (non-negative numbers), normalised to add up to 1; `what`
    names the shares in errors (`bad outcome share …`)."""
    weights: dict[E, float] = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        try:
            chosen = names(name.strip())
            weight = float(value)
        except ValueError as exc:
            raise ValueError(f"bad {what} share {part!r}: use name=number with names {list(names)}") from exc
        if weight < 0:
            raise ValueError(f"share of {name} must not be negative")
        weights[chosen] = weight
    total = sum(weights.values())
    if total <= 0:
        raise ValueError(f"the {what} shares add up to zero")
    return {o: w / total for o, w in weights.items()}
