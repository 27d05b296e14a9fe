"""What to generate: ``WorkloadParams``, ``Catalogue``, the default mix, the model's constants."""

from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

DEFAULT_MIX: tuple[tuple[str, float], ...] = (
    ("sale", 0.50),
    ("reserve", 0.14),
    ("release", 0.04),
    ("fulfil", 0.05),
    ("receipt", 0.08),
    ("return", 0.03),
    ("adjust", 0.02),
    ("count", 0.03),
    ("transfer_out", 0.02),
    ("inbound", 0.04),
    ("inbound_cancel", 0.005),
    ("set_safety_stock", 0.005),
)
# Optional kinds a mix may name besides those of DEFAULT_MIX (``workload.carts``): "cart" draws
# carts (reserves with lines) and their releases, fulfils and sales, and kits with ``kits`` on.
EXTRA_KINDS = ("cart",)
CART_MIX: tuple[tuple[str, float], ...] = (*DEFAULT_MIX, ("cart", 0.03))  # the demo's stream
TS_FORMATS = ("rfc3339", "epoch_ms", "mixed")
SEED_FRACTION, ZIPF_EXPONENT, STORE_ZIPF = 0.02, 1.1, 0.8
LATE_SHARE, MAX_LATE_MS, LOCAL_TS_SHARE, EPOCH_SHARE_MIXED = 0.02, 3000, 0.2, 0.4
BOPIS_SHARE, STALE_SHARE, ABANDON_SHARE, LOW_STOCK = 0.10, 0.01, 0.03, 2
REPLEN_HORIZON = 20_000  # events of demand a delivery covers with 50 stores x 20,000 skus
CHANNELS = (("web", 0.55), ("app", 0.25), ("pos", 0.10), ("call_centre", 0.10))
UTC_OFFSETS_MIN = ((-300, 0.5), (-360, 0.25), (-420, 0.1), (-480, 0.15))  # US, November
CASE_PACKS = (6, 12, 12, 24, 24, 36, 48)
# Share of receipts that receive an open expected supply (an older one likelier). About 6 % of
# events open one (transfers, new POs) and 0.5 % cancel one; at 0.8 receipts close them about
# as fast, so each position holds a few, as a store or DC does. (At 0.35 they piled up: one DC
# sku held 1,054 open POs after a million events, and each of its positions was 30 KB.)
SUPPLY_RECEIPT_SHARE = 0.8
# Bumped whenever the model changes what it generates: cached logs carry it in their names.
MODEL_VERSION = 2
_ID_RE = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


@dataclass(frozen=True, slots=True)
class WorkloadParams:
    """What to generate (the model is in the ``workload`` package docstring)."""

    events: int = 1_000_000  # lines in the log, duplicates and malformed lines included
    stores: int = 50  # location ids "S001".."S050"
    dcs: int = 3  # location ids "DC01".."DC03"
    skus: int = 20_000  # sku ids "SKU-000001"...
    seed: int = 7
    start_ms: int = 1_795_000_000_000  # event time of the first event (epoch ms)
    events_per_s: float = 200.0  # event-time rate
    dup_rate: float = 0.005  # share of lines repeating an earlier line byte for byte
    bad_rate: float = 0.001  # share of malformed lines
    ts_format: str = "rfc3339"  # "rfc3339", "epoch_ms" or "mixed"
    mix: tuple[tuple[str, float], ...] = DEFAULT_MIX
    daily_curve: bool = False  # event rate follows DAILY_CURVE by local hour (mean events_per_s)
    kits: int = 0  # kit skus "KIT-0001".. (``workload.kits``), reserved and sold by "cart" draws


@dataclass(frozen=True, slots=True)
class Catalogue:
    """Ids to use instead of the numbered defaults (``params.stores/dcs/skus`` are then unused).

    ``store_weights`` (one per store, any positive scale) replace the Zipf store traffic;
    ``store_zones`` (IANA names, one per store) replace the drawn fixed UTC offsets: local
    timestamps then carry the zone's true offset at that instant (``network.py`` sets both).
    """

    stores: tuple[str, ...]
    dcs: tuple[str, ...]
    skus: tuple[str, ...]
    store_weights: tuple[float, ...] | None = None
    store_zones: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        locs = (*self.stores, *self.dcs)
        if not (self.stores and self.dcs and self.skus):
            raise ValueError("a catalogue needs at least one store, one DC and one sku")
        if bad := [n for n in (*locs, *self.skus) if not _ID_RE.fullmatch(n)]:
            raise ValueError(f"invalid ids: {bad[:5]}")
        if len(set(locs)) != len(locs) or len(set(self.skus)) != len(self.skus):
            raise ValueError("location ids and sku ids must be unique")
        for extra in (self.store_weights, self.store_zones):
            if extra is not None and len(extra) != len(self.stores):
                raise ValueError("store_weights and store_zones need one value per store")
        if self.store_weights is not None and min(self.store_weights) <= 0:
            raise ValueError("store weights must be positive")
        for zone in set(self.store_zones or ()):
            try:
                ZoneInfo(zone)
            except (KeyError, ValueError):
                raise ValueError(f"unknown time zone {zone!r}") from None


def default_catalogue(params: WorkloadParams) -> Catalogue:
    """Numbered ids: S001.., DC01.., SKU-000001.."""
    return Catalogue(
        tuple(f"S{i:03d}" for i in range(1, params.stores + 1)),
        tuple(f"DC{i:02d}" for i in range(1, params.dcs + 1)),
        tuple(f"SKU-{i:06d}" for i in range(1, params.skus + 1)),
    )


def seeding_lines(events: int) -> int:
    """How many leading lines seed stock (receipts and counts, besides dups and bad lines)."""
    return max(int(events * SEED_FRACTION), min(events // 10, 64))


def check(p: WorkloadParams) -> None:
    """Raise ``ValueError`` unless ``p`` describes a log the generator can make."""
    if min(p.events, p.seed) < 0 or min(p.stores, p.dcs, p.skus) < 1 or p.events_per_s <= 0:
        raise ValueError("need events, seed >= 0, stores, dcs, skus >= 1 and events_per_s > 0")
    if not (0 <= p.dup_rate < 1 and 0 <= p.bad_rate < 1) or p.ts_format not in TS_FORMATS:
        raise ValueError(f"need dup_rate, bad_rate in [0, 1) and ts_format in {TS_FORMATS}")
    known = (*dict(DEFAULT_MIX), *EXTRA_KINDS)
    if any(t not in known or w < 0 for t, w in p.mix) or sum(dict(p.mix).values()) <= 0:
        raise ValueError("mix: known event types, weights >= 0 with a positive sum")
    if not 0 <= p.kits <= 9999:
        raise ValueError("kits: 0..9999")
