"""A small HTTP/1.1 load generator on raw asyncio streams, for both sides of a comparison alike.

It keeps each connection alive, sends one request at a time on it and reads the answer by its
``Content-Length``: light enough on two cores that the server, not the client, is what is measured.
Every loop is bounded by a duration or a count.
"""

from __future__ import annotations

import asyncio
import time


def _request(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _answer(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


async def _connection_loop(
    port: int, request: bytes, deadline: float, latencies: list[float], failures: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(request)
            status = await _answer(reader)
            latencies.append(time.perf_counter() - started)
            if status >= 400:
                failures.append(status)
    finally:
        writer.close()


def throughput(
    port: int, path: str, headers: dict[str, str] | None = None, connections: int = 16, seconds: float = 5.0
) -> tuple[float, list[float]]:
    """Requests per second over ``connections`` keep-alive connections for ``seconds``, and latencies."""
    request = _request(path, headers or {})
    latencies: list[float] = []
    failures: list[int] = []

    async def run() -> float:
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(
            *(_connection_loop(port, request, deadline, latencies, failures) for _ in range(connections))
        )
        return time.perf_counter() - started

    elapsed = asyncio.run(run())
    if failures:
        raise RuntimeError(f"{len(failures)} answers failed under load, e.g. HTTP {failures[0]} on {path}")
    return len(latencies) / elapsed, latencies


def sequential(port: int, path: str, count: int, headers: dict[str, str] | None = None) -> list[float]:
    """``count`` requests one after another on one keep-alive connection: each answer's latency."""
    request = _request(path, headers or {})

    async def run() -> list[float]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        samples = []
        try:
            for _ in range(count):
                started = time.perf_counter()
                writer.write(request)
                await _answer(reader)
                samples.append(time.perf_counter() - started)
        finally:
            writer.close()
        return samples

    return asyncio.run(run())
