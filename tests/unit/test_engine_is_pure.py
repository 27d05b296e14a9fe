"""``engine/`` is pure: no framework, no I/O, no clock, no environment (STYLE 1 and 4)."""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "engine"
ALLOWED_ROOTS = {
    "__future__",
    "collections",
    "dataclasses",
    "datetime",
    "enum",
    "functools",
    "hashlib",
    "heapq",
    "itertools",
    "math",
    "re",
    "typing",
    "zoneinfo",
    "zlib",  # crc32, for the sku shard of a key
    "bisect",
    "operator",
    "numpy",
    "numba",
    "mypy_extensions",  # mypyc's native int types and class attributes (engine.position)
    "msgspec",
    "orjson",
    "json",  # only to refuse a key given twice in a policy file (msgspec keeps the last)
    "pickle",  # a book pickles its positions by shard (bytes in memory, no I/O)
    "engine",
}
FORBIDDEN_CALLS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("time", "time"),
    ("time", "monotonic"),
    ("time", "perf_counter"),
    ("date", "today"),
    ("os", "environ"),
    ("os", "getenv"),
}


def test_engine_imports_only_pure_modules():
    offenders = []
    for path in sorted(ENGINE.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module == "sys" and [a.name for a in node.names] == ["intern"]:
                    continue  # sys.intern (shared id strings): no I/O, clock or environment
                names = [node.module]
            offenders += [
                f"{path.name}: {n}" for n in names if n.split(".")[0] not in ALLOWED_ROOTS
            ]
    assert offenders == []


def test_engine_never_reads_the_clock_or_environment():
    offenders = []
    for path in sorted(ENGINE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and ((node.value.id, node.attr) in FORBIDDEN_CALLS)
            ):
                offenders.append(f"{path.name}:{node.lineno} {node.value.id}.{node.attr}")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and (node.func.id in {"open", "print", "input"})
            ):
                offenders.append(f"{path.name}:{node.lineno} {node.func.id}()")
    assert offenders == []
