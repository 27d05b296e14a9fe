"""What crosses between processes (``dataflows.exchange``) comes out as it went in."""

from __future__ import annotations

import pickle
from datetime import UTC

from hypothesis import given
from hypothesis import strategies as st

from dataflows.exchange import Outcomes, Signals
from engine.outputs import ReservationChanged

ids = st.text(min_size=1, max_size=12)
maybe = st.none() | ids
lines = st.none() | st.lists(st.tuples(ids, st.integers(0, 10**6)), max_size=3).map(tuple)
# the engine's instants are UTC; any microsecond, any year
instants = st.datetimes(timezones=st.just(UTC))

outcomes = st.builds(
    ReservationChanged,
    reservation_id=ids,
    location_id=ids,
    sku=maybe,
    status=st.sampled_from(["confirmed", "partial", "rejected", "released", "expired"]),
    qty=st.integers(0, 10**9),
    expires_at=instants,
    ts=instants,
    event_id=maybe,
    reason=maybe,
    repeat=st.booleans(),
    current_status=maybe,
    current_qty=st.none() | st.integers(0, 10**9),
    location_group=maybe,
    lines=lines,
    short=st.none()
    | st.lists(st.tuples(ids, st.integers(0, 99), st.integers(-99, 99)), max_size=2).map(tuple),
    kit=maybe,
    current_lines=lines,
)


@given(st.lists(outcomes, max_size=20))
def test_outcomes_cross_whole(group: list[ReservationChanged]) -> None:
    crossed = pickle.loads(pickle.dumps(Outcomes(group)))
    assert type(crossed) is Outcomes
    assert list(crossed) == group
    for before, after in zip(group, crossed, strict=True):  # the same instants, and in UTC
        assert after.ts.utcoffset() == before.ts.utcoffset()
        assert after.expires_at.isoformat() == before.expires_at.isoformat()


@given(st.lists(st.tuples(ids, ids, st.booleans()), max_size=50))
def test_signals_cross_whole(group: list[tuple[str, str, bool]]) -> None:
    crossed = pickle.loads(pickle.dumps(Signals(group)))
    assert type(crossed) is Signals
    assert list(crossed) == group
    assert all(type(signal) is tuple for signal in crossed)
