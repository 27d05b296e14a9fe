"""Alert transitions (docs/events.md §11): edges, not levels."""

from __future__ import annotations

from engine.alerts import LOW, OUT, OVER, REPLENISH, fired
from engine.outputs import Alert
from tests.factories import Store


def kinds(out):
    return [o.kind for o in out if isinstance(o, Alert)]


def test_fired_is_edge_triggered():
    assert fired(OUT, OUT) == []
    assert fired(0, OUT) == ["stockout"]
    assert fired(OUT | REPLENISH, LOW | REPLENISH) == ["back_in_stock", "low_stock"]
    assert fired(LOW, OVER | OUT) == ["stockout", "oversold"]
    assert fired(0, REPLENISH) == ["replenish"]


def test_a_new_position_alerts_only_once_it_moves():
    s = Store()
    assert kinds(s.do("count", qty=0)) == []
    assert kinds(s.do("receipt", qty=10)) == ["back_in_stock"]


def test_stock_running_down_and_back():
    s = Store()
    s.do("receipt", qty=10)
    assert kinds(s.do("sale", qty=4)) == []  # atp 6, not under the reorder point (5)
    assert kinds(s.do("sale", qty=2)) == ["replenish"]  # atp 4 < 5
    # atp 2 <= 2; and 2 x 7 < 2 days x 8 sold this week: out within two days
    assert kinds(s.do("sale", qty=2)) == ["low_stock", "stockout_soon"]
    assert kinds(s.do("sale", qty=1)) == []  # still low
    assert kinds(s.do("sale", qty=1)) == ["stockout"]
    assert kinds(s.do("sale", qty=1)) == ["oversold"]
    assert kinds(s.do("receipt", qty=20)) == ["back_in_stock"]


def test_inbound_supply_counts_against_replenish():
    s = Store()
    s.do("receipt", qty=10)
    s.do("inbound", qty=10, eta=0 + 10**13, supply_id="P")
    # atp 2 + 10 expected: no replenish (and 2 x 7 < 2 x 8 sold: stockout_soon)
    assert kinds(s.do("sale", qty=8)) == ["low_stock", "stockout_soon"]
    assert kinds(s.do("inbound_cancel", supply_id="P")) == ["replenish"]


def test_alert_carries_the_figures():
    s = Store()
    s.do("receipt", qty=3)
    s.do("reserve", reservation_id="R", qty=3)
    alert = next(o for o in s.do("sale", qty=2) if isinstance(o, Alert))
    assert (alert.kind, alert.on_hand, alert.reserved, alert.oversold, alert.atp) == (
        "oversold",
        1,
        3,
        2,
        0,
    )


def test_thresholds_are_configurable():
    from engine.book import EngineConfig

    s = Store(config=EngineConfig(low_stock=5, reorder_point=0))
    s.do("receipt", qty=10)
    assert kinds(s.do("sale", qty=5)) == ["low_stock"]
