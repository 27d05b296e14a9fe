"""Property tests: the alerts the engine emits against alerts derived from the naive model.

The engine keeps each position's alert conditions as a bit set and fires on edges
(``engine.alerts``). Here the same edges are derived from scratch, from the figures of
``tests.property.naive.NaiveModel`` before and after each event, with the contract's wording
(docs/events.md §4, §11.4) and nothing imported from ``engine.alerts``:

- ``stockout``: atp == 0 (rising edge); ``back_in_stock``: the same condition falling;
- ``low_stock``: 0 < atp <= the low-stock threshold;
- ``oversold``: reserved > on_hand;
- ``replenish``: atp + all expected supply < the reorder point;
- ``stockout_soon``: atp > 0 and atp x 7 < stockout_days x sold_7d.

The thresholds are the position's as the model has them before and after the event (set there
by ``set_alert_thresholds``, else the policy's ``alerts``, else the settings'), so an event that
changes a threshold fires the alerts its new value makes true. Each alert carries the position's
figures after the change, ``unsellable``, ``sold_7d`` and ``stockout_eta`` included.

A position the model has never seen has the figures of an empty one. An event changes its own
position and, for a ``transfer_out``, the destination's (which settles with its own before
and after, right after the source). A wall-clock ``expire`` settles each touched position once.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.book import EngineConfig
from engine.events import TransferOut, parse
from engine.outputs import Alert, Rejected
from engine.policy import DEFAULT_POLICY, Policy, load
from engine.replay import Replay
from engine.rules import expire
from tests.factories import at
from tests.property.naive import WEEK_MS, NaiveModel
from tests.property.strategies import event_logs, policy_cases

common = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# (low_stock, reorder_point, stockout_days) of the settings: the defaults most of the time, and
# a few others (a policy's ``alerts`` override them).
thresholds = st.sampled_from(
    [(2, 5, 2), (2, 5, 2), (2, 5, 2), (0, 0, 0), (5, 3, 4), (3, 10, 1), (2, 5, 7)]
)
windows = st.sampled_from([WEEK_MS, 60_000, 200_000])

# The order the kinds are emitted in, for one position's change.
KINDS = ("stockout", "back_in_stock", "low_stock", "oversold", "replenish", "stockout_soon")

Key = tuple[str, str]


class Figures(NamedTuple):
    """What the alerts of a position read, as the model has it."""

    on_hand: int
    reserved: int
    safety_stock: int
    unsellable: int
    supply: int  # all expected supply
    sold_7d: int
    stockout_eta: datetime | None
    low_stock: int
    reorder_point: int
    stockout_days: int


# -- the independent alert logic --------------------------------------------------------------


def figures_of(model: NaiveModel, key: Key) -> Figures:
    """A position's figures in the model; a position never seen is an empty one."""
    p = model.view(key)
    return Figures(
        p.on_hand,
        p.reserved,
        model.safety_stock(key),
        p.unsellable,
        sum(q for q, _ in p.inbound.values()),
        model.sold_7d(key),
        model.stockout_eta(key),
        *model.thresholds(key),
    )


def conditions_of(f: Figures) -> dict[str, bool]:
    atp = max(0, f.on_hand - f.reserved - f.safety_stock)
    return {
        "stockout": atp == 0,
        "low_stock": 0 < atp <= f.low_stock,
        "oversold": f.reserved > f.on_hand,
        "replenish": atp + f.supply < f.reorder_point,
        "stockout_soon": atp > 0 and atp * 7 < f.stockout_days * f.sold_7d,
    }


def kinds_fired(before: dict[str, bool], after: dict[str, bool]) -> list[str]:
    kinds = []
    for kind in KINDS:
        if kind == "back_in_stock":
            if before["stockout"] and not after["stockout"]:
                kinds.append(kind)
        elif after[kind] and not before[kind]:
            kinds.append(kind)
    return kinds


def expected_alerts(
    key: Key, before: Figures, after: Figures, ts: datetime
) -> list[tuple[Any, ...]]:
    """The alerts one position's change fires, as ``alert_tuple`` would show them."""
    kinds = kinds_fired(conditions_of(before), conditions_of(after))
    available = after.on_hand - after.reserved - after.safety_stock
    shown = (
        after.on_hand,
        after.reserved,
        after.safety_stock,
        after.unsellable,
        available,
        max(0, available),
        max(0, after.reserved - after.on_hand),
        after.supply,
        after.sold_7d,
        after.stockout_eta,
    )
    return [(kind, *key, ts, *shown) for kind in kinds]


def alert_tuple(alert: Alert) -> tuple[Any, ...]:
    return (
        alert.kind,
        alert.location_id,
        alert.sku,
        alert.ts,
        alert.on_hand,
        alert.reserved,
        alert.safety_stock,
        alert.unsellable,
        alert.available,
        alert.atp,
        alert.oversold,
        alert.inbound_qty,
        alert.sold_7d,
        alert.stockout_eta,
    )


# -- driving the engine -------------------------------------------------------------------------


class AlertRecorder:
    """A replay's ``on_outputs``: every ``Alert`` of the rules, kept."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def __call__(self, outputs: list[Any]) -> None:
        self.alerts.extend(o for o in outputs if isinstance(o, Alert))

    def take(self) -> list[tuple[Any, ...]]:
        taken, self.alerts = self.alerts, []
        return [alert_tuple(a) for a in taken]


def tick_expected(model: NaiveModel, now: datetime) -> dict[Key, list[tuple[Any, ...]]]:
    """Expire on the clock in the model; the alerts of each position that touched."""
    due = {
        (loc, sku)
        for (loc, _), r in model.reservations.items()
        if r.active and r.expires_at <= now
        for sku in r.skus()
    }
    before = {key: figures_of(model, key) for key in due}
    model.finish(now)
    return {key: expected_alerts(key, before[key], figures_of(model, key), now) for key in due}


def tick_engine(replay: Replay, now: datetime) -> dict[Key, list[tuple[Any, ...]]]:
    """``expire`` on every book, as the dataflow's timers do; the alerts per position."""
    found: dict[Key, list[tuple[Any, ...]]] = defaultdict(list)
    for book in replay.books.values():
        for out in expire(book, now)[1]:
            if isinstance(out, Alert):
                found[(out.location_id, out.sku)].append(alert_tuple(out))
    return dict(found)


def _by_position(found: dict[Key, list[tuple[Any, ...]]]) -> Any:
    """A replay's ``on_outputs`` that keeps alerts by position."""

    def recording(outputs: list[Any]) -> None:
        for out in outputs:
            if isinstance(out, Alert):
                found.setdefault((out.location_id, out.sku), []).append(alert_tuple(out))

    return recording


def without_empty(alerts: dict[Key, list[tuple[Any, ...]]]) -> dict[Key, list[tuple[Any, ...]]]:
    return {key: found for key, found in alerts.items() if found}


def check_alerts(
    lines: list[bytes],
    threshold: tuple[int, int, int],
    window: int,
    policy: Policy,
    data: st.DataObject,
) -> None:
    """Every event's alerts, the wall clock's now and then, and the final expiry's, as the
    edges of the naive figures say."""
    low_stock, reorder_point, stockout_days = threshold
    config = EngineConfig(
        dedup_window_ms=window,
        low_stock=low_stock,
        reorder_point=reorder_point,
        stockout_days=stockout_days,
    ).with_policy(policy)
    recorder = AlertRecorder()
    replay = Replay(config, on_outputs=recorder)
    model = NaiveModel(window, policy, low_stock, reorder_point, stockout_days)
    latest = at(0)
    for raw in lines:
        event: Any = parse(raw)
        keys: list[Key] = []
        if not isinstance(event, Rejected):
            assert event.sku is not None  # every event of these logs names its sku
            keys.append((event.location_id, event.sku))
            if isinstance(event, TransferOut):
                keys.append((event.to_location_id, event.sku))
            latest = max(latest, event.ts)
        before = [figures_of(model, key) for key in keys]
        model.apply(raw)
        replay.feed([raw])
        expected = [
            alert
            for key, was in zip(keys, before, strict=True)
            for alert in expected_alerts(key, was, figures_of(model, key), event.ts)
        ]
        if model.revoked is not None:
            # a hold under an id claimed elsewhere was made, then revoked: both edges fire
            key, qty = model.revoked
            after = figures_of(model, key)
            model.positions[key].reserved += qty
            held = figures_of(model, key)
            model.positions[key].reserved -= qty
            expected = [
                *expected_alerts(key, before[0], held, event.ts),
                *expected_alerts(key, held, after, event.ts),
            ]
        assert recorder.take() == expected, raw
        # now and then the wall clock moves on and expires what is due
        if data.draw(st.integers(0, 4), label="tick") == 0:
            now = latest + timedelta(seconds=data.draw(st.sampled_from([0, 30, 300])))
            want = without_empty(tick_expected(model, now))
            assert tick_engine(replay, now) == want
    # the end of a replay: expire as of the last event, or later
    if replay.max_ts is not None:
        as_of = replay.max_ts + timedelta(seconds=data.draw(st.sampled_from([0, 60, 600])))
        want = without_empty(tick_expected(model, as_of))
        found: dict[Key, list[tuple[Any, ...]]] = {}
        replay.on_outputs = _by_position(found)
        replay.finish(as_of)
        assert found == want


# -- the properties -----------------------------------------------------------------------------


@common
@given(event_logs(), thresholds, windows, st.data())
def test_alerts_agree_with_edges_of_the_naive_figures(lines, threshold, window, data):
    check_alerts(lines, threshold, window, DEFAULT_POLICY, data)


@common
@given(policy_cases(), thresholds, windows, st.data())
def test_alerts_agree_with_edges_of_the_naive_figures_under_any_policy(
    case, threshold, window, data
):
    """v2 events (restock, write_off, set_alert_thresholds, sales over several UTC dates) under
    a policy with safety stock by sku and, maybe, thresholds of its own."""
    spec, lines = case
    check_alerts(lines, threshold, window, load(orjson.dumps(spec)), data)
