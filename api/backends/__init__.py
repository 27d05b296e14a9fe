"""Where the API's writes go and where its read model comes from.

``Backend`` is the one seam between the routes and the engine: ``embedded`` runs the dataflow
in this process (``omnistock serve`` without ``--bootstrap``, ``omnistock demo``, the tests);
``kafka`` produces to ``omnistock.events`` and reads the topics the dataflow of ``omnistock run``
writes. Either way the dataflow decides, and the read model is fed by what it publishes: the
API never decides a reservation itself; it sends a ``reserve``/``release``/``fulfil`` event and
waits for the outcome.
"""

from __future__ import annotations

from typing import Any, Protocol

import msgspec
from prometheus_client import CollectorRegistry

from api.readmodel import ReadModel
from engine.events import Event
from engine.outputs import Duplicate, Rejected, ReservationChanged


class Pending(msgspec.Struct, frozen=True):
    """A command sent whose outcome did not come within the API's timeout: the engine decides
    it later (docs/api.md §7), and a retry with the same reservation id answers it then."""

    reservation_id: str
    event_id: str


# What a command gets back: the outcome the event caused, the engine's refusal, a duplicate
# (its event_id was applied before: the first answer is in the read model), or ``Pending``.
Answer = ReservationChanged | Rejected | Duplicate | Pending


class Backend(Protocol):
    """The engine as the API sees it."""

    mode: str
    readmodel: ReadModel
    caught_up: bool  # the read model has read what existed at start-up (always in embedded)

    @property
    def dataflow_registry(self) -> CollectorRegistry | None:
        """The dataflow's metrics when it runs in this process (embedded), for ``/metrics``;
        ``None`` when it runs elsewhere (``omnistock run --metrics-port`` serves them)."""

    def start(self) -> bool:
        """Start background work (the in-process dataflow, or the topics' consumer); False
        when it was running already (then whoever started it stops it)."""

    def stop(self) -> None:
        """Stop it; idempotent."""

    def health(self) -> dict[str, Any]:
        """``caught_up`` (bool) and ``lag`` (messages still to read), plus anything useful."""

    async def command(self, raw: bytes, event: Event, timeout_s: float) -> Answer:
        """Send one reservation event and wait for what it caused: ``Pending`` when no answer
        came in ``timeout_s`` (the event was sent: the engine decides it later).

        Raises:
            api.errors.ApiError: 503 ``not_ready`` when it could not be sent.
        """

    async def submit(self, items: list[tuple[int, bytes, Event]]) -> list[tuple[int, Rejected]]:
        """Send valid events in order; returns the engine's refusals when it knows them at
        once (embedded), by the caller's index."""
