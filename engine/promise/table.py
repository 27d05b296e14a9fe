"""The promise table (docs/network.md §9): per sku, each region's listing answer, kept current.

An entry is what ``POST /v1/promise/listing`` answers for the sku, one unit, channel ``web``,
to a region's point, at the entry's ``as_of``, with the location and ``ship_by`` of each
level's best option. It depends on the clock and on one thing of the stock: which locations
have web ATP >= 1 (the sku's *candidates*). So the table hears only changes of that set
(``Signal``: a location's web ATP went from 0 to >= 1 or back), and wakes at ``valid_until``.

Two parts:

- ``Maker``: the network's side, shared by every sku of a process (never pickled): the
  calendars, the distances from each location to each region, the options of every location
  to every region at an instant, and the *timeline* (each location's options at every instant
  they change over the next ``WINDOW_S``). ``Maker.compute(skus_and_candidates, t)`` gives
  each sku's entry and the first instant it changes: the first timeline instant at which a
  candidate's new options change a best option (``table_kernels.entries``).
- ``PromiseBook``: the state (picklable): per sku its candidates (a bitmask of location
  indices), the digest of its published regions, and its wake-up. ``hear`` and ``wake`` are
  the rules: ``(book, input, maker, now) -> publications``; ``recovered`` readies a book
  restored from a snapshot.

``valid_until`` is the last second the entry surely holds: the cut-off instant itself
("ordering at it still makes it"), or the second before a local midnight. The entry is made
again at ``valid_until + 1 s``. An entry is published only when its regions change; a
recomputation that finds the same regions publishes nothing (and ``valid_until`` stays as
published: docs/decisions.md D97). No change within the timeline's window (13 days at
least): ``valid_until`` is null, and the book looks again a week later, unpublished.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from itertools import accumulate
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from engine.promise import table_kernels as tk
from engine.promise.calendar import Tables, build_tables, local_time, unit_vector
from engine.promise.network import Network
from engine.promise.table_rows import MAX_ROWS, Rows, packed

I64 = npt.NDArray[np.int64]
HORIZON_DAYS: Final = 60  # order dates a calendar covers, as engine.promise.calculator's
LOOKAHEAD_DAYS: Final = 90  # as engine.promise.calculator's: the same answers
WINDOW_S: Final = 14 * 86_400  # how far ahead the timeline looks for a change
REFRESH_S: Final = 86_400  # the timeline is made anew once it is this old
RECHECK_S: Final = 7 * 86_400  # an entry with no change in the window looks again after
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ORDINAL: Final = date(1970, 1, 1).toordinal()
_CACHE_MAX: Final = 200_000
_BLOCK: Final = 512  # skus made at once: bounds the arrays and the gather buffer (~15 MB)

Signal = tuple[str, str, bool]  # (sku, location_id, web ATP >= 1 there)
Publish = tuple[str, str, bytes]  # ("promises", sku, the entry's JSON)


def seconds(at: datetime) -> int:
    """An aware instant as epoch seconds, rounded up (as the calculator rounds an order)."""
    micros = (at - _EPOCH) // timedelta(microseconds=1)
    return -(-micros // 1_000_000)


@lru_cache(maxsize=4096)
def _instant(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Maker:
    """The network's side of the table: calendars, distances, options and the timeline.

    Args:
        network: a validated network with ``regions``.
    """

    def __init__(self, network: Network) -> None:
        self.network = network
        self.regions = [region.id for region in network.regions]
        self.levels = [level.name for level in network.service_levels]
        self.location_ids = [location.id for location in network.locations]
        self.index = network.index
        self._zones = [location.timezone for location in network.locations]
        reg_xyz = np.array(
            [unit_vector(r.lat, r.lon) for r in network.regions], dtype=np.float64
        ).reshape(len(self.regions), 3)
        self._reg_xyz = reg_xyz
        self._tables: Tables | None = None
        self._dist: npt.NDArray[np.float64] | None = None
        self._timeline: tuple[int, I64, I64, I64, I64] | None = None
        self._options: tuple[int, I64, I64] | None = None
        self._level_json = [f'"{name}":'.encode() for name in self.levels]
        self._region_json = [f'"{rid}":'.encode() for rid in self.regions]
        self._option_json: dict[tuple[int, int, int], bytes] = {}
        self._prefix: tuple[npt.NDArray[np.uint8], I64] | None = None
        self._rows: list[Rows] = []  # row registries, one a thread using the maker at once

    # -- the network's side, at an instant --------------------------------------------------

    def tables(self, t: int) -> Tables:
        """Calendars covering orders from ``t`` to the end of the timeline's window."""
        found = self._tables
        day = t // 86_400
        last = (t + WINDOW_S) // 86_400
        if found is None or not found.start_epoch_day < day <= last <= (
            found.start_epoch_day + HORIZON_DAYS
        ):
            start = date.fromordinal(_ORDINAL + day - 1)
            days = HORIZON_DAYS + LOOKAHEAD_DAYS + 2
            found = build_tables(self.network, start, days, LOOKAHEAD_DAYS)
            self._tables = found
            self._timeline = None
            self._options = None
            if self._dist is None:
                self._dist = tk.region_distances(found.loc_xyz, self._reg_xyz)
        return found

    def _distances(self) -> npt.NDArray[np.float64]:
        assert self._dist is not None
        return self._dist

    def options(self, t: int) -> tuple[I64, I64]:
        """Every location's options to every region at ``t`` (cached for the last ``t``)."""
        tb = self.tables(t)
        found = self._options
        if found is None or found[0] != t:
            day, by = tk.options_at(tb, self._distances(), t)
            found = self._options = (t, day, by)
        return found[1], found[2]

    def timeline(self, t: int) -> tuple[I64, I64, I64, I64, int]:
        """The timeline covering ``(t, t + 13 days]`` at least, and where ``t`` falls in it."""
        tb = self.tables(t)
        found = self._timeline
        if found is None or not found[0] <= t <= found[0] + REFRESH_S:
            made = tk.timeline(tb, self._distances(), t, t + WINDOW_S)
            found = self._timeline = (t, *made)
        _, time, loc, day, by = found
        return time, loc, day, by, int(np.searchsorted(time, t, side="right"))

    # -- entries --------------------------------------------------------------------------

    def compute(
        self,
        skus: Sequence[str],
        candidates: Sequence[Sequence[int]],
        t: int,
        published: Sequence[bytes] | None = None,
    ) -> tuple[list[bytes | None], list[bytes], list[int | None]]:
        """Each sku's entry (JSON), the digest of its regions and ``valid_until`` at ``t``.

        Args:
            skus: the skus.
            candidates: per sku, the location indices where its web ATP is >= 1.
            t: the instant (epoch seconds).
            published: per sku, the digest of its published regions (``b""``: none); a sku
                whose digest is unchanged gets no entry. ``None``: every sku gets its entry.

        Returns:
            Per sku: its entry of ``omnistock.promises`` (``None`` when unchanged), the digest
            of its regions (equal regions, equal digest, across restarts), and
            ``valid_until`` (epoch seconds) or ``None``.
        """
        entries: list[bytes | None] = []
        digests: list[bytes] = []
        until: list[int | None] = []
        rows = self._spare_rows()
        try:
            for block in range(0, len(skus), _BLOCK):
                end = block + _BLOCK
                made = self._block(
                    rows,
                    skus[block:end],
                    candidates[block:end],
                    t,
                    None if published is None else published[block:end],
                )
                entries += made[0]
                digests += made[1]
                until += made[2]
        finally:
            self._rows.append(rows)
        return entries, digests, until

    def _block(
        self,
        registry: Rows,
        skus: Sequence[str],
        candidates: Sequence[Sequence[int]],
        t: int,
        published: Sequence[bytes] | None,
    ) -> tuple[list[bytes | None], list[bytes], list[int | None]]:
        tb = self.tables(t)
        day, by = self.options(t)
        time, loc, tl_day, tl_by, start = self.timeline(t)
        ptr = np.fromiter(accumulate(map(len, candidates), initial=0), dtype=np.int64)
        cand = np.fromiter((i for c in candidates for i in c), dtype=np.int64)
        best_loc, best_day, best_by, change = tk.entries(
            day, by, self._distances(), ptr, cand, time, loc, tl_day, tl_by, start
        )
        rows = tk.rows_from(best_loc, best_day, best_by, tb.start_epoch_day)
        ids, digest = registry.intern(rows, self._row)  # [sku, region, 3 levels] -> row ids
        blob = digest.tobytes()
        digests = [blob[16 * s : 16 * s + 16] for s in range(len(skus))]
        until = [None if c < 0 else int(c) - 1 for c in change.tolist()]
        changed = [
            s for s, found in enumerate(digests) if published is None or found != published[s]
        ]
        entries: list[bytes | None] = [None] * len(skus)
        if changed:
            as_of = _instant(t)
            heads = [_head(skus[s], as_of, until[s]) for s in changed]
            made = registry.entries(ids[changed], heads, *self._prefixes())
            for s, entry in zip(changed, made, strict=True):
                entries[s] = entry
        return entries, digests, until

    def _spare_rows(self) -> Rows:
        """A row registry no other thread is using (pop and append are atomic); a full one is
        dropped for a new one."""
        try:
            rows = self._rows.pop()
        except IndexError:
            rows = Rows(3 * len(self.levels))
        return rows if rows.count <= MAX_ROWS else Rows(3 * len(self.levels))

    def _prefixes(self) -> tuple[npt.NDArray[np.uint8], I64]:
        if self._prefix is None:
            self._prefix = packed(self._region_json)
        return self._prefix

    def _row(self, row: bytes) -> bytes:
        values = np.frombuffer(row, dtype=np.int64)
        levels = len(self.levels)
        parts = []
        for v in range(levels):
            i, day, by = int(values[v]), int(values[levels + v]), int(values[2 * levels + v])
            if i >= 0:
                parts.append(self._level_json[v] + self._option(i, day, by))
        return b"{" + b",".join(parts) + b"}"

    def _option(self, i: int, day: int, by: int) -> bytes:
        key = (i, day, by)
        found = self._option_json.get(key)
        if found is None:
            if len(self._option_json) > _CACHE_MAX:
                self._option_json.clear()
            deliver = date.fromordinal(_ORDINAL + day).isoformat()
            ship_by = local_time(by, self._zones[i]).isoformat()
            found = self._option_json[key] = (
                f'{{"deliver_by":"{deliver}","location_id":"{self.location_ids[i]}",'
                f'"ship_by":"{ship_by}"}}'
            ).encode()
        return found


def maker_of(network: Network) -> Maker | None:
    """The table's maker over ``network``, or ``None`` when it names no region (no table)."""
    return Maker(network) if network.regions else None


def entry_json(sku: str, t: int, valid_until: int | None, regions: bytes) -> bytes:
    """An entry of ``omnistock.promises``: ``{"sku", "as_of", "valid_until", "regions"}``."""
    return _head(sku, _instant(t), valid_until) + regions + b"}"


def _head(sku: str, as_of: str, valid_until: int | None) -> bytes:
    """An entry's JSON up to its regions: ``{"sku":..,"as_of":..,"valid_until":..,"regions":``."""
    until = "null" if valid_until is None else f'"{_instant(valid_until)}"'
    return f'{{"sku":"{sku}","as_of":"{as_of}","valid_until":{until},"regions":'.encode()


class PromiseBook:
    """The table's state for some skus (a key of the dataflow's promise step).

    Attributes:
        skus: ``sku -> [candidates (bitmask of location indices), digest of the published
            regions (or b""), wake-up (epoch seconds, 0: none)]``.
        due: a heap of ``(wake-up, sku)``; an item whose wake-up is no longer the sku's is
            stale and skipped.
        dirty: skus whose candidates changed since their entry was made.
    """

    def __init__(self) -> None:
        self.skus: dict[str, list[Any]] = {}
        self.due: list[tuple[int, str]] = []
        self.dirty: set[str] = set()

    def next_wake(self) -> int | None:
        """The soonest wake-up, or ``None``."""
        due = self.due
        while due and self.skus[due[0][1]][2] != due[0][0]:
            heapq.heappop(due)
        return due[0][0] if due else None


def hear(book: PromiseBook, signals: Iterable[Signal], index: dict[str, int]) -> None:
    """Take the books' signals: a sku's candidate set gains or loses a location. A sku heard
    for the first time is dirty even with no candidate (its entry says no region is served);
    a location outside the network changes nothing else."""
    skus = book.skus
    dirty = book.dirty
    for sku, location_id, live in signals:
        found = skus.get(sku)
        if found is None:
            found = skus[sku] = [0, b"", 0]
            dirty.add(sku)
        i = index.get(location_id)
        if i is None:
            continue
        bit = 1 << i
        mask = found[0]
        now_in = bool(mask & bit)
        if live != now_in:
            found[0] = mask ^ bit
            dirty.add(sku)


def recovered(book: PromiseBook) -> None:
    """A book restored from a snapshot: the topic may hold entries newer than its digests (made
    after the snapshot, before the process died), and the replayed stream may not make them
    again (changes that cancel out within what is heard at once publish nothing). So every
    sku's entry is made and published anew at the next ``wake``, the one time the contract lets
    an entry repeat its regions (docs/decisions.md D124)."""
    for sku, state in book.skus.items():
        state[1] = b""
        book.dirty.add(sku)


def make(book: PromiseBook, maker: Maker, skus: Iterable[str], t: int) -> list[Publish]:
    """Make the entries of ``skus`` at instant ``t``: what to publish (the ones whose regions
    changed), and each sku's next wake-up."""
    names = list(skus)
    if not names:
        return []
    table = book.skus
    candidates = [_indices(table[sku][0]) for sku in names]
    published = [table[sku][1] for sku in names]
    entries, digests, until = maker.compute(names, candidates, t, published)
    out: list[Publish] = []
    due = book.due
    dirty = book.dirty
    for sku, entry, digest, valid_until in zip(names, entries, digests, until, strict=True):
        state = table[sku]
        wake = t + RECHECK_S if valid_until is None else valid_until + 1
        state[2] = wake
        heapq.heappush(due, (wake, sku))
        if entry is not None:
            state[1] = digest
            out.append(("promises", sku, entry))
        dirty.discard(sku)
    return out


def wake(book: PromiseBook, maker: Maker, t: int) -> list[Publish]:
    """Make anew every entry due by ``t``, and the dirty ones."""
    due = book.due
    table = book.skus
    names = set(book.dirty)
    while due and due[0][0] <= t:
        when, sku = heapq.heappop(due)
        if table[sku][2] == when:
            names.add(sku)
    return make(book, maker, sorted(names), t)


def _indices(mask: int) -> list[int]:
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out
