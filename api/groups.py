"""Location groups as the API reads them (docs/policy.md): a group's channel ATP, and the order
in which a reservation at a group tries its locations. A kit's ATP at a location is its
components' (``api.kits.channel_atp``), so a group answers and reserves a kit as it does a sku.

Both read the positions the read model holds, whose ``channels`` the engine computed under the
same policy (``serve --policy`` must name the file ``run`` uses). Nothing here decides a
reservation: each try is an ordinary ``reserve`` the location's book decides
(``api.service.Reservations``).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Final

from api.errors import ApiError
from api.kits import channel_atp
from api.readmodel import ReadModel
from engine.policy import Policy

MAX_TRIES: Final = 5


def members(policy: Policy, group_id: str) -> tuple[str, ...]:
    """The group's locations, flattened.

    Raises:
        ApiError: 404 ``unknown_group``.
    """
    found = policy.groups.get(group_id)
    if found is None:
        raise ApiError(404, "unknown_group", f"no location group {group_id!r} in the policy")
    return found


def channel_name(policy: Policy, name: str) -> str:
    """The channel a read naming ``name`` is of (the default channel for an unknown one).

    Raises:
        ApiError: 422 ``unknown_channel`` when the policy has no such channel and no default.
    """
    found = policy.channel(name)
    if found is None:
        raise ApiError(422, "unknown_channel", f"channel {name!r} is not a channel of the policy")
    return found.name


def group_atp(
    readmodel: ReadModel, policy: Policy, group_id: str, sku: str, channel: str
) -> dict[str, Any]:
    """``GET /v1/atp/group/{group_id}/{sku}``: the sum of the channel's ATP over the group."""
    group = members(policy, group_id)  # an unknown group is 404 whatever the channel
    name = channel_name(policy, channel)
    locations = [
        {"location_id": location_id, "atp": channel_atp(readmodel, policy, location_id, sku, name)}
        for location_id in group
    ]
    return {
        "group_id": group_id,
        "sku": sku,
        "channel": name,
        "atp": sum(location["atp"] for location in locations),
        "locations": locations,
    }


def next_try(
    readmodel: ReadModel,
    policy: Policy,
    group_id: str,
    sku: str,
    channel: str,
    need: int,
    tried: list[str],
    rank: dict[str, tuple[Any, float]] | None = None,
    in_flight: dict[tuple[str, str], int] | None = None,
    refused: dict[tuple[str, str], object] | None = None,
) -> str | None:
    """The location a reservation at ``group_id`` tries next, or ``None``: of the group's
    locations not yet ``tried`` whose channel ATP is at least ``need``, the first by ``rank``
    when given (``location_id -> (deliver_by or None, distance_km)``: earliest first, then
    nearest), else by channel ATP, most first; then ``location_id``.

    The ATP is the read model's less what this replica's own tries now in flight ask of the
    location (``in_flight``, ``(location_id, sku) -> units``), and it is asked again after each
    refused try: buyers racing for one group spread over its locations as their holds land,
    rather than all trying the same five. A location a try of this replica was refused at is
    skipped while the read model still holds the position it held then, every figure and
    ``as_of`` alike (``refused``, ``(location_id, sku) -> that position``; the read model
    builds a new record per read, so it is compared, not identified): the refusal is newer
    than what the read model says, so another buyer's try there would be refused too."""
    if len(tried) >= MAX_TRIES:
        return None
    found = policy.channel(channel)
    if found is None:
        return None
    best: tuple[Any, ...] | None = None
    choice = None
    for location_id in members(policy, group_id):
        if location_id in tried:
            continue
        if refused:
            seen = refused.get((location_id, sku))
            if seen is not None:
                if seen == readmodel.position(location_id, sku):  # the same figures
                    continue
                del refused[(location_id, sku)]  # the position has changed since
        atp = channel_atp(readmodel, policy, location_id, sku, found.name)
        if in_flight:
            atp -= in_flight.get((location_id, sku), 0)
        if atp < need:
            continue
        if rank is not None:
            day, km = rank.get(location_id, (None, float("inf")))
            key: tuple[Any, ...] = (day is None, day or date.max, km, location_id)
        else:
            key = (-atp, location_id)
        if best is None or key < best:
            best, choice = key, location_id
    return choice
