"""numba kernels of the promise table (docs/network.md §9): every region at once.

Private by convention, as ``engine.promise.kernels``: ``engine.promise.table`` wraps them. The
table answers, per sku and region, what the listing kernel (``kernels.promise_listing``)
answers for one unit to the region's point, with the location and ``ship_by`` of each level's
best option: the same ``level_options`` and the same order (``kernels.earlier``).

Arrays: ``dist[location, region]`` (km); options ``day[location, region, level]`` (-1: not
offered) and ``by[location, region, level]`` (the ship-by instant); a sku's candidates as CSR
(``ptr``, ``cand``: location indices with web ATP >= 1). The timeline is each location's
options at every instant they change (``tl_time`` ascending, ``tl_loc``, ``tl_day``,
``tl_by``): the instant is the first second at which the new options hold.
"""

from __future__ import annotations

import numpy as np

from engine.promise.calendar import DAY_FIELDS, NO, SHIP_DEADLINE, SHIPS, ZONE
from engine.promise.kernels import distance_km, earlier, helper, kernel, level_options, local_days


@kernel
def region_distances(loc_xyz, reg_xyz):
    """``[location, region]`` great-circle distances, as ``kernels.distance_km`` gives them."""
    locations = loc_xyz.shape[0]
    regions = reg_xyz.shape[0]
    out = np.empty((locations, regions), dtype=np.float64)
    for r in range(regions):
        dest = reg_xyz[r]
        for i in range(locations):
            out[i, r] = distance_km(loc_xyz, i, dest)
    return out


@kernel
def location_region_options(tb, dist, i, k, t, day_out, by_out):
    """Location ``i``'s options to every region for an order at ``t`` on its local day ``k``,
    into ``day_out[region, level]`` and ``by_out``."""
    for r in range(dist.shape[1]):
        level_options(tb, i, k, t, dist[i, r], day_out[r], by_out[r])


@kernel
def options_at(tb, dist, t):
    """Every location's options to every region at instant ``t``."""
    locations, regions = dist.shape
    levels = tb.level_info.shape[0]
    day = np.full((locations, regions, levels), -1, dtype=np.int64)
    by = np.zeros((locations, regions, levels), dtype=np.int64)
    days = local_days(tb.midnight, t)
    for i in range(locations):
        if tb.loc_info[i, SHIPS]:
            location_region_options(tb, dist, i, days[tb.loc_info[i, ZONE]], t, day[i], by[i])
    return day, by


@kernel
def timeline(tb, dist, t, until):
    """Each shipping location's options at every instant in ``(t, until]`` where they change.

    The options of a location can change only where its local day turns (a midnight), or just
    after a deadline of its day (the ship deadline, each same-day level's order deadline):
    each such instant is tried, and kept when some region's option differs from the one
    before. Returns ``(time, loc, day, by)`` sorted by time, then location.
    """
    locations, regions = dist.shape
    levels = tb.level_info.shape[0]
    fields = tb.day_table.shape[0]
    first = local_days(tb.midnight, t)
    # candidate instants per location: deadlines + 1 s and midnights, each day in the window
    times = []
    locs = []
    for i in range(locations):
        if not tb.loc_info[i, SHIPS]:
            continue
        z = tb.loc_info[i, ZONE]
        k = first[z]
        while k + 1 < tb.midnight.shape[1] and tb.midnight[z, k] <= until:
            for f in range(fields):
                if f == SHIP_DEADLINE or (f >= DAY_FIELDS and (f - DAY_FIELDS) % 2 == 0):
                    deadline = tb.day_table[f, k, i]
                    if deadline != NO and t < deadline + 1 <= until:
                        times.append(deadline + 1)
                        locs.append(i)
            turn = tb.midnight[z, k + 1]
            if t < turn <= until:
                times.append(turn)
                locs.append(i)
            k += 1
    n = len(times)
    time_arr = np.empty(n, dtype=np.int64)
    loc_arr = np.empty(n, dtype=np.int64)
    for e in range(n):
        time_arr[e] = times[e]
        loc_arr[e] = locs[e]
    order = np.argsort(time_arr * np.int64(1 << 24) + loc_arr)  # by time, then location
    cur_day = np.full((locations, regions, levels), -1, dtype=np.int64)
    cur_by = np.zeros((locations, regions, levels), dtype=np.int64)
    for i in range(locations):
        if tb.loc_info[i, SHIPS]:
            location_region_options(
                tb, dist, i, first[tb.loc_info[i, ZONE]], t, cur_day[i], cur_by[i]
            )
    keep = np.zeros(n, dtype=np.bool_)
    out_day = np.empty((n, regions, levels), dtype=np.int64)
    out_by = np.empty((n, regions, levels), dtype=np.int64)
    new_day = np.empty((regions, levels), dtype=np.int64)
    new_by = np.empty((regions, levels), dtype=np.int64)
    last_time = -1
    last_loc = -1
    for e in order:
        b = time_arr[e]
        i = loc_arr[e]
        if b == last_time and i == last_loc:
            continue  # two deadlines at one instant
        last_time, last_loc = b, i
        k = local_days(tb.midnight, b)[tb.loc_info[i, ZONE]]
        location_region_options(tb, dist, i, k, b, new_day, new_by)
        changed = False
        for r in range(regions):
            for v in range(levels):
                d = new_day[r, v]
                if d != cur_day[i, r, v] or (d >= 0 and new_by[r, v] != cur_by[i, r, v]):
                    changed = True
                cur_day[i, r, v] = d
                cur_by[i, r, v] = new_by[r, v]
        if changed:
            keep[e] = True
            out_day[e] = new_day
            out_by[e] = new_by
    kept = order[keep[order]]
    return time_arr[kept], loc_arr[kept], out_day[kept], out_by[kept]


@kernel
def entries(day, by, dist, ptr, cand, tl_time, tl_loc, tl_day, tl_by, start):
    """Per sku, each region's best option per level at the options' instant, and the first
    timeline instant (from entry ``start`` on) at which one of them changes (-1: none).

    Returns ``best_loc[sku, region, level]`` (-1: not offered), ``best_day``, ``best_by`` and
    ``change[sku]``.
    """
    locations, regions, levels = day.shape
    skus = ptr.shape[0] - 1
    best_loc = np.full((skus, regions, levels), -1, dtype=np.int64)
    best_day = np.full((skus, regions, levels), -1, dtype=np.int64)
    best_by = np.zeros((skus, regions, levels), dtype=np.int64)
    change = np.full(skus, -1, dtype=np.int64)
    member = np.zeros(locations, dtype=np.bool_)
    for s in range(skus):
        bl = best_loc[s]
        bd = best_day[s]
        bb = best_by[s]
        for c in range(ptr[s], ptr[s + 1]):
            i = cand[c]
            member[i] = True
            for r in range(regions):
                km = dist[i, r]
                for v in range(levels):
                    d = day[i, r, v]
                    if d < 0:
                        continue
                    j = bl[r, v]
                    if earlier(d, km, i, bd[r, v], dist[max(j, 0), r], j):
                        bl[r, v] = i
                        bd[r, v] = d
                        bb[r, v] = by[i, r, v]
        change[s] = _first_change(bl, bd, bb, dist, member, tl_time, tl_loc, tl_day, tl_by, start)
        for c in range(ptr[s], ptr[s + 1]):
            member[cand[c]] = False
    return best_loc, best_day, best_by, change


@kernel
def _first_change(bl, bd, bb, dist, member, tl_time, tl_loc, tl_day, tl_by, start):
    """The first timeline instant at which a candidate's new options change a best option:
    the best location's own option changes, or another's new option beats it."""
    regions, levels = bl.shape
    for e in range(start, tl_time.shape[0]):
        j = tl_loc[e]
        if not member[j]:
            continue
        for r in range(regions):
            km = dist[j, r]
            for v in range(levels):
                d = tl_day[e, r, v]
                cur = bl[r, v]
                if cur == j:
                    if d != bd[r, v] or tl_by[e, r, v] != bb[r, v]:
                        return tl_time[e]
                elif d >= 0 and earlier(d, km, j, bd[r, v], dist[max(cur, 0), r], cur):
                    return tl_time[e]
    return -1


# -- the entries' bytes: rows (a region's best option per level) once each -----------------------

_M1 = np.uint64(0xFF51AFD7ED558CCD)  # murmur3's finaliser
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_P1 = np.uint64(0x9E3779B185EBCA87)  # xxh64's primes
_P2 = np.uint64(0xC2B2AE3D27D4EB4F)
_S33 = np.uint64(33)
_S31 = np.uint64(31)
_S33L = np.uint64(64 - 31)


@helper
def _fmix(h):
    h ^= h >> _S33
    h *= _M1
    h ^= h >> _S33
    h *= _M2
    h ^= h >> _S33
    return h


@helper
def _round(acc, w):
    acc += w * _P2
    acc = (acc << _S31) | (acc >> _S33L)
    return acc * _P1


@kernel
def rows_from(best_loc, best_day, best_by, day0):
    """``rows[sku, region, word]``: each level's location, then its absolute day (epoch days;
    -1: not offered), then its ship-by, as ``rows_of`` takes them."""
    skus, regions, levels = best_loc.shape
    rows = np.empty((skus, regions, 3 * levels), dtype=np.int64)
    for s in range(skus):
        for r in range(regions):
            for v in range(levels):
                d = best_day[s, r, v]
                rows[s, r, v] = best_loc[s, r, v]
                rows[s, r, levels + v] = d + day0 if d >= 0 else -1
                rows[s, r, 2 * levels + v] = best_by[s, r, v]
    return rows


@helper
def _row_hash(keys, i):
    h = np.uint64(0x452821E638D01377)
    for w in range(keys.shape[1]):
        h = _fmix(h ^ np.uint64(keys[i, w]))
    return h


@kernel
def intern(rows, slots, keys, count):
    """Each row's id among the rows a registry knows, adding the new ones, and a 128-bit
    digest per sku, exactly.

    ``rows[sku, region, word]`` (int64: each level's location, absolute day and ship-by). The
    registry: ``keys[id, word]`` (its first ``count`` rows) and ``slots`` (an open-addressed
    table of ids, -1 empty, a power of two at least twice ``keys``' length). The caller leaves
    room in ``keys`` for every row of ``rows``. Returns ``ids[sku, region]``, the new count,
    and ``digest[sku, 2]``: two 64-bit lanes (murmur3's finaliser chained, and xxh64 rounds)
    over every word of the sku's rows, the same across processes. Rows are told apart by
    comparing every word; hashes only place them.
    """
    skus, regions, words = rows.shape
    mask = np.uint64(slots.shape[0] - 1)
    ids = np.empty((skus, regions), dtype=np.int64)
    digest = np.empty((skus, 2), dtype=np.uint64)
    for s in range(skus):
        a = np.uint64(0x243F6A8885A308D3)
        b = np.uint64(0x13198A2E03707344)
        for r in range(regions):
            row = rows[s, r]
            h = np.uint64(0x452821E638D01377)
            for w in range(words):
                x = np.uint64(row[w])
                h = _fmix(h ^ x)
                a = _fmix(a ^ x)
                b = _round(b, x)
            slot = h & mask
            while True:
                at = slots[slot]
                if at < 0:
                    keys[count] = row
                    slots[slot] = count
                    ids[s, r] = count
                    count += 1
                    break
                same = True
                for w in range(words):
                    if keys[at, w] != row[w]:
                        same = False
                        break
                if same:
                    ids[s, r] = at
                    break
                slot = (slot + np.uint64(1)) & mask
        digest[s, 0] = _fmix(a ^ np.uint64(regions * words))
        digest[s, 1] = _fmix(b ^ np.uint64(regions * words))
    return ids, count, digest


@kernel
def rehash(keys, count, size):
    """The slots of a registry's first ``count`` rows in a table of ``size`` (a power of 2)."""
    slots = np.full(size, -1, dtype=np.int64)
    mask = np.uint64(size - 1)
    for i in range(count):
        slot = _row_hash(keys, i) & mask
        while slots[slot] >= 0:
            slot = (slot + np.uint64(1)) & mask
        slots[slot] = i
    return slots


@kernel
def gather(out, ids, pool, pool_off, prefix, prefix_off, heads, heads_off):
    """Entries' bytes, one after another into ``out`` (sized by the caller): per sku its head
    (``heads[heads_off[s]:heads_off[s + 1]]``, the envelope up to ``"regions":``), ``{``, then
    per region its prefix (``"100":``) and its row's JSON (``pool[pool_off[id]:pool_off[id +
    1]]``) joined by ``,``, then ``}}``. Returns each entry's end offset."""
    skus, regions = ids.shape
    ends = np.empty(skus, dtype=np.int64)
    at = 0
    for s in range(skus):
        a, z = heads_off[s], heads_off[s + 1]
        out[at : at + z - a] = heads[a:z]
        at += z - a
        out[at] = np.uint8(123)  # {
        at += 1
        for r in range(regions):
            if r:
                out[at] = np.uint8(44)  # ,
                at += 1
            a, z = prefix_off[r], prefix_off[r + 1]
            out[at : at + z - a] = prefix[a:z]
            at += z - a
            u = ids[s, r]
            a, z = pool_off[u], pool_off[u + 1]
            out[at : at + z - a] = pool[a:z]
            at += z - a
        out[at] = np.uint8(125)  # }
        out[at + 1] = np.uint8(125)
        at += 2
        ends[s] = at
    return ends
