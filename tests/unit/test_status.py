"""What long commands show while they work (``omnistock.status``), when nobody watches a
terminal: the demo prints plain lines, a replay prints no bar."""

from __future__ import annotations

import io
import itertools
import threading
import time

from dataflows.metrics import Figures
from omnistock.status import DemoStatus, ReadProgress, status_line

ZERO = Figures(0, 0, 0, 0, 0, 0, 0, 0)


def test_the_status_line_says_the_rate_the_figures_and_the_page():
    now = Figures(
        events=500,
        duplicates=0,
        dead_letters=3,
        positions=1200,
        holds=7,
        alerts=40,
        outcomes=9,
        lag=0,
    )
    line = status_line(now, ZERO, 2.0, "http://127.0.0.1:8000/")
    assert line == (
        "250 events/s · 1,200 positions · 7 holds · 40 alerts · 3 dead letters · "
        "http://127.0.0.1:8000/"
    )
    assert "12 queued" in status_line(now._replace(lag=12), None, 0.0, "p")


class Lines(io.StringIO):
    """A stream that is not a terminal, and says when a line came."""

    def __init__(self) -> None:
        super().__init__()
        self.written = threading.Event()

    def write(self, text: str) -> int:
        self.written.set()
        return super().write(text)


def test_off_a_terminal_the_demo_prints_a_plain_line_now_and_then():
    counter = itertools.count(step=100)
    stream = Lines()
    status = DemoStatus(
        lambda: ZERO._replace(events=next(counter)), "http://h/", stream, every_s=0.01
    )
    assert not status.live
    status.start()
    deadline = time.monotonic() + 10
    while stream.getvalue().count("\n") < 2:
        assert time.monotonic() < deadline, stream.getvalue()
        stream.written.wait(0.1)
    status.stop()
    first = stream.getvalue().splitlines()[0]
    assert first.startswith("omnistock demo: ") and first.endswith(" · http://h/")
    assert "\x1b" not in stream.getvalue()  # no terminal codes in a log


def test_a_replay_off_a_terminal_or_of_a_small_log_shows_no_bar(tmp_path, monkeypatch):
    monkeypatch.setattr("sys.stderr", io.StringIO())  # not a terminal, even under pytest -s
    log = tmp_path / "events.jsonl"
    log.write_bytes(b"{}\n" * 10)
    with log.open("rb") as source, ReadProgress(source, "events.jsonl") as progress:
        assert not progress.shown
    with log.open("rb") as source, ReadProgress(source, "events.jsonl", minimum=1) as progress:
        assert progress.size == 30
        assert not progress.shown
