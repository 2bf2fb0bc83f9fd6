"""The search indexes this replica holds in memory, one per vector store it has searched:
built from the store's chunks in the database (decrypted, with their BM25 terms and
embeddings as stored) and kept while the store's `revision` is unchanged. A store that
changed on any replica is rebuilt on its next search here. The least recently searched
stores are dropped once the indexes together pass `max_chunks` chunks.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from modelmint.knowledge.index import IndexedChunk, KnowledgeIndex
from modelmint.knowledge.preparation import unseal
from modelmint.knowledge.terms import Terms
from modelmint.privacy.crypto import Keyring
from modelmint.store import knowledge_chunks as chunk_rows
from modelmint.store.database import Database
from modelmint.store.knowledge_chunks import StoredChunk
from modelmint.store.vector_stores import VectorStoreRecord


@dataclass(frozen=True, slots=True)
class _Held:
    revision: int
    index: KnowledgeIndex


class StoreIndexes:
    def __init__(self, db: Database, keyring: Keyring, terms: Terms, max_chunks: int) -> None:
        self.db = db
        self.keyring = keyring
        self.max_chunks = max_chunks
        self._held: OrderedDict[str, _Held] = OrderedDict()
        self._building: dict[tuple[str, int], asyncio.Future[KnowledgeIndex]] = {}
        self._cpu = ThreadPoolExecutor(max_workers=1, thread_name_prefix="indexes")
        self.terms = terms

    def close(self) -> None:
        self._cpu.shutdown(wait=False, cancel_futures=True)

    async def index(self, store: VectorStoreRecord) -> KnowledgeIndex:
        """The store's index as of its `revision` (built now if this replica lacks it)."""
        held = self._held.get(store.id)
        if held is not None and held.revision == store.revision:
            self._held.move_to_end(store.id)
            return held.index
        key = (store.id, store.revision)
        building = self._building.get(key)
        if building is None:  # one build per store and revision, however many ask
            building = asyncio.ensure_future(self._build(store))
            self._building[key] = building
            building.add_done_callback(lambda _: self._building.pop(key, None))
        index = await asyncio.shield(building)
        self._keep(store, index)
        return index

    async def _build(self, store: VectorStoreRecord) -> KnowledgeIndex:
        stored = await self.db.read(chunk_rows.read_chunks, store.id)
        terms = self.terms

        def work() -> KnowledgeIndex:
            return build_index(self.keyring, store.id, stored, terms)

        return await asyncio.get_running_loop().run_in_executor(self._cpu, work)

    def _keep(self, store: VectorStoreRecord, index: KnowledgeIndex) -> None:
        held = self._held.get(store.id)
        if held is not None and held.revision > store.revision:
            return
        self._held[store.id] = _Held(store.revision, index)
        self._held.move_to_end(store.id)
        while len(self._held) > 1 and self.held_chunks() > self.max_chunks:
            self._held.popitem(last=False)

    def held_chunks(self) -> int:
        return sum(len(held.index) for held in self._held.values())


def build_index(
    keyring: Keyring, store_id: str, stored: list[StoredChunk], terms: Terms
) -> KnowledgeIndex:
    """A store's index from its stored chunks."""
    chunks = []
    for row in stored:
        text, words = unseal(keyring, store_id, row.key_id, row.content_blob)
        chunks.append(IndexedChunk(row.file_id, row.filename, text, row.attributes or {}, words))
    if stored:
        vectors = np.frombuffer(b"".join(row.embedding for row in stored), dtype="<f4")
        vectors = vectors.reshape(len(stored), -1)
    else:
        vectors = np.zeros((0, 0), np.float32)
    return KnowledgeIndex(terms, chunks, vectors)
