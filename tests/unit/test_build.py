"""The install compiles the engine's per-event modules with mypyc (``setup.py``)."""

from __future__ import annotations

import ast
import importlib
import os
import pickle
from pathlib import Path

import pytest

from engine.book import Book
from engine.events import parse
from engine.rules import apply

ROOT = Path(__file__).resolve().parents[2]


def compiled_list() -> list[str]:
    """``setup.py``'s ``COMPILED``, read without running the build."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "COMPILED":
            return list(ast.literal_eval(node.value))
    raise AssertionError("setup.py has no COMPILED list")


@pytest.mark.skipif(
    os.environ.get("OMNISTOCK_PURE_PYTHON", "") in ("1", "true", "yes"),
    reason="installed as plain Python on purpose",
)
def test_every_listed_module_runs_compiled():
    for path in compiled_list():
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        assert module.__file__ is not None
        assert module.__file__.endswith(".so"), f"{path} runs interpreted: {module.__file__}"


def test_a_compiled_book_pickles_with_its_positions_and_reservations():
    book = Book("S1")
    for raw in (
        b'{"event_id":"a","type":"receipt","location_id":"S1","sku":"K","ts":1000,"qty":5}',
        b'{"event_id":"b","type":"reserve","location_id":"S1","sku":"K","ts":2000,'
        b'"reservation_id":"r","qty":2}',
    ):
        apply(book, parse(raw))  # type: ignore[arg-type]
    copy = pickle.loads(pickle.dumps(book, pickle.HIGHEST_PROTOCOL))
    position = copy.positions["K"]
    assert (position.on_hand, position.reserved) == (5, 2)
    assert copy.reservations["r"].qty == 2
    assert position.holds is not None
    assert position.holds["r"] is copy.reservations["r"]
