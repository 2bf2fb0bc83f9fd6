"""Knowledge base speed: ingestion chunks/s through the real path, and search p50/p95 at
10k and 100k chunks next to chromadb (a peer in its own venv, same run, same vectors).

1. Ingestion: a generated bilingual document of --ingest-chunks paragraphs is uploaded
   and ingested (parsed, chunked, BM25 terms, MiniLM embeddings, encrypted, written) by
   an in-process server; then that store is searched over HTTP (query embedding
   included).
2. Scale: for each size, generated chunks (words from a bilingual vocabulary, their BM25
   terms as ingestion stores them, and unit vectors of 384 dimensions, as MiniLM's are)
   are loaded into modelmint's in-memory index (what each replica holds) and into a
   chromadb collection; the same 200 query vectors are searched in both. modelmint
   searches hybrid (BM25 and vectors, fused); chromadb searches vectors (HNSW).

    python benchmarks/knowledge_speed.py --chroma-python /path/to/chroma-venv/bin/python
        [--sizes 10000,100000] [--ingest-chunks 2000] [--runs 3]

Make the peer's venv with: python -m venv V && V/bin/pip install chromadb numpy
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from modelmint.api import create_app
from modelmint.core.settings import Settings
from modelmint.knowledge.index import IndexedChunk, KnowledgeIndex, SearchOptions
from modelmint.knowledge.terms import Terms

PEER = Path(__file__).parent / "peers" / "chroma_peer.py"
DIMENSIONS = 384
QUERIES = 200
HAN = "的一是在人有我他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学"


def vocabulary(rng: random.Random) -> list[str]:
    syllables = ["ka", "lo", "mi", "ren", "tor", "va", "shi", "pen", "dar", "qui", "nel", "bro"]
    english = {"".join(rng.choices(syllables, k=rng.randint(2, 4))) for _ in range(6000)}
    chinese = {"".join(rng.choices(HAN, k=2)) for _ in range(3000)}
    return sorted(english | chinese)


def paragraphs(count: int, words: list[str], rng: random.Random) -> list[str]:
    return [" ".join(rng.choices(words, k=rng.randint(40, 60))) + "." for _ in range(count)]


def percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1]


async def ingestion(count: int, words: list[str], rng: random.Random) -> dict:
    """Chunks/s of ingestion and HTTP search latency on a store of `count` chunks."""
    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="speed-")), auth=False,
                        load_models=["all-minilm-l6-v2"], worker=False)  # fmt: skip
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
    text = "\n\n".join(paragraphs(count, words, rng)).encode()
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", timeout=3600) as http,
    ):
        upload = {"file": ("corpus.md", text)}
        file_id = (await http.post("/v1/files", files=upload,
                                   data={"purpose": "assistants"})).json()["id"]  # fmt: skip
        # one paragraph a chunk: 100-token chunks, no overlap
        sizes = {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 0}
        started = time.perf_counter()
        store = (await http.post("/v1/vector_stores", json={
            "file_ids": [file_id], "chunking_strategy": {"type": "static", "static": sizes},
        })).json()  # fmt: skip
        while store["status"] != "completed":
            await asyncio.sleep(0.2)
            store = (await http.get(f"/v1/vector_stores/{store['id']}")).json()
        seconds = time.perf_counter() - started
        content = f"/v1/vector_stores/{store['id']}/files/{file_id}/content"
        chunks = len((await http.get(content)).json()["data"])
        latencies = []
        for _ in range(50):
            query = " ".join(rng.choices(words, k=3))
            started = time.perf_counter()
            await http.post(f"/v1/vector_stores/{store['id']}/search", json={"query": query})
            latencies.append((time.perf_counter() - started) * 1000)
    return {"chunks": chunks, "seconds": seconds, "search_ms": percentiles(latencies[5:])}


def corpus(size: int, words: list[str], rng: random.Random, terms: Terms):
    texts = paragraphs(size, words, rng)
    vectors = np.random.default_rng(size).standard_normal((size, DIMENSIONS), np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = np.random.default_rng(size + 1).standard_normal((QUERIES, DIMENSIONS), np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    chunks = [IndexedChunk("file", "corpus.md", t, {}, tuple(terms(t))) for t in texts]
    return texts, vectors, queries, chunks


def ours(chunks, vectors, queries, words, rng, terms) -> dict:
    started = time.perf_counter()
    index = KnowledgeIndex(terms, chunks, vectors)
    built = time.perf_counter() - started
    options = SearchOptions(max_results=10)
    latencies = []
    for query in queries:
        text = " ".join(rng.choices(words, k=3))
        started = time.perf_counter()
        index.search(text, query, options)
        latencies.append((time.perf_counter() - started) * 1000)
    return {"build_seconds": built, "search_ms": percentiles(latencies[10:])}


def chroma(python: str, texts, vectors, queries) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".npz", delete=False) as handle:
        np.savez(handle, vectors=vectors, queries=queries, texts=json.dumps(texts))
    done = subprocess.run([python, str(PEER), handle.name], capture_output=True, text=True,
                          check=True)  # fmt: skip
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return {"build_seconds": found["add_seconds"],
            "search_ms": percentiles(found["latencies_ms"][10:])}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--chroma-python", required=True, help="chromadb's venv's python")
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--ingest-chunks", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3, help="search runs per size (medians)")
    args = parser.parse_args(argv)
    rng = random.Random(7)
    words = vocabulary(rng)
    terms = Terms()
    if args.ingest_chunks:
        found = asyncio.run(ingestion(args.ingest_chunks, words, rng))
        p50, p95 = found["search_ms"]
        print(f"ingestion: {found['chunks']} chunks in {found['seconds']:.1f} s = "
              f"{found['chunks'] / found['seconds']:.0f} chunks/s; HTTP search on them "
              f"p50 {p50:.1f} ms, p95 {p95:.1f} ms (query embedding included)")  # fmt: skip
    print(
        "| chunks | modelmint p50 | p95 | chromadb p50 | p95 | p50 ratio | "
        "modelmint build s | chromadb add s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        texts, vectors, queries, chunks = corpus(size, words, rng, terms)
        mine = [ours(chunks, vectors, queries, words, rng, terms) for _ in range(args.runs)]
        peer = [chroma(args.chroma_python, texts, vectors, queries) for _ in range(args.runs)]
        m50 = statistics.median(r["search_ms"][0] for r in mine)
        m95 = statistics.median(r["search_ms"][1] for r in mine)
        c50 = statistics.median(r["search_ms"][0] for r in peer)
        c95 = statistics.median(r["search_ms"][1] for r in peer)
        mb = statistics.median(r["build_seconds"] for r in mine)
        cb = statistics.median(r["build_seconds"] for r in peer)
        print(f"| {size:,} | {m50:.1f} ms | {m95:.1f} ms | {c50:.1f} ms | {c95:.1f} ms "
              f"| {m50 / c50:.2f}x | {mb:.1f} | {cb:.1f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
