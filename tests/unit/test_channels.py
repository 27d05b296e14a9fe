"""The v2 rules one example at a time (docs/policy.md, docs/events.md §11): channels and their
safety stock, unknown channels, sell-through, thresholds, restock and write-off, a restored
book under a new policy, and a group's tries in the claims. The property tests
(tests/property) check the same rules against the naive model on random logs."""

from __future__ import annotations

import pickle
from datetime import timedelta
from typing import Any

import orjson

from engine.book import EngineConfig
from engine.claims import decide
from engine.outputs import Alert, Rejected, ReservationChanged
from engine.policy import load
from omnistock.cli import main
from tests.factories import T0, Store, at, line

DAY = 86_400_000
POLICY = load(
    orjson.dumps(
        {
            "channels": [
                {"name": "web"},
                {"name": "pos", "safety_stock": False},
                {"name": "marketplace", "buffer_pct": 50, "protect_units": 2, "locations": ["S1"]},
                {"name": "call_centre", "locations": ["S2"]},
            ],
            "safety_stock": {"default": 1, "skus": {"B": 4}},
        }
    )
)


def store(location_id: str = "S1") -> Store:
    return Store(location_id, EngineConfig().with_policy(POLICY))


def outcome(out: list[Any]) -> ReservationChanged:
    return next(o for o in out if isinstance(o, ReservationChanged))


def test_each_channel_reserves_on_its_own_atp():
    s = store()
    s.do("receipt", qty=12)
    channels = s.pos().channels(s.book.channels)
    # marketplace: (12 - 1 safety - 2 protected) x 50 % = 4
    assert channels == {"web": 11, "pos": 12, "marketplace": 4, "call_centre": 0}
    assert outcome(s.do("reserve", reservation_id="m1", qty=5, channel="marketplace")).status == (
        "rejected"
    )
    assert outcome(s.do("reserve", reservation_id="m2", qty=4, channel="marketplace")).qty == 4
    assert outcome(s.do("reserve", reservation_id="c1", qty=1, channel="call_centre")).reason == (
        "insufficient_stock"
    )
    # the till may sell the safety stock: 8 left on the shelf unreserved
    assert outcome(s.do("reserve", reservation_id="p1", qty=8, channel="pos")).status == "confirmed"
    assert s.pos().channels(s.book.channels) == {
        "web": 0,
        "pos": 0,
        "marketplace": 0,
        "call_centre": 0,
    }


def test_a_channel_the_policy_does_not_know_is_refused_without_a_default():
    s = store()
    s.do("receipt", qty=12)
    first = outcome(s.do("reserve", reservation_id="k1", qty=1, channel="kiosk"))
    assert (first.status, first.reason) == ("rejected", "unknown_channel")
    again = outcome(s.do("reserve", reservation_id="k1", qty=1, channel="web"))
    assert (again.repeat, again.status, again.reason) == (True, "rejected", "unknown_channel")
    # the default policy takes an unknown channel as web
    plain = Store()
    plain.do("receipt", qty=3)
    assert outcome(plain.do("reserve", reservation_id="k", qty=3, channel="kiosk")).qty == 3


def test_the_safety_stock_hierarchy():
    s = store()
    s.do("receipt", qty=10, sku="B")  # the policy's sku figure: 4
    assert (s.pos("B").safety_stock, s.pos("B").atp) == (4, 6)
    s.do("receipt", qty=10, sku="C")  # the policy's default: 1
    assert s.pos("C").safety_stock == 1
    s.do("set_safety_stock", qty=2, sku="B", channel="web")  # web only
    assert s.pos("B").safety_stock == 4
    assert s.pos("B").channels(s.book.channels)["web"] == 8
    s.do("set_safety_stock", qty=0, sku="B")  # the position's own, without a channel
    assert (s.pos("B").safety_stock, s.pos("B").atp) == (0, 10)
    assert s.pos("B").channels(s.book.channels)["web"] == 8  # the channel's own still wins
    refused = s.do("set_safety_stock", qty=1, sku="B", channel="kiosk")
    assert [type(o) for o in refused] == [Rejected] and refused[0].code == "unknown_channel"


def test_restock_and_write_off_take_unsellable_stock():
    s = store()
    s.do("return", qty=5, sellable=False)
    s.do("restock", qty=2)
    assert (s.pos().on_hand, s.pos().unsellable) == (2, 3)
    s.do("write_off", qty=3)
    assert (s.pos().on_hand, s.pos().unsellable) == (2, 0)
    refused = s.do("write_off", qty=1, event_id="w-late")
    assert refused[0].code == "exceeds_unsellable"
    s.do("return", qty=1, sellable=False)
    assert s.do("write_off", qty=1, event_id="w-late")[0] is s.pos()  # the id was not kept


def test_sold_7d_counts_the_seven_utc_dates_to_as_of():
    s = store()
    midnight = T0 - T0 % DAY  # 2026-11-18T00:00Z
    s.do("receipt", qty=100, ts=midnight - 8 * DAY)
    s.do("sale", qty=5, ts=midnight - 7 * DAY)  # eight dates back: out of the week
    s.do("sale", qty=3, ts=midnight - 6 * DAY)  # the week's first date
    s.do("reserve", reservation_id="r", qty=2, ts=midnight - 1)
    s.do("fulfil", reservation_id="r", ts=midnight - 1)  # 23:59:59.999 the day before
    s.do("sale", qty=4, ts=midnight + DAY - 1)
    position = s.pos()
    assert position.sold_7d() == 3 + 2 + 4
    assert position.wire(s.book.channels).sold_7d == 9
    # atp 100 - 14 - 1 (safety) = 85; 85 x 7 days / 9 a week
    eta = position.wire(s.book.channels).stockout_eta
    assert eta == at(midnight + DAY - 1 - T0) + timedelta(seconds=85 * 7 * 86_400 // 9)
    s.do("count", qty=50, ts=midnight + 2 * DAY)  # as_of moves a day on: the 3 drop out
    assert s.pos().sold_7d() == 6


def test_stockout_soon_fires_once_on_the_change():
    s = store()
    s.do("receipt", qty=21)  # atp 20
    kinds = [a.kind for a in s.outputs if isinstance(a, Alert)]
    assert "stockout_soon" not in kinds
    out = s.do("sale", qty=6)  # atp 14: 14 x 7 = 98 >= 2 x 6
    assert not any(isinstance(o, Alert) and o.kind == "stockout_soon" for o in out)
    out = s.do("sale", qty=4)  # atp 10, sold 10: 70 < 2 x 10? no (70 >= 20)
    s.do("set_alert_thresholds", stockout_days=8)  # 70 < 8 x 10: fires now
    fired = [a for a in s.outputs if isinstance(a, Alert) and a.kind == "stockout_soon"]
    assert len(fired) == 1 and fired[0].sold_7d == 10
    s.do("sale", qty=1)
    assert len([a for a in s.outputs if isinstance(a, Alert) and a.kind == "stockout_soon"]) == 1


def test_thresholds_of_a_position_override_the_policy():
    s = store()
    s.do("receipt", qty=9)  # atp 8
    s.do("set_alert_thresholds", low_stock=8)
    assert [a.kind for a in s.outputs if isinstance(a, Alert)][-1] == "low_stock"
    out = s.do("set_alert_thresholds", reorder_point=20)  # low_stock 8 stays
    assert [a.kind for a in out if isinstance(a, Alert)] == ["replenish"]  # 8 < 20 now
    assert s.pos().thresholds == (8, 20, None)


def test_a_restored_book_takes_the_new_policy():
    s = store()
    s.do("receipt", qty=10, sku="B")
    s.do("receipt", qty=10, sku="C")
    s.do("set_safety_stock", qty=3, sku="C")
    book = pickle.loads(pickle.dumps(s.book))
    book.configure(EngineConfig())  # the default policy: no safety stock
    assert book.positions["B"].safety_stock == 0  # the policy's, applied anew
    assert book.positions["C"].safety_stock == 3  # set by an event: kept
    assert [c.name for c in book.channels] == ["web", "app", "call_centre", "pos"]


def _outcome(location: str, status: str, group: str | None, **extra) -> ReservationChanged:
    return ReservationChanged(
        "g1",
        location,
        "A",
        status,
        0 if status == "rejected" else 1,
        at(900_000),
        at(0),
        f"e-{location}",
        "insufficient_stock" if status == "rejected" else None,
        location_group=group,
        **extra,
    )


def test_a_groups_next_try_claims_an_id_its_refused_try_named():
    claim, out = decide(None, _outcome("S1", "rejected", "metro"))
    claim, out = decide(claim, _outcome("S2", "confirmed", "metro"))
    assert out == [_outcome("S2", "confirmed", "metro")]  # no loser: it claims the id
    assert claim is not None and claim.first.location_id == "S2"
    # a third location's hold now loses to S2's, and is revoked
    claim, out = decide(claim, _outcome("S3", "confirmed", "metro"))
    assert out[0].repeat and out[0].location_id == "S2"
    assert out[1].reservation_id == "g1" and out[1].location_id == "S3"
    # a plain reserve's refusal stands: another location's answer is a repeat of it
    refused, _ = decide(None, _outcome("S1", "rejected", None))
    _, out = decide(refused, _outcome("S2", "confirmed", None))
    assert out[0].repeat and out[0].status == "rejected"


def test_replay_writes_the_alerts(tmp_path, capsys):
    log = tmp_path / "events.jsonl"
    log.write_bytes(
        b"\n".join(
            [
                line("receipt", qty=10, ts=T0),
                line("sale", qty=8, ts=T0 + 1000),  # atp 2: low; 2 x 7 < 2 days x 8 sold
                line("sale", qty=2, ts=T0 + 2000),
            ]
        )
    )
    alerts = tmp_path / "alerts.jsonl"
    assert main(["replay", str(log), "--alerts", str(alerts)]) == 0
    kinds = [orjson.loads(raw)["kind"] for raw in alerts.read_bytes().splitlines()]
    assert kinds == ["back_in_stock", "low_stock", "replenish", "stockout_soon", "stockout"]
