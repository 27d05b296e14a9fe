"""What long-running commands show on the terminal while they work.

- ``DemoStatus``: ``omnistock demo``'s live line (rich) under its banner: events a second,
  positions, holds, alerts, dead letters, the input's lag and the page's address, from the
  in-process dataflow's own figures (``dataflows.metrics.FlowMetrics.figures``). When standard
  output is not a terminal (a log file, a test's pipe) it prints a plain line now and then.
- ``ReadProgress``: a bar of the bytes a big ``omnistock replay`` has read, on standard error
  when that is a terminal. It reads the file's position from another thread (the kernel's
  offset of the file descriptor, a buffer ahead at most): the replay's loop is untouched.
"""

from __future__ import annotations

import os
import stat
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # the replay's progress imports nothing of the dataflow's
    from dataflows.metrics import Figures

PLAIN_EVERY_S = 10.0  # a plain status line this often when not on a terminal
BIG_REPLAY = 64 * 1024 * 1024  # a log at least this big shows its progress


def status_line(now: Figures, before: Figures | None, elapsed_s: float, page: str) -> str:
    """The demo's status as one line of text: events a second since ``before``."""
    rate = 0.0
    if before is not None and elapsed_s > 0:
        rate = max(0, now.events - before.events) / elapsed_s
    queued = f" · {now.lag:,} queued" if now.lag else ""
    return (
        f"{rate:,.0f} events/s · {now.positions:,} positions · {now.holds:,} holds · "
        f"{now.alerts:,} alerts · {now.dead_letters:,} dead letters{queued} · {page}"
    )


class DemoStatus:
    """The demo's live status, in a thread of its own until ``stop``.

    Args:
        figures: the dataflow's totals now (``FlowMetrics.figures``).
        page: the web page's address, shown on the line.
        stream: where it goes (default standard output); a terminal gets a live line.
        every_s: how often a plain line is printed when ``stream`` is not a terminal.
    """

    def __init__(
        self,
        figures: Callable[[], Figures],
        page: str,
        stream: IO[str] | None = None,
        every_s: float = PLAIN_EVERY_S,
    ) -> None:
        self.figures = figures
        self.page = page
        self.stream = stream or sys.stdout
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def live(self) -> bool:
        """Whether the line is drawn live (a terminal) or printed now and then."""
        return self.stream.isatty()

    def start(self) -> None:
        target = self._live if self.live else self._plain
        self._thread = threading.Thread(target=target, name="demo-status", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _live(self) -> None:
        from rich.console import Console  # noqa: PLC0415 - only on a terminal
        from rich.live import Live  # noqa: PLC0415
        from rich.text import Text  # noqa: PLC0415

        console = Console(file=self.stream)
        before, then = self.figures(), time.monotonic()

        def render(line: str) -> Text:
            return Text.assemble(("● ", "bold green"), line)

        with Live(render("starting"), console=console, refresh_per_second=4) as live:
            while not self._stop.wait(1.0):
                now, at = self.figures(), time.monotonic()
                live.update(render(status_line(now, before, at - then, self.page)))
                before, then = now, at

    def _plain(self) -> None:
        before, then = self.figures(), time.monotonic()
        while not self._stop.wait(self.every_s):
            now, at = self.figures(), time.monotonic()
            line = status_line(now, before, at - then, self.page)
            print(f"omnistock demo: {line}", file=self.stream, flush=True)
            before, then = now, at


class ReadProgress:
    """A bar of how much of ``source`` has been read, while the ``with`` block runs; nothing
    unless ``source`` is a regular file of at least ``BIG_REPLAY`` bytes and standard error is
    a terminal."""

    def __init__(self, source: IO[bytes], name: str, minimum: int = BIG_REPLAY) -> None:
        self.source = source
        self.name = name
        self.size = _size(source)
        self.shown = self.size >= minimum and sys.stderr.isatty()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> ReadProgress:
        if self.shown:
            self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        from rich.console import Console  # noqa: PLC0415 - only on a terminal
        from rich.progress import (  # noqa: PLC0415
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        columns: Any = (
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
        )
        fd = self.source.fileno()
        with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task(f"replay {self.name}", total=self.size)
            while not self._stop.wait(0.25):
                try:
                    done = os.lseek(fd, 0, os.SEEK_CUR)
                except OSError:  # closed under us: the replay has finished reading
                    return
                progress.update(task, completed=min(done, self.size))


def _size(source: IO[bytes]) -> int:
    try:
        found = os.fstat(source.fileno())
    except (OSError, ValueError, AttributeError):
        return 0
    return found.st_size if stat.S_ISREG(found.st_mode) else 0
