"""Searching vector stores, on the metered path: the query is embedded with each store's
embeddings model (its tokens billed, endpoint `vector_stores`), every store's index is
searched (hybrid BM25 and embeddings, fused by weighted reciprocal rank), and the hits
are merged by score. `search_page` answers `POST /v1/vector_stores/{id}/search`;
`search_stores` serves ask and the responses' file_search tool.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from modelmint.core.errors import InvalidRequestError
from modelmint.core.ids import utcnow
from modelmint.core.types import Usage
from modelmint.knowledge.evidence import language_of
from modelmint.knowledge.filters import FilterError, compile_filter
from modelmint.knowledge.index import Hit, SearchOptions
from modelmint.services.context import Estimate, RequestContext, Used
from modelmint.services.knowledge_schemas import VectorStoreSearch
from modelmint.services.metering import Metering
from modelmint.services.models import Models
from modelmint.services.store_indexes import StoreIndexes
from modelmint.services.vector_stores import VectorStores
from modelmint.store import vector_stores as store_rows
from modelmint.store.vector_stores import VectorStoreRecord

# a store's expiry is counted in days: its last use is written at most once a minute, not
# on every search of a busy store
TOUCH_EVERY = timedelta(minutes=1)


def default_weights(query: str) -> tuple[float, float]:
    """(text weight, embedding weight) when the caller gives none, measured per language
    with benchmarks/knowledge_retrieval.py: the embeddings model reads Chinese poorly."""
    return (3.0, 1.0) if language_of(query) == "zh" else (1.0, 2.0)


@dataclass(frozen=True, slots=True)
class Searched:
    hits: list[Hit]
    tokens: int  # the query's embedded tokens


class KnowledgeSearch:
    def __init__(
        self, stores: VectorStores, indexes: StoreIndexes, models: Models, metering: Metering
    ) -> None:
        self.stores = stores
        self.indexes = indexes
        self.models = models
        self.metering = metering

    async def usable_stores(
        self, context: RequestContext, store_ids: Sequence[str], param: str
    ) -> list[VectorStoreRecord]:
        """The caller's stores by id: a 404 for one that is not theirs, a 400 when expired."""
        return [
            await self.stores.usable(context.account, store_id, param)
            for store_id in dict.fromkeys(store_ids)
        ]

    async def search_stores(
        self,
        context: RequestContext,
        stores: Sequence[VectorStoreRecord],
        queries: Sequence[str],
        options: SearchOptions,
    ) -> Searched:
        """The best chunks of all `stores` for the queries, best first, metered."""
        by_model: dict[str, list[VectorStoreRecord]] = {}
        for store in stores:
            by_model.setdefault(store.embedding_model, []).append(store)
        hits: list[Hit] = []
        tokens = 0
        for model, group in by_model.items():
            vector, used = await self._embedded(context, model, queries, group, options)
            hits += used
            tokens += vector
        hits.sort(key=lambda hit: -hit.score)
        now = utcnow()
        for store in stores:
            if now - store.last_active_at >= TOUCH_EVERY:
                self.stores.db.write_later(store_rows.touch_store, store.id, now)
        return Searched(hits[: options.max_results], tokens)

    async def _embedded(
        self,
        context: RequestContext,
        model: str,
        queries: Sequence[str],
        stores: Sequence[VectorStoreRecord],
        options: SearchOptions,
    ) -> tuple[int, list[Hit]]:
        spec, engine = await self.models.get(context.account, model)
        lengths = await engine.count(list(queries))
        ticket = await self.metering.admit(context.using(spec.name), Estimate(sum(lengths)))
        used = Used()
        async with self.metering.metered(ticket, lambda: used):
            result = await engine.embed(list(queries), lengths)
            used = Used(Usage(result.prompt_tokens, 0))
            vector = np.asarray(result.vectors, dtype=np.float32).mean(axis=0)
            text = " ".join(queries)
            hits = []
            for store in stores:
                index = await self.indexes.index(store)
                hits += index.search(text, vector, options)
        return result.prompt_tokens, hits

    async def search_page(
        self, context: RequestContext, store_id: str, body: VectorStoreSearch
    ) -> dict[str, Any]:
        """OpenAI's `vector_store.search_results.page`."""
        stores = await self.usable_stores(context, [store_id], "vector_store_id")
        queries = body.queries()
        options = search_options(
            " ".join(queries),
            body.max_num_results,
            body.filters,
            body.ranking_options.score_threshold if body.ranking_options else 0.0,
            body.ranking_options.hybrid_search if body.ranking_options else None,
        )
        searched = await self.search_stores(context, stores, queries, options)
        return {
            "object": "vector_store.search_results.page",
            "search_query": queries,
            "data": [result_object(hit) for hit in searched.hits],
            "has_more": False,
            "next_page": None,
        }


def search_options(
    query: str,
    max_results: int,
    filters: dict[str, Any] | None,
    score_threshold: float,
    hybrid: Any | None,
) -> SearchOptions:
    """Search options from OpenAI's fields (`hybrid` has `text_weight` and
    `embedding_weight`); a bad filter is a 400 that says what is wrong with it."""
    try:
        predicate = None if filters is None else compile_filter(filters)
    except FilterError as exc:
        raise InvalidRequestError(f"filters: {exc}", param="filters") from None
    if hybrid is not None:
        if hybrid.text_weight + hybrid.embedding_weight <= 0:
            raise InvalidRequestError(
                "hybrid_search needs a text_weight or an embedding_weight above 0.",
                param="ranking_options.hybrid_search",
            )
        weights = (hybrid.text_weight, hybrid.embedding_weight)
    else:
        weights = default_weights(query)
    return SearchOptions(max_results, score_threshold, weights[0], weights[1], predicate)


def result_object(hit: Hit) -> dict[str, Any]:
    """One search result, as OpenAI's search page shows it."""
    chunk = hit.chunk
    return {
        "file_id": chunk.file_id,
        "filename": chunk.filename,
        "score": round(hit.score, 6),
        "attributes": dict(chunk.attributes),
        "content": [{"type": "text", "text": chunk.text}],
    }
