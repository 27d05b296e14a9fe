"""numba kernels of the delivery calculator: arrays and scalars in, arrays out (docs/network.md §5).

Private by convention: ``engine.promise.calculator`` wraps each in a typed function that
validates and converts. Every kernel is serial, compiled once to the on-disk cache
(``cache=True``) and releases the GIL (``nogil=True``). Location indices are in location-id
order, so "smallest location_id" is "smallest index". ``t`` is epoch seconds; days are indices
into the horizon of the ``Tables``; -1 means "none".
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from engine.promise.calendar import (
    CUTOFF,
    EARTH_KM,
    N_BANDS,
    NEXT_SHIP,
    NEXT_WORK,
    OPEN,
    PICK_DEADLINE,
    PICK_S,
    PICKS,
    SAME_DAY,
    SD_FIELD,
    SHIP_DEADLINE,
    SHIPS,
    ZONE,
)

kernel = njit(cache=True, nogil=True)  # one place for every kernel's numba flags
# Helpers are inlined into their callers at numba's IR level: a call that passes the Tables
# (a struct of eleven arrays) by value costs more than the helper's own work.
helper = njit(cache=True, nogil=True, inline="always")


@kernel
def local_days(midnight, t):
    """Per zone, the day index of instant ``t`` (-1 before the horizon)."""
    zones = midnight.shape[0]
    out = np.empty(zones, dtype=np.int64)
    for z in range(zones):
        out[z] = np.searchsorted(midnight[z], t, side="right") - 1
    return out


@helper
def distance_km(loc_xyz, i, dest):
    """Great-circle distance (the haversine's value, through the chord length)."""
    dx = loc_xyz[i, 0] - dest[0]
    dy = loc_xyz[i, 1] - dest[1]
    dz = loc_xyz[i, 2] - dest[2]
    half = 0.5 * math.sqrt(dx * dx + dy * dy + dz * dz)
    return 2.0 * EARTH_KM * math.asin(min(1.0, half))


@helper
def level_options(tb, i, k, t, dist, out_day, out_by):
    """Deliver day and ship-by instant of every level from location ``i`` for an order at ``t``
    on its local day ``k``, into ``out_day`` (-1: not offered) and ``out_by``."""
    day_table = tb.day_table  # arrays in locals: LLVM then keeps them out of the loops
    level_info = tb.level_info
    bands = tb.bands
    ship = k if t <= day_table[SHIP_DEADLINE, k, i] else day_table[NEXT_SHIP, k + 1, i]
    last = k + tb.lookahead
    if ship > last:
        ship = -1
    for v in range(level_info.shape[0]):
        out_day[v] = -1
        if level_info[v, SAME_DAY]:
            field = level_info[v, SD_FIELD]
            if dist <= tb.level_km[v] and t <= day_table[field, k, i]:
                out_day[v] = k
                out_by[v] = day_table[field + 1, k, i]
        elif ship >= 0:
            for b in range(level_info[v, N_BANDS]):
                if bands[v, b, 0] <= dist < bands[v, b, 1]:
                    slot = tb.deliver_count[v, ship] + np.int64(bands[v, b, 2])
                    day = tb.nth_day[v, slot]
                    if day <= last:
                        out_day[v] = day
                        out_by[v] = day_table[CUTOFF, ship, i]
                    break


@helper
def ready_at(tb, i, k, t):
    """Pickup ready instant at location ``i`` for an order at ``t`` on local day ``k``, or -1."""
    pick = tb.loc_info[i, PICK_S]
    if t <= tb.day_table[PICK_DEADLINE, k, i]:
        return max(t, tb.day_table[OPEN, k, i]) + pick
    nxt = tb.day_table[NEXT_WORK, k + 1, i]
    if nxt < 0 or nxt > k + tb.lookahead:
        return -1
    return tb.day_table[OPEN, nxt, i] + pick


@helper
def earlier(day, dist, i, best_day, best_dist, best_loc):
    """Whether (day, dist, i) beats the best so far (docs/api.md §6's order); -1 day: no best."""
    if best_day < 0 or day < best_day:
        return True
    return day == best_day and (dist < best_dist or (dist == best_dist and i < best_loc))


@kernel
def promise_item(tb, dest, t, qty, cand, atp, radius_km, limit):
    """Best option per service level and the pickup options for one item.

    Args:
        tb: the ``Tables``.
        dest: the destination's unit vector.
        t: the order instant.
        qty: units wanted; only candidates with ``atp >= qty`` count.
        cand, atp: candidate location indices and their ATP.
        radius_km, limit: pickup stores within this distance, at most ``limit``, nearest first.

    Returns:
        ``best`` ``[level, (location, deliver day, ship-by)]`` (day -1: not offered) with
        ``best_km``, then ``pickup`` ``[store, (location, atp, ready_at)]`` with ``pickup_km``.
    """
    levels = tb.level_info.shape[0]
    loc_info = tb.loc_info
    loc_xyz = tb.loc_xyz
    best = np.full((levels, 3), -1, dtype=np.int64)
    best_km = np.zeros(levels, dtype=np.float64)
    day = np.empty(levels, dtype=np.int64)
    by = np.empty(levels, dtype=np.int64)
    days = local_days(tb.midnight, t)
    n = cand.shape[0]
    pk = np.empty((n, 2), dtype=np.int64)
    pk_km = np.empty(n, dtype=np.float64)
    found = 0
    for c in range(n):
        if atp[c] < qty:
            continue
        i = cand[c]
        dist = distance_km(loc_xyz, i, dest)
        k = days[loc_info[i, ZONE]]
        if loc_info[i, SHIPS]:
            level_options(tb, i, k, t, dist, day, by)
            for v in range(levels):
                if day[v] >= 0 and earlier(day[v], dist, i, best[v, 1], best_km[v], best[v, 0]):
                    best[v, 0] = i
                    best[v, 1] = day[v]
                    best[v, 2] = by[v]
                    best_km[v] = dist
        if loc_info[i, PICKS] and dist <= radius_km:
            pk[found, 0] = i
            pk[found, 1] = atp[c]
            pk_km[found] = dist
            found += 1
    order = np.argsort(pk_km[:found], kind="mergesort")  # stable: equal distances by index
    keep = min(found, limit)
    pickup = np.empty((keep, 3), dtype=np.int64)
    pickup_km = np.empty(keep, dtype=np.float64)
    for r in range(keep):
        j = order[r]
        i = pk[j, 0]
        pickup[r, 0] = i
        pickup[r, 1] = pk[j, 1]
        pickup[r, 2] = ready_at(tb, i, days[loc_info[i, ZONE]], t)
        pickup_km[r] = pk_km[j]
    return best, best_km, pickup, pickup_km


@kernel
def location_options(tb, dest, t):
    """Per location and level: deliver day (-1: none) and distance, for a destination."""
    count = tb.loc_xyz.shape[0]
    levels = tb.level_info.shape[0]
    day_of = np.full((count, levels), -1, dtype=np.int64)
    by = np.empty(levels, dtype=np.int64)
    dist_of = np.empty(count, dtype=np.float64)
    days = local_days(tb.midnight, t)
    for i in range(count):
        dist = distance_km(tb.loc_xyz, i, dest)
        dist_of[i] = dist
        if tb.loc_info[i, SHIPS]:
            level_options(tb, i, days[tb.loc_info[i, ZONE]], t, dist, day_of[i], by)
    return day_of, dist_of


@kernel
def promise_listing(tb, dest, t, offsets, cand, atp):
    """Earliest deliver day per sku and level, one unit each (a listing page).

    Args:
        offsets: sku ``s`` has candidates ``cand[offsets[s]:offsets[s + 1]]`` with ``atp``.

    Returns:
        ``[sku, level]`` deliver days (-1: none) and the locations that give them.
    """
    day_of, dist_of = location_options(tb, dest, t)
    skus = offsets.shape[0] - 1
    levels = day_of.shape[1]
    best_day = np.full((skus, levels), -1, dtype=np.int64)
    best_loc = np.full((skus, levels), -1, dtype=np.int64)
    for s in range(skus):
        for c in range(offsets[s], offsets[s + 1]):
            if atp[c] < 1:
                continue
            i = cand[c]
            for v in range(levels):
                day = day_of[i, v]
                if day < 0:
                    continue
                j = best_loc[s, v]
                if earlier(day, dist_of[i], i, best_day[s, v], dist_of[max(j, 0)], j):
                    best_day[s, v] = day
                    best_loc[s, v] = i
    return best_day, best_loc


@kernel
def promise_single_location(tb, dest, t, offsets, cand, atp, qty):
    """The one location that can ship every item of a cart, or -1.

    A location qualifies when it ships and holds ``atp >= qty`` of every item. Among those, the
    best has the earliest deliver day on the first level (in network order), then the next
    levels (a level not offered counts as latest), then the shortest distance, then the smallest
    index.

    Returns:
        ``(location, deliver days per level, ship-by instants per level, distance)``.
    """
    count = tb.loc_xyz.shape[0]
    levels = tb.level_info.shape[0]
    items = offsets.shape[0] - 1
    holds = np.zeros(count, dtype=np.int64)
    for s in range(items):
        for c in range(offsets[s], offsets[s + 1]):
            if atp[c] >= qty[s]:
                holds[cand[c]] += 1
    days = local_days(tb.midnight, t)
    best = -1
    best_day = np.full(levels, -1, dtype=np.int64)
    best_by = np.zeros(levels, dtype=np.int64)
    best_dist = 0.0
    day = np.empty(levels, dtype=np.int64)
    by = np.empty(levels, dtype=np.int64)
    for i in range(count):
        if holds[i] != items or not tb.loc_info[i, SHIPS]:
            continue
        dist = distance_km(tb.loc_xyz, i, dest)
        level_options(tb, i, days[tb.loc_info[i, ZONE]], t, dist, day, by)
        better = best < 0
        if not better:
            decided = False
            for v in range(levels):
                a = day[v] if day[v] >= 0 else 1 << 62
                b = best_day[v] if best_day[v] >= 0 else 1 << 62
                if a != b:
                    better = a < b
                    decided = True
                    break
            if not decided:
                better = dist < best_dist  # equal distance: the smaller index, seen first
        if better:
            best = i
            best_day[:] = day
            best_by[:] = by
            best_dist = dist
    return best, best_day, best_by, best_dist
