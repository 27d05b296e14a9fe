"""Which worker owns a book: state keys chosen so that the worker reading a location's
partition folds it (issue #19).

Bytewax 0.21.1 routes the items of a stateful step to a worker by a hash of their key, not by
where they were read (``src/operators.rs``, ``stateful_batch``: ``partition`` over the list of
workers with ``BuildHasherDefault::<DefaultHasher>``; ``src/timely.rs``, ``PartitionOp``)::

    worker = siphash13(key=0,0)(utf8(key) + b"\\xff") % workers

(Rust's ``DefaultHasher`` is SipHash-1-3 with zero keys; a ``str`` hashes as its bytes and a
``0xff``; ``finish() as usize``, modulo the worker count, indexes the sorted workers.) A keyed
step after the source therefore sends about ``1 - 1/workers`` of its items to another worker,
and between processes each is pickled.

The partitions of a ``FixedPartitionedSource`` go to workers by ``calc_primaries``
(``src/timely.rs``): the partition keys (here ``"0"``, ``"1"``, ...) in their sorted *string*
order (``"10"`` before ``"2"``), each to the worker that holds the fewest so far, the lowest
index among equals. With every worker listing every partition, the ``r``-th partition in that
order goes to worker ``r % W`` (``primaries``, checked against Bytewax itself, partitions and
keys, in ``tests/flows/test_keying.py``).

A producer here puts a location's events on partition ``murmur2(location_id) % partitions``
(``dataflows.kafka.PRODUCER_DEFAULTS``: librdkafka's ``murmur2_random``, Java's partitioner).
``PartitionKeying`` keys a location's book by ``"<location_id>~<salt>"``, the smallest salt
whose hash modulo the *partition count* ``N`` is the owner of that partition when there are
``N`` workers. For every worker count ``W`` that divides ``N`` (what ``omnistock run`` warns
about otherwise) the owner with ``W`` workers is that owner modulo ``W``, so the book lands on
the worker reading its partition, whatever ``W``. The key does not depend on the worker count:
a restart with more or fewer processes finds every book in the recovery store, and its books
are local again. With a ``W`` that does not divide ``N`` the keys still hold (the state is
found, the results are the same), only some items cross workers.

What still crosses: a transfer's expected supply, keyed by its destination (another
partition's location, now and then); the unreadable lines, all under ``UNREADABLE``'s one key;
events produced elsewhere than on their location's murmur2 partition (a benchmark's markers, a
producer with another partitioner): correct, only not local. And past the fold, the reservation
outcomes on their way to the claims (``dataflows.flow``: keyed by a bucket of reservation id,
so that one id meets itself whatever location it was reserved at), and the promise signals on
their way to the table (keyed by a bucket of sku): ``1 - 1/workers`` of them, by design, each
group pickled as one msgpack string (``dataflows.exchange``; ``benchmarks/scale_out.py``
measures what that costs).

The keys depend on the events topic's partition count: changing it changes every key (and
already breaks a location's order across old and new partitions), so it is not supported on a
recovery store. ``LocationKeying`` keeps the keys of old, the location ids
(``OMNISTOCK_KEYING=location``): a recovery store written with them needs them.
``stored_mismatch`` tells whether a recovery store's books were keyed as a keying keys them (a
run can refuse a store it would not find its books in).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Final, Protocol

from engine.batch import UNREADABLE

SEP: Final = "~"  # a key is ``location_id + SEP + decimal salt``: split at the last SEP
KEYING_ENV: Final = "OMNISTOCK_KEYING"  # "partition" (the default) or "location"
_MASK: Final = 0xFFFF_FFFF_FFFF_FFFF


def _rotl(x: int, b: int) -> int:
    return ((x << b) | (x >> (64 - b))) & _MASK


def _rounds(v0: int, v1: int, v2: int, v3: int, n: int) -> tuple[int, int, int, int]:
    for _ in range(n):
        v0 = (v0 + v1) & _MASK
        v1 = _rotl(v1, 13) ^ v0
        v0 = _rotl(v0, 32)
        v2 = (v2 + v3) & _MASK
        v3 = _rotl(v3, 16) ^ v2
        v0 = (v0 + v3) & _MASK
        v3 = _rotl(v3, 21) ^ v0
        v2 = (v2 + v1) & _MASK
        v1 = _rotl(v1, 17) ^ v2
        v2 = _rotl(v2, 32)
    return v0, v1, v2, v3


def siphash13(data: bytes) -> int:
    """SipHash-1-3 of ``data`` with the zero key: Rust's ``DefaultHasher::new()``."""
    v0, v1, v2, v3 = 0x736F6D6570736575, 0x646F72616E646F6D, 0x6C7967656E657261, 0x7465646279746573
    whole = len(data) - len(data) % 8
    for i in range(0, whole, 8):
        m = int.from_bytes(data[i : i + 8], "little")
        v3 ^= m
        v0, v1, v2, v3 = _rounds(v0, v1, v2, v3, 1)
        v0 ^= m
    b = ((len(data) & 0xFF) << 56) | int.from_bytes(data[whole:], "little")
    v3 ^= b
    v0, v1, v2, v3 = _rounds(v0, v1, v2, v3, 1)
    v0 ^= b
    v2 ^= 0xFF
    v0, v1, v2, v3 = _rounds(v0, v1, v2, v3, 3)
    return v0 ^ v1 ^ v2 ^ v3


def key_hash(key: str) -> int:
    """The hash Bytewax 0.21.1 routes a state key by (``Hash`` of a Rust ``String``)."""
    return siphash13(key.encode() + b"\xff")


def owner(key: str, workers: int) -> int:
    """The worker that holds ``key``'s state in a stateful step of ``workers`` workers."""
    return key_hash(key) % workers


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (Java ``Utils.murmur2``, librdkafka ``rd_murmur2``), as unsigned 32 bits."""
    m = 0x5BD1E995
    h = (0x9747B28C ^ len(data)) & 0xFFFFFFFF
    whole = len(data) - len(data) % 4
    for i in range(0, whole, 4):
        k = (int.from_bytes(data[i : i + 4], "little") * m) & 0xFFFFFFFF
        k ^= k >> 24
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    tail = data[whole:]
    if tail:
        h ^= int.from_bytes(tail, "little")
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def partition_of(key: bytes, partitions: int) -> int:
    """The partition a ``murmur2_random`` (or Java) producer puts a keyed message on."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def primaries(parts: Sequence[str], workers: int) -> dict[str, int]:
    """Which worker reads each partition of a ``FixedPartitionedSource`` whose every worker
    lists every one of ``parts`` (Bytewax 0.21.1 ``calc_primaries``, see the module's text)."""
    assigned: dict[str, int] = {}
    counts = [0] * workers
    for part in sorted(set(parts)):  # a Rust BTreeMap of String keys: byte order
        worker = counts.index(min(counts))  # the first of the fewest
        assigned[part] = worker
        counts[worker] += 1
    return assigned


class Keying(Protocol):
    """The state key of each book."""

    def key(self, location_id: str) -> str:
        """The key of ``location_id``'s book (``UNREADABLE`` for an unreadable event)."""
        ...


class LocationKeying:
    """A book's key is its location id: Bytewax hashes it to any worker."""

    def key(self, location_id: str) -> str:
        return location_id


class PartitionKeying:
    """A book's key hashes to the worker that reads its location's partition (module text).

    Args:
        partitions: the events topic's partition count.
        parts: the source's partition keys, the partition numbers as text (``EventSource``).
    """

    def __init__(self, partitions: int, parts: Sequence[str] | None = None) -> None:
        if partitions < 1:
            raise ValueError("a topic has at least one partition")
        self.partitions = partitions
        names = [str(p) for p in range(partitions)] if parts is None else list(parts)
        by_name = primaries(names, partitions)  # one worker per partition
        self.targets = [by_name[str(p)] for p in range(partitions)]
        self.keys: dict[str, str] = {}  # location id -> key, searched once

    def key(self, location_id: str) -> str:
        found = self.keys.get(location_id)
        if found is None:
            found = self.keys[location_id] = self._search(location_id)
        return found

    def target(self, location_id: str) -> int:
        """``location_id``'s book's owner among ``partitions`` workers (modulo a divisor:
        among fewer)."""
        if location_id == UNREADABLE:  # goes nowhere in particular: the first partition's
            return self.targets[0]
        return self.targets[partition_of(location_id.encode(), self.partitions)]

    def _search(self, location_id: str) -> str:
        want = self.target(location_id)
        prefix = location_id + SEP
        salt = 0
        while key_hash(f"{prefix}{salt}") % self.partitions != want:
            salt += 1
        return f"{prefix}{salt}"


def keying_from_env(partitions: int, parts: Sequence[str] | None = None) -> Keying:
    """The keying ``OMNISTOCK_KEYING`` names: ``partition`` (the default, ``PartitionKeying``)
    or ``location`` (``LocationKeying``, the location ids)."""
    name = os.environ.get(KEYING_ENV, "partition").strip().lower() or "partition"
    if name == "location":
        return LocationKeying()
    if name != "partition":
        from engine.errors import ConfigError  # noqa: PLC0415

        raise ConfigError(f"{KEYING_ENV} must be 'partition' or 'location', not {name!r}")
    return PartitionKeying(partitions, parts)


def keying_of(source: object) -> Keying:
    """The keying a source asks for (its ``keying()``: ``dataflows.kafka.EventSource``), else
    ``LocationKeying`` (a testing or in-process source: one worker, or no partitions to follow)."""
    made = getattr(source, "keying", None)
    return made() if callable(made) else LocationKeying()


FOLD_STEP: Final = "omnistock.fold"  # the fold's step id in a recovery store


def stored_mismatch(recovery_dir: Path, keying: Keying, limit: int = 1000) -> str | None:
    """A book key of the fold in the recovery store at ``recovery_dir`` that ``keying`` would
    not give its location (``limit`` keys looked at), or ``None``: resuming finds the books.

    A store written with another keying (``LocationKeying`` before issue #19) or another
    partition count of the events topic holds its books under keys the run never uses: their
    state would be restored beside fresh, empty books.
    """
    found = None
    for path in sorted(recovery_dir.glob("*.sqlite3")):
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            try:
                rows = db.execute(
                    "SELECT DISTINCT state_key FROM snaps WHERE step_id = ? LIMIT ?",
                    (FOLD_STEP, limit),
                ).fetchall()
            except sqlite3.Error:
                continue  # not a Bytewax partition, or not migrated yet: nothing stored
        for (stored,) in rows:
            location = stored.rpartition(SEP)[0] if isinstance(keying, PartitionKeying) else stored
            if keying.key(location) != stored:
                found = stored
                break
        if found is not None:
            break
    return found
