"""The organisation a report is given in (`structure=period|current`).

- `period` (the default): each dossier under the agency that received it, as the period's structure
  was; `agency=CODE` selects the agency and every agency below it through `parent_code`.
- `current`: today's structure. Each agency's rows are added into the agency that carries it today
  (`dossier_core.restructuring.Successions`, successions whose `from_date` has come): a merger adds
  several agencies into one row, a chain A → B → C puts A's dossiers under C, an abolished agency
  without a successor keeps its own row. `agency=CODE` must then be an agency of today's structure
  (one not succeeded); it selects every agency whose successor lies below it, where each agency's
  parent is its `parent_code`'s successor.

A key still sees only the dossiers of the agencies it allows: in `current`, a successor's row holds
the figures of those of its predecessors the key allows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from dossier_core.catalog import Catalog

Structure = Literal["period", "current"]
STRUCTURES: tuple[Structure, ...] = ("period", "current")

#: A report's grain: (agency, procedure, field).
Grain = tuple[str, str, str]


@dataclass
class TodaysStructure:
    """The catalog's agencies as organised on `today` (built for one report)."""

    catalog: Catalog
    today: date
    _carrier: dict[str, str] = field(default_factory=dict)

    def carrier(self, code: str) -> str:
        """The agency that carries `code`'s figures today (`code` when it was not succeeded)."""
        found = self._carrier.get(code)
        if found is None:
            found = self._carrier[code] = self.catalog.successions.successor(code, self.today)
        return found

    def regroup(self, key: Callable[[Grain], str]) -> Callable[[Grain], str]:
        """`key` applied to each grain with its agency replaced by today's carrier."""
        return lambda grain: key((self.carrier(grain[0]), grain[1], grain[2]))

    def succeeded_by(self, code: str) -> str | None:
        """`code`'s carrier today when it is another agency."""
        carrier = self.carrier(code)
        return carrier if carrier != code else None

    def parent(self, code: str) -> str | None:
        agency = self.catalog.agencies.get(code)
        return self.carrier(agency.parent_code) if agency and agency.parent_code else None

    def below(self, root: str) -> set[str]:
        """Every catalog agency whose carrier is `root` or lies below it in today's structure."""
        found: set[str] = set()
        for code in self.catalog.agencies:
            node: str | None = self.carrier(code)
            seen: set[str] = set()
            while node is not None and node not in seen:  # `seen`: parents and successions may loop
                if node == root:
                    found.add(code)
                    break
                seen.add(node)
                node = self.parent(node)
        return found

    def carriers(self, codes: Iterable[str]) -> set[str]:
        return {self.carrier(code) for code in codes}

    def moved(self, codes: Iterable[str]) -> list[dict[str, str]]:
        """The agencies among `codes` whose rows are added into another one, with that agency."""
        out = []
        for code in sorted(codes):
            successor = self.succeeded_by(code)
            if successor is not None:
                agency = self.catalog.agencies.get(code)
                out.append({"agency": code, "name": agency.name if agency else "", "successor": successor})
        return out
