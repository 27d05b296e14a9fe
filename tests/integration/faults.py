"""The fault suite's harness: a live system on a real broker, buyers racing through it, and the
invariants every fault must leave standing (``tests/integration/test_faults.py``).

A ``System`` is ``omnistock run`` (with recovery) and one or more ``omnistock serve --bootstrap``
replicas on one topic prefix, each a process of its own that a case may kill with SIGKILL and
start again. ``race`` sends a few hundred requests at once, spread over a second or two so that
a fault lands in the middle. ``settled`` waits until the engine has decided every request that
may have been sent, and ``check`` asserts the invariants:

- nothing oversold, and no more held than there was;
- the positions on the atp topic equal a replay of the events topic (its revocations
  included: ``engine.claims``);
- every reservation id holds at one position at most, and its outcomes come from one location;
- every client was answered: an outcome, 202 pending, 422 refused, 503 refused before sending,
  or a refused or dropped connection from a replica the case killed; none hung past its
  timeout;
- every answer was honest: a 201 is a hold, a 409 a rejection, a 202 decided later.
"""

from __future__ import annotations

import random
import signal
import subprocess
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import msgspec
import orjson
from confluent_kafka import Consumer, KafkaException, TopicPartition

from dataflows.kafka import Topics, ensure_topics
from engine.replay import Replay, revocations
from tests.integration.test_api_kafka import start_serve, wait_position, wait_ready
from tests.integration.test_run import Topic, free_port, start_run, stop
from tests.property.invariants import one_hold_per_reservation_id

CLIENT_TIMEOUT_S = 30.0  # a buyer's patience: an answer later than this is a hang
API_TIMEOUT_S = "2"  # the replicas answer 202 pending after this
SPREAD_S = 2.0  # the buyers of a race start over this many seconds
ANSWERED = {200, 201, 202, 409, 422, 503}  # what a live replica may answer a buyer
CUT = {"refused", "dropped"}  # what a killed replica's buyers may see instead


@dataclass
class Answer:
    """What one buyer got: the HTTP status (or ``refused``, ``dropped``, ``hung``) and body."""

    reservation_id: str
    url: str
    status: int | str
    body: dict[str, Any] = field(default_factory=dict)


@dataclass
class System:
    """The dataflow and its API replicas on one topic prefix."""

    bootstrap: str
    prefix: str
    tmp: Path
    replicas: int = 1
    partitions: int = 4
    api_timeout_s: str = API_TIMEOUT_S
    env: dict[str, str] = field(default_factory=dict)
    run: subprocess.Popen[bytes] | None = None
    serving: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    killed: set[str] = field(default_factory=set)

    @property
    def topics(self) -> Topics:
        return Topics(self.prefix)

    @property
    def urls(self) -> list[str]:
        return list(self.serving)

    def start(self) -> None:
        ensure_topics(self.bootstrap, self.topics, partitions=self.partitions)
        self.start_run()
        for _ in range(self.replicas):
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            self.serving[url] = start_serve(
                self.bootstrap,
                self.prefix,
                port,
                self.tmp / f"serve-{port}.log",
                OMNISTOCK_API_TIMEOUT_S=self.api_timeout_s,
                **self.env,
            )
        for url in self.urls:
            wait_ready(url)

    def start_run(self) -> None:
        flags = ("--recovery-dir", str(self.tmp / "recovery"), "--snapshot-s", "0.5")
        self.run = start_run(self.bootstrap, self.prefix, self.tmp / "run.log", *flags)

    def kill_run(self) -> None:
        assert self.run is not None
        stop(self.run, signal.SIGKILL)

    def kill_replica(self, url: str) -> None:
        stop(self.serving[url], signal.SIGKILL)
        self.killed.add(url)

    def live(self) -> str:
        return next(url for url in self.urls if url not in self.killed)

    def close(self) -> None:
        for process in [*self.serving.values(), *([self.run] if self.run else [])]:
            stop(process)

    # -- requests -------------------------------------------------------------------------------

    def stock(self, location_id: str, sku: str, qty: int) -> None:
        receipt = {
            "event_id": f"stock-{location_id}-{sku}",
            "type": "receipt",
            "location_id": location_id,
            "sku": sku,
            "qty": qty,
            "ts": int(time.time() * 1000),
        }
        answer = httpx.post(f"{self.live()}/v1/events", json=[receipt], timeout=10)
        assert answer.status_code == 202, answer.text
        for url in self.urls:
            wait_position(url, location_id, sku, lambda p: p["on_hand"] == qty)


@contextmanager
def system(bootstrap: str, prefix: str, tmp: Path, **kwargs: Any) -> Iterator[System]:
    running = System(bootstrap, prefix, tmp, **kwargs)
    try:
        running.start()
        yield running
    finally:
        running.close()


def send(url: str, method: str, path: str, body: Any, rid: str) -> Answer:
    """One request, as a buyer sees it."""
    try:
        answer = httpx.request(method, f"{url}{path}", json=body, timeout=CLIENT_TIMEOUT_S)
    except httpx.ConnectError:
        return Answer(rid, url, "refused")
    except httpx.TimeoutException:
        return Answer(rid, url, "hung")
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
        return Answer(rid, url, "dropped")
    try:
        parsed = answer.json()
    except ValueError:
        parsed = {"text": answer.text}
    return Answer(rid, url, answer.status_code, parsed)


def race(
    requests: list[Request],
    fault: Callable[[], None] | None = None,
    fault_at_s: float = 0.8,
    spread_s: float = SPREAD_S,
) -> list[Answer]:
    """Send ``(url, method, path, body, reservation_id)`` requests from as many buyers, each
    starting at a random moment within ``spread_s``; ``fault`` runs ``fault_at_s`` in."""
    rng = random.Random(7)
    starts = [rng.uniform(0, spread_s) for _ in requests]
    began = time.monotonic()

    def buyer(i: int) -> Answer:
        time.sleep(max(0.0, began + starts[i] - time.monotonic()))
        return send(*requests[i])

    injector = None
    if fault is not None:
        injector = threading.Timer(fault_at_s, fault)
        injector.start()
    with ThreadPoolExecutor(max_workers=min(len(requests), 200)) as pool:
        answers = list(pool.map(buyer, range(len(requests))))
    if injector is not None:
        injector.join()
    return answers


Request = tuple[str, str, str, Any, str]  # url, method, path, JSON body, reservation id


def reserve_request(
    url: str, rid: str, location_id: str, sku: str, qty: int = 1, **more: Any
) -> Request:
    body = {"reservation_id": rid, "location_id": location_id, "sku": sku, "qty": qty, **more}
    return (url, "POST", "/v1/reservations", body, rid)


# -- reading the topics ---------------------------------------------------------------------------


def read_all(bootstrap: str, topic: str) -> list[list[bytes]]:
    """Every message of every partition of ``topic`` up to its end now, partition by partition."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"read-{topic}", "enable.auto.commit": False}
    )
    try:
        partitions = sorted(consumer.list_topics(topic, timeout=15).topics[topic].partitions)
        ends = {}
        for index in partitions:
            low, high = _watermarks(consumer, TopicPartition(topic, index))
            if high > low:
                ends[index] = high
        consumer.assign([TopicPartition(topic, index, 0) for index in ends])
        out: dict[int, list[bytes]] = {index: [] for index in partitions}
        left = {index for index in ends}
        deadline = time.monotonic() + 60
        while left:
            assert time.monotonic() < deadline, f"could not read {topic} to its end"
            # consume() waits for as many messages as asked: ask for no more than are left
            wanted = sum(ends[i] - len(out[i]) for i in left)
            for message in consumer.consume(min(wanted, 10_000), timeout=1):
                index, offset = message.partition(), message.offset()
                if message.error() is None and index is not None and offset is not None:
                    _keep(out[index], message.value(), offset < ends[index])
            left = {i for i in left if len(out[i]) < ends[i]}
        return [out[index] for index in partitions]
    finally:
        consumer.close()


def _keep(values: list[bytes], value: bytes | None, wanted: bool) -> None:
    if wanted:
        values.append(value or b"")


def _watermarks(consumer: Consumer, partition: TopicPartition) -> tuple[int, int]:
    """A partition's offsets; a broker just restarted answers "not leader" for a while."""
    deadline = time.monotonic() + 60
    while True:
        try:
            low, high = consumer.get_watermark_offsets(partition, timeout=15)
            return int(low), int(high)
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def replay_of_events(bootstrap: str, topics: Topics) -> Replay:
    """A replay of the events topic, partition after partition, following its revocations, with
    the wall clock's limit on ``ts`` and its expiries, as the live run had them."""
    lines = [line for partition in read_all(bootstrap, topics.events) for line in partition]
    now = datetime.now(UTC)
    replay = Replay(now=now, losers=revocations(lines), ledger=True)
    replay.feed(lines)
    replay.finish(now)
    return replay


def positions_of(replay: Replay) -> dict[str, Any]:
    return {
        f"{p.location_id}:{p.sku}": orjson.loads(msgspec.json.encode(p)) for p in replay.records()
    }


# -- settling and the invariants ------------------------------------------------------------------


class Settled(NamedTuple):
    """What ``settled`` waited for: each answered id's view on a live replica, and the replay
    of the events topic that the atp topic equals."""

    views: dict[str, Any]
    replay: Replay


def settled(running: System, answers: list[Answer], timeout: float = 90) -> Settled:
    """Wait until the engine has applied everything that may have reached it: the atp topic
    equals a replay of the events topic, and a live replica's ``GET`` of every id answered
    shows what that replay's ledger holds for it. Both are taken again until they agree: a
    request a replica's producer held through a broker restart may reach the events topic
    after the atp topic and the replay first agreed."""
    url = running.live()
    wanted = sorted({a.reservation_id for a in answers if a.status in (200, 201, 202, 409)})
    deadline = time.monotonic() + timeout
    atp = Topic(running.bootstrap, running.topics.atp)
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            while True:
                atp.poll(0.5)
                replay = replay_of_events(running.bootstrap, running.topics)
                if atp.last != positions_of(replay):
                    if time.monotonic() >= deadline:
                        raise AssertionError(unsettled(running, client, atp.last, replay, []))
                    continue
                ledger = {row["reservation_id"]: row["status"] for row in replay.reservations()}
                views: dict[str, Any] = {}
                for rid in wanted:
                    found = client.get(f"/v1/reservations/{rid}")
                    status = found.json().get("status") if found.status_code == 200 else ""
                    if LISTED.get(status, status) == ledger.get(rid):
                        views[rid] = found.json()
                if len(views) == len(wanted):
                    return Settled(views, replay)
                missing = [r for r in wanted if r not in views]
                if time.monotonic() >= deadline:
                    raise AssertionError(unsettled(running, client, atp.last, replay, missing))
                time.sleep(0.2)
    finally:
        atp.close()


LISTED = {"confirmed": "active"}  # a view's status as a replay lists it


def unsettled(
    running: System,
    client: httpx.Client,
    atp: dict[str | None, Any],
    replay: Replay,
    missing: list[str],
) -> str:
    """Why ``settled`` gave up: the positions the atp topic and the replay disagree on, each
    topic's offsets per partition, how far the replica says it has read (``/v1/health``), and
    for a few of the ids the replica does not show as the replay's ledger has them, what it
    shows, what the ledger holds, and which of the events and reservations topics name them."""
    topics = running.topics
    wanted = positions_of(replay)
    differ = {
        key: (atp.get(key), wanted.get(str(key)))
        for key in sorted({*atp, *wanted}, key=str)
        if atp.get(key) != wanted.get(str(key))
    }
    lines = [f"atp topic vs replay, {len(differ)} positions differ: {differ}"]
    lines.append(f"offsets (low, high) per partition: {offsets(running.bootstrap, topics)}")
    try:
        lines.append(f"replica {running.live()} health: {client.get('/v1/health').json()}")
    except (httpx.HTTPError, ValueError) as exc:
        lines.append(f"replica {running.live()} health: {exc!r}")
    if missing:
        ledger = {row["reservation_id"]: row["status"] for row in replay.reservations()}
        lines.append(f"{len(missing)} ids not shown as the ledger has them, e.g.:")
        outcomes = _naming(running.bootstrap, topics.reservations, missing[:5])
        events = _naming(running.bootstrap, topics.events, missing[:5])
        for rid in missing[:5]:
            found = client.get(f"/v1/reservations/{rid}")
            lines.append(
                f"  {rid}: replica {found.status_code} {found.text[:200]}; ledger "
                f"{ledger.get(rid)}; events topic {events[rid]}; reservations topic "
                f"{outcomes[rid]}"
            )
    return "\n".join(lines)


def offsets(bootstrap: str, topics: Topics) -> dict[str, list[tuple[int, int]]]:
    """The low and high watermark of every partition of the dataflow's topics."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "offsets"})
    try:
        found = {}
        for topic in (topics.events, topics.atp, topics.reservations, topics.deadletter):
            indexes = sorted(consumer.list_topics(topic, timeout=15).topics[topic].partitions)
            found[topic] = [_watermarks(consumer, TopicPartition(topic, i)) for i in indexes]
        return found
    finally:
        consumer.close()


def _naming(bootstrap: str, topic: str, ids: list[str]) -> dict[str, list[str]]:
    """For each id, the partition/offset and a bit of each message of ``topic`` naming it."""
    found: dict[str, list[str]] = {rid: [] for rid in ids}
    for index, partition in enumerate(read_all(bootstrap, topic)):
        for offset, raw in enumerate(partition):
            for rid in ids:
                if f'"{rid}"'.encode() in raw:
                    found[rid].append(f"{index}/{offset} {raw[:160]!r}")
    return found


def check(running: System, answers: list[Answer], done: Settled) -> Replay:
    """The invariants, once the system has settled (``settled``); its replay of the events
    topic is the witness."""
    views, replay = done
    # every client answered, none hung; the killed replicas' clients may have been cut off
    for answer in answers:
        allowed = ANSWERED | (CUT if answer.url in running.killed else set())
        assert answer.status in allowed, answer
    # nothing oversold
    for position in positions_of(replay).values():
        assert position["oversold"] == 0, position
    # one hold per id, and one location's outcomes per id
    for book in replay.books.values():
        assert all(r.qty >= 0 for r in book.reservations.values())
    assert one_hold_per_reservation_id(list(replay.books.values()))
    outcomes: dict[str, set[str]] = defaultdict(set)
    for partition in read_all(running.bootstrap, running.topics.reservations):
        for raw in partition:
            record = orjson.loads(raw)
            if not record.get("repeat"):
                outcomes[record["reservation_id"]].add(record["location_id"])
    assert all(len(where) == 1 for where in outcomes.values()), {
        rid: where for rid, where in outcomes.items() if len(where) > 1
    }
    # honest answers
    for answer in answers:
        view = views.get(answer.reservation_id)
        if answer.status == 201:
            assert view is not None and view["first_status"] in ("confirmed", "partial"), answer
        elif answer.status == 409 and answer.body.get("error", {}).get("code") == "rejected":
            assert view is not None and view["first_status"] == "rejected", answer
        elif answer.status == 202:
            assert view is not None and view["status"] != "pending", answer
    return replay


def held(replay: Replay, location_id: str, sku: str) -> int:
    book = replay.books.get(location_id)
    position = None if book is None else book.positions.get(sku)
    return 0 if position is None else position.reserved
