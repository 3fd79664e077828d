"""Imports run one way (issue 21, "Structure"), and no import cycle remains.

Layers, bottom to top: `settings/`, `privacy/`, `stores/` and `nlu_components/`;
then `actions/`, `channels/`, `policies/` and `perf/`; then `console/`, `cluster/`
and `bench/`. A module may import its own layer and the ones below, never one above.
Every import in a file counts, also one inside a function (a lazy import is still a
dependency). The modules are read with `ast`, nothing is imported.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {
    "settings": 0,
    "privacy": 0,
    "stores": 0,
    "nlu_components": 0,
    "actions": 1,
    "channels": 1,
    "policies": 1,
    "perf": 1,
    "console": 2,
    "cluster": 2,
    "bench": 2,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def project_modules() -> Dict[str, Path]:
    modules = {}
    for package in LAYERS:
        for path in (ROOT / package).rglob("*.py"):
            modules[module_name(path)] = path
    return modules


def imports_of(name: str, path: Path, modules: Dict[str, Path]) -> Set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: Set[str] = set()

    def resolve(target: str) -> None:
        # the longest project module that the dotted name starts with
        parts = target.split(".")
        for end in range(len(parts), 0, -1):
            candidate = ".".join(parts[:end])
            if candidate in modules:
                if candidate != name:
                    found.add(candidate)
                return

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                resolve(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            for alias in node.names:
                full = f"{prefix}.{alias.name}"
                if full in modules:
                    found.add(full)
                else:
                    resolve(prefix)
    return found


def graph() -> Dict[str, Set[str]]:
    modules = project_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def upward_imports(edges: Dict[str, Set[str]]) -> List[str]:
    return sorted(
        f"{source} -> {target}"
        for source, targets in edges.items()
        for target in targets
        if LAYERS[target.split(".")[0]] > LAYERS[source.split(".")[0]]
    )


def test_no_import_runs_against_the_layers():
    upward = upward_imports(graph())
    assert not upward, "imports against the layers:\n" + "\n".join(upward)


def cycles(edges: Dict[str, Set[str]]) -> List[List[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    found: List[List[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle():
    edges = graph()
    # a package's __init__ importing its own modules is not a cycle between modules
    for name in edges:
        edges[name] = {t for t in edges[name] if not name.startswith(t + ".")}
    assert not cycles(edges)


def test_the_checker_sees_an_upward_import_and_a_cycle():
    """The two checks above would fail on the findings of issue 21."""
    edges = {"console.audit": {"console.db"}, "console.db": {"console.audit"}}
    assert cycles(edges) == [["console.audit", "console.db"]]
    three = {"m.matching": {"m.spec"}, "m.spec": {"m.text"}, "m.text": {"m.matching"}}
    assert cycles(three) == [["m.matching", "m.spec", "m.text"]]
    findings = {
        "stores.tracker_store": {"console.masking", "cluster.settings"},
        "actions.startup": {"cluster.settings"},
        "channels.settings": {"cluster.settings"},
    }
    assert len(upward_imports(findings)) == 4
