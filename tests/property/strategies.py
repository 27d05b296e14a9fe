"""Hypothesis strategies for event logs: small id spaces, so events collide and interact."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import strategies as st

T0 = 1_795_000_000_000
LOCATIONS = ("S1", "S2")
SKUS = ("A", "B")
RESERVATIONS = ("R1", "R2", "R3", "R4")
SUPPLIES = ("P1", "P2")

qty = st.integers(1, 12)


def _fields(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    rid = st.sampled_from(RESERVATIONS)
    sid = st.sampled_from(SUPPLIES)
    eta = st.integers(T0, T0 + 3_600_000)
    by_kind: dict[str, st.SearchStrategy[dict[str, Any]]] = {
        "receipt": st.fixed_dictionaries({"qty": qty}, optional={"supply_id": sid}),
        "sale": st.fixed_dictionaries({"qty": qty}, optional={"reservation_id": rid}),
        "return": st.fixed_dictionaries({"qty": qty}, optional={"sellable": st.booleans()}),
        "adjust": st.fixed_dictionaries({"delta": st.integers(-5, 5).filter(bool)}),
        "count": st.fixed_dictionaries({"qty": st.integers(0, 15)}),
        "transfer_out": st.fixed_dictionaries(
            {"qty": qty, "to_location_id": st.sampled_from(LOCATIONS), "eta": eta, "supply_id": sid}
        ),
        "inbound": st.fixed_dictionaries({"qty": qty, "eta": eta, "supply_id": sid}),
        "inbound_cancel": st.fixed_dictionaries({"supply_id": sid}),
        "reserve": st.fixed_dictionaries(
            {"reservation_id": rid, "qty": st.integers(1, 6)},
            optional={
                "ttl_s": st.integers(1, 300),
                "allow_partial": st.booleans(),
                "channel": st.sampled_from(["web", "pos", "app"]),
            },
        ),
        "release": st.fixed_dictionaries({"reservation_id": rid}),
        "fulfil": st.fixed_dictionaries(
            {"reservation_id": rid}, optional={"qty": st.integers(1, 4)}
        ),
        "set_safety_stock": st.fixed_dictionaries({"qty": st.integers(0, 4)}),
    }
    return by_kind[kind]


@st.composite
def event_logs(draw: st.DrawFn, max_events: int = 60) -> list[bytes]:
    """A JSONL log as a list of lines: every event type, duplicates, bad lines, time jumps."""
    n = draw(st.integers(1, max_events))
    ts = T0
    lines: list[bytes] = []
    for _ in range(n):
        choice = draw(st.integers(0, 19))
        if choice == 0 and lines:  # an exact duplicate of an earlier line
            lines.append(draw(st.sampled_from(lines)))
            continue
        if choice == 1:
            lines.append(draw(st.sampled_from([b"{", b"[]", b'{"type":"sale"}', b"null"])))
            continue
        ts += draw(st.sampled_from([0, 1000, 30_000, 120_000, -5_000]))
        kind = draw(
            st.sampled_from(
                [
                    "receipt",
                    "sale",
                    "return",
                    "adjust",
                    "count",
                    "transfer_out",
                    "inbound",
                    "inbound_cancel",
                    "reserve",
                    "release",
                    "fulfil",
                    "set_safety_stock",
                ]
            )
        )
        body = {
            # a small event-id space makes re-used ids (with other content) happen too
            "event_id": f"e{draw(st.integers(0, 4 * max_events))}",
            "type": kind,
            "location_id": draw(st.sampled_from(LOCATIONS)),
            "sku": draw(st.sampled_from(SKUS)),
            "ts": max(ts, 0),
            **draw(_fields(kind)),
        }
        if kind == "transfer_out" and body["to_location_id"] == body["location_id"]:
            body["to_location_id"] = "DC1"
        lines.append(orjson.dumps(body))
    return lines
