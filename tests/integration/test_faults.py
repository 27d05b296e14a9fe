"""The fault suite (docs/events.md §2, §8.4, §8.7; docs/api.md §7): races of a few hundred
buyers on a real broker, each with a fault in its middle, each leaving the invariants of
``tests/integration/faults.py`` standing: nothing oversold, positions equal to a replay of the
events topic, one hold per reservation id, every client answered and none hung.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.integration.conftest import ROOT
from tests.integration.faults import (
    Request,
    check,
    held,
    race,
    reserve_request,
    send,
    settled,
    system,
)
from tests.integration.test_api_kafka import wait_position
from tests.integration.test_run import produce

pytestmark = pytest.mark.kafka

BUYERS = 300
STOCK = 100


def broker(command: str) -> None:
    subprocess.run(
        ["bash", str(ROOT / "docker" / "kafka-local.sh"), command], check=True, timeout=120
    )


def storm(urls: list[str], prefix: str, buyers: int = BUYERS) -> list[Request]:
    return [reserve_request(urls[i % len(urls)], f"{prefix}-{i}", "S1", "A") for i in range(buyers)]


def confirmed(answers) -> int:
    return sum(1 for a in answers if a.status == 201)


def test_kill_9_of_the_dataflow_mid_race(bootstrap, prefix, tmp_path):
    with system(bootstrap, prefix, tmp_path) as running:
        running.stock("S1", "A", STOCK)

        def crash() -> None:
            running.kill_run()
            time.sleep(2)
            running.start_run()

        answers = race(storm(running.urls, "k9"), crash)
        done = settled(running, answers)
        replay = check(running, answers, done)
        assert held(replay, "S1", "A") == STOCK  # every unit held, none twice
        assert Counter(v["first_status"] for v in done.views.values()) == {
            "confirmed": STOCK,
            "rejected": BUYERS - STOCK,
        }
        assert any(a.status == 202 for a in answers)  # the crash was felt, and answered


def test_a_broker_stop_and_start_mid_race(bootstrap, prefix, tmp_path):
    if bootstrap != "127.0.0.1:9092":
        pytest.fail("this case restarts the local broker (docker/kafka-local.sh)")
    with system(bootstrap, prefix, tmp_path) as running:
        running.stock("S1", "A", STOCK)

        def restart() -> None:
            broker("stop")
            broker("start")

        answers = race(storm(running.urls, "br"), restart)
        done = settled(running, answers, timeout=150)
        replay = check(running, answers, done)
        assert held(replay, "S1", "A") == STOCK
        assert sum(1 for v in done.views.values() if v["first_status"] == "confirmed") == STOCK


def test_kill_9_of_one_of_two_replicas_mid_race(bootstrap, prefix, tmp_path):
    with system(bootstrap, prefix, tmp_path, replicas=2) as running:
        running.stock("S1", "A", STOCK)
        doomed = running.urls[1]
        answers = race(storm(running.urls, "rk"), lambda: running.kill_replica(doomed))
        done = settled(running, answers)
        replay = check(running, answers, done)
        assert held(replay, "S1", "A") <= STOCK
        assert any(a.url == doomed and a.status in ("refused", "dropped") for a in answers)
        survivor = running.live()
        assert all(a.status not in ("refused", "dropped") for a in answers if a.url == survivor)
        # every hold the engine made, its killed replica's included, the survivor can see
        holders = replay.books["S1"].positions["A"].holds or {}
        for rid in holders:
            found = httpx.get(f"{survivor}/v1/reservations/{rid}", timeout=10).json()
            assert found["status"] == "confirmed", found


def test_two_replicas_racing_one_id_at_two_locations(bootstrap, prefix, tmp_path):
    ids = 60
    # a patient API: every buyer here gets an outcome, not a 202, even on a loaded machine
    with system(bootstrap, prefix, tmp_path, replicas=2, api_timeout_s="15") as running:
        # stock for every id at both locations: each book confirms every reserve, so 240 units
        # would be held without the claims, and no refusal races a revocation for the stock
        running.stock("S1", "A", 2 * ids)
        running.stock("S2", "A", 2 * ids)
        first, second = running.urls
        requests = []
        for i in range(ids):
            requests.append(reserve_request(first, f"dup-{i}", "S1", "A", qty=2))
            requests.append(reserve_request(second, f"dup-{i}", "S2", "A", qty=2))
        answers = race(requests, spread_s=0.2)
        done = settled(running, answers)
        replay = check(running, answers, done)
        assert held(replay, "S1", "A") + held(replay, "S2", "A") == 2 * ids  # not 4 * ids
        by_id = defaultdict(list)
        for answer in answers:
            by_id[answer.reservation_id].append(answer)
        for rid, pair in by_id.items():
            assert sorted(a.status for a in pair) == [200, 201], (rid, pair)
            winner = next(a for a in pair if a.status == 201)
            loser = next(a for a in pair if a.status == 200)
            assert loser.body["repeat"] is True
            assert loser.body["location_id"] == winner.body["location_id"]
            assert done.views[rid]["location_id"] == winner.body["location_id"]


def test_an_outage_that_outlives_the_holds_it_must_still_fulfil(bootstrap, prefix, tmp_path):
    """36 s without the dataflow: the holds' expiry (20 s) passes while their fulfils wait in
    the events topic; after the restart every fulfil applies and nothing expires. (Each fulfil
    must be stamped before its hold's expiry: 20 s leaves a loaded machine room to send them;
    with 12 s, CI once stamped two after it, and a replay of the topic expired them too.)"""
    buyers = 150
    with system(bootstrap, prefix, tmp_path, api_timeout_s="5") as running:
        running.stock("S1", "A", 200)
        url = running.urls[0]
        holds = [reserve_request(url, f"out-{i}", "S1", "A", ttl_s=20) for i in range(buyers)]
        answers = race(holds, spread_s=0.5)
        assert confirmed(answers) == buyers
        time.sleep(1.0)  # a snapshot holds the holds
        running.kill_run()
        down = time.monotonic()
        fulfils = race(
            [
                (url, "POST", f"/v1/reservations/out-{i}/fulfil", {}, f"out-{i}")
                for i in range(buyers)
            ],
            spread_s=0.5,
        )
        assert {a.status for a in fulfils} == {202}  # sent, not decided: the engine is down
        time.sleep(max(0.0, 36 - (time.monotonic() - down)))
        running.start_run()
        done = settled(running, answers + fulfils, timeout=120)
        replay = check(running, answers + fulfils, done)
        assert Counter(v["status"] for v in done.views.values()) == {"fulfilled": buyers}
        position = wait_position(url, "S1", "A", lambda p: p["reserved"] == 0)
        assert position["on_hand"] == 200 - buyers
        assert held(replay, "S1", "A") == 0


def test_a_future_timestamp_then_redeliveries_change_nothing(bootstrap, prefix, tmp_path):
    """One receipt dated 8 days ahead is refused (it cannot move the location's dedup window),
    so every redelivery after it is still a duplicate; reservations dated far ahead are 422
    and hold nothing."""
    with system(bootstrap, prefix, tmp_path, replicas=2) as running:
        running.stock("S1", "A", STOCK)
        topic = running.topics.events
        ahead = int((datetime.now(UTC) + timedelta(days=8)).timestamp() * 1000)
        future = (
            b'{"event_id":"far","type":"receipt","location_id":"S1","sku":"A","qty":5,'
            b'"ts":%d}' % ahead
        )
        produce(bootstrap, topic, [future])
        first, second = running.urls
        requests = storm(running.urls, "ft", 200) + [
            reserve_request(first, f"ft-far-{i}", "S1", "A", ts="9999-01-01T00:00:00Z")
            for i in range(100)
        ]
        redeliver = threading.Thread(
            target=lambda: produce(bootstrap, topic, _everything_so_far(bootstrap, topic))
        )
        answers = race(requests, redeliver.start)
        redeliver.join()
        done = settled(running, answers)
        replay = check(running, answers, done)
        assert {a.status for a in answers if a.reservation_id.startswith("ft-far")} == {422}
        assert all(a.body["error"]["code"] == "ts_in_future" for a in answers if a.status == 422)
        assert held(replay, "S1", "A") == STOCK
        position = wait_position(second, "S1", "A", lambda p: p["reserved"] == STOCK)
        assert position["on_hand"] == STOCK  # the future receipt never counted
        # a redelivery of everything, once more, after the race: still nothing changes
        produce(bootstrap, topic, _everything_so_far(bootstrap, topic))
        again = send(second, "POST", "/v1/reservations", requests[0][3], requests[0][4])
        assert again.status == 200 and again.body["repeat"] is True
        done = settled(running, answers)
        check(running, answers, done)
        assert httpx.get(f"{second}/v1/atp/S1/A", timeout=5).json()["on_hand"] == STOCK


def _everything_so_far(bootstrap: str, topic: str) -> list[bytes]:
    from tests.integration.faults import read_all

    return [line for partition in read_all(bootstrap, topic) for line in partition]
