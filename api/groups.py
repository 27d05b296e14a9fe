"""Location groups as the API reads them (docs/policy.md): a group's channel ATP, and the order
in which a reservation at a group tries its locations.

Both read the positions the read model holds, whose ``channels`` the engine computed under the
same policy (``serve --policy`` must name the file ``run`` uses). Nothing here decides a
reservation: each try is an ordinary ``reserve`` the location's book decides
(``api.service.Reservations``).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Final

from api.errors import ApiError
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


def channel_atp(readmodel: ReadModel, location_id: str, sku: str, channel: str) -> int:
    """A position's ATP for ``channel`` (0 for a position never seen)."""
    found = readmodel.position(location_id, sku)
    return 0 if found is None else found.channels.get(channel, 0)


def group_atp(
    readmodel: ReadModel, policy: Policy, group_id: str, sku: str, channel: str
) -> dict[str, Any]:
    """``GET /v1/atp/group/{group_id}/{sku}``: the sum of the channel's ATP over the group."""
    name = channel_name(policy, channel)
    locations = [
        {"location_id": location_id, "atp": channel_atp(readmodel, location_id, sku, name)}
        for location_id in members(policy, group_id)
    ]
    return {
        "group_id": group_id,
        "sku": sku,
        "channel": name,
        "atp": sum(location["atp"] for location in locations),
        "locations": locations,
    }


def candidates(
    readmodel: ReadModel,
    policy: Policy,
    group_id: str,
    sku: str,
    channel: str,
    need: int,
    rank: dict[str, tuple[Any, float]] | None = None,
) -> list[str]:
    """The locations a reservation at ``group_id`` tries, in order, at most ``MAX_TRIES``.

    The group's locations whose channel ATP is at least ``need``: by ``rank`` when given
    (``location_id -> (deliver_by or None, distance_km)``: earliest first, then nearest),
    else by channel ATP, most first; then ``location_id``. With none, the first location of
    that order over the whole group, so that the reservation id is still decided (and
    remembered) by a book.
    """
    found = policy.channel(channel)
    group = members(policy, group_id)
    atp = {
        location_id: 0 if found is None else channel_atp(readmodel, location_id, sku, found.name)
        for location_id in group
    }

    def key(location_id: str) -> tuple[Any, ...]:
        if rank is not None:
            day, km = rank.get(location_id, (None, float("inf")))
            return (day is None, day or date.max, km, location_id)
        return (-atp[location_id], location_id)

    ordered = sorted(group, key=key)
    able = [location_id for location_id in ordered if atp[location_id] >= need]
    return (able or ordered[:1])[:MAX_TRIES]
