"""What crosses between Bytewax processes, pickled as msgpack (issue #19).

Past the fold, a batch's reservation outcomes go to the claims, keyed by a bucket of
reservation id, and its promise signals to the promise table, keyed by a bucket of sku: with
``W`` processes about ``1 - 1/W`` of those groups belong to another process, and Bytewax
pickles every item it sends there. ``pickle`` takes a ``ReservationChanged`` field by field
(its datetimes by ``__reduce__``): about 1.8 us to pickle and unpickle one, against 0.5 us for
msgspec's msgpack of the whole group at once. ``Outcomes`` and ``Signals`` are the groups as
lists (every step reads them as lists) that pickle as one msgpack string; a group that stays in
its process is never pickled and costs nothing more (``benchmarks/scale_out.py``).

msgpack keeps every field exactly: strings, integers, booleans, ``None``, nested structs and
tuples, and aware datetimes as its timestamp extension (microseconds; the engine's instants
are UTC, which is what msgspec decodes them in).
"""

from __future__ import annotations

from typing import Any

import msgspec

from engine.batch import Signal
from engine.outputs import ReservationChanged

_ENCODER = msgspec.msgpack.Encoder()
_OUTCOMES = msgspec.msgpack.Decoder(list[ReservationChanged])
_SIGNALS = msgspec.msgpack.Decoder(list[tuple[str, str, bool]])


class Outcomes(list[ReservationChanged]):
    """A group of reservation outcomes on its way to the claims."""

    __slots__ = ()

    def __reduce__(self) -> tuple[Any, ...]:
        return (_outcomes, (_ENCODER.encode(self),))


class Signals(list[Signal]):
    """A group of promise signals on its way to the promise table."""

    __slots__ = ()

    def __reduce__(self) -> tuple[Any, ...]:
        return (_signals, (_ENCODER.encode(self),))


def _outcomes(raw: bytes) -> Outcomes:
    return Outcomes(_OUTCOMES.decode(raw))


def _signals(raw: bytes) -> Signals:
    return Signals(_SIGNALS.decode(raw))
