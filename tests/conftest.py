"""Refuse to test stale compiled modules.

``pip install -e .`` compiles the engine's per-event modules with mypyc into ``engine/*.so``
(``setup.py``), and Python imports a compiled module before its source. A source edited after
the build would therefore go untested: the session stops and says to rebuild.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[1] / "engine"


def stale_extensions() -> list[str]:
    """Sources under ``engine/`` newer than the extension compiled from them."""
    stale = []
    for extension in ENGINE.glob("*.so"):
        source = extension.with_name(extension.name.split(".")[0] + ".py")
        if source.exists() and source.stat().st_mtime > extension.stat().st_mtime:
            stale.append(source.name)
    return sorted(stale)


def pytest_sessionstart(session: pytest.Session) -> None:
    stale = stale_extensions()
    if stale:
        raise pytest.UsageError(
            f"engine/{', engine/'.join(stale)} changed after mypyc compiled it: "
            "run `pip install -e '.[dev]'` again (or delete engine/*.so to test the source)"
        )
