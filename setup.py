"""Build: compiles the engine's per-event modules with mypyc (the rest stays plain Python).

The rules are written once, in typed Python (``engine/``); mypyc compiles the modules every
event runs through into C extensions at install time, which folds events faster
(``benchmarks/replay_throughput.py``; docs/performance.md). The same source runs interpreted when
``OMNISTOCK_PURE_PYTHON=1`` is set at install (no C compiler needed), with the same results.
Everything else about the package is in ``pyproject.toml``.
"""

import os

from setuptools import setup

# The modules an event passes through. Modules that define msgspec.Struct classes
# (engine.schema, engine.outputs) stay interpreted: mypyc cannot compile subclasses of them.
COMPILED = [
    "engine/alerts.py",
    "engine/batch.py",
    "engine/book.py",
    "engine/carts.py",
    "engine/checks.py",
    "engine/claims.py",
    "engine/dedup.py",
    "engine/events.py",
    "engine/holds.py",
    "engine/kinds.py",
    "engine/position.py",
    "engine/reservations.py",
    "engine/replay.py",
    "engine/routing.py",
    "engine/shelves.py",
    "engine/rules.py",
    "engine/timefmt.py",
]

ext_modules = []
if os.environ.get("OMNISTOCK_PURE_PYTHON", "") not in ("1", "true", "yes"):
    from mypyc.build import mypycify

    ext_modules = mypycify(COMPILED, opt_level="3")

setup(ext_modules=ext_modules)
