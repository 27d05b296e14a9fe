"""``omnistock replay`` as docs/api.md §8 says, through the real entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import msgspec
import orjson
import pytest

from engine.replay import Replay
from omnistock import replay_cmd
from omnistock.cli import main
from tests.factories import T0, line

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "events.jsonl"
FIELDS = [
    "location_id",
    "sku",
    "on_hand",
    "reserved",
    "safety_stock",
    "unsellable",
    "available",
    "atp",
    "oversold",
    "inbound",
    "as_of",
    "channels",
    "sold_7d",
    "stockout_eta",
]


@pytest.fixture
def log(tmp_path):
    lines = [
        line("receipt", location_id="S2", sku="b", qty=5, ts=T0),
        line("receipt", location_id="S2", sku="B", qty=5, ts=T0),
        line("receipt", location_id="S10", sku="A", qty=5, ts=T0),
        line(
            "reserve",
            location_id="S10",
            sku="A",
            reservation_id="R1",
            qty=2,
            ttl_s=60,
            ts=T0 + 1000,
        ),
        line("reserve", location_id="S10", sku="A", reservation_id="R2", qty=9, ts=T0 + 1000),
        line(
            "reserve",
            location_id="S10",
            sku="A",
            reservation_id="R3",
            qty=9,
            ts=T0 + 1000,
            allow_partial=True,
        ),
        line(
            "transfer_out",
            location_id="S10",
            sku="A",
            qty=1,
            to_location_id="DC1",
            eta="2026-12-01T00:00:00Z",
            supply_id="T1",
            ts=T0 + 2000,
        ),
        b"{broken",
        b"",
        line("release", location_id="S10", sku="A", reservation_id="NOPE", ts=T0 + 3000),
        line("receipt", location_id="S2", sku="b", qty=1, ts=T0 + 30_000, event_id="dup"),
        line("receipt", location_id="S2", sku="b", qty=1, ts=T0 + 30_000, event_id="dup"),
    ]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def run(args, capsys):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, [orjson.loads(x) for x in captured.out.splitlines()], captured.err


def test_prints_positions_sorted_by_location_then_sku_in_code_point_order(log, capsys):
    code, rows, _ = run(["replay", log], capsys)
    assert code == 0
    assert [(r["location_id"], r["sku"]) for r in rows] == [
        ("DC1", "A"),
        ("S10", "A"),
        ("S2", "B"),
        ("S2", "b"),
    ]
    assert all(list(r) == FIELDS for r in rows)


def test_transfer_destination_is_printed_without_as_of(log, capsys):
    _, rows, _ = run(["replay", log], capsys)
    dc = rows[0]
    assert dc["inbound"] == [{"supply_id": "T1", "qty": 1, "eta": "2026-12-01T00:00:00Z"}]
    assert dc["as_of"] is None


def test_default_as_of_is_the_largest_ts_and_as_of_expires_later(log, tmp_path, capsys):
    _, rows, _ = run(["replay", log], capsys)
    s10 = rows[1]
    assert (s10["on_hand"], s10["reserved"]) == (4, 5)  # R1 (ttl 60 s) not yet expired
    _, rows, _ = run(["replay", log, "--as-of", "2026-11-18T11:07:41Z"], capsys)
    assert rows[1]["reserved"] == 3
    assert rows[1]["as_of"] == "2026-11-18T11:06:42Z"


def test_reservations_file(log, tmp_path, capsys):
    out = tmp_path / "res.jsonl"
    run(["replay", log, "--reservations", out, "--as-of", str(T0 + 61_000)], capsys)
    rows = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert rows == [
        {"reservation_id": "R1", "status": "expired", "qty": 0},
        {"reservation_id": "R2", "status": "rejected", "qty": 0},
        {"reservation_id": "R3", "status": "partial", "qty": 3},
    ]


def test_reservations_file_lists_every_id_of_the_log_once(tmp_path, capsys):
    """docs/api.md §8: one line per reservation id, even one a book forgot (ended more than the
    dedup window before the end) or one reused at another location (its latest outcome)."""
    day = 86_400_000
    log = tmp_path / "old.jsonl"
    log.write_bytes(
        b"\n".join(
            [
                line("receipt", qty=5, ts=T0),
                line("reserve", reservation_id="R1", qty=2, ts=T0),
                line("release", reservation_id="R1", ts=T0 + 1),
                line("reserve", reservation_id="R2", qty=9, ts=T0 + 2),
                line("reserve", reservation_id="R3", qty=1, ts=T0 + 3),
                line("reserve", location_id="S2", reservation_id="R3", qty=1, ts=T0 + 4),
                line("reserve", reservation_id="R1", qty=1, ts=T0 + 5),  # a repeat
                line("receipt", qty=1, ts=T0 + 20 * day),
            ]
        )
    )
    out = tmp_path / "res.jsonl"
    code, _, _ = run(["replay", log, "--reservations", out], capsys)
    assert code == 0
    assert [orjson.loads(x) for x in out.read_bytes().splitlines()] == [
        {"reservation_id": "R1", "status": "released", "qty": 0},
        {"reservation_id": "R2", "status": "rejected", "qty": 0},
        {"reservation_id": "R3", "status": "expired", "qty": 0},  # S1's, at T0 + 903 s
    ]


def test_dead_letters_go_to_the_file_with_reason_raw_and_source(log, tmp_path, capsys):
    out = tmp_path / "dead.jsonl"
    code, _, _ = run(["replay", log, "--dead-letter", out], capsys)
    assert code == 0
    rows = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert [(r["reason"].split(":")[0], r["source"].rsplit(":", 1)[1]) for r in rows] == [
        ("bad_json", "8"),
        ("unknown_reservation", "10"),
    ]
    assert rows[0]["raw"] == "{broken"
    assert rows[0]["source"] == f"{log}:8"


def test_summary_on_stderr(log, capsys):
    _, _, err = run(["replay", log], capsys)
    assert "8 events applied, 1 duplicates, 2 dead letters, 4 positions" in err
    assert "events/s" in err


def test_unreadable_file_is_a_clear_error(tmp_path, capsys):
    code, _, err = run(["replay", tmp_path / "missing.jsonl"], capsys)
    assert code == 2
    assert "cannot read the event log" in err


def test_bad_as_of_is_a_clear_error(log, capsys):
    code, _, err = run(["replay", log, "--as-of", "tomorrow"], capsys)
    assert code == 2
    assert "RFC 3339" in err


def test_help_lists_every_command_with_a_line_each():
    """docs/api.md §8: ``omnistock --help`` lists every command with a line each (80 columns)."""
    out = subprocess.run(
        [sys.executable, "-m", "omnistock.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "80"},
    ).stdout
    lines = out.splitlines()
    start = lines.index("  COMMAND") + 1
    listed = lines[start : lines.index("", start)]
    commands = ["replay", "run", "promise", "network", "serve", "demo", "bench"]
    assert [line.split()[0] for line in listed] == commands
    assert all(len(line.split()) > 2 for line in listed)  # each with its help on the line


def test_the_example_log_replays(capsys, tmp_path):
    dead = tmp_path / "dead.jsonl"
    code, rows, _ = run(["replay", EXAMPLE, "--dead-letter", dead], capsys)
    assert code == 0
    assert rows
    assert dead.read_bytes().count(b"\n") >= 1


def test_a_reader_that_leaves_early_ends_the_replay_quietly(tmp_path):
    """``omnistock replay LOG | head -1``: no traceback, the exit code of a broken pipe."""
    path = tmp_path / "many.jsonl"
    path.write_bytes(
        b"\n".join(
            line("receipt", sku=f"SKU{n:06d}", qty=1, event_id=f"e{n}") for n in range(20_000)
        )
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "omnistock.cli", "replay", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline().startswith(b'{"location_id":"S1"')
    process.stdout.close()
    assert process.wait(30) == 141
    errors = process.stderr.read()
    process.stderr.close()
    assert b"Traceback" not in errors


def test_now_applies_the_clock_rule_of_the_live_modes(tmp_path, capsys):
    path = tmp_path / "clock.jsonl"
    path.write_bytes(
        b"\n".join(
            [
                line("receipt", qty=5, event_id="e1", ts=T0),
                line("receipt", qty=7, event_id="e2", ts=T0 + 8 * 86_400_000),  # 8 days ahead
                line("receipt", qty=1, event_id="e1", ts=T0),  # a redelivery of e1
            ]
        )
    )
    dead = tmp_path / "dead.jsonl"
    now = "2026-11-18T11:06:40Z"  # T0
    assert main(["replay", str(path), "--now", now, "--dead-letter", str(dead)]) == 0
    position = orjson.loads(capsys.readouterr().out.splitlines()[0])
    assert position["on_hand"] == 5  # the future receipt refused, the redelivery a duplicate
    (record,) = [orjson.loads(text) for text in dead.read_bytes().splitlines()]
    assert record["reason"].startswith("ts_in_future")
    # Without --now, no limit: the receipt 8 days ahead is applied and moves the 7-day window
    # past e1, so e1's redelivery counts again. What the rule is there to prevent.
    assert main(["replay", str(path)]) == 0
    assert orjson.loads(capsys.readouterr().out.splitlines()[0])["on_hand"] == 5 + 7 + 1


def test_positions_and_reservations_are_written_whole_past_a_batch(tmp_path, capsys):
    """Records are encoded a batch at a time (``replay_cmd._BATCH``): the lines are the
    records' encodings, in order, however many batches they take."""
    many = replay_cmd._BATCH + 7
    lines = [line("receipt", sku=f"K{n}", qty=2, event_id=f"r{n}") for n in range(many)]
    lines += [
        line("reserve", sku=f"K{n}", qty=1, reservation_id=f"R{n}", event_id=f"h{n}")
        for n in range(many)
    ]
    path = tmp_path / "many.jsonl"
    path.write_bytes(b"\n".join(lines))
    out = tmp_path / "res.jsonl"
    assert main(["replay", str(path), "--reservations", str(out)]) == 0
    printed = capsys.readouterr()
    replay = Replay(ledger=True)
    replay.feed(lines)
    replay.finish()
    encode = msgspec.json.Encoder().encode
    assert printed.out.encode() == b"".join(encode(r) + b"\n" for r in replay.records())
    assert out.read_bytes() == b"".join(encode(r) + b"\n" for r in replay.reservations())
    assert f"{many} positions" in printed.err
    # The state outlives the command: the process leaves without freeing it object by object.
    assert replay_cmd._kept[0].applied == 2 * many
