"""Kits as the API reads them (policy ``kits``, docs/events.md §12): a kit has no stock of its
own; its ATP is its components' (``engine.carts.kit_atp``: the least of ``atp // qty``).

- ``kit_position``: ``GET /v1/atp/{location_id}/{kit}``.
- ``KitAtp``: the read model as the promise calculator reads it (``api.promiser.AtpSource``),
  a kit's ATP array made from its components' at every location.
- ``channel_atp``: one channel's ATP of a sku or a kit at one location (a cart across
  locations orders its holds by it, ``api.carts``); ``kit_atp_at``: a kit's, plain or a
  channel's (``POST /v1/atp/query``'s totals).

Nothing here decides a reservation: a kit's reserve is an ordinary ``reserve`` of the kit sku,
which the engine expands into its components.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from api.readmodel import ReadModel
from engine.carts import kit_atp
from engine.outputs import PositionRecord
from engine.policy import Policy


def kit_position(
    readmodel: ReadModel, policy: Policy, location_id: str, kit: str, at: datetime | None
) -> dict[str, Any]:
    """The kit at ``location_id``: its ATP, each channel's, and each component's position."""
    parts = policy.kits[kit]
    found = {sku: readmodel.position(location_id, sku) for sku, _ in parts}
    names = [channel.name for channel in policy.channels]

    def atp_of(sku: str) -> int | None:
        record = found[sku]
        return None if record is None else record.atp

    answer: dict[str, Any] = {
        "location_id": location_id,
        "sku": kit,
        "kit": True,
        "atp": kit_atp(parts, atp_of),
        "channels": {name: _kit_channel(parts, found, name) for name in names},
        "components": [
            _component(location_id, sku, qty, found[sku], names, at) for sku, qty in parts
        ],
    }
    if at is not None:
        answer["atp_at"] = kit_atp(parts, lambda sku: _at(found[sku], at))
    return answer


def _kit_channel(
    parts: tuple[tuple[str, int], ...], found: dict[str, PositionRecord | None], name: str
) -> int:
    return kit_atp(parts, lambda sku: _channel(found[sku], name))


def _channel(record: PositionRecord | None, name: str) -> int | None:
    return None if record is None else record.channels.get(name, 0)


def _at(record: PositionRecord | None, at: datetime) -> int | None:
    return None if record is None else record.atp_at(at)


def _component(
    location_id: str,
    sku: str,
    qty: int,
    record: PositionRecord | None,
    names: list[str],
    at: datetime | None,
) -> dict[str, Any]:
    if record is None:  # no event has named it here: nothing to sell
        return {
            "location_id": location_id,
            "sku": sku,
            "qty": qty,
            "atp": 0,
            "channels": dict.fromkeys(names, 0),
        }
    fields = {name: getattr(record, name) for name in record.__struct_fields__}
    if at is not None:
        fields["atp_at"] = record.atp_at(at)
    return {**fields, "qty": qty}


def channel_atp(
    readmodel: ReadModel, policy: Policy, location_id: str, sku: str, channel: str
) -> int:
    """``channel``'s ATP of ``sku`` at ``location_id`` (0 for a position never seen); a kit's
    from its components'."""
    parts = policy.kits.get(sku)
    if parts is None:
        found = readmodel.channel_atp(location_id, sku, channel)
        return 0 if found is None else found
    return kit_atp(parts, lambda part: readmodel.channel_atp(location_id, part, channel))


def kit_atp_at(
    readmodel: ReadModel, policy: Policy, location_id: str, kit: str, channel: str | None
) -> int:
    """A kit's ATP at ``location_id``: plain, or ``channel``'s."""
    parts = policy.kits[kit]

    def atp_of(sku: str) -> int | None:
        record = readmodel.position(location_id, sku)
        if record is None:
            return None
        return record.atp if channel is None else record.channels.get(channel, 0)

    return kit_atp(parts, atp_of)


class KitAtp:
    """The read model's ATP arrays, a kit's made from its components' (the same rule as
    ``engine.carts.kit_atp``, over every location at once)."""

    def __init__(self, readmodel: ReadModel, kits: dict[str, tuple[tuple[str, int], ...]]) -> None:
        self.readmodel = readmodel
        self.kits = kits
        self.location_ids = readmodel.location_ids

    def atp_array(self, sku: str) -> npt.NDArray[np.int64]:
        parts = self.kits.get(sku)
        if parts is None:
            return self.readmodel.atp_array(sku)
        arrays = [np.maximum(self.readmodel.atp_array(part), 0) // qty for part, qty in parts]
        size = min(len(array) for array in arrays)
        least: npt.NDArray[np.int64] = np.minimum.reduce([a[:size] for a in arrays])
        return least


def atp_source(readmodel: ReadModel, policy: Policy) -> Any:
    """What the promise calculator reads: the read model itself when the policy has no kits."""
    return readmodel if not policy.kits else KitAtp(readmodel, policy.kits)
