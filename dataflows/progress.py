"""Whether this process's input has caught up: the wall clock may then expire reservations.

Expiry never overtakes the stream (docs/events.md §8.4): while the input is catching up on a
backlog (after a restart, an outage, a burst), reservations expire on event time only, as the
backlog's events reach their books; the wall clock takes over once the input has caught up. A
``fulfil`` made before a hold's expiry and read after it therefore still finds the hold.

The sources report after each poll (``report``); the fold asks ``caught_up`` before it expires
anything on the wall clock. A partition is behind from the start until a poll finds nothing
new and its position at the end of what the broker holds (its high watermark; for the
in-process queue: the queue empty). It falls behind again when it is more than a batch behind.
``caught_up`` covers the partitions this process reads: with several processes, a book fed by
a partition another process reads follows this process's input (docs/architecture.md).
"""

from __future__ import annotations

import threading


class Progress:
    """The catching-up state of each partition this process reads, shared by its workers."""

    def __init__(self) -> None:
        self._behind: dict[str, bool] = {}
        self._lag: dict[str, int | None] = {}
        self._lock = threading.Lock()

    def report(self, part: str, behind: bool, lag: int | None = None) -> None:
        """A source partition's state after a poll, and the messages still after it
        (``None``: unknown)."""
        with self._lock:
            self._behind[part] = behind
            self._lag[part] = lag

    def behind(self, part: str) -> bool:
        """The last state ``part`` reported (behind until it has reported)."""
        return self._behind.get(part, True)

    def lags(self) -> dict[str, int | None]:
        """The messages still after each partition at its last report (``None``: unknown)."""
        with self._lock:
            return dict(self._lag)

    def caught_up(self) -> bool:
        """True once every partition this process reads has caught up (and one has reported)."""
        with self._lock:
            return bool(self._behind) and not any(self._behind.values())

    def replaying(self, backlog: int) -> bool:
        """True while the input is behind by more than ``backlog`` messages in all (or by an
        unknown amount): a restart or an outage reading its backlog, not a live stream a
        batch or two behind."""
        with self._lock:
            if not self._behind or not any(self._behind.values()):
                return not self._behind
            lags = [self._lag.get(part) for part, behind in self._behind.items() if behind]
            return any(lag is None for lag in lags) or sum(lag or 0 for lag in lags) > backlog


def next_state(behind: bool, got: int, batch_size: int, lag: int | None) -> bool:
    """A partition's ``behind`` after a poll that took ``got`` messages, with ``lag`` messages
    still on the broker after them (``None`` while unknown)."""
    if lag is None:
        return True
    if got == 0 and lag <= 0:
        return False
    if lag > batch_size:
        return True
    return behind
