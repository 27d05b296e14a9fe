"""numba kernels of the delivery calculator: arrays and scalars in, arrays out (CONTRACT 6, 7).

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
def ship_day(tb, i, k, t):
    """The day location ``i`` ships an order placed at ``t`` on its local day ``k``, or -1."""
    if t <= tb.day_table[SHIP_DEADLINE, k, i]:
        return k
    return tb.day_table[NEXT_SHIP, k + 1, i]


@helper
def level_option(tb, v, i, k, t, dist, ship):
    """Deliver day and ship-by instant of level ``v`` from location ``i`` (day -1: none)."""
    if tb.level_info[v, SAME_DAY]:
        field = tb.level_info[v, SD_FIELD]
        if dist <= tb.level_km[v] and t <= tb.day_table[field, k, i]:
            return k, tb.day_table[field + 1, k, i]
        return -1, 0
    if ship < 0:
        return -1, 0
    for b in range(tb.level_info[v, N_BANDS]):
        if tb.bands[v, b, 0] <= dist < tb.bands[v, b, 1]:
            slot = tb.deliver_count[v, ship] + np.int64(tb.bands[v, b, 2])
            return tb.nth_day[v, slot], tb.day_table[CUTOFF, ship, i]
    return -1, 0


@helper
def ready_at(tb, i, k, t):
    """Pickup ready instant at location ``i`` for an order at ``t`` on local day ``k``, or -1."""
    pick = tb.loc_info[i, PICK_S]
    if t <= tb.day_table[PICK_DEADLINE, k, i]:
        return max(t, tb.day_table[OPEN, k, i]) + pick
    nxt = tb.day_table[NEXT_WORK, k + 1, i]
    if nxt < 0:
        return -1
    return tb.day_table[OPEN, nxt, i] + pick


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
        ``(loc, day, ship_by, dist)`` per level, then ``(loc, dist, atp, ready)`` per pickup.
    """
    levels = tb.level_info.shape[0]
    best_loc = np.full(levels, -1, dtype=np.int64)
    best_day = np.full(levels, -1, dtype=np.int64)
    best_by = np.zeros(levels, dtype=np.int64)
    best_dist = np.zeros(levels, dtype=np.float64)
    days = local_days(tb.midnight, t)
    n = cand.shape[0]
    pk_loc = np.empty(n, dtype=np.int64)
    pk_dist = np.empty(n, dtype=np.float64)
    pk_atp = np.empty(n, dtype=np.int64)
    found = 0
    for c in range(n):
        if atp[c] < qty:
            continue
        i = cand[c]
        dist = distance_km(tb.loc_xyz, i, dest)
        k = days[tb.loc_info[i, ZONE]]
        if tb.loc_info[i, SHIPS]:
            ship = ship_day(tb, i, k, t)
            for v in range(levels):
                day, by = level_option(tb, v, i, k, t, dist, ship)
                if day < 0:
                    continue
                b = best_day[v]
                if (
                    b < 0
                    or day < b
                    or (
                        day == b
                        and (dist < best_dist[v] or (dist == best_dist[v] and i < best_loc[v]))
                    )
                ):
                    best_loc[v] = i
                    best_day[v] = day
                    best_by[v] = by
                    best_dist[v] = dist
        if tb.loc_info[i, PICKS] and dist <= radius_km:
            pk_loc[found] = i
            pk_dist[found] = dist
            pk_atp[found] = atp[c]
            found += 1
    order = np.argsort(pk_dist[:found], kind="mergesort")
    keep = min(found, limit)
    out_loc = np.empty(keep, dtype=np.int64)
    out_dist = np.empty(keep, dtype=np.float64)
    out_atp = np.empty(keep, dtype=np.int64)
    out_ready = np.empty(keep, dtype=np.int64)
    for r in range(keep):
        j = order[r]
        i = pk_loc[j]
        out_loc[r] = i
        out_dist[r] = pk_dist[j]
        out_atp[r] = pk_atp[j]
        out_ready[r] = ready_at(tb, i, days[tb.loc_info[i, ZONE]], t)
    return best_loc, best_day, best_by, best_dist, out_loc, out_dist, out_atp, out_ready


@kernel
def location_options(tb, dest, t):
    """Per location and level: deliver day (-1: none) and distance, for a destination."""
    count = tb.loc_xyz.shape[0]
    levels = tb.level_info.shape[0]
    day_of = np.full((count, levels), -1, dtype=np.int64)
    dist_of = np.empty(count, dtype=np.float64)
    days = local_days(tb.midnight, t)
    for i in range(count):
        dist = distance_km(tb.loc_xyz, i, dest)
        dist_of[i] = dist
        if not tb.loc_info[i, SHIPS]:
            continue
        k = days[tb.loc_info[i, ZONE]]
        ship = ship_day(tb, i, k, t)
        for v in range(levels):
            day_of[i, v] = level_option(tb, v, i, k, t, dist, ship)[0]
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
                b = best_day[s, v]
                j = best_loc[s, v]
                if (
                    b < 0
                    or day < b
                    or (
                        day == b
                        and (dist_of[i] < dist_of[j] or (dist_of[i] == dist_of[j] and i < j))
                    )
                ):
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
        k = days[tb.loc_info[i, ZONE]]
        ship = ship_day(tb, i, k, t)
        for v in range(levels):
            day[v], by[v] = level_option(tb, v, i, k, t, dist, ship)
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
