"""The request bodies of `/v1/vector_stores` and its files and search, as OpenAI names
them, with OpenAI's bounds: metadata of up to 16 string pairs (keys up to 64 characters,
values up to 512), file attributes the same with numbers and booleans as values, chunks
of 100 to 4096 tokens overlapping by at most half, 1 to 50 search results."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    field_validator,
    model_validator,
)

from modelmint.knowledge.chunking import MAX_MAX_TOKENS, MIN_MAX_TOKENS

MAX_PAIRS = 16
MAX_FILES_PER_REQUEST = 500
MAX_QUERY_CHARS = 10_000
MAX_ASK_STORES = 10
# `auto`: measured on benchmarks/knowledge_set (knowledge_retrieval.py): 400-token chunks
# overlapping by 200 found the evidence in the top 3 for 0.95 of the questions, 800/400
# (OpenAI's auto) and 256/128 for fewer
AUTO_MAX_TOKENS, AUTO_OVERLAP = 400, 200

Attribute = str | float | bool


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def check_pairs(pairs: dict[str, Any] | None, values: tuple[type, ...], what: str) -> None:
    if pairs is None:
        return
    if len(pairs) > MAX_PAIRS:
        raise ValueError(f"{what} holds at most {MAX_PAIRS} pairs; got {len(pairs)}")
    for key, value in pairs.items():
        if len(key) > 64:
            raise ValueError(f"{what} keys are at most 64 characters; {key[:20]!r}... is longer")
        if not isinstance(value, values):
            raise ValueError(f"{what}[{key!r}] must be one of {[v.__name__ for v in values]}")
        if isinstance(value, str) and len(value) > 512:
            raise ValueError(f"{what}[{key!r}] is longer than 512 characters")


def _checked(values: tuple[type, ...], what: str) -> AfterValidator:
    def check(pairs: dict[str, Any] | None) -> dict[str, Any] | None:
        check_pairs(pairs, values, what)
        return pairs

    return AfterValidator(check)


Metadata = Annotated[dict[str, str] | None, _checked((str,), "metadata")]
Attributes = Annotated[dict[str, Attribute] | None, _checked((str, int, float, bool), "attributes")]


class StaticSizes(Strict):
    max_chunk_size_tokens: int = Field(ge=MIN_MAX_TOKENS, le=MAX_MAX_TOKENS)
    chunk_overlap_tokens: int = Field(ge=0)

    @model_validator(mode="after")
    def _overlap_at_most_half(self) -> StaticSizes:
        if self.chunk_overlap_tokens > self.max_chunk_size_tokens // 2:
            raise ValueError(
                "chunk_overlap_tokens must not exceed half of max_chunk_size_tokens "
                f"({self.max_chunk_size_tokens // 2})"
            )
        return self


class StaticStrategy(Strict):
    type: Literal["static"]
    static: StaticSizes


class AutoStrategy(Strict):
    type: Literal["auto"]


Chunking = Annotated[AutoStrategy | StaticStrategy, Field(discriminator="type")]


def static_chunking(strategy: AutoStrategy | StaticStrategy | None) -> dict[str, Any]:
    """The strategy a file is chunked with, as its `chunking_strategy` shows it."""
    if isinstance(strategy, StaticStrategy):
        sizes = strategy.static
    else:
        sizes = StaticSizes(
            max_chunk_size_tokens=AUTO_MAX_TOKENS, chunk_overlap_tokens=AUTO_OVERLAP
        )
    return {"type": "static", "static": sizes.model_dump()}


class ExpiresAfter(Strict):
    anchor: Literal["last_active_at"]
    days: int = Field(ge=1, le=365)


class VectorStoreCreate(Strict):
    name: str | None = Field(default=None, max_length=256)
    description: str | None = Field(default=None, max_length=512)
    file_ids: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list, max_length=MAX_FILES_PER_REQUEST
    )
    chunking_strategy: Chunking | None = None
    expires_after: ExpiresAfter | None = None
    metadata: Metadata = None

    @model_validator(mode="after")
    def _chunking_needs_files(self) -> VectorStoreCreate:
        if self.chunking_strategy is not None and not self.file_ids:
            raise ValueError("chunking_strategy applies to file_ids; pass files with it")
        return self


class VectorStoreUpdate(Strict):
    name: str | None = Field(default=None, max_length=256)
    expires_after: ExpiresAfter | None = None
    metadata: Metadata = None


class VectorStoreFileCreate(Strict):
    file_id: str = Field(min_length=1, max_length=64)
    attributes: Attributes = None
    chunking_strategy: Chunking | None = None


class VectorStoreFileBatchCreate(Strict):
    file_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        min_length=1, max_length=MAX_FILES_PER_REQUEST
    )
    attributes: Attributes = None
    chunking_strategy: Chunking | None = None


class VectorStoreFileUpdate(Strict):
    attributes: Attributes


class HybridSearch(Strict):
    embedding_weight: float = Field(ge=0, le=100)
    text_weight: float = Field(ge=0, le=100)


class RankingOptions(Strict):
    ranker: Literal["none", "auto", "default-2024-11-15"] | None = None
    score_threshold: float = Field(default=0.0, ge=0, le=1)
    hybrid_search: HybridSearch | None = None


class VectorStoreSearch(Strict):
    query: str | Annotated[list[str], Field(min_length=1, max_length=10)]
    max_num_results: int = Field(default=10, ge=1, le=50)
    filters: dict[str, Any] | None = None
    ranking_options: RankingOptions | None = None
    rewrite_query: StrictBool = False

    @field_validator("query")
    @classmethod
    def _query(cls, value: str | list[str]) -> str | list[str]:
        queries = [value] if isinstance(value, str) else value
        if not all(q.strip() for q in queries) or sum(map(len, queries)) > MAX_QUERY_CHARS:
            raise ValueError(f"query must be 1 to {MAX_QUERY_CHARS:,} characters of text")
        return value

    def queries(self) -> list[str]:
        return [self.query] if isinstance(self.query, str) else list(self.query)


class AskRequest(Strict):
    """`POST /v1/ask`: a question, answered from the org's vector stores (all of them, up
    to `MAX_ASK_STORES` most recently used, when none are named)."""

    question: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    vector_store_ids: list[Annotated[str, Field(max_length=64)]] | None = Field(
        default=None, max_length=MAX_ASK_STORES
    )
    conversation: str | None = Field(default=None, min_length=1, max_length=64)
    model: str | None = Field(
        default=None,
        max_length=256,
        description="The chat model that answers when the org has no vector stores.",
    )
    stream: StrictBool = False
    max_num_results: int = Field(default=5, ge=1, le=20)
    user: str | None = Field(default=None, max_length=256)

    @field_validator("question")
    @classmethod
    def _question(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("question must contain text")
        return value
