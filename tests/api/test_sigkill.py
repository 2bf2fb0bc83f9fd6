"""A server killed with SIGKILL mid-traffic loses no completed request from the ledger.

The server runs as its own process (auth and ledger on, SQLite in a temp data dir, the
fake engine). Clients send plain and streamed chats; every request whose response came
back whole is remembered by its x-request-id. After SIGKILL and a restart, each of those
is in the ledger exactly once and the monthly counters agree with the ledger rows.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select

from modelmint.services import admin
from modelmint.store.database import Database
from modelmint.store.tables import usage_counters, usage_ledger
from modelmint.tenancy.secret import load_secret

MODELS = """
[[models]]
name = "fake-chat"
aliases = ["default"]
engine = "fake"
context_length = 512
parallel = 8
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(data_dir: Path, port: int) -> subprocess.Popen:
    command = [
        str(Path(sys.executable).with_name("modelmint")), "serve",
        "--models", str(data_dir / "models.toml"),
        "--data-dir", str(data_dir), "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(process.stderr.read().decode())
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the server did not become ready")


async def one_request(client: httpx.AsyncClient, index: int) -> str | None:
    """The request id if the response came back whole, else None."""
    body = {
        "model": "default",
        "messages": [{"role": "user", "content": f"request {index} " + "word " * 20}],
        "max_tokens": 30,
        "stream": index % 2 == 0,
    }
    try:
        if not body["stream"]:
            response = await client.post("/v1/chat/completions", json=body)
            complete = response.status_code == 200 and "usage" in response.json()
            return response.headers["x-request-id"] if complete else None
        async with client.stream("POST", "/v1/chat/completions", json=body) as response:
            lines = [line async for line in response.aiter_lines()]
            complete = response.status_code == 200 and "data: [DONE]" in lines
            return response.headers["x-request-id"] if complete else None
    except (httpx.HTTPError, KeyError):
        return None


async def traffic(url: str, key: str, process: subprocess.Popen) -> set[str]:
    """Send requests 8 at a time; SIGKILL the server once 60 have completed."""
    completed: set[str] = set()
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as client:

        async def worker(first: int) -> None:
            for index in range(first, 10_000, 8):
                request_id = await one_request(client, index)
                if request_id is None:
                    return  # the server is gone
                completed.add(request_id)
                if len(completed) >= 60 and process.poll() is None:
                    os.kill(process.pid, signal.SIGKILL)

        await asyncio.gather(*(worker(i) for i in range(8)))
    return completed


async def test_completed_requests_survive_sigkill(tmp_path):
    (tmp_path / "models.toml").write_text(MODELS)
    database = Database(f"sqlite:///{tmp_path / 'modelmint.db'}")
    database.migrate()
    secret = load_secret(tmp_path, None)
    org = admin.OrgCreate(name="acme")
    database.run(admin.create_org, org, "test")
    key = database.run(admin.create_key, secret, admin.KeyCreate(org="acme"), "test")["key"]
    database.close()

    port = free_port()
    process = start_server(tmp_path, port)
    try:
        completed = await traffic(f"http://127.0.0.1:{port}", key, process)
    finally:
        process.kill()
        process.wait()
    assert len(completed) >= 60

    restarted = start_server(tmp_path, port)  # recovers the WAL like any restart
    try:
        database = Database(f"sqlite:///{tmp_path / 'modelmint.db'}")
        with database.engine.connect() as connection:
            ids = connection.execute(select(usage_ledger.c.request_id)).scalars().all()
            ledger_tokens = connection.execute(
                select(func.sum(usage_ledger.c.prompt_tokens + usage_ledger.c.completion_tokens))
            ).scalar()
            counted = connection.execute(
                select(func.sum(usage_counters.c.tokens)).where(
                    usage_counters.c.scope_id.like("org_%")
                )
            ).scalar()
        database.close()
    finally:
        restarted.kill()
        restarted.wait()
    assert completed <= set(ids), f"missing from the ledger: {completed - set(ids)}"
    assert len(ids) == len(set(ids))
    assert ledger_tokens == counted  # counters moved in the same transactions as the rows
