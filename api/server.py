"""The HTTP server's own errors in the API's envelope, and a header timeout.

uvicorn answers what never reaches the app itself: a request line or header it cannot parse,
in plain text. ``Protocol`` is uvicorn's httptools protocol with three changes:

- a request it cannot parse answers 400 ``bad_request`` in the error envelope
  (``{"error": {"code", "message", "details"}}``), as every other error does;
- a URL longer than ``MAX_URL`` bytes answers 414 ``url_too_long``;
- a client must send a request's headers within ``HEADER_TIMEOUT_S`` of connecting, or of the
  request's first byte: otherwise it gets 408 ``header_timeout`` and the connection closes, so
  connections held half-open (slowloris) cannot pile up. An idle keep-alive connection between
  requests is uvicorn's own ``timeout_keep_alive``.

``serve``/``demo`` pass it to uvicorn (``http=Protocol``).
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEADER_TIMEOUT_S: Final = 10.0
MAX_URL: Final = 8192
_REASONS: Final = {400: b"Bad Request", 408: b"Request Timeout", 414: b"URI Too Long"}


class _UrlTooLongError(Exception):
    """Raised from the parser's URL callback to stop it."""


class Protocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, its own errors in the envelope, with a header timeout."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._url_too_long = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._start_header_timer()

    def on_url(self, url: bytes) -> None:
        if len(self.url) + len(url) > MAX_URL:
            self._url_too_long = True
            raise _UrlTooLongError
        super().on_url(url)

    def on_headers_complete(self) -> None:
        self._stop_header_timer()
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        self._stop_header_timer()
        if self._url_too_long:
            self._send_error(414, "url_too_long", f"the URL is longer than {MAX_URL} bytes")
        else:
            self._send_error(400, "bad_request", f"{msg} Check the request line and headers.")

    # -- helpers --------------------------------------------------------------------------

    def _start_header_timer(self) -> None:
        self._stop_header_timer()
        self._header_timer = self.loop.call_later(HEADER_TIMEOUT_S, self._headers_too_slow)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self._send_error(
                408,
                "header_timeout",
                f"the request's headers did not arrive within {HEADER_TIMEOUT_S:g} s",
            )

    def _send_error(self, status: int, code: str, message: str) -> None:
        body = orjson.dumps({"error": {"code": code, "message": message, "details": None}})
        head = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status])]
        for name, value in self.server_state.default_headers:
            head.append(name + b": " + value + b"\r\n")
        head.append(b"content-type: application/json\r\n")
        head.append(b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body))
        self.transport.write(b"".join(head) + body)
        self.transport.close()
