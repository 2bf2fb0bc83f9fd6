"""A modelmint app in this process, on the default embeddings model, with the knowledge
set's documents uploaded and ingested into one vector store: what the knowledge
benchmarks ask and search (the real path: /v1/files, ingestion, /v1/vector_stores)."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from modelmint.api import create_app
from modelmint.core.settings import Settings

SET = Path(__file__).parent / "knowledge_set"
EMBEDDINGS = "all-minilm-l6-v2"


@dataclass
class Ingested:
    http: httpx.AsyncClient
    store_id: str
    file_ids: dict[str, str]  # document name -> file id
    seconds: float  # the ingestion's


def load_questions() -> list[dict]:
    lines = (SET / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@asynccontextmanager
async def ingested(chunking: dict[str, Any] | None = None) -> AsyncIterator[Ingested]:
    data_dir = Path(tempfile.mkdtemp(prefix="knowledge-"))
    app = create_app(Settings(data_dir=data_dir, auth=False, load_models=[EMBEDDINGS],
                              worker=False))  # fmt: skip
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", timeout=600) as http,
    ):
        names = {}
        for path in sorted((SET / "documents").iterdir()):
            upload = {"file": (path.name, path.read_bytes())}
            made = await http.post("/v1/files", files=upload, data={"purpose": "assistants"})
            names[path.name] = made.raise_for_status().json()["id"]
        started = time.perf_counter()
        body: dict[str, Any] = {"file_ids": list(names.values())}
        if chunking:
            body["chunking_strategy"] = chunking
        store = (await http.post("/v1/vector_stores", json=body)).raise_for_status().json()
        while store["status"] != "completed":
            await asyncio.sleep(0.1)
            store = (await http.get(f"/v1/vector_stores/{store['id']}")).json()
        yield Ingested(http, store["id"], names, time.perf_counter() - started)
