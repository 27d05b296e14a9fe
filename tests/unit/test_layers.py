"""Arrows point down the layers and never circle (docs/architecture.md, "Layers").

engine <- dataflows <- api <- omnistock (the command line); ``workload`` (the synthetic network
and stream) sits beside ``dataflows`` and is used by the command line and the benchmarks.
``benchmarks`` may import anything; nothing imports it but the ``bench`` command. Every import
counts, a lazy one inside a function too: it is a dependency all the same.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("engine", "dataflows", "workload", "api", "omnistock", "benchmarks")
MAY_IMPORT = {
    "engine": {"engine"},
    "dataflows": {"engine", "dataflows"},
    "workload": {"engine", "workload"},
    "api": {"engine", "dataflows", "api"},
    "omnistock": {"engine", "dataflows", "workload", "api", "omnistock"},
    "benchmarks": set(PACKAGES),
}
BENCH_COMMAND = "omnistock.bench_cmd"


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project's modules that ``name`` imports (a name imported from a package that is a
    module of its own counts as that module)."""
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (
            isinstance(node, ast.Call)
            and _called(node) in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            targets.add(node.args[0].value)  # importlib.import_module("a.b") is an import too
        elif isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                if not is_package:
                    anchor.pop()
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            targets.add(base)
            targets.update(f"{base}.{alias.name}" for alias in node.names)
    return {target for target in targets if target in modules and target != name}


def _called(call: ast.Call) -> str:
    function = call.func
    if isinstance(function, ast.Attribute):
        return function.attr
    return function.id if isinstance(function, ast.Name) else ""


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_its_way_back_to_itself():
    assert _cycles(_graph()) == []


def _upward(graph: dict[str, set[str]]) -> list[str]:
    upward = []
    for name, targets in graph.items():
        package = name.split(".")[0]
        for target in targets:
            layer = target.split(".")[0]
            if layer == "benchmarks" and name == BENCH_COMMAND:
                continue
            if layer not in MAY_IMPORT[package]:
                upward.append(f"{name} -> {target}")
    return sorted(upward)


def test_every_arrow_points_down_the_layers():
    assert _upward(_graph()) == []


def test_the_checks_see_a_circle_an_arrow_up_and_a_dynamic_import(tmp_path):
    graph = {"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}, "a.w": set()}
    assert _cycles(graph) == [["a.x", "a.y", "a.z"]]
    up = {"engine.rules": {"api.deps"}, "api.deps": {"engine.rules"}, BENCH_COMMAND: {"benchmarks"}}
    assert _upward(up) == ["engine.rules -> api.deps"]
    source = tmp_path / "probe.py"
    source.write_text("import importlib\ndef f():\n    importlib.import_module('omnistock.cli')\n")
    modules = {"api.probe": source, "omnistock.cli": source}
    assert _imports("api.probe", source, modules) == {"omnistock.cli"}
    assert "engine.rules" in _graph()["engine.batch"]
