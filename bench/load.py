"""Load generators for the HTTP benchmarks: a minimal keep-alive HTTP/1.1 client on asyncio streams
(so the client leaves the CPU to the service it measures), closed-loop clients, and an open-loop
fixed-rate sender whose latencies count from each request's scheduled start."""

from __future__ import annotations

import asyncio
import time


class Connection:
    """One keep-alive HTTP/1.1 connection: write a request, read status and body (Content-Length)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes) -> None:
        self.reader, self.writer, self.head = reader, writer, head

    @classmethod
    async def open(cls, host: str, port: int, key: str) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        head = f"Host: {host}:{port}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\n"
        return cls(reader, writer, head.encode())

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        self.writer.write(
            b"POST "
            + path.encode()
            + b" HTTP/1.1\r\n"
            + self.head
            + b"Content-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        return int(status_line.split()[1]), await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def closed_loop(
    port: int, key: str, path: str, bodies: list[bytes], per_body: int, clients: int
) -> float:
    queue = iter(bodies)
    failures: list[int] = []

    async def client() -> None:
        conn = await Connection.open("127.0.0.1", port, key)
        try:
            for body in queue:
                status, answer = await conn.post(path, body)
                if status not in (200, 202) or b'"rejected"' in answer:
                    failures.append(status)
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, e.g. status {failures[0]}")
    return len(bodies) * per_body / elapsed


async def fixed_rate(port: int, key: str, bodies: list[bytes], rate: float) -> list[float]:
    """Latencies (s) of single-event POSTs started every 1/rate seconds from a pool of connections."""
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(32):
        pool.put_nowait(await Connection.open("127.0.0.1", port, key))
    latencies: list[float] = []
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.1

    async def one(i: int, body: bytes) -> None:
        scheduled = start + i / rate
        await asyncio.sleep(max(0.0, scheduled - loop.time()))
        conn = await pool.get()
        status, _ = await conn.post("/v1/events", body)
        latencies.append(loop.time() - scheduled)
        pool.put_nowait(conn)
        if status != 202:
            raise SystemExit(f"status {status} at fixed rate")

    await asyncio.gather(*(one(i, b) for i, b in enumerate(bodies)))
    while not pool.empty():
        pool.get_nowait().close()
    return sorted(latencies)


def percentile(sorted_values: list[float], p: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(p / 100 * len(sorted_values)))]
