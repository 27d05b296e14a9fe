"""Hypothesis strategies for event logs and policies: small id spaces, so events collide and
interact.

- ``event_logs``: the v1 event types under the default policy's channel names (what the first
  properties and ``tests/unit/test_snapshot.py`` draw), timestamps near ``T0``.
- ``policy_specs``: a policy file (docs/policy.md §2) as JSON-ready data: 1-5 channels, each with
  or without safety stock, a buffer, protected units and locations (ids, groups, nested groups),
  with and without ``default_channel``, sku-level and default safety stock, alert thresholds.
- ``v2_event_logs``: every event type a client may send, the v2 fields included (a reserve's
  ``channel`` among the policy's and others, ``location_group``; ``set_safety_stock`` with and
  without a channel; ``restock``/``write_off`` over and under the unsellable stock;
  ``set_alert_thresholds``), on timestamps that cross several UTC midnights within 6.5 days
  (``SPAN_MS``), some written in RFC 3339 with an offset.
- ``policy_cases``: a policy and a log drawn for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta, timezone
from typing import Any

import orjson
from hypothesis import strategies as st

from engine.timefmt import from_ms

T0 = 1_795_000_000_000
LOCATIONS = ("S1", "S2")
SKUS = ("A", "B")
RESERVATIONS = ("R1", "R2", "R3", "R4")
SUPPLIES = ("P1", "P2")
DEFAULT_CHANNEL_NAMES = ("web", "pos", "app")

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MIDNIGHT = T0 // DAY_MS * DAY_MS  # 2026-11-18T00:00:00Z, the UTC midnight before T0
# Every timestamp of a v2 log falls in [its start, its start + SPAN_MS]. A log starts in the
# 3 hours before a UTC midnight, so it spans at most 8 UTC dates: long enough for a sale to
# leave the 7 dates of ``sold_7d``, and within what the engine keeps of a position's sales
# (the dates within the dedup window's days + 7 of the newest, so at least 8).
SPAN_MS = 6 * DAY_MS + 12 * HOUR_MS
# Locations a policy may name: the logs' own, a transfer's default destination, and one that
# never has stock (a channel selling only there sells nowhere).
POLICY_LOCATIONS = ("S1", "S2", "DC1", "X9")
CHANNEL_NAMES = ("web", "app", "pos", "call_centre", "marketplace", "kiosk")
GROUP_IDS = ("g1", "g2", "g3")

qty = st.integers(1, 12)

V1_KINDS = (
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
)
# Weighted by repetition: sales, receipts and reserves move the figures the v2 rules read.
V2_KINDS = (
    *V1_KINDS,
    "sale",
    "sale",
    "receipt",
    "receipt",
    "receipt",
    "count",
    "reserve",
    "reserve",
    "fulfil",
    "return",
    "restock",
    "write_off",
    "set_alert_thresholds",
)


def _fields(
    kind: str,
    channels: Sequence[str] = DEFAULT_CHANNEL_NAMES,
    groups: Sequence[str] = (),
    start: int = T0,
    v2: bool = False,
) -> st.SearchStrategy[dict[str, Any]]:
    rid = st.sampled_from(RESERVATIONS)
    sid = st.sampled_from(SUPPLIES)
    eta = st.integers(start, start + HOUR_MS)
    reserve_optional: dict[str, st.SearchStrategy[Any]] = {
        "ttl_s": st.integers(1, 300),
        "allow_partial": st.booleans(),
        "channel": st.sampled_from(list(channels)),
    }
    safety: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries({"qty": st.integers(0, 4)})
    sale_qty = qty
    if v2:
        # mostly the policy's channels; now and then the default policy's (maybe unknown
        # here) or one no policy knows
        others = [name for name in [*DEFAULT_CHANNEL_NAMES, "nope"] if name not in channels]
        named = st.sampled_from(list(channels))
        channel = st.one_of(named, named, st.sampled_from(others)) if others else named
        reserve_optional["channel"] = channel
        # few group names, so that tries of one reservation at one group meet
        reserve_optional["location_group"] = st.sampled_from(["gX", "gX", *groups[:1]])
        # holds that outlive the hours between events too, for releases and fulfils to find
        reserve_optional["ttl_s"] = st.one_of(
            st.integers(1, 300), st.sampled_from([3600, 6 * 3600, 86_400])
        )
        safety = st.fixed_dictionaries({"qty": st.integers(0, 4)}, optional={"channel": channel})
        # smaller sales, against receipts of up to 12: stock stays for reserves to hold
        sale_qty = st.integers(1, 5)
    by_kind: dict[str, st.SearchStrategy[dict[str, Any]]] = {
        "receipt": st.fixed_dictionaries({"qty": qty}, optional={"supply_id": sid}),
        "sale": st.fixed_dictionaries({"qty": sale_qty}, optional={"reservation_id": rid}),
        "return": st.fixed_dictionaries({"qty": qty}, optional={"sellable": st.booleans()}),
        "adjust": st.fixed_dictionaries({"delta": st.integers(-5, 5).filter(bool)}),
        "count": st.fixed_dictionaries({"qty": st.integers(0, 15)}),
        "transfer_out": st.fixed_dictionaries(
            {"qty": qty, "to_location_id": st.sampled_from(LOCATIONS), "eta": eta, "supply_id": sid}
        ),
        "inbound": st.fixed_dictionaries({"qty": qty, "eta": eta, "supply_id": sid}),
        "inbound_cancel": st.fixed_dictionaries({"supply_id": sid}),
        "reserve": st.fixed_dictionaries(
            {"reservation_id": rid, "qty": st.integers(1, 6)}, optional=reserve_optional
        ),
        "release": st.fixed_dictionaries({"reservation_id": rid}),
        "fulfil": st.fixed_dictionaries(
            {"reservation_id": rid}, optional={"qty": st.integers(1, 4)}
        ),
        "set_safety_stock": safety,
        # often more than the unsellable stock there is: a dead letter, exceeds_unsellable
        "restock": st.fixed_dictionaries({"qty": st.integers(1, 6)}),
        "write_off": st.fixed_dictionaries({"qty": st.integers(1, 6)}),
        "set_alert_thresholds": st.fixed_dictionaries(
            {},
            optional={
                "low_stock": st.integers(0, 6),
                "reorder_point": st.integers(0, 10),
                "stockout_days": st.integers(0, 7),
            },
        ),
    }
    return by_kind[kind]


@st.composite
def event_logs(draw: st.DrawFn, max_events: int = 60) -> list[bytes]:
    """A JSONL log as a list of lines: every v1 event type, duplicates, bad lines, time jumps."""
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
        kind = draw(st.sampled_from(V1_KINDS))
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


# Steps between events: mostly seconds, now and then hours (forward and back), so that a log of
# a few dozen events spans several UTC dates.
_STEPS = (
    0,
    1000,
    30_000,
    120_000,
    -5_000,
    0,
    1000,
    30_000,
    60_000,
    10_000,
    HOUR_MS,
    5 * HOUR_MS,
    11 * HOUR_MS,
    30 * HOUR_MS,
    40 * HOUR_MS,
    -2 * HOUR_MS,
    -12 * HOUR_MS,
)
_OFFSETS_MIN = (0, -5 * 60, 9 * 60, 5 * 60 + 30)  # Z, -05:00, +09:00, +05:30


def _instant(draw: st.DrawFn, ms: int) -> int | str:
    """``ms`` as epoch milliseconds, or now and then as RFC 3339 with an offset (whose local
    date may differ from the UTC date the sell-through counts by)."""
    if draw(st.integers(0, 3)):
        return ms
    minutes = draw(st.sampled_from(_OFFSETS_MIN))
    instant = from_ms(ms).astimezone(timezone(timedelta(minutes=minutes)))
    return instant.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@st.composite
def v2_event_logs(
    draw: st.DrawFn,
    channels: Sequence[str] = DEFAULT_CHANNEL_NAMES,
    groups: Sequence[str] = (),
    max_events: int = 60,
) -> list[bytes]:
    """A JSONL log of every client event type with the v2 fields, over a few UTC dates.

    ``channels``: names a reserve or a ``set_safety_stock`` may carry (others are added, that
    the policy does not know); ``groups``: ``location_group`` values a reserve may carry.
    """
    n = draw(st.integers(1, max_events))
    # start up to 3 hours before a UTC midnight: the first sales already straddle one
    start = MIDNIGHT + DAY_MS - draw(st.integers(0, 3 * HOUR_MS))
    ts = start
    lines: list[bytes] = []
    reserved_at: dict[str, tuple[str, str]] = {}  # reservation_id -> its latest reserve's position
    for i in range(n):
        choice = draw(st.integers(0, 24))
        if choice == 0 and lines:  # an exact duplicate of an earlier line
            lines.append(draw(st.sampled_from(lines)))
            continue
        if choice == 1:
            lines.append(draw(st.sampled_from([b"{", b'{"type":"restock"}', b"null"])))
            continue
        ts = min(max(ts + draw(st.sampled_from(_STEPS)), start), start + SPAN_MS)
        # stock first, most of the time: reserves then have something to hold
        kind = "receipt" if i < 4 and draw(st.booleans()) else draw(st.sampled_from(V2_KINDS))
        body = {
            "event_id": f"e{draw(st.integers(0, 4 * max_events))}",
            "type": kind,
            "location_id": draw(st.sampled_from(LOCATIONS)),
            "sku": draw(st.sampled_from(SKUS)),
            "ts": _instant(draw, ts),
            **draw(_fields(kind, channels, groups, start, v2=True)),
        }
        rid: str | None = body.get("reservation_id")
        if kind == "reserve" and rid is not None:
            reserved_at[rid] = (body["location_id"], body["sku"])
        elif rid in reserved_at and draw(st.integers(0, 3)):
            # mostly where that id was reserved: releases, fulfils and sales that find it
            body["location_id"], body["sku"] = reserved_at[rid]
        if kind == "transfer_out" and body["to_location_id"] == body["location_id"]:
            body["to_location_id"] = "DC1"
        lines.append(orjson.dumps(body))
    return lines


# -- policies --------------------------------------------------------------------------------


def _location_refs(groups: Sequence[str]) -> st.SearchStrategy[list[str]]:
    """A ``locations`` list: ids and ``group:ID`` references (repeats allowed)."""
    refs = [*POLICY_LOCATIONS, *(f"group:{gid}" for gid in groups)]
    return st.lists(st.sampled_from(refs), min_size=0, max_size=4)


@st.composite
def policy_specs(draw: st.DrawFn) -> dict[str, Any]:
    """A valid policy file as data (``engine.policy.load`` reads its JSON)."""
    spec: dict[str, Any] = {}
    # groups: each may name the ones before it (nested, never a cycle)
    group_ids = list(GROUP_IDS[: draw(st.integers(0, len(GROUP_IDS)))])
    if group_ids:
        spec["groups"] = [
            {"id": gid, "locations": draw(_location_refs(group_ids[:i]))}
            for i, gid in enumerate(group_ids)
        ]
    if draw(st.integers(0, 7)) == 0:
        # no channels: the default ones (web, app, call_centre, pos); default_channel web
        # unless given
        if draw(st.booleans()):
            spec["default_channel"] = draw(st.sampled_from(["web", "pos"]))
    else:
        names = draw(st.lists(st.sampled_from(CHANNEL_NAMES), min_size=1, max_size=5, unique=True))
        channels = []
        for name in names:
            channel: dict[str, Any] = {"name": name}
            if draw(st.booleans()):
                channel["safety_stock"] = draw(st.booleans())
            if draw(st.booleans()):
                channel["buffer_pct"] = draw(
                    st.one_of(st.sampled_from([0, 10, 20, 50, 99, 100]), st.integers(0, 100))
                )
            if draw(st.booleans()):
                channel["protect_units"] = draw(st.integers(0, 3))
            if draw(st.integers(0, 2)) == 0:
                channel["locations"] = draw(_location_refs(group_ids))
            channels.append(channel)
        spec["channels"] = channels
        if draw(st.booleans()):
            spec["default_channel"] = draw(st.sampled_from(names))
    safety: dict[str, Any] = {}
    if draw(st.booleans()):
        safety["default"] = draw(st.integers(0, 3))
    if draw(st.booleans()):
        safety["skus"] = draw(st.dictionaries(st.sampled_from(SKUS), st.integers(0, 4)))
    if safety:
        spec["safety_stock"] = safety
    alerts = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "low_stock": st.integers(0, 5),
                "reorder_point": st.integers(0, 8),
                "stockout_days": st.integers(0, 6),
            },
        )
    )
    if alerts:
        spec["alerts"] = alerts
    return spec


def channel_names(spec: dict[str, Any]) -> list[str]:
    """The channel names of a policy spec (the default policy's when it gives none)."""
    if "channels" not in spec:
        return ["web", "app", "call_centre", "pos"]
    return [c["name"] for c in spec["channels"]]


@st.composite
def policy_cases(draw: st.DrawFn, max_events: int = 60) -> tuple[dict[str, Any], list[bytes]]:
    """A policy spec and an event log drawn for it."""
    spec = draw(policy_specs())
    groups = [g["id"] for g in spec.get("groups", [])]
    lines = draw(v2_event_logs(channel_names(spec), groups, max_events))
    return spec, lines
