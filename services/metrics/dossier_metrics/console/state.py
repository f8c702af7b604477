"""What the console keeps while the service runs: its sessions, and each key's agency tree (built from
the catalog and the agencies the projection counts, kept a minute)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from dossier_core.catalog import Catalog
from dossier_metrics.console.scope import AgencyTree
from dossier_metrics.console.sessions import SessionStore
from dossier_runtime.api_keys import ApiKey

#: How long an agency tree is reused before the counted agencies are read again.
TREE_TTL_S = 60.0


@dataclass
class ConsoleState:
    sessions: SessionStore
    trees: dict[tuple[str, tuple[str, ...]], tuple[float, AgencyTree]] = field(default_factory=dict)

    def cached_tree(self, key: ApiKey) -> AgencyTree | None:
        found = self.trees.get((key.key_sha256, key.agency_patterns))
        if found is None or time.monotonic() - found[0] > TREE_TTL_S:
            return None
        return found[1]

    def keep_tree(self, key: ApiKey, catalog: Catalog, counted: set[str]) -> AgencyTree:
        tree = AgencyTree.of(catalog, key, counted)
        if len(self.trees) > 1000:
            self.trees.clear()
        self.trees[(key.key_sha256, key.agency_patterns)] = (time.monotonic(), tree)
        return tree
