"""A peer of ``omnistock run``: the same fold as a plain confluent-kafka loop over Python dicts.

``benchmarks/fold_peers.py`` runs it against the dataflow on one log, so the dataflow's cost is
weighed against the least machinery that does the same work. The loop, and nothing else::

    consume(batch) -> parse (engine.events.parse) -> fold into dicts -> produce -> poll

What it does as the dataflow does (the same rules, checked against ``engine.replay.Replay`` by
``tests/unit/test_dict_fold.py``):

- **Validation**: the engine's own parser (``engine.events.parse``) and the live modes' clock
  rule (``engine.events.in_future``, ``ts`` at most ``--max-future-s`` after the wall clock,
  read once a batch as ``dataflows.flow.parse_and_route`` does): an event is accepted or refused
  exactly as there, with the same ``Rejected`` code and message.
- **Dedup** per location by ``event_id``: ``event_id -> ts`` of the events applied there; one
  is a duplicate while an earlier one with its id was applied at or after ``watermark -
  window`` (the location's largest applied ``ts``; window 7 days, ``EngineConfig``'s default),
  and entries older than that are dropped, in event time, every minute of it (as
  ``engine.book.Book.forget_old``). A refused event's record is undone.
- **The position rules** of every event type of the default workload mix: ``sale``,
  ``receipt`` (closing an expected supply it names), ``return`` (sellable or not), ``adjust``,
  ``count``, ``transfer_out`` (its expected supply upserted at the destination, deduped there
  by ``(from_location_id, event_id)``, no ``as_of`` moved), ``inbound``, ``inbound_cancel``,
  ``set_safety_stock`` (with or without a channel), and also ``restock``, ``write_off`` and
  ``set_alert_thresholds`` (its thresholds are not kept: nothing here alerts).
- **Reservations** of one sku: ``reserve`` decided on its channel's ATP under the default
  policy (``engine.policy.DEFAULT_POLICY``: ``web``, ``app``, ``call_centre`` hold the safety
  stock back, ``pos`` does not, an unknown channel is taken as ``web``), ``confirmed``,
  ``partial`` (``allow_partial``) or ``rejected``; ``release`` and ``fulfil`` (checked: a
  known, active, unexpired reservation of that sku, a fulfil of no more than it holds) end or
  shrink a hold; a ``sale`` naming a hold of its position consumes it. A ``reserve`` of an id
  the location remembers changes nothing (its first outcome is published again); an ended
  reservation is remembered for the window after it ended. Expiry runs in event time, as the
  rules run it for an event: a hold expires when an event of its position (its location and
  sku) has ``ts >= expires_at``, before that event's effect. (Not when an event of another sku
  at the location comes: the engine does not do that either, but for a cart.)
- **Publishing**: per consumed batch, one JSON position per changed ``location_id:sku`` as it
  stands at the end of the batch (compacted semantics, last value per key per batch, as
  ``engine.batch.fold_batch``), keyed ``location_id:sku`` to ``<out-prefix>atp``; every
  reservation outcome keyed by ``reservation_id`` to ``<out-prefix>reservations``; each refused
  event as the engine's dead-letter record to ``<out-prefix>deadletter``. The producer has the
  dataflow's settings (``dataflows.kafka.PRODUCER_DEFAULTS``, delivery reports for failures
  only) and is not flushed per batch (as ``omnistock run`` without recovery): ``poll(0)``.

How it differs from the dataflow:

- **No Bytewax**: one thread, one librdkafka consumer assigned every partition (the dataflow's
  source has one consumer per partition), one producer; no exchange between workers, no
  epochs, no per-item or per-key runtime cost. It runs as one process only: a
  ``transfer_out``'s supply goes to a location that may live on another partition.
- **No claims step**: a reservation id is not checked across locations (``engine.claims``),
  so no ``revoke`` is ever written; outcomes are published as the location decides them.
  ``revoke`` events, carts (a ``reserve`` or ``fulfil`` with ``lines``) and kits are refused as
  ``unsupported_by_peer`` (none is in the benchmark's workload, which has no carts).
- **No promise table, no alerts** (no ``low_stock``/``replenish``/``stockout_soon``, so no alert
  flags and no ``omnistock.alerts`` messages), **no sell-through**: a position keeps no sales
  by date, and its published record has no ``sold_7d`` or ``stockout_eta``. It has the other
  fields of the dataflow's (``location_id``, ``sku``, ``on_hand``, ``reserved``,
  ``safety_stock``, ``unsellable``, ``available``, ``atp``, ``oversold``, ``inbound``, ``as_of``,
  ``channels``), encoded by ``orjson`` from a dict (the dataflow encodes a msgspec struct).
  An outcome carries ``reservation_id``, ``location_id``, ``sku``, ``status``, ``qty``,
  ``expires_at``, ``ts``, ``event_id``, ``reason``, ``repeat`` (the dataflow's has more
  fields, most of them null for one sku).
- **No policy file, no sku shards**: the default policy only (no groups, no kits, safety stock 0
  until an event sets one).
- **No wall-clock expiry** (the dataflow's ``notify_at`` timers, once its input has caught up):
  only events expire holds. The benchmark's logs are dated ahead of the wall clock, so none
  fires in the dataflow either.
- **No recovery**: no snapshots, no offsets kept; a restart reads the topic from its start, as
  ``omnistock run`` without ``--recovery-dir`` does. No metrics endpoint, no progress tracking.
- **Plain CPython**: the dataflow's per-message work (``engine.batch``, ``engine.rules``) is
  compiled by mypyc; this fold is interpreted (only the parser it calls is the engine's,
  compiled).

    python -m benchmarks.peers.dict_fold --bootstrap HOST:PORT --prefix P --out-prefix Q
        [--batch 2000] [--max-future-s 300]

It runs until SIGTERM or SIGINT, then flushes and prints its counters as one JSON line.
"""

from __future__ import annotations

import argparse
import gc
import signal
import sys
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson

from engine.book import EngineConfig
from engine.events import (
    Adjust,
    CycleCount,
    Fulfil,
    Inbound,
    InboundCancel,
    Receipt,
    Release,
    Reserve,
    Restock,
    Return,
    Revoke,
    Sale,
    SetAlertThresholds,
    SetSafetyStock,
    TransferOut,
    WriteOff,
    clock_limit,
    in_future,
    parse,
)
from engine.outputs import INSUFFICIENT_STOCK, Rejected, dead_letter
from engine.policy import DEFAULT_POLICY
from engine.timefmt import BEFORE_ALL, NEVER, later

WINDOW_MS: Final = EngineConfig().dedup_window_ms  # 7 days, the engine's default
GC_EVERY: Final = timedelta(minutes=1)  # event time between two sweeps of the dedup memory
BATCH: Final = 2000  # messages per consume(): the dataflow source's batch_size
ACTIVE: Final = frozenset(("confirmed", "partial"))

# The default policy's channels: name -> whether it holds the safety stock back. No buffer, no
# protected units, every channel sells everywhere (checked here, so a changed default fails
# loudly rather than folding differently).
CHANNELS: Final[dict[str, bool]] = {c.name: c.safety_stock for c in DEFAULT_POLICY.channels}
DEFAULT_CHANNEL: Final = DEFAULT_POLICY.default_channel or ""
if DEFAULT_CHANNEL not in CHANNELS:
    raise RuntimeError("the default policy has no default channel: the peer assumes one")
if any(c.buffer_pct or c.protect_units or c.locations is not None for c in DEFAULT_POLICY.channels):
    raise RuntimeError("the default policy has buffers or located channels: the peer has neither")
if DEFAULT_POLICY.kits or DEFAULT_POLICY.safety_default or DEFAULT_POLICY.safety_skus:
    raise RuntimeError("the default policy has kits or safety stock: the peer has neither")

Publish = tuple[str, str | None, bytes]  # (logical topic, message key, JSON value)
Outcome = tuple[str, str, str, str, int, datetime, datetime, str | None, str | None, bool]


class Hold:
    """A reservation of one sku at a location, from its first outcome until it is forgotten."""

    __slots__ = (
        "ended_at",
        "expires_at",
        "first_qty",
        "first_status",
        "qty",
        "rid",
        "sku",
        "status",
    )

    def __init__(self, rid: str, sku: str, status: str, qty: int, expires_at: datetime) -> None:
        self.rid = rid
        self.sku = sku
        self.qty = qty
        self.expires_at = expires_at
        self.first_status = status
        self.first_qty = qty
        self.ended_at: datetime | None = None
        self.status = status


class Pos:
    """One sku at one location."""

    __slots__ = (
        "as_of",
        "channel_safety",
        "holds",
        "inbound",
        "location_id",
        "next_expiry",
        "on_hand",
        "reserved",
        "safety_stock",
        "sku",
        "unsellable",
    )

    def __init__(self, location_id: str, sku: str) -> None:
        self.location_id = location_id
        self.sku = sku
        self.on_hand = 0
        self.reserved = 0
        self.safety_stock = 0
        self.unsellable = 0
        self.as_of: datetime | None = None
        self.holds: dict[str, Hold] | None = None  # active holds here, by reservation id
        self.next_expiry = NEVER  # the soonest expires_at among holds
        self.inbound: dict[str, tuple[int, datetime]] | None = None  # supply_id -> (qty, eta)
        self.channel_safety: dict[str, int] | None = None  # a channel's own safety stock


class Location:
    """One location's positions and what idempotency needs."""

    __slots__ = ("ended", "gc_due", "location_id", "positions", "reservations", "seen", "watermark")

    def __init__(self, location_id: str) -> None:
        self.location_id = location_id
        self.positions: dict[str, Pos] = {}
        # event_id, or (from_location_id, event_id) for a transfer's supply arriving here
        self.seen: dict[str | tuple[str, str], datetime] = {}
        self.reservations: dict[str, Hold] = {}  # every reservation made here, ended too
        self.ended: dict[str, datetime] = {}  # reservation id -> when it ended, in that order
        self.watermark = BEFORE_ALL
        self.gc_due = BEFORE_ALL

    def position(self, sku: str) -> Pos:
        found = self.positions.get(sku)
        if found is None:
            found = self.positions[sku] = Pos(self.location_id, sku)
        return found


class DictFold:
    """Every location's state, the window, and counters; ``fold_batch`` folds a batch."""

    def __init__(
        self, window_ms: int = WINDOW_MS, max_future_s: int = EngineConfig().max_future_s
    ) -> None:
        self.locations: dict[str, Location] = {}
        self.window = timedelta(milliseconds=window_ms)
        self.max_future_s = max_future_s  # the clock rule's, for its message
        self.applied = 0
        self.duplicates = 0
        self.dead = 0

    def location(self, location_id: str) -> Location:
        found = self.locations.get(location_id)
        if found is None:
            found = self.locations[location_id] = Location(location_id)
        return found

    def counters(self) -> dict[str, int]:
        positions = sum(len(loc.positions) for loc in self.locations.values())
        return {
            "applied": self.applied,
            "duplicates": self.duplicates,
            "dead_letters": self.dead,
            "locations": len(self.locations),
            "positions": positions,
        }


def fold_batch(
    fold: DictFold,
    values: list[bytes],
    origins: list[str],
    limit: datetime | None,
) -> list[Publish]:
    """Fold a batch of raw events in order; what to publish for it: every outcome and dead
    letter, then each changed position once, as it stands at the end of the batch."""
    changed: dict[Pos, None] = {}
    outcomes: list[Outcome] = []
    dead: list[Publish] = []
    for i, raw in enumerate(values):
        rejected = fold_raw(fold, raw, limit, changed, outcomes)
        if rejected is not None:
            record = dead_letter(rejected, raw, origins[i])
            dead.append(("dead", None, orjson.dumps(record)))
    out = [outcome_message(outcome) for outcome in outcomes]
    out.extend(dead)
    out.extend([position_message(pos) for pos in changed])
    return out


def fold_raw(
    fold: DictFold,
    raw: bytes,
    limit: datetime | None,
    changed: dict[Pos, None],
    outcomes: list[Outcome],
) -> Rejected | None:
    """Parse one raw event and fold it (``fold_event``); its rejection, if it is refused."""
    event: Any = parse(raw)
    if type(event) is Rejected:
        fold.dead += 1
        return event
    if limit is not None and event.ts > limit:
        fold.dead += 1
        return in_future(event.ts, limit, fold.max_future_s)
    rejected = fold_event(fold, event, changed, outcomes)
    if type(event) is TransferOut:  # its supply at the destination, whatever the source did
        supply_arrives(fold, event, changed)
    return rejected


def fold_event(
    fold: DictFold, event: Any, changed: dict[Pos, None], outcomes: list[Outcome]
) -> Rejected | None:
    """Apply one parsed event to its location: dedup, checks, due expiries of its position,
    the effect, ``as_of``. Changed positions go into ``changed``, outcomes into ``outcomes``;
    returns the rejection of an impossible event (it changes nothing)."""
    cls = type(event)
    location_id = event.location_id
    loc = fold.locations.get(location_id) or fold.location(location_id)
    event_id = event.event_id
    ts = event.ts
    seen = loc.seen
    known = len(seen)
    first_ts = seen.setdefault(event_id, ts)
    if len(seen) == known:  # applied here before
        if first_ts >= loc.watermark - fold.window:
            fold.duplicates += 1
            return None
        seen[event_id] = ts  # out of the window: applied again
    sku = event.sku
    if cls is Release or cls is Fulfil:
        rejected = _check_held(fold, loc, event)
        if rejected is not None:
            _undo(seen, event_id, known, first_ts)
            fold.dead += 1
            return rejected
        sku = loc.reservations[event.reservation_id].sku
    elif cls is Reserve:
        found = _remembered(fold, loc, event.reservation_id)
        if found is not None:  # a promise made once: its first outcome again, nothing changes
            _advance(fold, loc, ts)
            outcomes.append(
                (
                    found.rid,
                    location_id,
                    found.sku,
                    found.first_status,
                    found.first_qty,
                    found.expires_at,
                    ts,
                    event_id,
                    INSUFFICIENT_STOCK if found.first_status == "rejected" else None,
                    True,
                )
            )
            fold.applied += 1
            return None
        if event.lines is not None:
            _undo(seen, event_id, known, first_ts)
            fold.dead += 1
            return Rejected("unsupported_by_peer", "a cart's reserve (lines) - at `$.lines`")
    elif cls is Restock or cls is WriteOff:
        found_pos = loc.positions.get(sku)
        unsellable = 0 if found_pos is None else found_pos.unsellable
        if event.qty > unsellable:
            _undo(seen, event_id, known, first_ts)
            fold.dead += 1
            return Rejected(
                "exceeds_unsellable",
                f"{event.qty} units but {unsellable} unsellable at {location_id}/{sku}",
            )
    elif cls is SetSafetyStock and event.channel is not None and event.channel not in CHANNELS:
        _undo(seen, event_id, known, first_ts)
        fold.dead += 1
        return Rejected(
            "unknown_channel", f"channel {event.channel!r} is not a channel of the policy"
        )
    elif cls is Revoke:  # only the claims step writes one
        _undo(seen, event_id, known, first_ts)
        fold.dead += 1
        return Rejected("unsupported_by_peer", "a revoke: the peer has no claims step")
    pos = loc.positions.get(sku) or loc.position(sku)
    if pos.holds is not None and pos.next_expiry <= ts:
        _expire_due(loc, pos, ts, outcomes)
    if cls is Sale:
        qty = event.qty
        pos.on_hand -= qty
        rid = event.reservation_id
        if rid is not None and pos.holds:
            held = pos.holds.get(rid)
            if held is not None:
                _consume(loc, pos, held, min(qty, held.qty), event, outcomes)
    elif cls is Receipt:
        pos.on_hand += event.qty
        if event.supply_id is not None and pos.inbound:
            _supply_received(pos, event.supply_id, event.qty)
    elif cls is Reserve:
        _reserve(loc, pos, event, outcomes)
    elif cls is Fulfil:
        held = loc.reservations[event.reservation_id]
        qty = held.qty if event.qty is None else event.qty
        pos.on_hand -= qty
        _consume(loc, pos, held, qty, event, outcomes)
    elif cls is Release:
        held = loc.reservations[event.reservation_id]
        _end_hold(loc, pos, held, "released", ts, event_id, outcomes)
    elif cls is Return:
        if event.sellable:
            pos.on_hand += event.qty
        else:
            pos.unsellable += event.qty
    elif cls is Adjust:
        pos.on_hand += event.delta
    elif cls is CycleCount:
        pos.on_hand = event.qty
    elif cls is TransferOut:
        pos.on_hand -= event.qty
    elif cls is Inbound:
        if pos.inbound is None:
            pos.inbound = {}
        pos.inbound[event.supply_id] = (event.qty, event.eta)
    elif cls is InboundCancel:
        if pos.inbound and pos.inbound.pop(event.supply_id, None) is not None and not pos.inbound:
            pos.inbound = None
    elif cls is SetSafetyStock:
        if event.channel is None:
            pos.safety_stock = event.qty
        else:
            if pos.channel_safety is None:
                pos.channel_safety = {}
            pos.channel_safety[event.channel] = event.qty
    elif cls is Restock:
        pos.unsellable -= event.qty
        pos.on_hand += event.qty
    elif cls is WriteOff:
        pos.unsellable -= event.qty
    elif cls is not SetAlertThresholds:  # pragma: no cover - every type is listed above
        raise TypeError(f"no rule for {cls.__name__}")
    pos.as_of = ts
    _advance(fold, loc, ts)
    changed[pos] = None
    fold.applied += 1
    return None


def supply_arrives(fold: DictFold, transfer: Any, changed: dict[Pos, None]) -> None:
    """A transfer's expected supply at its destination: upserted once per ``(from, event_id)``
    in the window; no expiry, no ``as_of``, the destination's clock does not move."""
    loc = fold.location(transfer.to_location_id)
    key = (transfer.location_id, transfer.event_id)
    first_ts = loc.seen.get(key)
    if first_ts is not None and first_ts >= loc.watermark - fold.window:
        return
    loc.seen[key] = transfer.ts
    pos = loc.position(transfer.sku)
    if pos.inbound is None:
        pos.inbound = {}
    pos.inbound[transfer.supply_id] = (transfer.qty, transfer.eta)
    changed[pos] = None


def _undo(seen: dict[Any, datetime], event_id: str, known: int, first_ts: datetime) -> None:
    """Forget the dedup record of a refused event (or restore the one it replaced)."""
    if len(seen) > known:
        del seen[event_id]
    else:
        seen[event_id] = first_ts


def _remembered(fold: DictFold, loc: Location, rid: str) -> Hold | None:
    found = loc.reservations.get(rid)
    if (
        found is not None
        and found.ended_at is not None
        and found.ended_at < loc.watermark - fold.window
    ):
        return None
    return found


def _check_held(fold: DictFold, loc: Location, event: Any) -> Rejected | None:
    """A ``release`` or ``fulfil`` names an active, unexpired reservation of this location (of
    its sku, when it names one); a fulfil takes no more than it holds."""
    rid = event.reservation_id
    found = _remembered(fold, loc, rid)
    if found is None:
        return Rejected("unknown_reservation", f"no reservation {rid!r} at {loc.location_id}")
    if event.sku is not None and found.sku != event.sku:
        return Rejected(
            "reservation_elsewhere", f"reservation {rid!r} is held for sku {found.sku!r}"
        )
    if found.status not in ACTIVE:
        return Rejected("reservation_ended", f"reservation {rid!r} is already {found.status}")
    if found.expires_at <= event.ts:
        return Rejected("reservation_ended", f"reservation {rid!r} has expired")
    if type(event) is Fulfil:
        if event.lines is not None:
            return Rejected("bad_lines", f"reservation {rid!r} is not a cart")
        if event.qty is not None and event.qty > found.qty:
            return Rejected(
                "fulfil_exceeds_held",
                f"fulfil of {event.qty} but reservation {rid!r} holds {found.qty}",
            )
    return None


def _channel_atp(pos: Pos, channel: str) -> int:
    """A channel's ATP here under the default policy (``Position.atp_for`` without buffers)."""
    holds = CHANNELS.get(channel)
    if holds is None:
        channel = DEFAULT_CHANNEL
        holds = CHANNELS[channel]
    x = pos.on_hand - pos.reserved
    if holds:
        own = pos.channel_safety
        x -= pos.safety_stock if own is None else own.get(channel, pos.safety_stock)
    return x if x > 0 else 0


_TTLS: dict[int, timedelta] = {}


def _reserve(loc: Location, pos: Pos, event: Any, outcomes: list[Outcome]) -> None:
    rid = event.reservation_id
    ttl = _TTLS.get(event.ttl_s)
    if ttl is None:
        ttl = _TTLS[event.ttl_s] = timedelta(seconds=event.ttl_s)
    ts = event.ts
    expires_at = later(ts, ttl)
    room = _channel_atp(pos, event.channel)
    if event.qty <= room:
        status, qty = "confirmed", event.qty
    elif event.allow_partial and room >= 1:
        status, qty = "partial", room
    else:
        refused = Hold(rid, pos.sku, "rejected", 0, expires_at)
        refused.ended_at = ts
        loc.reservations[rid] = refused
        loc.ended[rid] = ts
        outcomes.append(
            (
                rid,
                loc.location_id,
                pos.sku,
                "rejected",
                0,
                expires_at,
                ts,
                event.event_id,
                INSUFFICIENT_STOCK,
                False,
            )
        )
        return
    made = loc.reservations[rid] = Hold(rid, pos.sku, status, qty, expires_at)
    if pos.holds is None:
        pos.holds = {}
    pos.holds[rid] = made
    pos.reserved += qty
    pos.next_expiry = min(pos.next_expiry, expires_at)
    outcomes.append(
        (rid, loc.location_id, pos.sku, status, qty, expires_at, ts, event.event_id, None, False)
    )


def _consume(
    loc: Location, pos: Pos, held: Hold, qty: int, event: Any, outcomes: list[Outcome]
) -> None:
    """A sale or fulfil takes ``qty`` of what a hold holds."""
    if qty >= held.qty:
        _end_hold(loc, pos, held, "fulfilled", event.ts, event.event_id, outcomes)
        return
    held.qty -= qty
    pos.reserved -= qty
    outcomes.append(
        (
            held.rid,
            loc.location_id,
            held.sku,
            held.status,
            held.qty,
            held.expires_at,
            event.ts,
            event.event_id,
            None,
            False,
        )
    )


def _end_hold(
    loc: Location,
    pos: Pos,
    held: Hold,
    status: str,
    ts: datetime,
    event_id: str | None,
    outcomes: list[Outcome],
) -> None:
    """An active hold ends and gives back all it holds."""
    pos.reserved -= held.qty
    held.qty = 0
    held.status = status
    held.ended_at = ts
    loc.ended[held.rid] = ts
    holds = pos.holds
    del holds[held.rid]  # type: ignore[union-attr] # an active hold is in its position's
    if not holds:
        pos.holds = None
        pos.next_expiry = NEVER
    elif held.expires_at == pos.next_expiry:
        pos.next_expiry = min(h.expires_at for h in holds.values())
    outcomes.append(
        (held.rid, loc.location_id, held.sku, status, 0, held.expires_at, ts, event_id, None, False)
    )


def _expire_due(loc: Location, pos: Pos, ts: datetime, outcomes: list[Outcome]) -> None:
    """The position's holds due by ``ts`` expire, soonest first, each at its ``expires_at``."""
    due = [h for h in pos.holds.values() if h.expires_at <= ts]  # type: ignore[union-attr]
    due.sort(key=lambda h: (h.expires_at, h.rid))
    for held in due:
        _end_hold(loc, pos, held, "expired", held.expires_at, None, outcomes)


def _supply_received(pos: Pos, supply_id: str, qty: int) -> None:
    inbound = pos.inbound
    found = inbound.get(supply_id)  # type: ignore[union-attr] # checked by the caller
    if found is None:
        return
    left = found[0] - qty
    if left > 0:
        inbound[supply_id] = (left, found[1])  # type: ignore[index]
    else:
        del inbound[supply_id]  # type: ignore[union-attr]
        if not inbound:
            pos.inbound = None


def _advance(fold: DictFold, loc: Location, ts: datetime) -> None:
    """The location's clock moves to an applied event's ``ts``; once a minute of it, the dedup
    memory and the ended reservations older than the window are dropped."""
    if ts > loc.watermark:
        loc.watermark = ts
        if ts >= loc.gc_due:
            _forget_old(fold, loc)


def _forget_old(fold: DictFold, loc: Location) -> None:
    horizon = loc.watermark - fold.window
    seen = loc.seen
    for key in _leading_older(seen, horizon):
        del seen[key]
    for rid in _leading_older(loc.ended, horizon):
        del loc.ended[rid]
        found = loc.reservations.get(rid)
        if found is not None and found.ended_at is not None and found.ended_at < horizon:
            del loc.reservations[rid]
    loc.gc_due = later(loc.watermark, GC_EVERY)


def _leading_older(entries: dict[Any, datetime], horizon: datetime) -> list[Any]:
    """Keys at the front of an insertion-ordered dict whose instant is before ``horizon``
    (entries come in roughly increasing time: the scan stops at the first recent one)."""
    old = []
    for key, ts in entries.items():
        if ts >= horizon:
            break
        old.append(key)
    return old


# -- what is published ----------------------------------------------------------------------


def position_record(pos: Pos) -> dict[str, Any]:
    """The position as the peer publishes it (the dataflow's record less the sell-through)."""
    on_hand = pos.on_hand
    reserved = pos.reserved
    available = on_hand - reserved - pos.safety_stock
    inbound = pos.inbound
    supplies: list[dict[str, Any]] = []
    if inbound:
        due = sorted((eta, supply_id, qty) for supply_id, (qty, eta) in inbound.items())
        supplies = [{"supply_id": s, "qty": q, "eta": eta} for eta, s, q in due]
    return {
        "location_id": pos.location_id,
        "sku": pos.sku,
        "on_hand": on_hand,
        "reserved": reserved,
        "safety_stock": pos.safety_stock,
        "unsellable": pos.unsellable,
        "available": available,
        "atp": available if available > 0 else 0,
        "oversold": reserved - on_hand if reserved > on_hand else 0,
        "inbound": supplies,
        "as_of": pos.as_of,
        "channels": {name: _channel_atp(pos, name) for name in CHANNELS},
    }


def position_message(pos: Pos) -> Publish:
    return ("atp", f"{pos.location_id}:{pos.sku}", orjson.dumps(position_record(pos)))


def outcome_message(outcome: Outcome) -> Publish:
    rid, location_id, sku, status, qty, expires_at, ts, event_id, reason, repeat = outcome
    record = {
        "reservation_id": rid,
        "location_id": location_id,
        "sku": sku,
        "status": status,
        "qty": qty,
        "expires_at": expires_at,
        "ts": ts,
        "event_id": event_id,
        "reason": reason,
        "repeat": repeat,
    }
    return ("reservations", rid, orjson.dumps(record))


def fold_lines(fold: DictFold, lines: Iterable[bytes]) -> list[Publish]:
    """Fold lines with no clock limit (as ``replay`` does): the tests' entry, one batch."""
    values = list(lines)
    return fold_batch(fold, values, [f"-:{n}" for n in range(1, len(values) + 1)], None)


# -- the Kafka loop -------------------------------------------------------------------------


def run(
    bootstrap: str, prefix: str, out_prefix: str, batch: int, max_future_s: int
) -> dict[str, Any]:
    """Consume ``<prefix>events`` from its start, fold, publish to ``<out-prefix>*``, until
    SIGTERM/SIGINT; the counters."""
    from confluent_kafka import (  # noqa: PLC0415 - the fold's tests need no Kafka client
        OFFSET_BEGINNING,
        Consumer,
        KafkaError,
        KafkaException,
        Message,
        Producer,
        TopicPartition,
    )

    from dataflows.kafka import CONSUMER_DEFAULTS, PRODUCER_DEFAULTS, Topics  # noqa: PLC0415

    def raise_on_failure(error: KafkaError | None, message: Message) -> None:
        if error is not None:
            raise KafkaException(error)

    source, sink = Topics(prefix), Topics(out_prefix)
    names = {"atp": sink.atp, "reservations": sink.reservations, "dead": sink.deadletter}
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "omnistock-dict-peer",  # required by librdkafka; assign() never joins
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            **CONSUMER_DEFAULTS,
        }
    )
    metadata = consumer.list_topics(source.events, timeout=15).topics[source.events]
    parts = sorted(metadata.partitions)
    consumer.assign([TopicPartition(source.events, p, OFFSET_BEGINNING) for p in parts])
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            **PRODUCER_DEFAULTS,
            "delivery.report.only.error": True,
            "on_delivery": raise_on_failure,
        }
    )
    stop: list[bool] = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    signal.signal(signal.SIGINT, lambda *_: stop.append(True))
    fold = DictFold(max_future_s=max_future_s)
    produced = dict.fromkeys(names, 0)
    batches = 0
    produce = producer.produce
    while not stop:
        messages = consumer.consume(batch, 0.05)
        if not messages:
            producer.poll(0)
            continue
        values: list[bytes] = []
        origins: list[str] = []
        for message in messages:
            error = message.error()
            if error is not None:
                if error.fatal():
                    raise KafkaException(error)
                continue  # a broker restarting: librdkafka retries, it carries no event
            values.append(message.value() or b"")
            origins.append(f"{message.topic()}/{message.partition()}/{message.offset()}")
        limit = clock_limit(datetime.now(UTC), max_future_s)  # once a batch, as the flow
        for topic, key, value in fold_batch(fold, values, origins, limit):
            try:
                produce(names[topic], value, key)
            except BufferError:  # the local queue is full: let it drain, then retry once
                producer.poll(1.0)
                produce(names[topic], value, key)
            produced[topic] += 1
        batches += 1
        producer.poll(0)  # delivery reports; sending goes on in the background (linger.ms)
    left = producer.flush(30)
    consumer.close()
    return fold.counters() | {"batches": batches, "produced": produced, "unflushed": left}


def arguments(description: str) -> argparse.ArgumentParser:
    """The peers' command line (``benchmarks/fold_peers.py`` launches each the same way)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--bootstrap", required=True, metavar="HOST:PORT")
    parser.add_argument("--prefix", required=True, help="read <prefix>events")
    parser.add_argument("--out-prefix", required=True, help="write <out-prefix>atp and others")
    parser.add_argument("--batch", type=int, default=BATCH, help="messages a batch at most")
    parser.add_argument(
        "--max-future-s",
        type=int,
        default=EngineConfig().max_future_s,
        help="the clock rule: ts at most this after the wall clock",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__.splitlines()[0]).parse_args(argv)
    from omnistock.cli import GC_THRESHOLDS  # noqa: PLC0415 - collects as every command does

    gc.set_threshold(*GC_THRESHOLDS)
    counters = run(args.bootstrap, args.prefix, args.out_prefix, args.batch, args.max_future_s)
    print(orjson.dumps(counters).decode(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
