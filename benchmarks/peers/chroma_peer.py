"""The chromadb side of benchmarks/knowledge_speed.py, run by chromadb's own Python (a
separate venv): loads the same texts and embeddings into an in-process chromadb
collection (HNSW, cosine), then times queries with the same query embeddings. Prints
JSON: add seconds and query latencies in ms."""

from __future__ import annotations

import json
import sys
import tempfile
import time

import chromadb
import numpy as np

BATCH = 5000


def main(corpus: str) -> None:
    data = np.load(corpus)
    vectors, queries = data["vectors"], data["queries"]
    texts = json.loads(str(data["texts"]))
    client = chromadb.PersistentClient(path=tempfile.mkdtemp(prefix="chroma-"))
    collection = client.create_collection("bench", metadata={"hnsw:space": "cosine"})
    started = time.perf_counter()
    for first in range(0, len(texts), BATCH):
        last = first + BATCH
        collection.add(
            ids=[str(i) for i in range(first, min(last, len(texts)))],
            documents=texts[first:last],
            embeddings=vectors[first:last].tolist(),
        )
    added = time.perf_counter() - started
    latencies = []
    for query in queries:
        started = time.perf_counter()
        collection.query(query_embeddings=[query.tolist()], n_results=10)
        latencies.append((time.perf_counter() - started) * 1000)
    print(json.dumps({"add_seconds": added, "latencies_ms": latencies}))


if __name__ == "__main__":
    main(sys.argv[1])
