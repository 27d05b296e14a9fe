"""Deterministic generator of realistic Omnistock inventory event logs (JSONL).

The events are those of docs/events.md (§1, §3, §8).

Same seed, same bytes. Two catalogues:

- numbered (the default, ``default_catalogue``): stores ``S001``.., DCs ``DC01``.., skus
  ``SKU-000001``..; store traffic is Zipf (0.8) over shuffled ranks, and each store has a fixed
  UTC offset drawn from ``UTC_OFFSETS_MIN``;
- the built-in network (``network_workload``, what ``omnistock bench`` uses): the stores and DCs
  of ``workload.builtin.generate_network(stores, seed)`` in real US cities, the demo's
  sku names; a store's traffic weight is its city's population, shared equally by the
  network's stores in that city; its offset is its city's IANA zone at each instant.

Sku popularity is Zipf (exponent 1.1) over ranks shuffled onto the skus. Event time is a
Poisson process of mean rate ``events_per_s`` from ``start_ms``: flat (exponential gaps), or,
with ``daily_curve`` (on for the network workload), following the retail day below by each
store's local hour: at an instant, store s draws traffic ``weight_s * DAILY_CURVE[local hour of
s]``; the retailer's rate is ``events_per_s`` times the sum of that over stores (weights summing
to 1), so it blends the time zones and its mean over a day stays ``events_per_s``; each event's
store is drawn by those shares at its instant (``curve.py``: time rescaling in numpy).

    local hour  0    1    2    3    4    5    6    7    8    9    10   11
    weight      0.16 0.08 0.05 0.04 0.04 0.08 0.25 0.55 0.90 1.20 1.45 1.75
    local hour  12   13   14   15   16   17   18   19   20   21   22   23
    weight      2.05 1.90 1.50 1.40 1.50 1.80 2.05 1.90 1.45 1.00 0.60 0.30

Quiet at night (3-4 h: 1/50 of the peaks), a morning ramp, a lunch peak (12 h), an afternoon
dip, an early-evening peak (18 h); the weights' mean is 1. 2 % of events are up to 3 s late,
and 20 % of store events carry the store's own UTC offset. The generator shadows positions,
reservations and open supplies with the contract's rules: releases, fulfils and BOPIS sales
name reservations it believes active (1 % name one that just expired; 3 % of reservations are
abandoned), fulfils never ask for more than held, receipts and cancels name open supplies
(80 % of receipts receive one, older ones likelier, so a position holds a few open supplies,
not hundreds: ``SUPPLY_RECEIPT_SHARE``), shoppers mostly pick what shows in stock, and stores
that run low are replenished (receipts, DC transfers) to their demand. The first
``seeding_lines(events)`` lines seed stock.
``dup_rate`` and ``bad_rate`` are exact line counts: duplicates repeat a recent valid line byte
for byte, bad lines rotate through ``BAD_KINDS``. Mix weights are normalised; a release or
fulfil with nothing to name becomes a reserve and is owed to a later reserve draw, so observed
shares follow the mix.

Carts and kits (docs/events.md §12) are optional, off in ``DEFAULT_MIX`` (whose logs stay the
same bytes): a mix naming ``"cart"`` (``CART_MIX``: 3 %, the demo's stream) draws cart reserves
(2-4 skus at one location, held whole or refused) and their releases, fulfils (whole or by
lines) and sales; ``kits = n`` adds kit skus ``KIT-0001``.. that those draws also reserve and
sell (``carts.py``). Their components are drawn from the catalogue's first skus and ranked
among the best sellers; ``policy_kits`` gives the policy's ``kits`` entries for them
(``kits.py``): a log with kits is meant to be applied under that policy.
"""

from __future__ import annotations

from .bad import BAD_KINDS
from .curve import DAILY_CURVE, DayProfile
from .kits import kit_entries, kit_ids, kit_parts, policy_kits
from .model import generate, write_log
from .network import NETWORK_SEED, describe, network_catalogue, network_workload
from .params import (
    ABANDON_SHARE,
    BOPIS_SHARE,
    CART_MIX,
    CASE_PACKS,
    CHANNELS,
    DEFAULT_MIX,
    EPOCH_SHARE_MIXED,
    LATE_SHARE,
    LOCAL_TS_SHARE,
    LOW_STOCK,
    MAX_LATE_MS,
    MODEL_VERSION,
    REPLEN_HORIZON,
    SEED_FRACTION,
    STALE_SHARE,
    STORE_ZIPF,
    SUPPLY_RECEIPT_SHARE,
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
    "CART_MIX",
    "CASE_PACKS",
    "CHANNELS",
    "DAILY_CURVE",
    "DEFAULT_MIX",
    "EPOCH_SHARE_MIXED",
    "LATE_SHARE",
    "LOCAL_TS_SHARE",
    "LOW_STOCK",
    "MAX_LATE_MS",
    "MODEL_VERSION",
    "NETWORK_SEED",
    "REPLEN_HORIZON",
    "SEED_FRACTION",
    "STALE_SHARE",
    "STORE_ZIPF",
    "SUPPLY_RECEIPT_SHARE",
    "TS_FORMATS",
    "UTC_OFFSETS_MIN",
    "ZIPF_EXPONENT",
    "Catalogue",
    "DayProfile",
    "WorkloadParams",
    "default_catalogue",
    "describe",
    "generate",
    "kit_entries",
    "kit_ids",
    "kit_parts",
    "network_catalogue",
    "network_workload",
    "policy_kits",
    "seeding_lines",
    "write_log",
]
