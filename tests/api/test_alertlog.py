"""The alert log: bounded, newest first, read without a lock, and streams that never block it."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import msgspec
import pytest

from api.alertlog import AlertFilter, AlertLog, Kept
from api.readmodel import ReadModel
from api.sse import frame, last_event_id
from engine.outputs import Alert, alert_record

T = datetime(2026, 11, 20, 10, tzinfo=UTC)
ANY = AlertFilter()


def alert(kind: str = "stockout", location_id: str = "S1", sku: str = "A", atp: int = 0) -> bytes:
    record = alert_record(Alert(kind, location_id, sku, T, atp, 0, 0, 0, atp, atp, 0, 0))
    return msgspec.json.encode(record)


def seqs(found: list[Kept]) -> list[int]:
    return [kept.seq for kept in found]


def test_the_log_keeps_only_its_capacity_newest_first():
    log = AlertLog(capacity=3)
    for atp in range(5):
        log.put(alert(atp=atp))
    assert log.last == 5
    assert seqs(log.latest(ANY, 10)) == [5, 4, 3]
    assert [msgspec.json.decode(kept.raw)["atp"] for kept in log.latest(ANY, 10)] == [4, 3, 2]
    assert seqs(log.latest(ANY, 2)) == [5, 4]


def test_filters_match_location_sku_and_kind_together():
    log = AlertLog()
    log.put(alert("stockout", "S1", "A"))
    log.put(alert("back_in_stock", "S1", "A", atp=4))
    log.put(alert("stockout", "S2", "A"))
    log.put(alert("stockout", "S1", "B"))
    assert seqs(log.latest(AlertFilter(location_id="S1"), 10)) == [4, 2, 1]
    assert seqs(log.latest(AlertFilter(sku="A"), 10)) == [3, 2, 1]
    assert seqs(log.latest(AlertFilter(kind="stockout"), 10)) == [4, 3, 1]
    assert seqs(log.latest(AlertFilter("S1", "A", "stockout"), 10)) == [1]
    assert log.latest(AlertFilter(location_id="S9"), 10) == []


def test_the_read_model_keeps_what_the_feed_takes_on_the_alerts_topic():
    model = ReadModel()
    model.take("alerts", alert())
    assert seqs(model.alerts.latest(ANY, 10)) == [1]
    assert model.alerts.latest(ANY, 10)[0].raw == alert()


def test_a_message_that_is_no_alert_is_skipped_not_raised():
    log = AlertLog()
    assert log.put(b"not json") is None
    assert log.put(b'{"kind": "stockout"}') is None
    assert (log.last, log.unreadable) == (0, 2)


def test_between_replays_after_an_id_oldest_first_within_what_is_kept():
    log = AlertLog(capacity=4)
    for _ in range(6):
        log.put(alert())
    assert seqs(log.between(3, 6, ANY)) == [4, 5, 6]
    assert seqs(log.between(0, 6, ANY)) == [3, 4, 5, 6]  # 1 and 2 are gone
    assert log.between(6, 6, ANY) == []


def test_a_reader_racing_the_writer_sees_each_alert_once_newest_first():
    log = AlertLog(capacity=500)
    done = threading.Event()

    def write() -> None:
        for _ in range(20_000):
            log.put(alert())
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    reads = 0
    while not done.is_set() or reads == 0:
        found = seqs(log.latest(ANY, 500))
        assert found == sorted(found, reverse=True) and len(set(found)) == len(found)
        assert len(found) <= 500
        reads += 1
    writer.join()
    assert seqs(log.latest(ANY, 500)) == list(range(20_000, 19_500, -1))


def test_a_subscriber_gets_what_comes_after_it_and_its_replay():
    async def scenario() -> tuple[list[int], list[int]]:
        log = AlertLog()
        log.put(alert())
        log.put(alert(kind="back_in_stock"))
        subscriber, replay = log.subscribe(AlertFilter(kind="stockout"), after=0)
        feed = threading.Thread(target=lambda: [log.put(alert()), log.put(alert("oversold"))])
        feed.start()
        feed.join()
        got = await asyncio.wait_for(subscriber.queue.get(), 5)
        log.unsubscribe(subscriber)
        assert got is not None and subscriber.queue.empty()
        return seqs(replay), [got.seq]

    assert asyncio.run(scenario()) == ([1], [3])


def test_a_slow_subscriber_is_dropped_and_the_feed_never_waits():
    async def scenario() -> None:
        log = AlertLog(queue_size=2)
        slow, _ = log.subscribe(ANY)
        feed = threading.Thread(target=lambda: [log.put(alert()) for _ in range(50)])
        feed.start()
        feed.join(5)
        assert not feed.is_alive()  # the feed went on, whatever the subscriber
        for _ in range(100):
            await asyncio.sleep(0)  # the loop runs the hand-overs
        assert slow.closed
        assert slow.queue.get_nowait() is None and slow.queue.empty()  # emptied, then closed
        log.unsubscribe(slow)
        assert log.subscribers == 0

    asyncio.run(scenario())


def test_subscribers_are_counted_until_they_unsubscribe():
    async def scenario() -> list[int]:
        log = AlertLog()
        first, _ = log.subscribe(ANY)
        second, _ = log.subscribe(ANY)
        counts = [log.subscribers]
        log.unsubscribe(first)
        counts.append(log.subscribers)
        log.unsubscribe(second)
        counts.append(log.subscribers)
        return counts

    assert asyncio.run(scenario()) == [2, 1, 0]


def test_an_event_frame_names_the_kind_the_id_and_the_json():
    kept = Kept(7, "stockout", "S1", "A", b'{"kind":"stockout"}')
    assert frame(kept) == b'event: alert\nid: 7\ndata: {"kind":"stockout"}\n\n'
    split = Kept(8, "stockout", "S1", "A", b'{"kind":\n"stockout"}')
    assert frame(split) == b'event: alert\nid: 8\ndata: {"kind":\ndata: "stockout"}\n\n'


@pytest.mark.parametrize(
    ("header", "want"), [(None, None), ("12", 12), (" 3 ", 3), ("x", None), ("-1", None)]
)
def test_last_event_id_is_a_sequence_number_or_ignored(header, want):
    assert last_event_id(header) == want
