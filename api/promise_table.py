"""The promise table as a replica keeps it, and the listing and stream it answers (docs/api.md
§6.10, §6.15; docs/network.md §9).

The dataflow keeps, per sku and per region of the network file, what ``POST
/v1/promise/listing`` answers for one unit on the ``web`` channel at the region's point now, and
publishes an entry per sku on ``omnistock.promises`` whenever it changes::

    {"sku": "TENT", "as_of": "2026-11-25T15:30:00Z", "valid_until": "2026-11-25T19:00:00Z",
     "regions": {"100": {"standard": {"deliver_by": "2026-11-30", "location_id": "S001",
                                      "ship_by": "2026-11-25T14:00:00-05:00"}},
                 "995": {}}}

The read model's feed (one thread: the in-process dataflow's, or the Kafka consumer's) hands
each message to ``PromiseTable.put``, which keeps the latest entry per sku (compacted topic:
last value wins) pre-encoded per region: the listing's item ``{"sku", "deliver_by", "as_of",
"valid_until"}`` and the levels as published (regions with the same levels share them). A
listing of 200 skus is 200 dict lookups and one encode of ``msgspec.Raw`` pieces. A malformed
message is counted in ``unreadable`` and skipped. Reads take no lock: ``put`` replaces a sku's
whole (frozen) entry with one dict store.

Streams (``GET /v1/promise/stream``) each subscribe to some skus in one region, with a bounded
``asyncio.Queue`` on their event loop. ``put`` compares, for each watched region of the sku,
the new levels with the previous entry's: when they differ, the event goes (one
``loop.call_soon_threadsafe`` per loop and put) to every subscriber watching that sku there. A
subscriber whose queue is full is dropped (its queue emptied and closed with ``None``); it reads
the listing again and reconnects. Only changes after subscribing are sent: no snapshot.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Annotated, Any, Final

import anyio
import msgspec
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from api import postal, sse
from api.promiser import AtpSource, Promiser, UnknownRegionError
from engine.timefmt import rfc3339

PROMISE_QUEUE: Final = 1_000  # events a stream may fall behind before it is dropped
DROPPED: Final = b": dropped: this client fell too far behind; read the listing again\n\n"
Aware = Annotated[datetime, msgspec.Meta(tz=True)]
Text = Annotated[str, msgspec.Meta(min_length=1)]


class _Level(msgspec.Struct, frozen=True, gc=False):
    deliver_by: date
    location_id: Text
    ship_by: Aware


class _Typed(msgspec.Struct, frozen=True):
    """An ``omnistock.promises`` message, typed: what checks it."""

    sku: Text
    as_of: Aware
    regions: dict[str, dict[str, _Level]]
    valid_until: Aware | None = None


class _Texts(msgspec.Struct, frozen=True):
    """The same message as published: its instants' texts, each region's levels' JSON."""

    as_of: str
    regions: dict[str, msgspec.Raw]
    valid_until: str | None = None


class Cell(msgspec.Struct, frozen=True, gc=False):
    """A sku's answer in one region, encoded: the listing's item and the levels alone."""

    item: msgspec.Raw  # {"sku", "deliver_by": {level: date}, "as_of", "valid_until"}
    levels: bytes  # {level: {"deliver_by", "location_id", "ship_by"}}


class Entry(msgspec.Struct, frozen=True, gc=False):
    """The latest entry of a sku, compact: per region its ``Cell``."""

    sku: str
    as_of: str
    valid_until: str | None
    cells: dict[str, Cell]
    none: msgspec.Raw  # the listing's item for a region the entry does not name


_typed = msgspec.json.Decoder(_Typed).decode
_texts = msgspec.json.Decoder(_Texts).decode
_encode = msgspec.json.Encoder().encode
_NO_LEVELS: Final = b"{}"


def _unknown(sku: str) -> msgspec.Raw:
    """The listing's item of a sku the table has never seen."""
    return msgspec.Raw(_encode({"sku": sku, "deliver_by": {}, "as_of": None, "valid_until": None}))


def decode_entry(value: bytes) -> Entry:
    """An ``omnistock.promises`` message as the table keeps it; its texts as published.

    Raises:
        msgspec.DecodeError: not such a message (``as_of`` and ``valid_until`` are UTC).
    """
    typed, texts = _typed(value), _texts(value)
    if typed.as_of.utcoffset() or (typed.valid_until and typed.valid_until.utcoffset()):
        raise msgspec.ValidationError("as_of and valid_until are UTC instants")
    head = b'{"sku":' + _encode(typed.sku) + b',"deliver_by":'
    tail = b',"as_of":%s,"valid_until":%s}' % (_encode(texts.as_of), _encode(texts.valid_until))
    shared: dict[bytes, Cell] = {}  # regions with the same levels share one cell
    cells: dict[str, Cell] = {}
    for region, raw in texts.regions.items():
        levels = bytes(raw)
        cell = shared.get(levels)
        if cell is None:
            days = {
                name: level.deliver_by.isoformat() for name, level in typed.regions[region].items()
            }
            compact = (
                msgspec.json.format(levels, indent=-1)
                if b"\n" in levels or b"\r" in levels
                else levels
            )
            cell = shared[levels] = Cell(msgspec.Raw(head + _encode(days) + tail), compact)
        cells[region] = cell
    return Entry(typed.sku, texts.as_of, texts.valid_until, cells, msgspec.Raw(head + b"{}" + tail))


class Watcher:
    """One stream's end: the events it has yet to send, in its own event loop's queue."""

    __slots__ = ("closed", "loop", "queue", "region", "skus", "subscribed")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, skus: tuple[str, ...], region: str, size: int
    ) -> None:
        self.loop = loop
        self.skus = skus
        self.region = region
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(size)  # None: closed
        self.closed = False
        self.subscribed = True

    def offer(self, event: bytes) -> None:
        """In the watcher's loop: queue the event, or drop the watcher when it is full."""
        if self.closed:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.closed = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)


def _offer(batch: list[tuple[Watcher, bytes]]) -> None:
    for watcher, event in batch:
        watcher.offer(event)


class PromiseTable:
    """The latest promise entry per sku, and the streams that follow them."""

    def __init__(self, queue_size: int = PROMISE_QUEUE) -> None:
        if queue_size < 1:
            raise ValueError("a stream queues at least one event")
        self.queue_size = queue_size
        self.entries: dict[str, Entry] = {}
        self.unreadable = 0  # messages that were no promise entry (skipped)
        self.puts = 0
        self._lock = threading.Lock()  # the writer and (un)subscribing, never a read
        self._watch: dict[str, dict[str, set[Watcher]]] = {}  # sku -> region -> watchers
        self._count = 0

    # -- the feed (one thread) ------------------------------------------------------------------

    def put(self, value: bytes) -> Entry | None:
        """One ``omnistock.promises`` message: keep it as the sku's entry and send the
        changes to the streams watching it. A malformed one is counted and skipped."""
        try:
            entry = decode_entry(value)
        except msgspec.DecodeError:  # ValidationError included
            self.unreadable += 1
            return None
        sends: list[tuple[tuple[Watcher, ...], bytes]] = []
        with self._lock:
            before = self.entries.get(entry.sku)
            self.entries[entry.sku] = entry
            self.puts += 1
            watched = self._watch.get(entry.sku)
            if watched:
                for region, watchers in watched.items():
                    new = _levels_of(entry, region)
                    if new != _levels_of(before, region):
                        sends.append((tuple(watchers), _event(entry, region, new)))
        if sends:
            self._send(sends)
        return entry

    def _send(self, sends: list[tuple[tuple[Watcher, ...], bytes]]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Watcher, bytes]]] = {}
        for watchers, event in sends:
            for watcher in watchers:
                by_loop.setdefault(watcher.loop, []).append((watcher, event))
        for loop, batch in by_loop.items():
            try:
                loop.call_soon_threadsafe(_offer, batch)
            except RuntimeError:  # its loop has closed, and its streams with it
                for watcher, _ in batch:
                    self.unsubscribe(watcher)

    # -- reads (any thread, no lock) ------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Whether the dataflow keeps a table here: some entry has arrived."""
        return bool(self.entries)

    def entry(self, sku: str) -> Entry | None:
        return self.entries.get(sku)

    def levels(self, sku: str, region: str) -> dict[str, dict[str, str]]:
        """A sku's levels in a region, ``{level: {"deliver_by", "location_id", "ship_by"}}``
        (``{}`` when none serves it, or the table has not seen it)."""
        found: dict[str, dict[str, str]] = msgspec.json.decode(
            _levels_of(self.entries.get(sku), region)
        )
        return found

    def listing(self, skus: Iterable[str], region: str) -> list[msgspec.Raw]:
        """Per distinct sku, its encoded listing item in ``region``: ``{"sku", "deliver_by":
        {level: date}, "as_of", "valid_until"}``; ``deliver_by: {}`` and ``as_of: null`` for a
        sku the table has never seen."""
        entries = self.entries
        items: list[msgspec.Raw] = []
        for sku in dict.fromkeys(skus):
            entry = entries.get(sku)
            if entry is None:
                items.append(_unknown(sku))
                continue
            cell = entry.cells.get(region)
            items.append(entry.none if cell is None else cell.item)
        return items

    def answer(
        self, skus: Iterable[str], region: str, at: datetime, destination: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The body of ``POST /v1/promise/listing`` answered from the table."""
        return {
            "at": rfc3339(at),
            "destination": destination,
            "region": region,
            "skus": self.listing(skus, region),
        }

    # -- streams (their event loop) -------------------------------------------------------------

    @property
    def subscribers(self) -> int:
        """Streams following the table now."""
        return self._count

    def subscribe(self, skus: Iterable[str], region: str) -> Watcher:
        """A new stream from the running loop: every change, after this call, of the levels
        of ``skus`` in ``region`` reaches its queue. ``unsubscribe`` it when the stream ends."""
        watcher = Watcher(
            asyncio.get_running_loop(), tuple(dict.fromkeys(skus)), region, self.queue_size
        )
        with self._lock:
            for sku in watcher.skus:
                self._watch.setdefault(sku, {}).setdefault(region, set()).add(watcher)
            self._count += 1
        return watcher

    def unsubscribe(self, watcher: Watcher) -> None:
        with self._lock:
            if not watcher.subscribed:
                return
            watcher.subscribed = False
            watcher.closed = True
            self._count -= 1
            for sku in watcher.skus:
                regions = self._watch.get(sku, {})
                watchers = regions.get(watcher.region)
                if watchers is None:
                    continue
                watchers.discard(watcher)
                if not watchers:
                    del regions[watcher.region]
                    if not regions:
                        del self._watch[sku]


def _levels_of(entry: Entry | None, region: str) -> bytes:
    cell = None if entry is None else entry.cells.get(region)
    return _NO_LEVELS if cell is None else cell.levels


def _event(entry: Entry, region: str, levels: bytes) -> bytes:
    return _encode(
        {
            "sku": entry.sku,
            "region": region,
            "as_of": entry.as_of,
            "valid_until": entry.valid_until,
            "levels": msgspec.Raw(levels),
        }
    )


# -- POST /v1/promise/listing -------------------------------------------------------------------


def regions_of(promiser: Promiser) -> Mapping[str, Any]:
    """The network's regions by id (``engine.promise.network.Region``); none for a calculator
    that names none."""
    found: Mapping[str, Any] = getattr(promiser, "regions", None) or {}
    return found


def listing_answer(
    promiser: Promiser,
    table: PromiseTable,
    skus: list[str],
    destination: dict[str, Any],
    at: datetime,
    fixed: bool,
    atp: AtpSource,
) -> dict[str, Any]:
    """The answer to ``POST /v1/promise/listing``.

    From the table when the destination is a region, or a known ZIP code whose first three
    digits are one, the body gave no ``at`` (``fixed``) and the table holds entries; computed
    per request otherwise (a region at its point), as v1 does. Either way a region destination
    answers ``region``; a ZIP code only when the table answers.

    Raises:
        UnknownRegionError: a region the network does not name (422 ``unknown_region``).
    """
    regions = regions_of(promiser)
    region_id = destination.get("region")
    if region_id is not None:
        region = regions.get(region_id)
        if region is None:
            raise UnknownRegionError(region_id)
        if not fixed and table.ready:
            return table.answer(skus, region_id, at, {"lat": region.lat, "lon": region.lon})
        answer = promiser.listing(skus, destination, at, atp)
        return {**answer, "region": region_id}
    code = destination.get("postal_code")
    if code is not None and not fixed and regions and table.ready:
        base = code.strip()[:5]
        point = postal.zip_centroid(base) if base[:3] in regions else None
        if point is not None:
            where = {"postal_code": base, "lat": point[0], "lon": point[1]}
            return table.answer(skus, base[:3], at, where)
    return promiser.listing(skus, destination, at, atp)


# -- GET /v1/promise/stream ---------------------------------------------------------------------


def frame(event: bytes) -> bytes:
    """One change as an SSE event (compact JSON holds no line break)."""
    return b"event: promise\ndata: " + event + b"\n\n"


class PromiseStream(Response):
    """``text/event-stream`` of the changes of ``skus`` in ``region``, from now on."""

    media_type = "text/event-stream"

    def __init__(self, table: PromiseTable, skus: tuple[str, ...], region: str) -> None:
        self.table = table
        self.skus = skus
        self.region = region
        self.status_code = 200
        self.background = None
        self.init_headers({"cache-control": "no-cache", "x-accel-buffering": "no"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        watcher = self.table.subscribe(self.skus, self.region)  # before the headers go
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            async with anyio.create_task_group() as group:
                group.start_soon(sse._until_disconnect, receive, group.cancel_scope)
                await _pump(send, watcher.queue)
                group.cancel_scope.cancel()
        except OSError:  # the client went away while a chunk was being sent
            pass
        finally:
            self.table.unsubscribe(watcher)


async def _pump(send: Send, queue: asyncio.Queue[bytes | None]) -> None:
    while True:
        first: bytes | None = None
        with anyio.move_on_after(sse.KEEPALIVE_S) as waited:
            first = await queue.get()
        if waited.cancelled_caught:
            await sse._send(send, sse.KEEPALIVE)
            continue
        batch = [first]
        while not queue.empty():  # what is queued already goes in one write
            batch.append(queue.get_nowait())
        if None in batch:  # the table dropped this stream: its last item
            await sse._send(send, DROPPED)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        await sse._send(send, b"".join(frame(event) for event in batch if event is not None))
