"""Knowledge bases, held by the app beside the platform: vector stores, the ingestion of
their files on this replica, the in-memory indexes this replica searches, and search."""

from __future__ import annotations

from modelmint.core.errors import InvalidRequestError, ModelNotFoundError
from modelmint.runtime.registry import Registry
from modelmint.services.ingestion import Ingestion
from modelmint.services.knowledge_search import KnowledgeSearch
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
        self.ingestion = Ingestion(infra.db, infra.vault, infra.keyring, models, platform.metering)
        self.stores = VectorStores(
            infra.db,
            platform.files,
            infra.keyring,
            lambda: _embeddings_model(registry, embedding_model),
            self.ingestion.soon,
        )
        self.indexes = StoreIndexes(infra.db, infra.keyring, cache_chunks)
        self.search = KnowledgeSearch(self.stores, self.indexes, models, platform.metering)

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
