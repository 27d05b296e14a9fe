"""The read model's compact columns (issue #19) say exactly what was published.

Whatever sequence of positions comes in, through ``take`` (the JSON both backends hand over)
or ``put_position``, ``position``, ``positions_of``, ``channel_atp`` and ``atp_array`` answer
what a plain dict of the last record per ``(location_id, sku)`` would: equal records that
encode to the same JSON bytes (what the routes send), the promise channel's ATP per location
index.
"""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.readmodel import ReadModel, decode_position
from engine.outputs import PositionRecord, Supply

encode = msgspec.json.Encoder().encode
LOCATIONS = ["S1", "S2", "DC1", "X9"]
SKUS = ["A", "B", "KIT-1"]
I64_MAX = 2**63 - 1
WEEK_S = 7 * 86_400
NEVER = datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)

quantity = st.one_of(
    st.integers(-5, 400),
    st.integers(-(10**12), 10**12),
    st.sampled_from([2**31 - 1, 2**31, -(2**31) - 1, 2**63 - 1, 2**64 + 3]),
)
small = st.one_of(st.just(0), st.integers(0, 400), st.integers(0, 10**12))
instant = st.one_of(
    st.datetimes(  # milliseconds, as the engine writes them (bounds naive: hypothesis's rule)
        min_value=datetime(1970, 1, 1),  # noqa: DTZ001
        max_value=datetime(2200, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ).map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000)),
    st.datetimes(timezones=st.just(UTC)),  # any, microseconds and years 1 to 9999 included
    st.datetimes(timezones=st.just(timezone(timedelta(hours=5)))),  # not UTC
)


def derived_eta(as_of: datetime | None, atp: int, sold_7d: int) -> datetime | None:
    """``engine.position.Position.stockout_eta``, written again."""
    if sold_7d <= 0 or atp <= 0 or as_of is None:
        return None
    try:
        return as_of + timedelta(seconds=atp * WEEK_S // sold_7d)
    except OverflowError:
        return NEVER


# strategies made once: a strategy built per draw is validated per draw, which is slow
choice = st.integers(0, 3)
choices = st.lists(st.integers(0, 3), min_size=20, max_size=20)
names = st.lists(st.sampled_from(["web", "app", "pos", "mkt", "b2b"]), unique=True)
supplies = st.lists(
    st.builds(Supply, st.sampled_from(["PO-1", "PO-2", "ASN-9"]), small, instant), max_size=3
)
maybe_instant = st.one_of(st.none(), instant)
kinds = st.sampled_from(["none", "policy", "mixed", "many", "odd"])
reserved_qty = st.one_of(st.just(0), quantity)
tenth = st.integers(0, 9)


@st.composite
def records(draw: Any, location_id: str, sku: str) -> PositionRecord:
    on_hand, reserved = draw(quantity), draw(reserved_qty)
    safety_stock, unsellable, sold_7d = draw(small), draw(small), draw(small)
    available = on_hand - reserved - safety_stock
    atp, oversold = max(0, available), max(0, reserved - on_hand)
    if draw(tenth) == 0:  # figures that do not follow (kept whole)
        available, atp, oversold = draw(quantity), draw(quantity), draw(quantity)
    free = max(0, on_hand - reserved)
    values = [0, atp, free, atp * 80 // 100]  # the last as a 20 % buffer makes it
    as_of = draw(maybe_instant)
    kind = draw(kinds)
    channels: dict[str, int] = {}
    if kind == "policy":
        channels = {"web": atp, "app": atp, "call_centre": atp, "pos": free}
    elif kind == "mixed":
        picks = draw(choices)
        channels = {n: values[i] for n, i in zip(draw(names), picks, strict=False)}
    elif kind == "many":  # more channels than a pattern holds
        channels = {f"c{i}": values[k % 3] for i, k in enumerate(draw(choices) * 2)}
    elif kind == "odd":
        channels = {"web": draw(quantity), "pos": draw(quantity)}
    how = draw(choice)
    eta = derived_eta(as_of, atp, sold_7d) if how < 2 else None if how == 2 else draw(instant)
    return PositionRecord(
        location_id,
        sku,
        on_hand,
        reserved,
        safety_stock,
        unsellable,
        available,
        atp,
        oversold,
        draw(supplies),
        as_of,
        channels,
        sold_7d,
        eta,
    )


networks = st.sampled_from([[], ["DC1", "S1"], [f"N{i}" for i in range(63)]])
flags = st.booleans()


@st.composite
def feeds(draw: Any) -> tuple[list[str], list[tuple[bool, PositionRecord]]]:
    network = draw(networks)
    where = st.sampled_from([(loc, sku) for loc in LOCATIONS + network[:2] for sku in SKUS])
    steps = []
    for _ in range(draw(st.integers(1, 16))):
        location_id, sku = draw(where)
        steps.append((draw(flags), draw(records(location_id, sku))))
    return network, steps


def same(got: PositionRecord | None, want: PositionRecord | None) -> None:
    assert got == want
    if want is not None:
        assert got is not None
        assert encode(got) == encode(want)  # the route's bytes
        for name in ("as_of", "stockout_eta"):  # the same instant, written the same way
            a, b = getattr(got, name), getattr(want, name)
            assert (a is None) == (b is None) and (a is None or a.tzinfo is b.tzinfo)
        assert [encode(s) for s in got.inbound] == [encode(s) for s in want.inbound]
        assert list(got.channels) == list(want.channels)  # the record's order


def promised(record: PositionRecord) -> int:
    return min(max(record.channels.get("web", record.atp), -(2**63)), I64_MAX)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(feeds())
def test_the_columns_answer_what_the_last_record_of_each_position_says(feed):
    network, steps = feed
    model = ReadModel(network)
    naive: dict[tuple[str, str], PositionRecord] = {}
    order = list(network)
    for via_take, made in steps:
        record = made
        if via_take:
            value = encode(made)
            model.take("atp", value)
            record = decode_position(value)  # what the model was given
        else:
            model.put_position(made)
        naive[(record.location_id, record.sku)] = record
        if record.location_id not in order:
            order.append(record.location_id)
        same(model.position(record.location_id, record.sku), record)
    assert model.location_ids == order
    assert model.position_count == len(naive)
    for location_id in [*order, "NOWHERE"]:
        for sku in [*SKUS, "NONE"]:
            last = naive.get((location_id, sku))
            same(model.position(location_id, sku), last)
            for channel in [*({} if last is None else last.channels), "web", "nope"]:
                answer = model.channel_atp(location_id, sku, channel)
                assert answer == (None if last is None else last.channels.get(channel, 0))
    for sku in [*SKUS, "NONE"]:
        want = {loc: r for (loc, s), r in naive.items() if s == sku}
        got = model.positions_of(sku)
        assert got.keys() == want.keys()
        for location_id, record in want.items():
            same(got[location_id], record)
        atp = [
            promised(naive[(loc, sku)]) if (loc, sku) in naive else 0 for loc in model.location_ids
        ]
        assert model.atp_array(sku).tolist() == atp
    assert set(model.skus()) == {sku for _, sku in naive}


def test_a_realistic_position_costs_no_side_entry_and_reads_back_the_same_bytes():
    as_of = datetime(2026, 11, 20, 14, 49, 30, 434_000, tzinfo=UTC)
    record = PositionRecord(
        "DC01",
        "BACKPACK-GRY",
        207,
        1,
        0,
        0,
        206,
        206,
        0,
        [],
        as_of,
        {"web": 206, "app": 206, "call_centre": 206, "pos": 206},
        3,
        derived_eta(as_of, 206, 3),
    )
    model = ReadModel()
    model.take("atp", encode(record))
    block = model._skus["BACKPACK-GRY"]
    assert block.side is None  # all in the columns
    assert block.cols.dtype.itemsize == 4
    assert block.cols.shape[0] == 5  # meta, on_hand, as_of; reserved and sold_7d, not 0
    assert encode(model.position("DC01", "BACKPACK-GRY")) == encode(record)


def test_a_sku_has_rows_only_for_the_figures_its_positions_had():
    t = datetime(2026, 11, 20, tzinfo=UTC)
    plain = PositionRecord("S1", "A", 5, 0, 0, 0, 5, 5, 0, [], t, {"web": 5})
    model = ReadModel()
    model.put_position(plain)
    assert model._skus["A"].cols.shape[0] == 3  # meta, on_hand, as_of
    returned = PositionRecord("S2", "A", 4, 0, 0, 2, 4, 4, 0, [], t, {"web": 4})
    model.put_position(returned)
    assert model._skus["A"].cols.shape[0] == 4  # unsellable now
    assert model.position("S1", "A") == plain
    assert model.position("S2", "A") == returned


def test_a_figure_beyond_int32_widens_that_sku_only():
    model = ReadModel()
    big = PositionRecord("S1", "A", 10**12, 0, 0, 0, 10**12, 10**12, 0, [], None)
    model.put_position(PositionRecord("S1", "B", 5, 0, 0, 0, 5, 5, 0, [], None))
    model.put_position(big)
    assert model._skus["A"].cols.dtype.itemsize == 8
    assert model._skus["B"].cols.dtype.itemsize == 4
    assert model.position("S1", "A") == big
    assert model.atp_array("A").tolist() == [10**12]


def test_a_reader_never_sees_half_of_a_write():
    """Two versions of one position alternate (each ``on_hand - reserved == 10``, one of them
    with expected supply and an as_of finer than a millisecond: a side entry); readers on
    other threads, switching threads as often as CPython lets them, only ever see one of
    the two whole."""
    t = datetime(2026, 11, 20, tzinfo=UTC)
    one = PositionRecord("S1", "A", 10, 0, 0, 0, 10, 10, 0, [], t, {"web": 10}, 0, None)
    other = PositionRecord(
        "S1",
        "A",
        25,
        15,
        0,
        0,
        10,
        10,
        0,
        [Supply("PO-1", 4, t)],
        t + timedelta(microseconds=7),
        {"web": 10},
        0,
        None,
    )
    versions = [one, other]
    model = ReadModel(["S1"])
    model.put_position(one)
    seen: set[int] = set()
    wrong: list[Any] = []
    done = threading.Event()

    def write() -> None:
        for i in range(20_000):
            model.put_position(versions[i % 2])
        done.set()

    def read() -> None:
        while not done.is_set():
            found = model.position("S1", "A")
            if found == one:
                seen.add(0)
            elif found == other:
                seen.add(1)
            else:
                wrong.append(found)
            wrong.extend(r for r in model.positions_of("A").values() if r not in versions)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=read) for _ in range(2)]
        for thread in threads:
            thread.start()
        write()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert not wrong
    assert seen  # the readers did read
