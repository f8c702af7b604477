"""What a session may see: the agencies its key allows, as a tree (province → departments and
districts → communes) in which each agency hangs under its nearest *allowed* ancestor.

Nothing outside the key's patterns ever enters the tree, so no page built from it can show another
agency's name: a commune's key sees its commune as a root, without the district above it. Codes the
projection counts but the catalog does not know (`extra`) are roots without a name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from dossier_core.catalog import Catalog
from dossier_metrics.auth import allows_everything, visibility
from dossier_runtime.api_keys import ApiKey

LEVEL_ORDER = {"province": 0, "ministry": 0, "district": 1, "commune": 2}
LEVEL_NAMES = {"province": "Cấp tỉnh", "district": "Cấp huyện", "commune": "Cấp xã", "ministry": "Cấp bộ"}


@dataclass
class AgencyTree:
    """The allowed agencies of one key and how they hang together."""

    catalog: Catalog
    visible: set[str]
    parent: dict[str, str | None]
    children: dict[str | None, list[str]] = field(default_factory=dict)
    everything: bool = False

    @classmethod
    def of(cls, catalog: Catalog, key: ApiKey, extra: Iterable[str] = ()) -> AgencyTree:
        allows = visibility(key)
        visible = {code for code in catalog.agencies if allows(code)}
        visible |= {code for code in extra if code not in catalog.agencies and allows(code)}
        parent: dict[str, str | None] = {}
        for code in visible:
            agency = catalog.agencies.get(code)
            up, seen = agency.parent_code if agency else None, {code}
            while up is not None and up not in visible and up not in seen:
                seen.add(up)
                above = catalog.agencies.get(up)
                up = above.parent_code if above else None
            parent[code] = up if up in visible else None
        tree = cls(catalog, visible, parent, everything=allows_everything(key))
        for code in visible:
            tree.children.setdefault(parent[code], []).append(code)
        for codes in tree.children.values():
            codes.sort(key=tree.order)
        return tree

    def order(self, code: str) -> tuple[int, str, str]:
        agency = self.catalog.agencies.get(code)
        if agency is None:
            return (9, "", code)
        return (LEVEL_ORDER.get(str(agency.level), 5), agency.name, code)

    def __contains__(self, code: object) -> bool:
        return code in self.visible

    @property
    def roots(self) -> list[str]:
        return self.children.get(None, [])

    def name(self, code: str) -> str:
        agency = self.catalog.agencies.get(code)
        return agency.name if agency is not None else ""

    def level(self, code: str) -> str:
        agency = self.catalog.agencies.get(code)
        return str(agency.level) if agency is not None else ""

    def level_name(self, code: str) -> str:
        return LEVEL_NAMES.get(self.level(code), "")

    def valid_on(self, code: str, day: date) -> bool:
        agency = self.catalog.agencies.get(code)
        return agency is None or agency.is_valid_on(day)

    def subtree(self, code: str) -> list[str]:
        """`code` and every allowed agency below it."""
        found, todo = [], [code]
        while todo:
            current = todo.pop()
            found.append(current)
            todo.extend(self.children.get(current, ()))
        return found

    def path(self, code: str) -> list[str]:
        """The allowed ancestors of `code`, the root first, `code` last."""
        out: list[str | None] = [code]
        while out[-1] is not None and len(out) <= len(self.visible):
            out.append(self.parent.get(out[-1] or ""))
        return [c for c in reversed(out) if c is not None]

    def listed(self) -> list[str] | None:
        """The codes to give a query (None: the key allows every agency, so no filter)."""
        return None if self.everything else sorted(self.visible)

    def options(self) -> list[tuple[str, str, int]]:
        """(code, name, depth) of every allowed agency in tree order, for an agency picker."""
        out: list[tuple[str, str, int]] = []

        def walk(code: str, depth: int) -> None:
            out.append((code, self.name(code), depth))
            for child in self.children.get(code, ()):
                walk(child, depth + 1)

        for root in self.roots:
            walk(root, 0)
        return out
