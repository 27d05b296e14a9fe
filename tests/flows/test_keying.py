"""The books' keys (``dataflows.keying``) against Bytewax 0.21.1 itself: its hash of a state key
and its assignment of a source's partitions to workers, then the dataflow with several
partitions and workers: the fold's items stay on the worker that read them, and the results
are one worker's."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import bytewax.operators as op
import orjson
import pytest
from bytewax.dataflow import Dataflow
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from bytewax.testing import TestingSink, cluster_main, run_main

import dataflows.flow
import engine.batch
from dataflows.flow import Incoming, Published, build_flow
from dataflows.keying import (
    SEP,
    Keying,
    LocationKeying,
    PartitionKeying,
    key_hash,
    keying_from_env,
    keying_of,
    murmur2,
    owner,
    partition_of,
    primaries,
    siphash13,
)
from engine.batch import UNREADABLE
from engine.book import EngineConfig
from engine.errors import ConfigError
from workload import WorkloadParams, generate

AHEAD = EngineConfig(max_future_s=86_400)  # the log is dated an hour ahead


def test_murmur2_is_kafkas():
    """Kafka's own test vectors (``UtilsTest.testMurmur2``), as signed Java ints."""
    cases = {
        b"21": -973932308,
        b"foobar": -790332482,
        b"a-little-bit-long-string": -985981536,
        b"a-little-bit-longer-string": -1486304829,
        b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
        b"abc": 479470107,
    }
    for data, signed in cases.items():
        assert murmur2(data) == signed & 0xFFFFFFFF, data


def test_siphash13_of_a_key_is_pinned():
    # Rust: DefaultHasher::new(), "S0001".hash(&mut h): the bytes, then 0xff. Pinned here;
    # test_partitions_and_keys_go_where_keying_says checks the hash against Bytewax's routing.
    assert key_hash("S0001") == siphash13(b"S0001\xff") == 0xCBFE58800BE8FF53
    assert siphash13(b"") == 0xD1FBA762150C532C


# -- Bytewax itself: which worker reads a partition, which holds a key ------------------------

_lock = threading.Lock()


class _Recorded:
    """What one cluster run saw: thread of each worker, of each partition read, of each key."""

    def __init__(self) -> None:
        self.worker_of_thread: dict[int, int] = {}
        self.thread_of_part: dict[str, int] = {}
        self.threads_of_key: dict[str, set[int]] = {}


class _Part(StatefulSourcePartition[tuple[str, int], None]):
    def __init__(self, name: str, keys: list[str], seen: _Recorded) -> None:
        self.name, self.keys, self.seen, self.done = name, keys, seen, False

    def next_batch(self) -> list[tuple[str, int]]:
        if self.done:
            raise StopIteration
        self.done = True
        with _lock:
            self.seen.thread_of_part[self.name] = threading.get_ident()
        return [(key, 1) for key in self.keys]

    def snapshot(self) -> None:
        return None


class _Parts(FixedPartitionedSource[tuple[str, int], None]):
    def __init__(self, parts: int, keys: list[str], seen: _Recorded) -> None:
        self.parts, self.keys, self.seen = parts, keys, seen

    def list_parts(self) -> list[str]:
        return [str(p) for p in range(self.parts)]

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _Part:
        return _Part(for_part, self.keys if for_part == "0" else [], self.seen)


class _WorkerSink(DynamicSink[Any]):
    """Learns each worker thread's index (``build`` runs on the worker's thread)."""

    def __init__(self, seen: _Recorded) -> None:
        self.seen = seen

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _Nothing:
        with _lock:
            self.seen.worker_of_thread[threading.get_ident()] = worker_index
        return _Nothing()


class _Nothing(StatelessSinkPartition[Any]):
    def write_batch(self, items: list[Any]) -> None:
        pass


def bytewax_routes(parts: int, workers: int, keys: list[str]) -> _Recorded:
    seen = _Recorded()
    flow = Dataflow("routes")
    stream = op.redistribute("spread", op.input("in", flow, _Parts(parts, keys, seen)))
    held = op.stateful_map("hold", stream, lambda state, value: (None, threading.get_ident()))

    def record(item: tuple[str, int]) -> tuple[str, int]:
        with _lock:
            seen.threads_of_key.setdefault(item[0], set()).add(item[1])
        return item

    op.output("out", op.map("record", held, record), _WorkerSink(seen))
    cluster_main(flow, [], 0, worker_count_per_proc=workers)
    return seen


@pytest.mark.parametrize(
    ("parts", "workers"), [(4, 2), (4, 3), (4, 4), (12, 3), (16, 4), (24, 5), (32, 8)]
)
def test_partitions_and_keys_go_where_keying_says(parts, workers):
    keys = [f"S{n:04d}" for n in range(150)] + ["", "é~1", "DC01~17", "x" * 40]
    seen = bytewax_routes(parts, workers, keys)
    worker = seen.worker_of_thread
    assert {p: worker[t] for p, t in seen.thread_of_part.items()} == primaries(
        [str(p) for p in range(parts)], workers
    )
    held = {k: {worker[t] for t in threads} for k, threads in seen.threads_of_key.items()}
    assert held == {k: {owner(k, workers)} for k in keys}


def test_primaries_sort_the_partition_names_as_text():
    # "10" before "2": with 3 workers, "0" -> 0, "1" -> 1, "10" -> 2, "11" -> 0, "2" -> 1 ...
    assert primaries([str(p) for p in range(12)], 3) == {
        "0": 0, "1": 1, "10": 2, "11": 0, "2": 1, "3": 2,
        "4": 0, "5": 1, "6": 2, "7": 0, "8": 1, "9": 2,
    }  # fmt: skip


# -- the keys --------------------------------------------------------------------------------


@pytest.mark.parametrize("partitions", [1, 4, 6, 12, 16])
def test_a_book_is_held_by_the_worker_reading_its_partition(partitions):
    keying = PartitionKeying(partitions)
    names = [str(p) for p in range(partitions)]
    locations = [f"S{n:04d}" for n in range(300)] + [f"DC{n:02d}" for n in range(10)]
    for workers in [w for w in range(1, partitions + 1) if partitions % w == 0]:
        reader = primaries(names, workers)
        for location in locations:
            key = keying.key(location)
            assert owner(key, workers) == reader[str(partition_of(location.encode(), partitions))]


def test_keys_depend_on_the_location_and_the_partition_count_only():
    first, again = PartitionKeying(4), PartitionKeying(4)
    locations = [f"S{n:04d}" for n in range(200)]
    keys = [first.key(location) for location in locations]
    assert keys == [again.key(location) for location in locations]  # a restart finds them
    assert len(set(keys)) == len(keys)
    for location, key in zip(locations, keys, strict=True):
        assert key.rpartition(SEP)[0] == location
        assert key.rpartition(SEP)[2].isdigit()
    assert first.key(UNREADABLE).startswith(SEP)  # no location id is empty: no clash


def test_the_keying_is_chosen_by_the_environment(monkeypatch):
    monkeypatch.delenv("OMNISTOCK_KEYING", raising=False)
    assert isinstance(keying_from_env(4), PartitionKeying)
    monkeypatch.setenv("OMNISTOCK_KEYING", "location")
    assert isinstance(keying_from_env(4), LocationKeying)
    monkeypatch.setenv("OMNISTOCK_KEYING", "sideways")
    with pytest.raises(ConfigError):
        keying_from_env(4)
    assert isinstance(keying_of(object()), LocationKeying)  # a source without a keying


# -- the dataflow over partitions ------------------------------------------------------------

PARTS = 4


def make_log(events: int, seed: int, stores: int = 10, skus: int = 50) -> list[bytes]:
    """A workload an hour ahead of the wall clock (no live expiry during a test)."""
    params = WorkloadParams(
        events=events,
        stores=stores,
        dcs=2,
        skus=skus,
        seed=seed,
        start_ms=int(time.time() * 1000) + 3_600_000,
        events_per_s=50.0,
        dup_rate=0.02,
        bad_rate=0.01,
    )
    return list(generate(params))


def location_of(line: bytes) -> str | None:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    location = value.get("location_id") if isinstance(value, dict) else None
    return location if isinstance(location, str) else None


class _LogPart(StatefulSourcePartition[Incoming, int]):
    """One partition of the log, as Kafka would hold it: its messages in order, in batches."""

    def __init__(self, index: int, lines: list[bytes], reads: dict[int, int]) -> None:
        self.index, self.lines, self.reads, self.at = index, lines, reads, 0

    def next_batch(self) -> list[Incoming]:
        with _lock:
            self.reads[self.index] = threading.get_ident()
        if self.at >= len(self.lines):
            raise StopIteration
        batch = self.lines[self.at : self.at + 50]
        start, self.at = self.at, self.at + len(batch)
        return [Incoming(line, ("events", self.index, start + n)) for n, line in enumerate(batch)]

    def snapshot(self) -> int:
        return self.at


class _LogParts(FixedPartitionedSource[Incoming, int]):
    """The log over ``PARTS`` partitions by murmur2 of the location (an unreadable line on
    partition 0), as the producers put it."""

    def __init__(self, lines: list[bytes], reads: dict[int, int]) -> None:
        self.parts: list[list[bytes]] = [[] for _ in range(PARTS)]
        for line in lines:
            location = location_of(line)
            part = 0 if location is None else partition_of(location.encode(), PARTS)
            self.parts[part].append(line)
        self.reads = reads

    def list_parts(self) -> list[str]:
        return [str(p) for p in range(PARTS)]

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _LogPart:
        return _LogPart(int(for_part), self.parts[int(for_part)], self.reads)


class Folded:
    """Per envelope the fold saw: the thread that folded it, its partition, its message type."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, int, str]] = []


@pytest.fixture
def folded(monkeypatch) -> Iterator[Folded]:
    seen = Folded()
    fold = engine.batch.fold_batch  # what dataflows.flow calls

    def recording(book: Any, batches: list[list[Any]], *args: Any) -> Any:
        thread = threading.get_ident()
        rows = [(thread, e[2][1], type(e[0]).__name__) for batch in batches for e in batch]
        with _lock:
            seen.rows.extend(rows)
        return fold(book, batches, *args)

    monkeypatch.setattr(dataflows.flow, "fold_batch", recording)
    yield seen


def run_partitioned(lines: list[bytes], workers: int, keying: Keying) -> tuple[Any, Any]:
    """The flow over the partitioned log; what it published and which thread read each
    partition."""
    published: list[Published] = []
    reads: dict[int, int] = {}
    flow = build_flow(_LogParts(lines, reads), TestingSink(published), AHEAD, keying=keying)
    if workers == 1:
        run_main(flow)
    else:
        cluster_main(flow, [], 0, worker_count_per_proc=workers)
    return published, reads


def crossings(folded: Folded, reads: dict[int, int]) -> Counter[str]:
    """Envelopes folded on another thread than the one that read them, by message type."""
    return Counter(kind for thread, part, kind in folded.rows if reads[part] != thread)


@pytest.fixture(scope="module")
def log() -> list[bytes]:
    return make_log(4000, seed=19)


def test_two_workers_fold_what_they_read(log, folded):
    _, reads = run_partitioned(log, 2, PartitionKeying(PARTS))
    assert len(set(reads.values())) == 2  # both workers read
    assert len(folded.rows) >= len(log) * 0.9
    crossed = crossings(folded, reads)
    # Only a transfer's expected supply crosses (to its destination's partition), and the
    # unreadable lines of the partitions whose worker does not hold UNREADABLE's key.
    assert set(crossed) <= {"SupplyExpected", "Rejected"}, crossed
    transfers = sum(b'"transfer_out"' in line for line in log)
    assert crossed["SupplyExpected"] <= transfers


def test_location_keys_cross_between_workers(log, folded):
    """The control: keyed by location id, about half of the fold's envelopes cross."""
    _, reads = run_partitioned(log, 2, LocationKeying())
    assert sum(crossings(folded, reads).values()) > len(folded.rows) * 0.2


def by_topic(published: list[Published]) -> dict[str, dict[str | None, Any]]:
    """The last value of each key per topic, and every dead letter (their sources)."""
    last: dict[str, dict[str | None, Any]] = {}
    dead: list[str] = []
    for _, messages in published:
        for topic, key, value in messages:
            record = orjson.loads(value)
            if topic == "dead":
                dead.append(record["source"])
            elif not record.get("repeat"):  # a repeat answers, it changes nothing
                last.setdefault(topic, {})[key] = record
    last["dead"] = dict.fromkeys(sorted(dead))
    return last


def test_two_workers_publish_what_one_does(log):
    """Without transfers: their supply is the one thing whose order against its destination's
    events depends on how the partitions interleave (docs/decisions.md D28)."""
    lines = [line for line in log if b'"transfer_out"' not in line]
    one, _ = run_partitioned(lines, 1, PartitionKeying(PARTS))
    two, _ = run_partitioned(lines, 2, PartitionKeying(PARTS))
    before, _ = run_partitioned(lines, 2, LocationKeying())
    assert by_topic(two) == by_topic(one)
    assert by_topic(before) == by_topic(one)
    assert len(by_topic(one)["atp"]) > 100
