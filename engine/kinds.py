"""The message classes as C statics, for the compiled modules' type tests and the records they
build (``setup.py``).

mypyc reads a plain module global, such as a class imported from a module it does not compile
(``engine.schema``, ``engine.outputs``), from the module's dict on every use, and a ``Final``
from a C static. The per-event code tests ``type(message) is SALE`` against these; a test
dispatching on ten classes would otherwise cost ten dict lookups an event.
"""

from __future__ import annotations

from typing import Final

import msgspec

from engine.outputs import (
    Alert,
    Duplicate,
    PositionRecord,
    Rejected,
    ReservationChanged,
    Supply,
    SupplyExpected,
)
from engine.schema import (
    Adjust,
    CycleCount,
    Event,
    Fulfil,
    Inbound,
    InboundCancel,
    Receipt,
    Release,
    Reserve,
    Restock,
    Return,
    Revoke,
    Sale,
    SetAlertThresholds,
    SetSafetyStock,
    TransferOut,
    WriteOff,
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
REVOKE: Final = Revoke
SALE: Final = Sale
SET_SAFETY_STOCK: Final = SetSafetyStock
RESTOCK: Final = Restock
WRITE_OFF: Final = WriteOff
SET_ALERT_THRESHOLDS: Final = SetAlertThresholds
TRANSFER_OUT: Final = TransferOut

ALERT: Final = Alert
DUPLICATE: Final = Duplicate
REJECTED: Final = Rejected
RESERVATION_CHANGED: Final = ReservationChanged
SUPPLY_EXPECTED: Final = SupplyExpected
SUPPLY: Final = Supply
POSITION_RECORD: Final = PositionRecord

# Reading fields: a compiled generic attribute read of a struct field costs about 180
# instructions (the interpreter's specialised one far less); ``msgspec.structs.astuple`` copies
# every field in one C call, to be indexed natively. Every event struct ends with the fields of
# ``engine.schema._Event`` and a sale starts with ``qty, reservation_id`` (checked below).
fields_of: Final = msgspec.structs.astuple
EVENT_ID: Final = -4
LOCATION_ID: Final = -3
SKU: Final = -2
TS: Final = -1
SALE_QTY: Final = 0
SALE_RESERVATION_ID: Final = 1

_COMMON = ("event_id", "location_id", "sku", "ts")
for _fields in [cls.__struct_fields__ for cls in Event.__args__]:
    if _fields[-4:] != _COMMON:
        raise ImportError(f"event fields {_fields} do not end with {_COMMON}")
if SALE.__struct_fields__[:2] != ("qty", "reservation_id"):
    raise ImportError("a sale's fields do not start with qty, reservation_id")
