"""Kit skus of the workload: their names and components, as a policy file's ``kits`` gives them.

``WorkloadParams.kits = n`` names kits ``KIT-0001``..``KIT-n`` (docs/policy.md: a kit is a sku
with no stock of its own, reserved and sold as its components). Kit ``i`` has 2 or 3 distinct
components drawn, by a generator seeded with ``i`` alone, from the first ``KIT_POOL`` skus of
the catalogue (for the built-in network its best sellers), each 1 to 4 of a kind. Nothing else
decides them: not the log's seed, not the number of kits (the first kits of ``n = 5`` are those
of ``n = 3``), so a policy made once (``policy_kits``, the demo's ``generate_policy``) fits every
log on the same catalogue. The generator ranks the components among its best sellers, whatever
its seed (``State``): kits are made of what sells.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from .params import Catalogue, WorkloadParams, default_catalogue

KIT_POOL = 24  # components are drawn from the catalogue's first skus
KIT_QTYS = (1, 1, 1, 1, 2, 2, 4)  # of each component in one kit


def kit_ids(kits: int) -> list[str]:
    """``KIT-0001``.."""
    return [f"KIT-{i:04d}" for i in range(1, kits + 1)]


def kit_parts(skus: Sequence[str], kits: int) -> dict[str, tuple[tuple[str, int], ...]]:
    """``kit sku -> ((component sku, qty), ...)`` of ``kits`` kits on a catalogue's ``skus``
    (``engine.policy.Policy.kits``'s shape)."""
    if not kits:
        return {}
    pool = list(skus[:KIT_POOL])
    if len(pool) < 2:
        raise ValueError("kits need a catalogue of at least 2 skus")
    if clash := set(kit_ids(kits)) & set(skus):
        raise ValueError(f"kit ids are catalogue skus: {sorted(clash)[:5]}")
    parts: dict[str, tuple[tuple[str, int], ...]] = {}
    for i, kit in enumerate(kit_ids(kits), start=1):
        rng = random.Random(i)
        n = 3 if len(pool) >= 3 and rng.random() < 0.35 else 2
        parts[kit] = tuple((pool[j], rng.choice(KIT_QTYS)) for j in rng.sample(range(len(pool)), n))
    return parts


def kit_entries(skus: Sequence[str], kits: int) -> list[dict[str, Any]]:
    """The same kits as a policy file's ``kits`` entries (docs/policy.md)."""
    return [
        {"sku": kit, "components": [{"sku": sku, "qty": qty} for sku, qty in parts]}
        for kit, parts in kit_parts(skus, kits).items()
    ]


def policy_kits(params: WorkloadParams, catalogue: Catalogue | None = None) -> list[dict[str, Any]]:
    """The policy ``kits`` entries for the kits of the logs of ``params`` (on ``catalogue``,
    default the numbered one): put them in the policy the log is applied under."""
    cat = catalogue or default_catalogue(params)
    return kit_entries(cat.skus, params.kits)
