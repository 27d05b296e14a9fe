"""Server-Sent Events: the response of ``GET /v1/alerts/stream`` (docs/api.md §6.14).

``AlertStream`` subscribes to the read model's ``AlertLog`` before it sends its headers, so a
client that has the headers misses no alert after them. It then writes each alert the
subscription receives as ``event: alert`` / ``id: N`` / ``data: JSON``, a comment every
``KEEPALIVE_S`` seconds with none (so proxies and clients keep an idle stream open), and
first, with ``Last-Event-ID``, the kept alerts after that id.

It ends when the client disconnects (a task waits on ``receive`` for ``http.disconnect``), when
the client fell too far behind (the log dropped it: a comment says so, and a client reconnects
with ``Last-Event-ID``), or when the server cancels it on shutdown; whichever, it unsubscribes.
"""

from __future__ import annotations

from typing import Final

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from api.alertlog import AlertFilter, AlertLog, Kept, Subscriber

KEEPALIVE_S: Final = 15.0
KEEPALIVE: Final = b": keep-alive\n\n"
DROPPED: Final = b": dropped: this client fell too far behind; reconnect with Last-Event-ID\n\n"


def frame(alert: Kept) -> bytes:
    """One alert as an SSE event (a value holding line breaks takes one ``data:`` per line)."""
    raw = alert.raw
    if b"\n" in raw or b"\r" in raw:
        data = b"".join(b"data: " + line + b"\n" for line in raw.splitlines())
    else:
        data = b"data: " + raw + b"\n"
    return b"event: alert\nid: %d\n%s\n" % (alert.seq, data)


def last_event_id(header: str | None) -> int | None:
    """A ``Last-Event-ID`` this API gave (a sequence number), or ``None`` for anything else."""
    if header is None:
        return None
    text = header.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


class AlertStream(Response):
    """``text/event-stream`` of the alerts matching ``where``, from ``after`` on."""

    media_type = "text/event-stream"

    def __init__(self, log: AlertLog, where: AlertFilter, after: int | None = None) -> None:
        self.log = log
        self.where = where
        self.after = after
        self.status_code = 200
        self.background = None
        # no content-length: the body never ends; no-cache and no proxy buffering (nginx)
        self.init_headers({"cache-control": "no-cache", "x-accel-buffering": "no"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        subscriber, replay = self.log.subscribe(self.where, self.after)
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            async with anyio.create_task_group() as group:
                group.start_soon(_until_disconnect, receive, group.cancel_scope)
                await self._pump(send, subscriber, replay)
                group.cancel_scope.cancel()
        except OSError:  # the client went away while a chunk was being sent
            pass
        finally:
            self.log.unsubscribe(subscriber)

    async def _pump(self, send: Send, subscriber: Subscriber, replay: list[Kept]) -> None:
        if replay:
            subscriber.sent = max(subscriber.sent, replay[-1].seq)
            await _send(send, b"".join(frame(alert) for alert in replay))
        queue = subscriber.queue
        while True:
            first: Kept | None = None
            with anyio.move_on_after(KEEPALIVE_S) as waited:
                first = await queue.get()
            if waited.cancelled_caught:
                await _send(send, KEEPALIVE)
                continue
            batch = [first]
            while not queue.empty():  # what is queued already goes in one write
                batch.append(queue.get_nowait())
            chunks = []
            for alert in batch:
                if alert is None:  # the log dropped this subscriber: its last item
                    chunks.append(DROPPED)
                    await _send(send, b"".join(chunks))
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    return
                if alert.seq > subscriber.sent:
                    subscriber.sent = alert.seq
                    chunks.append(frame(alert))
            if chunks:
                await _send(send, b"".join(chunks))


async def _send(send: Send, body: bytes) -> None:
    await send({"type": "http.response.body", "body": body, "more_body": True})


async def _until_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()
