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

import functools
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


# Built once per log's parameters, not once per event: building these twenty strategies took a
# fifth of a property test's time (and drawing from them is what it is about).
@functools.lru_cache(maxsize=64)
def _fields_by_kind(
    channels: tuple[str, ...] = DEFAULT_CHANNEL_NAMES,
    groups: tuple[str, ...] = (),
    start: int = T0,
    v2: bool = False,
) -> dict[str, st.SearchStrategy[dict[str, Any]]]:
    """Per event kind, the fields of its events beyond the common ones."""
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
    return by_kind


@st.composite
def event_logs(draw: st.DrawFn, max_events: int = 60) -> list[bytes]:
    """A JSONL log as a list of lines: every v1 event type, duplicates, bad lines, time jumps."""
    n = draw(st.integers(1, max_events))
    ts = T0
    lines: list[bytes] = []
    event_id = st.integers(0, 4 * max_events)
    fields = _fields_by_kind()
    for _ in range(n):
        choice = draw(_ONE_IN_20)
        if choice == 0 and lines:  # an exact duplicate of an earlier line
            lines.append(draw(st.sampled_from(lines)))
            continue
        if choice == 1:
            lines.append(draw(_V1_BAD_LINE))
            continue
        ts += draw(_V1_STEP)
        kind = draw(_V1_KIND)
        body = {
            # a small event-id space makes re-used ids (with other content) happen too
            "event_id": f"e{draw(event_id)}",
            "type": kind,
            "location_id": draw(_LOCATION),
            "sku": draw(_SKU),
            "ts": max(ts, 0),
            **draw(fields[kind]),
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

# What the logs draw per event, made once: Hypothesis builds (or finds in its cache) a
# strategy at every ``st.*`` call, which cost more than the draws themselves.
_COIN = st.booleans()
_ONE_IN_4 = st.integers(0, 3)
_ONE_IN_20 = st.integers(0, 19)
_ONE_IN_25 = st.integers(0, 24)
_LOCATION = st.sampled_from(LOCATIONS)
_SKU = st.sampled_from(SKUS)
_OFFSET = st.sampled_from(_OFFSETS_MIN)
_V1_KIND = st.sampled_from(V1_KINDS)
_V1_STEP = st.sampled_from([0, 1000, 30_000, 120_000, -5_000])
_V1_BAD_LINE = st.sampled_from([b"{", b"[]", b'{"type":"sale"}', b"null"])
_V2_KIND = st.sampled_from(V2_KINDS)
_STEP = st.sampled_from(_STEPS)
_V2_BAD_LINE = st.sampled_from([b"{", b'{"type":"restock"}', b"null"])


def _instant(draw: st.DrawFn, ms: int) -> int | str:
    """``ms`` as epoch milliseconds, or now and then as RFC 3339 with an offset (whose local
    date may differ from the UTC date the sell-through counts by)."""
    if draw(_ONE_IN_4):
        return ms
    minutes = draw(_OFFSET)
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
    event_id = st.integers(0, 4 * max_events)
    fields = _fields_by_kind(tuple(channels), tuple(groups), start, v2=True)
    for i in range(n):
        choice = draw(_ONE_IN_25)
        if choice == 0 and lines:  # an exact duplicate of an earlier line
            lines.append(draw(st.sampled_from(lines)))
            continue
        if choice == 1:
            lines.append(draw(_V2_BAD_LINE))
            continue
        ts = min(max(ts + draw(_STEP), start), start + SPAN_MS)
        # stock first, most of the time: reserves then have something to hold
        kind = "receipt" if i < 4 and draw(_COIN) else draw(_V2_KIND)
        body = {
            "event_id": f"e{draw(event_id)}",
            "type": kind,
            "location_id": draw(_LOCATION),
            "sku": draw(_SKU),
            "ts": _instant(draw, ts),
            **draw(fields[kind]),
        }
        rid: str | None = body.get("reservation_id")
        if kind == "reserve" and rid is not None:
            reserved_at[rid] = (body["location_id"], body["sku"])
        elif rid in reserved_at and draw(_ONE_IN_4):
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


# -- carts and kits (docs/events.md §12) -------------------------------------------------------

CART_SKUS = ("A", "B", "C", "D")
KIT_SKUS = ("K1", "K2")
# more ids than the single-sku logs': a week's window remembers each, and a reserve of a
# remembered id only repeats its first outcome
CART_RESERVATIONS = tuple(f"R{i}" for i in range(1, 9))
# Kinds of a carts log, weighted by repetition: stock, carts and kits, and the single-sku
# events they interleave with.
CART_KINDS = (
    *("receipt",) * 3,
    *("sale",) * 2,
    "cart_sale",
    *("kit_sale",) * 2,
    *("reserve",) * 2,
    *("cart",) * 4,
    *("kit_reserve",) * 2,
    *("release",) * 2,
    *("fulfil",) * 3,
    "kit_stock",
    "bad_cart",
    "count",
    "adjust",
    "return",
    "set_safety_stock",
)
# Stock events, which a kit never takes (kit_has_no_stock)
KIT_STOCK_KINDS = (
    "receipt",
    "return",
    "adjust",
    "count",
    "transfer_out",
    "inbound",
    "inbound_cancel",
    "set_safety_stock",
    "restock",
    "write_off",
    "set_alert_thresholds",
)
# Mostly seconds: holds of a few seconds to minutes expire between the events that follow.
_CART_STEPS = (0, 0, 1000, 1000, 2000, 3000, 5000, 5000, 10_000, 20_000, 45_000, -3000, HOUR_MS)
_CART_STEP = st.sampled_from(_CART_STEPS)
_CART_KIND = st.sampled_from(CART_KINDS)
_CART_RESERVATION = st.sampled_from(CART_RESERVATIONS)
_ONE_IN_5 = st.integers(0, 4)
_ONE_IN_6 = st.integers(0, 5)


@st.composite
def kit_specs(draw: st.DrawFn) -> list[dict[str, Any]]:
    """The ``kits`` of a policy: one or two kits of 1-3 distinct components each."""
    kits = []
    for sku in KIT_SKUS[: draw(st.integers(1, len(KIT_SKUS)))]:
        parts = draw(st.lists(st.sampled_from(CART_SKUS), min_size=1, max_size=3, unique=True))
        components = [{"sku": part, "qty": draw(st.integers(1, 3))} for part in parts]
        kits.append({"sku": sku, "components": components})
    return kits


@functools.lru_cache(maxsize=256)  # made once per set of skus, not once per event
def _lines(skus: tuple[str, ...], low: int, high: int) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Lines of ``low`` to ``high`` distinct skus of ``skus``, 1-4 units each."""
    return st.lists(st.sampled_from(list(skus)), min_size=low, max_size=high, unique=True).flatmap(
        lambda picked: st.tuples(*(st.integers(1, 4) for _ in picked)).map(
            lambda qtys: [{"sku": s, "qty": q} for s, q in zip(picked, qtys, strict=True)]
        )
    )


@st.composite
def cart_event_logs(
    draw: st.DrawFn,
    channels: Sequence[str] = DEFAULT_CHANNEL_NAMES,
    groups: Sequence[str] = (),
    kits: Sequence[str] = KIT_SKUS[:1],
    max_events: int = 60,
) -> list[bytes]:
    """A JSONL log of carts and kits among single-sku events: cart reserves of 2-4 lines (a
    kit now and then on a line), kit reserves with and without ``allow_partial``, kit sales,
    stock events naming a kit (dead letters), releases with and without a sku, fulfils with and
    without lines (some over what a line holds), sales naming a cart's line, lines a parse
    refuses (``bad_lines``), single reserves and sales, duplicates; holds of seconds to minutes
    on steps of seconds, so that expiries interleave with everything.

    ``kits``: the policy's kit skus (``kit_specs``).
    """
    n = draw(st.integers(1, max_events))
    start = T0
    ts = start
    skus = (*CART_SKUS, *kits)
    lines: list[bytes] = []
    # reservation_id -> (location, skus it names) of its latest reserve: later events aim there
    reserved_at: dict[str, tuple[str, list[str]]] = {}
    others = [name for name in [*DEFAULT_CHANNEL_NAMES, "nope"] if name not in channels]
    named = st.sampled_from(list(channels))
    channel = st.one_of(named, named, named, st.sampled_from(others)) if others else named
    ttl = st.one_of(st.integers(1, 90), st.integers(1, 90), st.sampled_from([300, 3600]))
    optional: dict[str, st.SearchStrategy[Any]] = {
        "ttl_s": ttl,
        "channel": channel,
        "location_group": st.sampled_from(["gX", "gX", *groups[:1]]),
    }
    extras = st.fixed_dictionaries({}, optional=optional)
    # stock first, most of the time: carts then have lines to hold
    for location in LOCATIONS:
        for sku in CART_SKUS:
            if draw(st.integers(0, 3)):
                stock = {"event_id": f"s-{location}-{sku}", "type": "receipt", "ts": ts}
                stock |= {"location_id": location, "sku": sku, "qty": draw(st.integers(3, 25))}
                lines.append(orjson.dumps(stock))
    event_id = st.integers(0, 4 * max_events)
    fields = _fields_by_kind(tuple(channels), tuple(groups), start, v2=True)
    for _ in range(n):
        choice = draw(_ONE_IN_25)
        if choice == 0 and lines:  # an exact duplicate of an earlier line
            lines.append(draw(st.sampled_from(lines)))
            continue
        ts = max(ts + draw(_CART_STEP), start)
        kind = draw(_CART_KIND)
        if not kits and kind in ("kit_sale", "kit_reserve", "kit_stock"):
            kind = "cart"
        rid = draw(_CART_RESERVATION)
        uses = kind in ("release", "fulfil", "cart_sale", "kit_sale")
        if uses and reserved_at and draw(_ONE_IN_6):  # mostly an id reserved before
            rid = draw(st.sampled_from(sorted(reserved_at)))
        location = draw(_LOCATION)
        body: dict[str, Any] = {
            "event_id": f"e{draw(event_id)}",
            "location_id": location,
            "ts": _instant(draw, ts),
        }
        aimed = reserved_at.get(rid) if draw(_ONE_IN_5) else None
        if aimed is not None and kind in ("release", "fulfil", "cart_sale", "kit_sale"):
            body["location_id"] = aimed[0]
        if kind == "cart":
            body |= {"type": "reserve", "reservation_id": rid}
            body["lines"] = draw(_lines(skus if draw(st.booleans()) else CART_SKUS, 2, 4))
            body |= draw(extras)
            reserved_at[rid] = (location, [line["sku"] for line in body["lines"]])
        elif kind == "kit_reserve":
            body |= {"type": "reserve", "reservation_id": rid, "sku": draw(st.sampled_from(kits))}
            body["qty"] = draw(st.integers(1, 6))
            body |= draw(extras)
            if draw(st.booleans()):
                body["allow_partial"] = draw(st.booleans())
            reserved_at[rid] = (location, [body["sku"]])
        elif kind == "reserve":
            body |= {
                "type": "reserve",
                "reservation_id": rid,
                "sku": draw(st.sampled_from(CART_SKUS)),
            }
            body["qty"] = draw(st.integers(1, 5))
            body |= draw(extras)
            if draw(st.booleans()):
                body["allow_partial"] = draw(st.booleans())
            reserved_at[rid] = (location, [body["sku"]])
        elif kind == "bad_cart":
            body |= _bad_cart(draw, rid, skus)
        elif kind == "release":
            body |= {"type": "release", "reservation_id": rid}
            if draw(st.booleans()):
                body["sku"] = draw(st.sampled_from(aimed[1] if aimed else skus))
        elif kind == "fulfil":
            body |= {"type": "fulfil", "reservation_id": rid}
            how = draw(st.integers(0, 5))
            if how <= 2 and aimed is not None:  # lines of the skus its reserve named
                named_skus = tuple(sku for sku in aimed[1] if sku in CART_SKUS) or CART_SKUS
                body["lines"] = draw(_lines(named_skus, 1, len(named_skus)))
                for line in body["lines"]:
                    line["qty"] = draw(st.integers(1, 3))
            elif how == 3:
                body["qty"] = draw(st.integers(1, 4))
            if draw(st.integers(0, 4)) == 0:
                body["sku"] = draw(st.sampled_from(aimed[1] if aimed else skus))
        elif kind == "cart_sale":  # a sale of one sku naming a cart (maybe) holding it
            sku = draw(st.sampled_from(aimed[1] if aimed else CART_SKUS))
            body |= {"type": "sale", "sku": sku, "qty": draw(st.integers(1, 4))}
            body["reservation_id"] = rid
        elif kind == "kit_sale":
            body |= {
                "type": "sale",
                "sku": draw(st.sampled_from(kits)),
                "qty": draw(st.integers(1, 2)),
            }
            if draw(st.booleans()):
                body["reservation_id"] = rid
        else:  # a single-sku event, or a stock event naming a kit
            real = draw(st.sampled_from(KIT_STOCK_KINDS)) if kind == "kit_stock" else kind
            body |= {
                "type": real,
                "sku": draw(st.sampled_from(kits if kind == "kit_stock" else CART_SKUS)),
            }
            body |= draw(fields[real])
            if real == "transfer_out" and body["to_location_id"] == body["location_id"]:
                body["to_location_id"] = "DC1"
        lines.append(orjson.dumps(body))
    return lines


def _bad_cart(draw: st.DrawFn, rid: str, skus: Sequence[str]) -> dict[str, Any]:
    """A reserve or fulfil whose lines a parse refuses (``bad_lines``)."""
    two = [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}]
    return draw(
        st.sampled_from(
            [
                {"type": "reserve", "reservation_id": rid, "lines": two[:1]},  # one line
                {"type": "reserve", "reservation_id": rid, "lines": [two[0], two[0]]},
                {"type": "reserve", "reservation_id": rid, "lines": two, "sku": "A"},
                {"type": "reserve", "reservation_id": rid, "lines": two, "qty": 1},
                {"type": "reserve", "reservation_id": rid, "lines": two, "allow_partial": True},
                {"type": "reserve", "reservation_id": rid, "lines": []},
                {"type": "fulfil", "reservation_id": rid, "lines": two, "qty": 1},
                {"type": "fulfil", "reservation_id": rid, "lines": [two[1], two[1]]},
            ]
        )
    )


@st.composite
def cart_cases(draw: st.DrawFn, max_events: int = 60) -> tuple[dict[str, Any], list[bytes]]:
    """A policy with a kit or two (and, half the time, drawn channels, groups and safety
    stock; else the default channels) and a carts log drawn for it."""
    spec = draw(policy_specs()) if draw(st.booleans()) else {}
    spec["kits"] = draw(kit_specs())
    groups = [g["id"] for g in spec.get("groups", [])]
    kits = [kit["sku"] for kit in spec["kits"]]
    lines = draw(cart_event_logs(channel_names(spec), groups, kits, max_events))
    return spec, lines
