"""The load client of benchmarks/business.py: a lean asyncio HTTP/1.1 client, run in a
process of its own so that it never shares a GIL with the servers it measures.

Each connection is kept alive and sends the same pre-built request: (i) requests/second
at N connections, counted after a warm-up; (ii) one connection's latency, request after
request. `measure` also reads the server's CPU time from /proc around the run.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import statistics
import time
from pathlib import Path

MODEL = "bench"
BODY = json.dumps(
    {"model": MODEL, "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 16}
).encode()


def request_bytes(port: int, path: str, token: str | None) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(BODY)}",
    ]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + BODY


async def exchange(reader, writer, request: bytes) -> tuple[int, bool]:
    """One request on a kept-alive connection: (status, server closes the connection)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status, length, chunked, close = int(head[9:12]), None, False, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value
        elif name == b"connection":
            close = value == b"close"
    if chunked:
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            await reader.readexactly(size + 2)
        await reader.readuntil(b"\r\n")
    elif length is not None:
        await reader.readexactly(length)
    else:
        await reader.read()
        close = True
    return status, close


class Connection:
    def __init__(self, port: int, request: bytes) -> None:
        self.port, self.request, self.streams = port, request, None

    async def send(self) -> int:
        if self.streams is None:
            self.streams = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            status, close = await exchange(*self.streams, self.request)
        except (OSError, asyncio.IncompleteReadError):
            self.close()
            return 0
        if close:
            self.close()
        return status

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


async def throughput(port: int, request: bytes, conns: int, warmup: float, seconds: float):
    """Requests/second at `conns` connections, counting only after the warm-up."""
    start = time.perf_counter()
    begin, end = start + warmup, start + warmup + seconds
    counts = {"ok": 0, "failed": 0, "all": 0}

    async def worker() -> None:
        connection = Connection(port, request)
        while (now := time.perf_counter()) < end:
            status = await connection.send()
            counts["all"] += 1
            if now >= begin:
                counts["ok" if status == 200 else "failed"] += 1
        connection.close()

    await asyncio.gather(*(worker() for _ in range(conns)))
    return counts["ok"] / seconds, counts["failed"], counts["all"]


async def latencies(port: int, request: bytes, count: int) -> tuple[list[float], int]:
    connection, samples, failed = Connection(port, request), [], 0
    for i in range(count + count // 10):  # the first tenth warms up
        started = time.perf_counter()
        status = await connection.send()
        if status != 200:
            failed += 1
        elif i >= count // 10:
            samples.append((time.perf_counter() - started) * 1000)
    connection.close()
    return samples, failed


def client_main(pipe, port: int, path: str, token: str | None, opts: dict) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    request = request_bytes(port, path, token)

    async def run() -> dict:
        rps, failed, total = await throughput(
            port, request, opts["concurrency"], opts["warmup"], opts["seconds"]
        )
        result = {"rps": rps, "failed": failed, "total": total}
        if opts["requests"]:
            samples, bad = await latencies(port, request, opts["requests"])
            result["failed"] += bad
            result["total"] += len(samples) + bad
            enough = len(samples) >= 2
            result["p50"] = statistics.median(samples) if enough else float("nan")
            result["p99"] = statistics.quantiles(samples, n=100)[98] if enough else float("nan")
        return result

    pipe.send(asyncio.run(run()))


def cpu_seconds(session: int) -> float:
    """User + system CPU of every process in a session (a server and its children)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[3]) == session:  # fields[3] is the session id
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def measure(port: int, path: str, token: str | None, opts: dict, session: int) -> dict:
    """One run of the load client; adds the server's CPU milliseconds per request."""
    cpu = cpu_seconds(session)
    result = run_client(port, path, token, opts)
    result["cpu_ms"] = (cpu_seconds(session) - cpu) * 1000 / max(1, result["total"])
    return result


def run_client(port: int, path: str, token: str | None, opts: dict) -> dict:
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    client = context.Process(target=client_main, args=(sender, port, path, token, opts))
    client.start()
    try:
        while not receiver.poll(0.5):
            if not client.is_alive():
                raise RuntimeError("the load client died; see its traceback above")
        return receiver.recv()
    finally:
        if client.is_alive():
            client.terminate()
        client.join()
