"""The message classes as C statics, for the compiled modules' type tests and the records they
build (``setup.py``).

mypyc reads a plain module global, such as a class imported from a module it does not compile
(``engine.schema``, ``engine.outputs``), from the module's dict on every use, and a ``Final``
from a C static. The per-event code tests ``type(message) is SALE`` against these; a test
dispatching on ten classes would otherwise cost ten dict lookups an event.
"""

from __future__ import annotations

from typing import Final

from engine.outputs import (
    Alert,
    Duplicate,
    InboundRecord,
    PositionRecord,
    Rejected,
    ReservationChanged,
    SupplyExpected,
)
from engine.schema import (
    Adjust,
    CycleCount,
    Fulfil,
    Inbound,
    InboundCancel,
    Receipt,
    Release,
    Reserve,
    Return,
    Sale,
    SetSafetyStock,
    TransferOut,
)

ADJUST: Final = Adjust
CYCLE_COUNT: Final = CycleCount
FULFIL: Final = Fulfil
INBOUND: Final = Inbound
INBOUND_CANCEL: Final = InboundCancel
RECEIPT: Final = Receipt
RELEASE: Final = Release
RESERVE: Final = Reserve
RETURN: Final = Return
SALE: Final = Sale
SET_SAFETY_STOCK: Final = SetSafetyStock
TRANSFER_OUT: Final = TransferOut

ALERT: Final = Alert
DUPLICATE: Final = Duplicate
REJECTED: Final = Rejected
RESERVATION_CHANGED: Final = ReservationChanged
SUPPLY_EXPECTED: Final = SupplyExpected
INBOUND_RECORD: Final = InboundRecord
POSITION_RECORD: Final = PositionRecord
