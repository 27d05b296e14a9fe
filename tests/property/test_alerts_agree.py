"""Property tests: the alerts the engine emits against alerts derived from the naive model.

The engine keeps each position's alert conditions as a bit set and fires on edges
(``engine.alerts``). Here the same edges are derived from scratch, from the figures of
``tests.property.naive.NaiveModel`` before and after each event, with the contract's wording
(docs/events.md §11) and nothing imported from ``engine.alerts``:

- ``stockout``: atp == 0 (rising edge); ``back_in_stock``: the same condition falling;
- ``low_stock``: 0 < atp <= the low-stock threshold;
- ``oversold``: reserved > on_hand;
- ``replenish``: atp + all expected supply < the reorder point.

A position the model has never seen has the figures of an empty one. An event changes its own
position and, for a ``transfer_out``, the destination's (which settles with its own before
and after, right after the source). A wall-clock ``expire`` settles each touched position once.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.book import EngineConfig
from engine.events import TransferOut, parse
from engine.outputs import Alert, Rejected
from engine.replay import Replay
from engine.rules import expire
from tests.factories import at
from tests.property.naive import WEEK_MS, NaiveModel, NaivePosition
from tests.property.strategies import event_logs

common = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# (low_stock, reorder_point): the defaults most of the time, and a few others.
thresholds = st.sampled_from([(2, 5), (2, 5), (2, 5), (0, 0), (5, 3), (3, 10)])
windows = st.sampled_from([WEEK_MS, 60_000, 200_000])

# The order the kinds are emitted in, for one position's change.
KINDS = ("stockout", "back_in_stock", "low_stock", "oversold", "replenish")

Key = tuple[str, str]
Figures = tuple[int, int, int, int]  # on_hand, reserved, safety_stock, expected supply


# -- the independent alert logic --------------------------------------------------------------


def figures_of(model: NaiveModel, key: Key) -> Figures:
    """A position's figures in the model; a position never seen is an empty one."""
    p = model.positions.get(key) or NaivePosition()
    return (p.on_hand, p.reserved, p.safety_stock, sum(q for q, _ in p.inbound.values()))


def conditions_of(figures: Figures, low_stock: int, reorder_point: int) -> dict[str, bool]:
    on_hand, reserved, safety_stock, supply = figures
    atp = max(0, on_hand - reserved - safety_stock)
    return {
        "stockout": atp == 0,
        "low_stock": 0 < atp <= low_stock,
        "oversold": reserved > on_hand,
        "replenish": atp + supply < reorder_point,
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
    key: Key, before: Figures, after: Figures, ts: datetime, low_stock: int, reorder_point: int
) -> list[tuple[Any, ...]]:
    """The alerts one position's change fires, as ``alert_tuple`` would show them."""
    kinds = kinds_fired(
        conditions_of(before, low_stock, reorder_point),
        conditions_of(after, low_stock, reorder_point),
    )
    on_hand, reserved, safety_stock, supply = after
    available = on_hand - reserved - safety_stock
    shown = (on_hand, reserved, safety_stock, available, max(0, available))
    return [(kind, *key, ts, *shown, max(0, reserved - on_hand), supply) for kind in kinds]


def alert_tuple(alert: Alert) -> tuple[Any, ...]:
    return (
        alert.kind,
        alert.location_id,
        alert.sku,
        alert.ts,
        alert.on_hand,
        alert.reserved,
        alert.safety_stock,
        alert.available,
        alert.atp,
        alert.oversold,
        alert.inbound_qty,
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


def tick_expected(
    model: NaiveModel, now: datetime, low_stock: int, reorder_point: int
) -> dict[Key, list[tuple[Any, ...]]]:
    """Expire on the clock in the model; the alerts of each position that touched."""
    due = {
        (loc, r.sku)
        for (loc, _), r in model.reservations.items()
        if r.active and r.expires_at <= now
    }
    before = {key: figures_of(model, key) for key in due}
    model.finish(now)
    return {
        key: expected_alerts(
            key, before[key], figures_of(model, key), now, low_stock, reorder_point
        )
        for key in due
    }


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


# -- the properties -----------------------------------------------------------------------------


@common
@given(event_logs(), thresholds, windows, st.data())
def test_alerts_agree_with_edges_of_the_naive_figures(lines, threshold, window, data):
    low_stock, reorder_point = threshold
    config = EngineConfig(dedup_window_ms=window, low_stock=low_stock, reorder_point=reorder_point)
    recorder = AlertRecorder()
    replay = Replay(config, on_outputs=recorder)
    model = NaiveModel(window)
    latest = at(0)
    for raw in lines:
        event: Any = parse(raw)
        keys: list[Key] = []
        if not isinstance(event, Rejected):
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
            for alert in expected_alerts(
                key, was, figures_of(model, key), event.ts, low_stock, reorder_point
            )
        ]
        if model.revoked is not None:
            # a hold under an id claimed elsewhere was made, then revoked: both edges fire
            key, qty = model.revoked
            on_hand, reserved, safety, supply = after = figures_of(model, key)
            held = (on_hand, reserved + qty, safety, supply)
            expected = [
                *expected_alerts(key, before[0], held, event.ts, low_stock, reorder_point),
                *expected_alerts(key, held, after, event.ts, low_stock, reorder_point),
            ]
        assert recorder.take() == expected, raw
        # now and then the wall clock moves on and expires what is due
        if data.draw(st.integers(0, 4), label="tick") == 0:
            now = latest + timedelta(seconds=data.draw(st.sampled_from([0, 30, 300])))
            want = without_empty(tick_expected(model, now, low_stock, reorder_point))
            assert tick_engine(replay, now) == want
    # the end of a replay: expire as of the last event, or later
    if replay.max_ts is not None:
        as_of = replay.max_ts + timedelta(seconds=data.draw(st.sampled_from([0, 60, 600])))
        want = without_empty(tick_expected(model, as_of, low_stock, reorder_point))
        found: dict[Key, list[tuple[Any, ...]]] = {}
        replay.on_outputs = _by_position(found)
        replay.finish(as_of)
        assert found == want


# -- what the contract says about a duplicate transfer ------------------------------------------
