"""The policy: channels, their buffers, location groups, safety stock, kits and alert thresholds
(docs/policy.md). Read once at start, validated whole, then read-only.

``load(text)`` reads a policy file (JSON) and checks it: a bad file raises ``ConfigError``
naming the entry (``channels[4] (marketplace): buffer_pct ...``), which the command line turns
into exit 2. ``DEFAULT_POLICY`` is the policy with no file, exactly v1: channels ``web``, ``app``,
``call_centre`` (safety stock held back) and ``pos`` (not), ``default_channel`` ``web``, no
groups, safety stock 0, no kits, and the settings' alert thresholds.

The rules read a policy through a book (``engine.book``), which keeps the channels as they apply
at its own location (``Policy.channels_at``): a reservation decides on them without a lookup
beyond one dict read. A channel's ATP at a position is ``engine.position.Position.atp_for``.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Final, NamedTuple

import msgspec

from engine.errors import ConfigError

MAX_QTY: Final = 1_000_000
GROUP_REF: Final = "group:"
_ID: Final = re.compile(r"[A-Za-z0-9_.\-]{1,64}")

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Units = Annotated[int, msgspec.Meta(ge=0, le=MAX_QTY)]
Pct = Annotated[int, msgspec.Meta(ge=0, le=100)]
Qty = Annotated[int, msgspec.Meta(ge=1, le=MAX_QTY)]


# -- the file's shape (decoded by msgspec: types and ranges are checked there) ---------------


class _Channel(msgspec.Struct, forbid_unknown_fields=True):
    name: Id
    safety_stock: bool = True
    buffer_pct: Pct = 0
    protect_units: Units = 0
    locations: list[Id] | None = None


class _Group(msgspec.Struct, forbid_unknown_fields=True):
    id: Id
    locations: list[Id]


class _SafetyStock(msgspec.Struct, forbid_unknown_fields=True):
    default: Units = 0
    skus: dict[Id, int] = {}  # each checked by ``load``, which names the sku


class _Component(msgspec.Struct, forbid_unknown_fields=True):
    sku: Id
    qty: Qty


class _Kit(msgspec.Struct, forbid_unknown_fields=True):
    sku: Id
    components: list[_Component]


class _Alerts(msgspec.Struct, forbid_unknown_fields=True):
    low_stock: Units | None = None
    reorder_point: Units | None = None
    stockout_days: Units | None = None


class _File(msgspec.Struct, forbid_unknown_fields=True):
    channels: list[_Channel] | None = None
    default_channel: Id | None = None
    groups: list[_Group] = []
    safety_stock: _SafetyStock = msgspec.field(default_factory=_SafetyStock)
    kits: list[_Kit] = []
    alerts: _Alerts = msgspec.field(default_factory=_Alerts)


# -- the policy as the engine reads it --------------------------------------------------------


class Channel(msgspec.Struct, frozen=True):
    """A sales channel. ``locations``: where it may sell (flattened), ``None`` for everywhere."""

    name: str
    safety_stock: bool = True
    buffer_pct: int = 0
    protect_units: int = 0
    locations: frozenset[str] | None = None


class ChannelAt(NamedTuple):
    """A channel as it applies at one location: what its ATP needs (``Position.atp_for``)."""

    name: str
    holds_safety_stock: bool
    buffer_pct: int
    protect_units: int
    sells_here: bool


class Policy(msgspec.Struct, frozen=True):
    """A validated policy (``load``). ``groups`` are flattened: each location once, in the
    order the file first names it. ``kits``: ``kit sku -> ((component sku, qty), ...)``.
    ``alerts``: the file's thresholds, ``None`` where it gives none (the settings' apply)."""

    channels: tuple[Channel, ...]
    default_channel: str | None = None
    groups: dict[str, tuple[str, ...]] = {}
    safety_default: int = 0
    safety_skus: dict[str, int] = {}
    kits: dict[str, tuple[tuple[str, int], ...]] = {}
    low_stock: int | None = None
    reorder_point: int | None = None
    stockout_days: int | None = None

    def channel(self, name: str) -> Channel | None:
        """The channel a request naming ``name`` is taken as: that one, else the default
        channel, else ``None`` (``unknown_channel``)."""
        for channel in self.channels:
            if channel.name == name:
                return channel
        if self.default_channel is not None and self.default_channel != name:
            return self.channel(self.default_channel)
        return None

    def channels_at(self, location_id: str) -> tuple[ChannelAt, ...]:
        """Every channel as it applies at ``location_id``, in the policy's order."""
        return tuple(
            ChannelAt(
                c.name,
                c.safety_stock,
                c.buffer_pct,
                c.protect_units,
                c.locations is None or location_id in c.locations,
            )
            for c in self.channels
        )

    def safety_stock_of(self, sku: str) -> int:
        """The policy's safety stock for ``sku``: its own entry, else the default."""
        return self.safety_skus.get(sku, self.safety_default)


DEFAULT_CHANNELS: Final = (
    Channel("web"),
    Channel("app"),
    Channel("call_centre"),
    Channel("pos", safety_stock=False),
)
DEFAULT_POLICY: Final = Policy(DEFAULT_CHANNELS, default_channel="web")


# -- loading ----------------------------------------------------------------------------------


def load(text: bytes | str) -> Policy:
    """The policy a file's text describes.

    Raises:
        ConfigError: the text is not a valid policy; the message names the entry.
    """
    try:
        json.loads(text, object_pairs_hook=_unique_keys)  # a key twice: refused, not kept last
        spec = msgspec.json.decode(text, type=_File)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"policy: {_where(str(exc))}") from None
    except ValueError as exc:  # not JSON, for json or msgspec (both subclass ValueError)
        raise ConfigError(f"policy: not JSON ({exc})") from None
    groups = _groups(spec.groups)
    channels = _channels(spec.channels, groups)
    names = {c.name for c in channels}
    if spec.default_channel is not None and spec.default_channel not in names:
        raise ConfigError(
            f"policy: default_channel {spec.default_channel!r} is not a channel of the policy"
        )
    default_channel = spec.default_channel
    if spec.channels is None and default_channel is None:
        default_channel = "web"
    for sku, units in spec.safety_stock.skus.items():
        _check_id(sku, f"safety_stock.skus[{sku!r}]")
        if not 0 <= units <= MAX_QTY:
            raise ConfigError(
                f"policy: safety_stock.skus[{sku!r}]: {units} is out of range 0..{MAX_QTY}"
            )
    return Policy(
        channels,
        default_channel,
        groups,
        spec.safety_stock.default,
        dict(spec.safety_stock.skus),
        _kits(spec.kits),
        spec.alerts.low_stock,
        spec.alerts.reorder_point,
        spec.alerts.stockout_days,
    )


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object's pairs, refusing a key given twice (JSON would keep the last silently)."""
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ConfigError(f"policy: the key {key!r} is given twice in one object")
        found[key] = value
    return found


def _check_id(value: str, entry: str) -> None:
    if not _ID.fullmatch(value):
        raise ConfigError(f"policy: {entry}: {value!r} is not an id (1-64 of A-Z a-z 0-9 _ . -)")


def _groups(specs: list[_Group]) -> dict[str, tuple[str, ...]]:
    """The groups, flattened; a reference to an unknown group or a cycle is refused."""
    raw: dict[str, list[str]] = {}
    for i, group in enumerate(specs):
        entry = f"groups[{i}] ({group.id})"
        _check_id(group.id, f"groups[{i}].id")
        if group.id in raw:
            raise ConfigError(f"policy: {entry}: a second group with this id")
        for ref in group.locations:
            _check_ref(ref, f"{entry}.locations")
        raw[group.id] = group.locations
    flat: dict[str, tuple[str, ...]] = {}

    def visit(gid: str, path: tuple[str, ...]) -> tuple[str, ...]:
        if gid in flat:
            return flat[gid]
        members: dict[str, None] = {}
        for ref in raw[gid]:
            if ref.startswith(GROUP_REF):
                inner = ref[len(GROUP_REF) :]
                if inner not in raw:
                    raise ConfigError(f"policy: group {gid!r} names unknown group {inner!r}")
                if inner in path:
                    cycle = " -> ".join((*path[path.index(inner) :], inner))
                    raise ConfigError(f"policy: groups form a cycle: {cycle}")
                members.update(dict.fromkeys(visit(inner, (*path, inner))))
            else:
                members[ref] = None
        flat[gid] = tuple(members)
        return flat[gid]

    for gid in raw:
        visit(gid, (gid,))
    return {gid: flat[gid] for gid in raw}


def _check_ref(ref: str, entry: str) -> None:
    _check_id(ref[len(GROUP_REF) :] if ref.startswith(GROUP_REF) else ref, entry)


def _channels(
    specs: list[_Channel] | None, groups: dict[str, tuple[str, ...]]
) -> tuple[Channel, ...]:
    if specs is None:
        return DEFAULT_CHANNELS
    if not specs:
        raise ConfigError("policy: channels: at least one channel")
    channels: list[Channel] = []
    seen: set[str] = set()
    for i, spec in enumerate(specs):
        entry = f"channels[{i}] ({spec.name})"
        _check_id(spec.name, f"channels[{i}].name")
        if spec.name in seen:
            raise ConfigError(f"policy: {entry}: a second channel with this name")
        seen.add(spec.name)
        locations: frozenset[str] | None = None
        if spec.locations is not None:
            members: set[str] = set()
            for ref in spec.locations:
                _check_ref(ref, f"{entry}.locations")
                if ref.startswith(GROUP_REF):
                    gid = ref[len(GROUP_REF) :]
                    if gid not in groups:
                        raise ConfigError(f"policy: {entry}: names unknown group {gid!r}")
                    members.update(groups[gid])
                else:
                    members.add(ref)
            locations = frozenset(members)
        channels.append(
            Channel(spec.name, spec.safety_stock, spec.buffer_pct, spec.protect_units, locations)
        )
    return tuple(channels)


def _kits(specs: list[_Kit]) -> dict[str, tuple[tuple[str, int], ...]]:
    kits: dict[str, tuple[tuple[str, int], ...]] = {}
    for i, kit in enumerate(specs):
        entry = f"kits[{i}] ({kit.sku})"
        _check_id(kit.sku, f"kits[{i}].sku")
        if kit.sku in kits:
            raise ConfigError(f"policy: {entry}: a second kit with this sku")
        if not kit.components:
            raise ConfigError(f"policy: {entry}: a kit has at least one component")
        seen: set[str] = set()
        for component in kit.components:
            _check_id(component.sku, f"{entry}.components")
            if component.sku == kit.sku:
                raise ConfigError(f"policy: {entry}: a kit cannot be its own component")
            if component.sku in seen:
                raise ConfigError(f"policy: {entry}: component {component.sku!r} twice")
            seen.add(component.sku)
        kits[kit.sku] = tuple((c.sku, c.qty) for c in kit.components)
    for sku, parts in kits.items():
        for part, _ in parts:
            if part in kits:
                raise ConfigError(f"policy: kit {sku!r}: component {part!r} is a kit itself")
    return kits


def _where(message: str) -> str:
    """msgspec's message with the JSON path first: ``channels[4].buffer_pct: ...``."""
    found = re.search(r" - at `\$\.?(.*)`$", message)
    if not found:
        return message
    return f"{found.group(1) or 'the file'}: {message[: found.start()]}"
