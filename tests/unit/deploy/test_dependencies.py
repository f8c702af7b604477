"""The workspace's dependency declarations: each member declares what its code imports (and nothing it does
not use, but for drivers loaded by name), uv.lock matches the declarations and pins every package with a
hash, and no service pulls in the simulator's, the benchmarks' or the dev tools' packages."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterable
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
ROOT_PROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())
MEMBERS: list[str] = ROOT_PROJECT["tool"]["uv"]["workspace"]["members"]
GROUPS: dict[str, list[str]] = ROOT_PROJECT["dependency-groups"]
LOCK: dict[str, Any] = tomllib.loads((ROOT / "uv.lock").read_text())

SERVICES = {"dossier-intake", "dossier-processing", "dossier-metrics"}
LIBRARIES = {"dossier-core", "dossier-contracts", "dossier-runtime"}
SIMULATOR = "dossier-sim"
#: declared though never imported: uvicorn loads its loop and HTTP parser by name, SQLAlchemy its dialect,
#: FastAPI the form parser of the console's login (`Form(...)` needs python-multipart)
LOADED_BY_NAME = {
    "dossier-intake": {"uvloop", "httptools"},
    "dossier-processing": {"uvloop", "httptools", "asyncpg"},
    "dossier-runtime": {"asyncpg"},  # db.py builds engines on the postgresql+asyncpg dialect
    "dossier-metrics": {"uvloop", "httptools", "asyncpg", "python-multipart"},
}


def normalise(name: str) -> str:
    """PEP 503 name: `Foo_Bar.baz` → `foo-bar-baz`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert match, requirement
    return normalise(match.group())


@cache
def member_projects() -> dict[str, tuple[Path, dict[str, Any]]]:
    """Member name → (its folder, its [project] table)."""
    projects = {}
    for member in MEMBERS:
        project = tomllib.loads((ROOT / member / "pyproject.toml").read_text())["project"]
        projects[normalise(project["name"])] = (ROOT / member, project)
    return projects


def declared(name: str) -> set[str]:
    return {requirement_name(r) for r in member_projects()[name][1].get("dependencies", [])}


def first_party_modules() -> dict[str, str]:
    """Import name → workspace member (the module folder is the member's name with underscores)."""
    return {name.replace("-", "_"): name for name in member_projects()}


def imported_top_levels(folder: Path) -> set[str]:
    """Absolute imports' top-level names in every .py file under `folder`, standard library left out."""
    names: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"__future__"}


def local_modules(folder: Path) -> set[str]:
    """Names a script folder imports from itself (bench/record.py, tests/support.py, …)."""
    return (
        {folder.name}
        | {p.stem for p in folder.rglob("*.py")}
        | {p.name for p in folder.rglob("*") if p.is_dir()}
    )


def distributions_needed(imports: Iterable[str]) -> dict[str, set[str]]:
    """Import name → the distributions that can provide it (workspace members first, then installed ones)."""
    first_party = first_party_modules()
    installed = packages_distributions()
    needed = {}
    for name in imports:
        if name in first_party:
            needed[name] = {first_party[name]}
        else:
            needed[name] = {normalise(d) for d in installed.get(name, [])}
    return needed


def missing(imports: Iterable[str], allowed: set[str]) -> list[str]:
    return sorted(
        f"{name} (from {sorted(dists) or 'no installed distribution'})"
        for name, dists in distributions_needed(imports).items()
        if not dists & allowed
    )


@pytest.mark.parametrize("name", sorted(LIBRARIES | SERVICES | {SIMULATOR}))
def test_every_import_is_declared_and_every_declaration_is_used(name: str) -> None:
    folder, _ = member_projects()[name]
    own_module = name.replace("-", "_")
    imports = imported_top_levels(folder / own_module) - {own_module}
    deps = declared(name)
    assert not missing(imports, deps), f"{name} imports what it does not declare: {missing(imports, deps)}"
    used = set().union(*distributions_needed(imports).values())
    unused = deps - used - LOADED_BY_NAME.get(name, set())
    assert not unused, f"{name} declares what it never imports: {sorted(unused)}"


def test_the_members_are_the_project_folders() -> None:
    assert set(member_projects()) == LIBRARIES | SERVICES | {SIMULATOR}
    for name, (folder, _) in member_projects().items():
        assert (folder / name.replace("-", "_") / "__init__.py").is_file(), name
        assert (folder / name.replace("-", "_") / "py.typed").is_file(), name


def test_benchmark_imports_are_in_the_bench_group() -> None:
    bench = ROOT / "bench"
    imports = imported_top_levels(bench) - local_modules(bench) - local_modules(ROOT / "tests")
    group = {requirement_name(r) for r in GROUPS["bench"]}
    assert not missing(imports, group), f"bench/ imports outside the bench group: {missing(imports, group)}"


def test_test_imports_are_declared_by_the_dev_group_or_a_member() -> None:
    tests = ROOT / "tests"
    imports = imported_top_levels(tests) - local_modules(tests) - local_modules(ROOT / "bench")
    allowed = {requirement_name(r) for r in GROUPS["dev"]} | set(member_projects())
    allowed |= set().union(*(declared(name) for name in member_projects()))
    assert not missing(imports, allowed), f"tests/ import undeclared packages: {missing(imports, allowed)}"


def test_the_check_catches_an_undeclared_import() -> None:
    assert missing({"tqdm", "dossier_core"}, {"dossier-core"}) == ["tqdm (from ['tqdm'])"]
    assert missing({"not_a_real_module"}, set()) == ["not_a_real_module (from no installed distribution)"]


# --- uv.lock -------------------------------------------------------------------------------------------

LOCKED: dict[str, dict[str, Any]] = {normalise(p["name"]): p for p in LOCK["package"]}


def closure(roots: Iterable[str]) -> set[str]:
    """Every locked package that installing `roots` brings in, following extras (sqlalchemy[asyncio])."""
    seen: set[tuple[str, str | None]] = set()
    todo: list[tuple[str, str | None]] = []
    for root in roots:
        todo.append((normalise(root), None))
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        name, extra = node
        package = LOCKED[name]
        edges = (
            package.get("optional-dependencies", {}).get(extra, [])
            if extra
            else package.get("dependencies", [])
        )
        for edge in edges:
            todo.append((normalise(edge["name"]), None))
            todo += [(normalise(edge["name"]), e) for e in edge.get("extra", [])]
    return {name for name, _ in seen}


def test_the_lock_matches_every_members_declarations() -> None:
    for name in member_projects():
        locked = {normalise(r["name"]) for r in LOCKED[name]["metadata"].get("requires-dist", [])}
        assert locked == declared(name), f"uv.lock is stale for {name}: run `make lock`"
    for group, requirements in GROUPS.items():
        locked = {normalise(r["name"]) for r in LOCK["manifest"]["dependency-groups"][group]}
        assert locked == {requirement_name(r) for r in requirements}, f"uv.lock is stale for group {group}"


def test_every_locked_registry_package_is_pinned_with_a_hash() -> None:
    for name, package in LOCKED.items():
        source = package["source"]
        if "editable" in source:
            assert name in member_projects(), f"{name} is an editable that is not a workspace member"
            continue
        assert "registry" in source, f"{name} comes from {source}, not a registry"
        files = package.get("wheels", []) + ([package["sdist"]] if "sdist" in package else [])
        assert files, name
        assert all(f.get("hash", "").startswith("sha256:") for f in files), f"{name} has a file without hash"


def test_services_do_not_depend_on_the_simulator_benchmarks_or_dev_tools() -> None:
    runtime = set().union(*(closure([name]) for name in SERVICES | LIBRARIES))
    tooling = declared(SIMULATOR) | {requirement_name(r) for g in GROUPS.values() for r in g}
    forbidden = (tooling | {SIMULATOR}) - set().union(*(declared(name) for name in SERVICES | LIBRARIES))
    forbidden -= LIBRARIES | SERVICES
    assert {"dossier-sim", "tqdm", "psutil", "pytest", "schemathesis"} <= forbidden
    for service in SERVICES:
        leaked = closure([service]) & forbidden
        assert not leaked, f"{service} pulls in {sorted(leaked)}"
    assert runtime & forbidden == set()


def test_the_closure_follows_extras() -> None:
    assert "greenlet" in closure(["dossier-processing"])
    assert "tqdm" in closure(["dossier-sim"])


def test_uv_is_pinned_once_with_hashes_and_every_install_uses_the_lock() -> None:
    bootstrap = (ROOT / "requirements-uv.txt").read_text()
    version = re.search(r"^uv==([0-9.]+)", bootstrap, re.MULTILINE)
    assert version, "requirements-uv.txt pins uv"
    assert ROOT_PROJECT["tool"]["uv"]["required-version"] == f"=={version.group(1)}"
    assert re.findall(r"--hash=sha256:[0-9a-f]{64}", bootstrap)
    for path in ("Makefile", "Dockerfile"):
        text = (ROOT / path).read_text()
        assert "--require-hashes -r requirements-uv.txt" in text, path
        assert "sync --locked" in text, path
        assert "pip install -e" not in text and "pip install ." not in text, path
