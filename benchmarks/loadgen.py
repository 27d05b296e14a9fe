"""An open-loop HTTP load generator: requests leave on schedule, whatever the answers do.

Request ``i`` is due at ``start + i / rate``; its latency runs from that due time to the last
byte of its answer, so a slow server is charged for the queue it causes (no coordinated
omission). Connections are kept alive and pooled; a request that finds none idle opens one
(up to ``max_connections``; beyond that it waits, and the wait counts).

The client is a few lines of HTTP/1.1 over asyncio streams instead of httpx: at thousands of
requests per second a general client costs more CPU than the server under test. It reads
``Content-Length`` bodies only (what the API sends).

Reusable: ``run_open_loop(url, rate, duration_s, make_request)`` with a ``make_request(i)``
returning ``(method, path, body or None)``; ``omnistock bench api`` can call it.
"""

from __future__ import annotations

import asyncio
import os
import resource
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from urllib.parse import urlsplit

import numpy as np

Request = tuple[str, str, bytes | None]
MakeRequest = Callable[[int], Request]


@dataclass
class LoadResult:
    """What one run measured. Latencies in milliseconds."""

    sent: int
    duration_s: float
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    cpu_s: float = 0.0  # this process's CPU time over the run

    def percentile(self, p: float) -> float:
        return float(np.percentile(self.latencies_ms, p)) if self.latencies_ms else float("nan")

    def summary(self) -> dict[str, float | int | dict[str, int]]:
        return {
            "requests": self.sent,
            "achieved_per_s": round(self.sent / self.duration_s, 1),
            "p50_ms": round(self.percentile(50), 3),
            "p90_ms": round(self.percentile(90), 3),
            "p99_ms": round(self.percentile(99), 3),
            "max_ms": round(max(self.latencies_ms, default=float("nan")), 3),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "errors": self.errors,
            "error_kinds": self.error_kinds,
            "generator_cpu_share": round(self.cpu_s / self.duration_s, 3),
        }


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def send(self, raw: bytes) -> tuple[int, bytes]:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
                break
        body = await self.reader.readexactly(length) if length else b""
        return status, body


class _Pool:
    def __init__(self, host: str, port: int, max_connections: int) -> None:
        self.host, self.port = host, port
        self.idle: list[_Connection] = []
        self.opened = 0
        self.max_connections = max_connections
        self.freed = asyncio.Condition()

    async def take(self) -> _Connection:
        if self.idle:
            return self.idle.pop()
        if self.opened < self.max_connections:
            self.opened += 1
            reader, writer = await asyncio.open_connection(self.host, self.port)
            return _Connection(reader, writer)
        async with self.freed:
            await self.freed.wait_for(lambda: bool(self.idle))
            return self.idle.pop()

    async def reconnect(self) -> _Connection:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return _Connection(reader, writer)

    async def give(self, connection: _Connection | None) -> None:
        if connection is None:
            self.opened -= 1
        else:
            self.idle.append(connection)
        async with self.freed:
            self.freed.notify()

    def close(self) -> None:
        for connection in self.idle:
            connection.writer.close()


def encode(host: str, method: str, path: str, body: bytes | None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


async def open_loop(
    url: str,
    rate: float,
    duration_s: float,
    make_request: MakeRequest,
    max_connections: int = 512,
    check: Callable[[int, bytes], bool] | None = None,
) -> LoadResult:
    """Send ``rate`` requests per second for ``duration_s`` seconds on schedule.

    Args:
        url: the server's base URL (``http://host:port``).
        rate: requests per second.
        duration_s: how long to send.
        make_request: ``i -> (method, path, body)``.
        max_connections: the most connections open at once.
        check: ``(status, body) -> ok``; a request that fails it counts as an error.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    pool = _Pool(host, port, max_connections)
    total = int(rate * duration_s)
    result = LoadResult(sent=total, duration_s=duration_s)
    latencies = result.latencies_ms
    statuses = result.statuses
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()

    async def one(i: int, due: float) -> None:
        method, path, body = make_request(i)
        raw = encode(host, method, path, body)
        connection = None
        try:
            connection = await pool.take()
            try:
                status, answer = await connection.send(raw)
            except (ConnectionError, asyncio.IncompleteReadError):
                # the server closed an idle kept-alive connection: reconnect once, as clients do
                connection.writer.close()
                connection = await pool.reconnect()
                status, answer = await connection.send(raw)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            result.errors += 1
            kind = type(exc).__name__
            result.error_kinds[kind] = result.error_kinds.get(kind, 0) + 1
            if connection is not None:
                connection.writer.close()
            await pool.give(None)
            return
        latencies.append((perf_counter() - due) * 1000.0)
        statuses[status] = statuses.get(status, 0) + 1
        if check is not None and not check(status, answer):
            result.errors += 1
        await pool.give(connection)

    cpu_start = resource.getrusage(resource.RUSAGE_SELF)
    start = perf_counter() + 0.05
    for i in range(total):
        due = start + i / rate
        delay = due - perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = loop.create_task(one(i, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks)
    cpu_end = resource.getrusage(resource.RUSAGE_SELF)
    result.cpu_s = (cpu_end.ru_utime - cpu_start.ru_utime) + (cpu_end.ru_stime - cpu_start.ru_stime)
    result.duration_s = max(duration_s, perf_counter() - start)
    pool.close()
    return result


def run_open_loop(
    url: str,
    rate: float,
    duration_s: float,
    make_request: MakeRequest,
    max_connections: int = 512,
    check: Callable[[int, bytes], bool] | None = None,
) -> LoadResult:
    """``open_loop`` in a fresh event loop (uvloop when installed)."""
    run = open_loop(url, rate, duration_s, make_request, max_connections, check)
    try:
        import uvloop  # noqa: PLC0415
    except ImportError:
        return asyncio.run(run)
    return uvloop.run(run)


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_peak_rss_mb(pid: int) -> float:
    """The most resident memory a process has held, in MiB (Linux ``VmHWM``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")
