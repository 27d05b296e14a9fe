"""Deterministic generator of realistic Omnistock inventory event logs (JSONL, CONTRACT s. 1-3).

Same seed, same bytes. Sku popularity is Zipf (exponent 1.1) over ranks shuffled onto the skus;
store traffic is Zipf (0.8) too. Event time advances by exponential gaps of mean
``1000 / events_per_s`` ms, 2 % of events are up to 3 s late, and 20 % of store events carry the
store's own UTC offset. The generator shadows positions, reservations and open supplies with the
contract's rules: releases, fulfils and BOPIS sales name reservations it believes active (1 % name
one that just expired; 3 % of reservations are abandoned), fulfils never ask for more than held,
receipts and cancels name open supplies, shoppers mostly pick what shows in stock, and stores
that run low are replenished (receipts, DC transfers) to their demand. The first
``seeding_lines(events)`` lines seed stock. ``dup_rate`` and ``bad_rate`` are exact line counts:
duplicates repeat a recent valid line byte for byte, bad lines rotate through ``BAD_KINDS``.
Mix weights are normalised; a release or fulfil with nothing to name becomes a reserve and is
owed to a later reserve draw, so observed shares follow the mix.
"""

from __future__ import annotations

from .bad import BAD_KINDS
from .cli import main
from .model import generate, write_log
from .params import (
    ABANDON_SHARE,
    BOPIS_SHARE,
    CASE_PACKS,
    CHANNELS,
    DEFAULT_MIX,
    EPOCH_SHARE_MIXED,
    LATE_SHARE,
    LOCAL_TS_SHARE,
    LOW_STOCK,
    MAX_LATE_MS,
    REPLEN_HORIZON,
    SEED_FRACTION,
    STALE_SHARE,
    STORE_ZIPF,
    TS_FORMATS,
    UTC_OFFSETS_MIN,
    ZIPF_EXPONENT,
    Catalogue,
    WorkloadParams,
    default_catalogue,
    seeding_lines,
)

__all__ = [
    "ABANDON_SHARE",
    "BAD_KINDS",
    "BOPIS_SHARE",
    "CASE_PACKS",
    "CHANNELS",
    "DEFAULT_MIX",
    "EPOCH_SHARE_MIXED",
    "LATE_SHARE",
    "LOCAL_TS_SHARE",
    "LOW_STOCK",
    "MAX_LATE_MS",
    "REPLEN_HORIZON",
    "SEED_FRACTION",
    "STALE_SHARE",
    "STORE_ZIPF",
    "TS_FORMATS",
    "UTC_OFFSETS_MIN",
    "ZIPF_EXPONENT",
    "Catalogue",
    "WorkloadParams",
    "default_catalogue",
    "generate",
    "main",
    "seeding_lines",
    "write_log",
]
