"""Knowledge bases, held by the app beside the platform: vector stores, the ingestion of
their files on this replica, the in-memory indexes this replica searches, search, and
the answers given from them (ask), and the multi-turn endpoints built on them
(conversations, responses with the file_search tool)."""

from __future__ import annotations

from modelmint.core.errors import InvalidRequestError, ModelNotFoundError
from modelmint.knowledge.terms import Terms
from modelmint.runtime.registry import Registry
from modelmint.services.ask import Ask
from modelmint.services.conversations import Conversations
from modelmint.services.file_batches import FileBatches
from modelmint.services.ingestion import Ingestion
from modelmint.services.knowledge_search import KnowledgeSearch
from modelmint.services.model_responses import Responses
from modelmint.services.models import Models
from modelmint.services.platform import Platform
from modelmint.services.store_indexes import StoreIndexes
from modelmint.services.vector_stores import VectorStores


class Knowledge:
    def __init__(
        self,
        platform: Platform,
        models: Models,
        registry: Registry,
        embedding_model: str,
        cache_chunks: int,
    ) -> None:
        infra = platform.infra
        terms = self.terms = Terms()  # one Chinese dictionary per process, loaded on first use
        self.ingestion = Ingestion(
            infra.db, infra.vault, infra.keyring, models, platform.metering, terms
        )
        self.stores = VectorStores(
            infra.db,
            platform.files,
            infra.keyring,
            lambda: _embeddings_model(registry, embedding_model),
            self.ingestion.soon,
        )
        self.batches = FileBatches(self.stores)
        self.indexes = StoreIndexes(infra.db, infra.keyring, terms, cache_chunks)
        self.search = KnowledgeSearch(self.stores, self.indexes, models, platform.metering)
        self.conversations = Conversations(infra.db, infra.keyring)
        self.ask = Ask(self.search, models, platform.metering, terms, self.conversations)
        self.responses = Responses(models, platform.metering, self.conversations, self.ask)

    def start(self) -> None:
        self.ingestion.start()

    async def close(self) -> None:
        await self.ingestion.close()
        self.indexes.close()


def _embeddings_model(registry: Registry, name: str) -> str:
    try:
        return registry.resolve(name).name
    except ModelNotFoundError:
        raise InvalidRequestError(
            f"This server has no embeddings model {name!r} for vector stores; the operator "
            "sets one with MODELMINT_KNOWLEDGE_EMBEDDING_MODEL (see `modelmint models`).",
            code="model_not_found",
        ) from None
