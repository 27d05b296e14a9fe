"""Malformed lines: the ``BAD_KINDS`` they rotate through and how each kind breaks an event."""

from __future__ import annotations

import random
from typing import Any

import orjson

_BREAKS: dict[str, tuple[str, tuple[Any, ...]]] = {  # bad line kind: field, values to put there
    "unknown_type": ("type", ("recount", "Sale", "transfer_in", "SALE")),
    "wrong_type": ("qty", ("3", 2.5, None, [3])),
    "qty_range": ("qty", (0, 2_000_000, -1)),
    "bad_location": ("location_id", ("S 001", "S001/2", "Störe-7", "", "S" * 65)),
    "ttl_range": ("ttl_s", (0, 604_801, -60)),
    "bad_ts": (
        "ts",
        ("2026-13-45T25:61:00Z", "yesterday", "2026-11-20 14:05", "2026-11-20T14:05:00"),
    ),
}
BAD_KINDS = ("truncated", "not_object", "missing_field", *_BREAKS)  # malformed lines rotate


def bad_kind(n_bad: int) -> str:
    """The kind of the ``n_bad``-th malformed line (counting from 0)."""
    return BAD_KINDS[n_bad % len(BAD_KINDS)]


def break_event(ev: dict[str, Any], kind: str, rng: random.Random, n_bad: int) -> bytes:
    """The line of a valid event ``ev`` broken as ``kind`` (``n_bad``: malformed lines so far)."""
    text = orjson.dumps(ev)
    if kind == "truncated":  # cut after the event id, so that no two are alike
        return text[: rng.randint(len(text) // 3, len(text) - 1)]
    if kind == "not_object":  # a batch, JSON encoded twice, or just numbers
        return orjson.dumps(rng.choice(([ev], text.decode(), [n_bad, 2])))
    if kind == "missing_field":
        del ev[rng.choice(("event_id", "location_id", "sku", "ts", "qty", "type"))]
    else:
        name, values = _BREAKS[kind]
        ev[name] = rng.choice(values)
    return orjson.dumps(ev)
