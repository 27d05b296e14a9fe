"""The workload generator: determinism, mix, dup and bad rates, contract-valid lines, references,
carts and kits."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from functools import cache
from itertools import accumulate, islice
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import msgspec
import orjson
import pytest
from msgspec import Meta, Struct

from engine.book import EngineConfig
from engine.events import parse
from engine.kinds import REJECTED, RESERVATION_CHANGED
from engine.policy import load
from engine.replay import Replay
from workload import (
    BAD_KINDS,
    DEFAULT_MIX,
    Catalogue,
    WorkloadParams,
    default_catalogue,
    generate,
    kit_ids,
    network_workload,
    policy_kits,
    seeding_lines,
    write_log,
)
from workload.builtin import DEMO_KITS, generate_network, generate_policy
from workload.cli import main
from workload.kits import KIT_POOL

N = 50_000
Id = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]  # location_id, sku
Opaque = Annotated[str, Meta(pattern=r"^[\x20-\x7e]{1,128}$")]  # event, reservation, supply ids
Qty = Annotated[int, Meta(ge=1, le=1_000_000)]
Level = Annotated[int, Meta(ge=0, le=1_000_000)]
Instant = int | Annotated[datetime, Meta(tz=True)]


class Event(Struct, tag_field="type", forbid_unknown_fields=True, kw_only=True, gc=False):
    """docs/events.md §1, §3, written here independently of the generator."""

    event_id: Opaque
    location_id: Id
    sku: Id
    ts: Instant


class Receipt(Event, tag="receipt"):
    qty: Qty
    supply_id: Opaque | None = None


class Sale(Event, tag="sale"):
    qty: Qty
    reservation_id: Opaque | None = None


class Return(Event, tag="return"):
    qty: Qty
    sellable: bool = True


class Adjust(Event, tag="adjust"):
    delta: Annotated[int, Meta(ge=-1_000_000, le=1_000_000)]


class Count(Event, tag="count"):
    qty: Level


class TransferOut(Event, tag="transfer_out"):
    qty: Qty
    to_location_id: Id
    eta: Instant
    supply_id: Opaque


class Inbound(Event, tag="inbound"):
    qty: Qty
    eta: Instant
    supply_id: Opaque


class InboundCancel(Event, tag="inbound_cancel"):
    supply_id: Opaque


class Reserve(Event, tag="reserve"):
    reservation_id: Opaque
    qty: Qty
    ttl_s: Annotated[int, Meta(ge=1, le=604_800)] = 900
    channel: Literal["web", "app", "pos", "call_centre"] = "web"
    allow_partial: bool = False


class Release(Event, tag="release"):
    reservation_id: Opaque


class Fulfil(Event, tag="fulfil"):
    reservation_id: Opaque
    qty: Qty | None = None


class SetSafetyStock(Event, tag="set_safety_stock"):
    qty: Level


TYPES = {t.__struct_config__.tag: t for t in Event.__subclasses__()}
DECODER = msgspec.json.Decoder(Union[tuple(TYPES.values())])  # noqa: UP007


def decode(line: bytes) -> Event | str:
    """The event a line holds, or why it is not a valid event of the contract."""
    try:
        ev: Event = DECODER.decode(line)
    except msgspec.ValidationError as exc:
        return str(exc)
    except msgspec.DecodeError:
        return "malformed JSON"
    return "zero delta" if isinstance(ev, Adjust) and ev.delta == 0 else ev


def kind(ev: Event) -> str:
    return str(ev.__struct_config__.tag)


def epoch_ms(ts: datetime | int) -> int:
    return ts if isinstance(ts, int) else round(ts.timestamp() * 1000)


@cache
def log(
    events: int = N, seed: int = 7, ts_format: str = "rfc3339", events_per_s: float = 200.0
) -> tuple[bytes, ...]:
    return tuple(
        generate(
            WorkloadParams(events=events, seed=seed, ts_format=ts_format, events_per_s=events_per_s)
        )
    )


@cache
def decoded(events: int = N, events_per_s: float = 200.0) -> tuple[Event | str | None, ...]:
    """Per line of the log: its event, why it is invalid, or None for an exact repeat."""
    seen: set[bytes] = set()
    out: list[Event | str | None] = []
    for line in log(events, events_per_s=events_per_s):
        out.append(None if line in seen else decode(line))
        seen.add(line)
    return tuple(out)


def valid_events(events: int = N, events_per_s: float = 200.0, start: int = 0) -> list[Event]:
    """The distinct valid events of the log's lines from ``start`` on."""
    return [e for e in decoded(events, events_per_s)[start:] if isinstance(e, Event)]


class ReservationModel:
    """Just enough of docs/events.md §3, §8 to count the releases and fulfils an engine would
    refuse."""

    def __init__(self) -> None:
        self.pos: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
        self.res: dict[str, list[Any]] = {}  # id: [position, held, expires_at, active]
        self.at: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.refused: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()

    def apply(self, ev: Event) -> None:
        key, ts, qty = (ev.location_id, ev.sku), epoch_ms(ev.ts), getattr(ev, "qty", None)
        pos = self.pos[key]
        for rid in self.at[key]:
            if (due := self.res[rid])[3] and due[2] <= ts:
                self._end(due, "expired")
        self.at[key] = [rid for rid in self.at[key] if self.res[rid][3]]
        if isinstance(ev, Receipt) or (isinstance(ev, Return) and ev.sellable):
            pos[0] += ev.qty
        elif isinstance(ev, Sale | TransferOut):
            pos[0] -= ev.qty
            r = self.res.get(getattr(ev, "reservation_id", None) or "")
            if r and r[3] and r[0] == key:
                pos[1] -= (take := min(ev.qty, r[1]))
                r[1] -= take
                r[3] = r[1] > 0
        elif isinstance(ev, Adjust):
            pos[0] += ev.delta
        elif isinstance(ev, Count | SetSafetyStock):
            pos[0 if isinstance(ev, Count) else 2] = ev.qty
        elif isinstance(ev, Reserve) and ev.reservation_id not in self.res:
            self._reserve(ev, key, pos, ts)
        elif isinstance(ev, Release | Fulfil):
            r = self.res.get(ev.reservation_id)
            if r is None or not r[3] or r[0] != key or (qty or 0) > r[1]:
                self.refused[kind(ev)] += 1
            elif isinstance(ev, Release):
                self._end(r, "released")
            else:
                qty = qty or r[1]
                pos[0] -= qty
                pos[1] -= qty
                r[1] -= qty
                r[3] = r[1] > 0

    def _reserve(self, ev: Reserve, key: tuple[str, str], pos: list[int], ts: int) -> None:
        free = pos[0] - pos[1] - (0 if ev.channel == "pos" else pos[2])
        held = ev.qty if ev.qty <= free else (free if ev.allow_partial and free >= 1 else 0)
        self.outcomes["confirmed" if held == ev.qty else "partial" if held else "rejected"] += 1
        self.res[ev.reservation_id] = [key, held, ts + 1000 * ev.ttl_s, held > 0]
        if held:
            pos[1] += held
            self.at[key].append(ev.reservation_id)

    def _end(self, r: list[Any], outcome: str) -> None:
        self.pos[r[0]][1] -= r[1]
        r[1], r[3] = 0, False
        self.outcomes[outcome] += 1


def test_same_seed_same_bytes() -> None:
    for ts_format in ("rfc3339", "epoch_ms", "mixed"):
        params = WorkloadParams(events=2000, seed=11, ts_format=ts_format)
        assert list(generate(params)) == list(generate(params))


def test_different_seeds_differ() -> None:
    a, b = log(3000, seed=1), log(3000, seed=2)
    assert sum(x != y for x, y in zip(a, b, strict=True)) > 2900


def test_write_log_and_cli(tmp_path: Path) -> None:
    params = WorkloadParams(events=2000, seed=3)
    assert write_log(tmp_path / "a.jsonl", params) == 2000
    data = (tmp_path / "a.jsonl").read_bytes()
    assert data == b"\n".join(generate(params)) + b"\n"
    assert main(["--events", "2000", "--seed", "3", "--out", str(tmp_path / "b.jsonl")]) == 0
    assert (tmp_path / "b.jsonl").read_bytes() == data


def test_seeding_then_the_type_mix_follows_the_weights() -> None:
    skip = seeding_lines(N)
    seeding = [e for e in decoded()[:skip] if isinstance(e, Event)]
    assert {kind(e) for e in seeding} == {"receipt", "count"}
    counts = Counter(kind(e) for e in valid_events(start=skip))
    total, weight = sum(counts.values()), sum(w for _, w in DEFAULT_MIX)
    for typ, w in DEFAULT_MIX:
        share = w / weight
        assert abs(counts[typ] / total - share) <= 0.002 + 0.05 * share, (typ, counts[typ] / total)


def test_exact_duplicate_and_malformed_counts() -> None:
    kinds = Counter(
        type(e).__name__ if e is None or isinstance(e, str) else "ok" for e in decoded()
    )
    assert kinds == {
        "NoneType": round(N * 0.005),
        "str": round(N * 0.001),
        "ok": N - round(N * 0.005) - round(N * 0.001),
    }


def test_every_bad_kind_is_invalid() -> None:
    lines = list(generate(WorkloadParams(events=3000, bad_rate=0.03, dup_rate=0.0)))
    reasons = [r for line in lines if isinstance(r := decode(line), str)]
    assert len(reasons) == 90 == 10 * len(BAD_KINDS)
    for sign in ("malformed JSON", "`object`", "missing required field", "Invalid value"):
        assert any(sign in r for r in reasons), sign
    for field in ("qty", "location_id", "ttl_s", "ts"):
        assert any(r.endswith(f"`$.{field}`") for r in reasons), field


def test_valid_events_have_unique_ids_and_the_expected_locations() -> None:
    events = valid_events()
    assert len({e.event_id for e in events}) == len(events)
    assert {kind(e) for e in events} == set(TYPES)
    assert all(re.fullmatch(r"S\d{3}|DC\d{2}", e.location_id) for e in events)
    assert all(re.fullmatch(r"SKU-\d{6}", e.sku) for e in events)
    transfers = [e for e in events if isinstance(e, TransferOut)]
    assert all(
        e.location_id.startswith("DC") and e.to_location_id.startswith("S") for e in transfers
    )
    busiest = Counter(e.location_id for e in events if isinstance(e, Sale)).most_common()
    assert busiest[0][1] > 4 * busiest[len(busiest) // 2][1]  # some stores are much busier
    skus = Counter(e.sku for e in events if isinstance(e, Sale)).most_common()
    assert skus[0][1] > 0.05 * sum(n for _, n in skus)  # long-tailed popularity


@pytest.mark.parametrize("ts_format", ["rfc3339", "epoch_ms", "mixed"])
def test_event_time(ts_format: str) -> None:
    lines = log(5000, ts_format=ts_format)
    events = [e for line in lines if isinstance(e := decode(line), Event)]
    stamps = [epoch_ms(e.ts) for e in events]
    ints, n = sum(isinstance(e.ts, int) for e in events), len(events)
    assert {"rfc3339": ints == 0, "epoch_ms": ints == n, "mixed": 0.3 * n < ints < 0.5 * n}[
        ts_format
    ]
    assert stamps[0] == WorkloadParams().start_ms
    assert all(b >= a - 5000 for a, b in zip(accumulate(stamps, max), stamps[1:], strict=False))
    assert 20 < (max(stamps) - stamps[0]) / 1000 < 30  # 5000 events at 200 per second
    if ts_format == "rfc3339":  # mostly UTC, some stores stamp local time with an offset
        offsets = Counter(e.ts.utcoffset() for e in events if isinstance(e.ts, datetime))
        assert offsets[timedelta(0)] > 0.7 * len(events) and len(offsets) > 2


def test_references_are_mostly_valid() -> None:
    events = valid_events(15_000, events_per_s=5.0)  # 3000 s: some reservations expire
    model, bad_supply = ReservationModel(), 0
    supplies: dict[str, list[Any]] = {}  # supply_id: [(to, sku), open qty]
    for ev in events:
        model.apply(ev)
        if isinstance(ev, Inbound | TransferOut):
            to = ev.to_location_id if isinstance(ev, TransferOut) else ev.location_id
            supplies[ev.supply_id] = [(to, ev.sku), ev.qty]
        elif isinstance(ev, InboundCancel | Receipt) and ev.supply_id:
            s = supplies.get(ev.supply_id, [None, 0])
            bad_supply += s[0] != (ev.location_id, ev.sku)
            s[1] -= ev.qty if isinstance(ev, Receipt) else s[1]
            if s[1] <= 0:
                supplies.pop(ev.supply_id, None)
    counts = Counter(kind(e) for e in events)
    assert bad_supply <= 0.01 * counts["receipt"]
    for typ in ("release", "fulfil"):
        assert model.refused[typ] <= 0.03 * counts[typ], (typ, model.refused[typ])
    assert model.outcomes["rejected"] <= 0.2 * counts["reserve"] and model.outcomes["expired"]
    bopis = sum(isinstance(e, Sale) and e.reservation_id is not None for e in events)
    assert 0.03 * counts["sale"] < bopis <= 0.11 * counts["sale"]  # 10 % once stock is there


def test_open_expected_supplies_stay_few_per_position() -> None:
    events = valid_events(60_000)
    opened: dict[str, tuple[str, str]] = {}
    for ev in events:
        if isinstance(ev, Inbound | TransferOut):
            to = ev.to_location_id if isinstance(ev, TransferOut) else ev.location_id
            opened[ev.supply_id] = (to, ev.sku)
        elif isinstance(ev, InboundCancel | Receipt) and ev.supply_id:  # a cancel always has one
            opened.pop(ev.supply_id, None)  # a receipt may be partial: counted closed (a bound)
    per_position = Counter(opened.values())
    created = sum(isinstance(ev, Inbound | TransferOut) for ev in events)
    assert len(opened) < 0.3 * created  # receipts and cancels keep up with new supply
    assert max(per_position.values()) < 30  # not hundreds on a popular position


def test_custom_catalogue_and_validation() -> None:
    cat = Catalogue(("NYC-01", "BOS-02"), ("DC-EAST",), ("MUG-WHT", "TSHIRT-M-BLU"))
    events = [
        e
        for line in generate(WorkloadParams(events=500), cat)
        if isinstance(e := decode(line), Event)
    ]
    assert {e.location_id for e in events} == {"NYC-01", "BOS-02", "DC-EAST"}
    assert {e.sku for e in events} == {"MUG-WHT", "TSHIRT-M-BLU"}
    with pytest.raises(ValueError, match="invalid ids"):
        Catalogue(("S 1",), ("DC1",), ("X",))
    for bad in ({"ts_format": "iso"}, {"mix": (("teleport", 1.0),)}, {"dup_rate": 1.5}):
        with pytest.raises(ValueError):
            generate(WorkloadParams(events=10, **bad))


def test_example_log_is_reproducible(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location(
        "make_examples", root / "examples/make_examples.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.write_example(tmp_path / "events.jsonl") == 300
    data = (tmp_path / "events.jsonl").read_bytes()
    assert data == (root / "examples/events.jsonl").read_bytes()
    lines = data.splitlines()
    results = [decode(line) for line in lines]
    assert len(lines) - len(set(lines)) == 1  # one exact duplicate
    assert sum(isinstance(r, str) for r in results) == 3  # three malformed lines
    assert {kind(r) for r in results if isinstance(r, Event)} == set(TYPES)
    assert all(str(r.ts).startswith("2026-11-20") for r in results if isinstance(r, Event))


# --- carts and kits (the optional "cart" kind, workload/carts.py) ----------------------------

CART_SHARE = 0.1
DEFAULT_HASH_20K = "5e0c8d0c4f342c8b1c28174adfa12e462251ced0f317af589f3acc1f8b994303"


def test_the_default_mix_makes_the_same_bytes_as_before_carts() -> None:
    """Benchmarks compare logs of the default mix: carts and kits changed none of its lines
    (the hash of the first 20,000 lines of the default log, taken before they came)."""
    digest = hashlib.sha256()
    for line in islice(generate(WorkloadParams()), 20_000):
        digest.update(line + b"\n")
    assert digest.hexdigest() == DEFAULT_HASH_20K
    with_kits = islice(generate(WorkloadParams(events=3000, kits=3)), 3000)  # no "cart" draws
    assert not any(b"KIT-" in line or b'"lines"' in line for line in with_kits)


def cart_params(events: int = 20_000, **more: Any) -> WorkloadParams:
    return WorkloadParams(
        events=events,
        stores=8,
        dcs=2,
        skus=60,
        seed=4,
        events_per_s=5.0,  # 4000 s: some carts expire
        mix=(*DEFAULT_MIX, ("cart", CART_SHARE)),
        **more,
    )


@cache
def cart_log(kits: int = 3) -> tuple[bytes, ...]:
    return tuple(generate(cart_params(kits=kits)))


def is_cart_kind(ev: dict[str, Any]) -> bool:
    """An event of a "cart" draw: it names a cart or kit reservation, or a kit."""
    return str(ev.get("reservation_id", ""))[:1] in ("c", "k") or ev.get("sku", "").startswith(
        "KIT-"
    )


def test_cart_draws_make_valid_carts_and_kits() -> None:
    made: Counter[str] = Counter()
    for line in cart_log():
        ev = _json(line)
        if not isinstance(ev, dict) or "type" not in ev or not is_cart_kind(ev):
            continue
        parsed = parse(line)
        assert type(parsed) is not REJECTED, (line, parsed)
        kit = ev.get("sku", "").startswith("KIT-")
        if "lines" in ev:
            assert "sku" not in ev and "qty" not in ev
            skus = [x["sku"] for x in ev["lines"]]
            assert len(set(skus)) == len(skus) and all(x["qty"] >= 1 for x in ev["lines"])
            assert ev["type"] == "fulfil" or 2 <= len(skus) <= 5
            kit = any(sku.startswith("KIT-") for sku in skus)
        elif ev["type"] in ("release", "fulfil"):
            assert "sku" not in ev and "qty" not in ev
        made[ev["type"] + (":kit" if kit else "") + (":lines" if "lines" in ev else "")] += 1
    assert set(made) >= {
        "reserve:lines",  # a cart
        "reserve:kit:lines",  # a cart with a kit on a line
        "reserve:kit",  # a kit
        "release",
        "fulfil",  # a whole cart
        "fulfil:lines",  # some lines
        "sale",  # a cart's line collected
        "sale:kit",  # a kit sold
    }, made


def test_cart_draws_follow_their_share_of_the_mix() -> None:
    lines = cart_log()[seeding_lines(len(cart_log())) :]
    events = [ev for line in lines if isinstance(ev := _json(line), dict) and "type" in ev]
    share = sum(is_cart_kind(ev) for ev in events) / len(events)
    weight = CART_SHARE / (sum(w for _, w in DEFAULT_MIX) + CART_SHARE)
    assert abs(share - weight) < 0.2 * weight, share
    reserves = sum(ev["type"] == "reserve" and not is_cart_kind(ev) for ev in events)
    assert abs(reserves / len(events) - 0.14 / (1 + CART_SHARE)) < 0.02  # the rest as before


def _json(line: bytes) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return None


def test_carts_replayed_under_the_kits_policy_confirm_or_are_refused() -> None:
    params = cart_params(kits=3)
    policy = load(orjson.dumps({"kits": policy_kits(params)}))
    first: dict[str, Any] = {}

    def note(outputs: list[Any]) -> None:
        for out in outputs:
            if type(out) is RESERVATION_CHANGED and out.lines is not None and not out.repeat:
                first.setdefault(out.reservation_id, out)

    replay = Replay(EngineConfig().with_policy(policy), on_outputs=note, ledger=True)
    dead: Counter[str] = Counter()
    replay.feed(cart_log(), on_dead_letter=lambda r: dead.update([r["reason"].split(":")[0]]))
    replay.finish()
    decided = Counter(
        (rid[0], out.status, out.reason) for rid, out in first.items() if out.kit or rid[0] == "c"
    )
    for prefix in ("c", "k"):  # carts, kits
        held = decided[(prefix, "confirmed", None)] + decided[(prefix, "partial", None)]
        refused = decided[(prefix, "rejected", "insufficient_stock")]
        assert held > 2 * refused > 0, decided
    assert any(out.short for out in first.values())
    ended = Counter(row["status"] for row in replay.reservations() if "lines" in row)
    assert set(ended) >= {"fulfilled", "released", "expired", "rejected"}
    # what the generator names is what the engine holds: no cart event is refused for its lines
    assert not {"bad_lines", "fulfil_exceeds_held", "kit_has_no_stock"} & set(dead), dead
    bad_lines = round(params.events * params.bad_rate)
    assert dead.total() - bad_lines < 0.02 * params.events  # stale names, as for reserves


def test_kits_are_the_policys_whatever_the_seed_and_sell_well() -> None:
    params = cart_params(kits=5)
    entries = policy_kits(params)
    assert [e["sku"] for e in entries] == kit_ids(5) == [f"KIT-{i:04d}" for i in range(1, 6)]
    assert policy_kits(dataclasses.replace(params, seed=99)) == entries
    assert policy_kits(dataclasses.replace(params, kits=3)) == entries[:3]
    catalogue = default_catalogue(params)
    pool = catalogue.skus[:KIT_POOL]
    for entry in entries:
        parts = [c["sku"] for c in entry["components"]]
        assert 2 <= len(parts) <= 3 and len(set(parts)) == len(parts) and set(parts) <= set(pool)
    load(orjson.dumps({"kits": entries}))  # a valid policy
    sold = Counter(
        ev["sku"]
        for line in cart_log(5)
        if isinstance(ev := _json(line), dict) and ev.get("type") == "sale" and "sku" in ev
    )
    top = {sku for sku, _ in sold.most_common(20)}
    components = {c["sku"] for e in entries for c in e["components"]}
    assert len(components & top) >= len(components) - 1  # components rank among best sellers
    with pytest.raises(ValueError, match="at least 2 skus"):
        generate(WorkloadParams(events=10, skus=1, kits=1))
    with pytest.raises(ValueError):
        generate(WorkloadParams(events=10, mix=(("cart", -1.0), ("sale", 1.0))))


def test_the_demo_policy_declares_the_kits_of_the_demo_stream() -> None:
    network = generate_network(stores=12)
    policy = generate_policy(network, skus=150)
    params, catalogue = network_workload(WorkloadParams(kits=DEMO_KITS), stores=12, skus=150)
    assert policy["kits"] == policy_kits(params, catalogue) and len(policy["kits"]) == DEMO_KITS
    assert load(orjson.dumps(policy)).kits
    assert generate_policy(network, skus=1)["kits"] == []  # too few skus for a kit
