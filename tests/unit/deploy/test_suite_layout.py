"""The suite's own layout: pytest imports test modules by their base name (rootdir import mode), so
two test files of the same name in different folders stop the whole run at collection."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parents[2]


def test_test_module_names_are_unique() -> None:
    by_name: dict[str, list[str]] = defaultdict(list)
    for path in TESTS.rglob("test_*.py"):
        by_name[path.name].append(str(path.relative_to(TESTS)))
    assert len(by_name) > 50
    assert {name: paths for name, paths in by_name.items() if len(paths) > 1} == {}
