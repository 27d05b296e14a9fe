"""Event factories shared by the tests: readable one-liners for JSON event lines."""

from __future__ import annotations

import itertools
from typing import Any

import orjson

from engine.book import Book, EngineConfig
from engine.events import parse
from engine.outputs import Rejected
from engine.rules import apply
from engine.timefmt import from_ms

T0 = 1_795_000_000_000  # 2026-11-18T11:06:40Z
_ids = itertools.count(1)


def at(offset_ms: int = 0) -> Any:
    """The instant ``T0 + offset_ms``, as the engine holds it."""
    return from_ms(T0 + offset_ms)


def line(
    type_: str,
    location_id: str = "S1",
    sku: str = "A",
    ts: int | str = T0,
    event_id: str | None = None,
    **fields: Any,
) -> bytes:
    """One event's JSON text, with a fresh event_id unless one is given."""
    body = {
        "event_id": event_id or f"e{next(_ids)}",
        "type": type_,
        "location_id": location_id,
        "sku": sku,
        "ts": ts,
        **fields,
    }
    return orjson.dumps(body)


def event(type_: str, **kwargs: Any) -> Any:
    """A parsed event; fails the test if it does not parse."""
    parsed = parse(line(type_, **kwargs))
    assert not isinstance(parsed, Rejected), parsed
    return parsed


class Store:
    """A book driven through ``apply``, collecting every output, for rule tests."""

    def __init__(self, location_id: str = "S1", config: EngineConfig | None = None) -> None:
        self.book = Book(location_id, config or EngineConfig())
        self.outputs: list[Any] = []

    def do(self, type_: str, **kwargs: Any) -> list[Any]:
        kwargs.setdefault("location_id", self.book.location_id)
        out = apply(self.book, event(type_, **kwargs))[1]
        self.outputs.extend(out)
        return out

    def pos(self, sku: str = "A") -> Any:
        return self.book.positions[sku]
