"""``GET /v1/atp/{location_id}/{sku}`` and ``POST /v1/atp/query`` (docs/api.md §6)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api import groups, kits
from api.answers import AtpQueryOut, GroupAtp, KitPosition, Position, errors
from api.deps import READ, AppState, State
from api.errors import ApiError
from api.instants import InstantQuery
from api.jsonio import JSONResponse
from api.schemas import AtpQueryIn
from engine.errors import InputError
from engine.outputs import PositionRecord
from engine.timefmt import parse_instant

router = APIRouter(prefix="/v1/atp", tags=["atp"], dependencies=[READ])

_POSITION_EXAMPLE = {
    "location_id": "S001",
    "sku": "SKU-1",
    "on_hand": 12,
    "reserved": 2,
    "safety_stock": 1,
    "unsellable": 0,
    "available": 9,
    "atp": 9,
    "oversold": 0,
    "inbound": [{"supply_id": "PO-7", "qty": 24, "eta": "2026-11-22T08:00:00Z"}],
    "as_of": "2026-11-20T14:05:00Z",
    "atp_at": 33,
}


@router.get(
    "/{location_id}/{sku}",
    response_class=JSONResponse,
    response_model=Position | KitPosition,
    summary="One position (a kit: its ATP from its components'); with ?at= also its ATP on "
    "that instant",
    responses={
        200: {
            "description": "The position; for a kit of the policy, the kit's ATP (`kit: true`)",
            "content": {"application/json": {"example": _POSITION_EXAMPLE}},
        },
        **errors(
            401,
            403,
            404,
            422,
            503,
            e404="`unknown_position`: no event has named this sku at this location",
        ),
    },
)
async def position(
    location_id: str,
    sku: str,
    state: State,
    at: Annotated[InstantQuery, Query(examples=["2026-11-22T09:00:00Z"])] = None,
) -> Any:
    kit = sku in state.policy.kits
    found = None if kit else known_position(state, location_id, sku)
    try:
        instant = None if at is None else parse_instant(at)
    except InputError as exc:
        raise ApiError(422, "invalid_request", f"at: {exc}") from None
    if found is None:
        if not any(state.readmodel.position(location_id, c) for c, _ in state.policy.kits[sku]):
            known_position(state, location_id, sku)  # 404: no component was ever seen there
        return JSONResponse(
            kits.kit_position(state.readmodel, state.policy, location_id, sku, instant)
        )
    if instant is None:
        return JSONResponse(found)
    return JSONResponse({**_fields(found), "atp_at": found.atp_at(instant)})


@router.post(
    "/query",
    response_class=JSONResponse,
    response_model=AtpQueryOut,
    summary="Every known position of a grid of skus by locations, with totals per sku",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "positions": [_POSITION_EXAMPLE],
                        "totals": {"SKU-1": {"on_hand": 12, "reserved": 2, "atp": 9}},
                    }
                }
            }
        },
        **errors(
            400,
            401,
            403,
            404,
            413,
            422,
            503,
            e404="`unknown_group`: a group the policy does not have",
            e422="`invalid_request`: a bad body; `unknown_channel`: the policy has no such "
            "channel and no default channel",
        ),
    },
)
async def query(body: AtpQueryIn, state: State) -> Any:
    positions: list[Any] = []
    totals: dict[str, dict[str, int]] = {}
    readmodel = state.readmodel
    locations = dict.fromkeys(body.location_ids)
    for group_id in body.location_groups:  # each location once, nested groups flattened
        locations.update(dict.fromkeys(groups.members(state.policy, group_id)))
    channel = None if body.channel is None else groups.channel_name(state.policy, body.channel)
    for sku in dict.fromkeys(body.skus):
        total = {"on_hand": 0, "reserved": 0, "atp": 0}
        if sku in state.policy.kits:  # no stock of its own: its ATP from its components'
            total["atp"] = sum(
                kits.kit_atp_at(readmodel, state.policy, loc, sku, channel) for loc in locations
            )
            totals[sku] = total
            continue
        for location_id in locations:
            found = readmodel.position(location_id, sku)
            if found is not None:
                positions.append(found)
                total["on_hand"] += found.on_hand
                total["reserved"] += found.reserved
                total["atp"] += found.atp if channel is None else found.channels.get(channel, 0)
        totals[sku] = total
    answer: dict[str, Any] = {"positions": positions, "totals": totals}
    if channel is not None:
        answer["channel"] = channel
    return JSONResponse(answer)


@router.get(
    "/group/{group_id}/{sku}",
    response_class=JSONResponse,
    response_model=GroupAtp,
    summary="A location group's ATP for a channel: the sum over its locations",
    responses={
        **errors(
            401,
            403,
            404,
            422,
            503,
            e404="`unknown_group`: the policy has no such group",
            e422="`unknown_channel`: the policy has no such channel and no default channel",
        ),
    },
)
async def group(
    group_id: str,
    sku: str,
    state: State,
    channel: Annotated[str, Query(examples=["web"])] = "web",
) -> Any:
    return JSONResponse(groups.group_atp(state.readmodel, state.policy, group_id, sku, channel))


def known_position(state: AppState, location_id: str, sku: str) -> PositionRecord:
    """The position as the read model has it (the route and the hot path, ``api.fastpath``).

    Raises:
        ApiError: 404 ``unknown_position`` when no event has named it.
    """
    found = state.readmodel.position(location_id, sku)
    if found is None:
        raise ApiError(
            404, "unknown_position", f"no event has named sku {sku!r} at {location_id!r}"
        )
    return found


def _fields(record: Any) -> dict[str, Any]:
    return {name: getattr(record, name) for name in record.__struct_fields__}
