"""Where an event goes: the books it changes (docs/events.md §3, ``transfer_out``).

Every event changes the book of its ``location_id``. A ``transfer_out`` also creates expected
supply at ``to_location_id``: that travels as a ``SupplyExpected`` message of its own, routed
to the destination's book next to the transfer. The dataflow keys both by location, so a
destination on another worker gets its supply without a loop through Kafka; ``replay`` applies
both in file order. The destination dedups the supply by ``(from_location_id, event_id)``.
"""

from __future__ import annotations

from typing import Any

from engine.events import Event, TransferOut
from engine.kinds import TRANSFER_OUT
from engine.outputs import SupplyExpected


def route(event: Event) -> list[tuple[str, Any]]:
    """The ``(location_id, message)`` pairs an event becomes, in the order to apply them."""
    if type(event) is TRANSFER_OUT:
        return [(event.location_id, event), (event.to_location_id, supply_of(event))]
    return [(event.location_id, event)]


def supply_of(transfer: TransferOut) -> SupplyExpected:
    """The expected supply a transfer creates at its destination."""
    return SupplyExpected(
        transfer.to_location_id,
        transfer.sku,  # type: ignore[arg-type]  # a transfer names its sku (engine.events)
        transfer.supply_id,
        transfer.qty,
        transfer.eta,  # type: ignore[arg-type]
        transfer.event_id,
        transfer.ts,  # type: ignore[arg-type]
        transfer.location_id,
    )
