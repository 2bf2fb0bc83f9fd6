"""The shapes of the knowledge answers (vector stores, their files and search), as
pydantic models for the OpenAPI document, field for field as `services.vector_stores`
and `services.knowledge_search` build them, following the `openai` SDK's types."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from modelmint.services.responses import Shape

Attributes = dict[str, str | float | bool]


class FileCounts(Shape):
    in_progress: int
    completed: int
    failed: int
    cancelled: int
    total: int


class ExpiresAfter(Shape):
    anchor: Literal["last_active_at"]
    days: int


class VectorStoreObject(Shape):
    id: str
    object: Literal["vector_store"]
    created_at: int = Field(description="Unix seconds")
    name: str
    usage_bytes: int
    file_counts: FileCounts
    status: Literal["expired", "in_progress", "completed"]
    expires_after: ExpiresAfter | None
    expires_at: int | None
    last_active_at: int
    metadata: dict[str, str]


class VectorStoreList(Shape):
    object: Literal["list"]
    data: list[VectorStoreObject]
    first_id: str | None
    last_id: str | None
    has_more: bool


class VectorStoreDeleted(Shape):
    id: str
    object: Literal["vector_store.deleted"]
    deleted: Literal[True]


class LastError(Shape):
    code: Literal["server_error", "unsupported_file", "invalid_file"]
    message: str


class VectorStoreFileObject(Shape):
    id: str = Field(description="The file's id")
    object: Literal["vector_store.file"]
    usage_bytes: int
    created_at: int
    vector_store_id: str
    status: Literal["in_progress", "completed", "cancelled", "failed"]
    last_error: LastError | None
    chunking_strategy: dict[str, Any] = Field(
        description='{"type": "static", "static": {"max_chunk_size_tokens", '
        '"chunk_overlap_tokens"}}'
    )
    attributes: Attributes


class VectorStoreFileList(Shape):
    object: Literal["list"]
    data: list[VectorStoreFileObject]
    first_id: str | None
    last_id: str | None
    has_more: bool


class VectorStoreFileDeleted(Shape):
    id: str
    object: Literal["vector_store.file.deleted"]
    deleted: Literal[True]


class TextContent(Shape):
    type: Literal["text"]
    text: str


class FileContentPage(Shape):
    object: Literal["vector_store.file_content.page"]
    data: list[TextContent]
    has_more: bool
    next_page: None


class SearchResult(Shape):
    file_id: str
    filename: str
    score: float = Field(description="Fused hybrid score in (0, 1]")
    attributes: Attributes
    content: list[TextContent]


class SearchPage(Shape):
    object: Literal["vector_store.search_results.page"]
    search_query: list[str]
    data: list[SearchResult]
    has_more: bool
    next_page: None


class FileBatchObject(Shape):
    id: str
    object: Literal["vector_store.files_batch"]
    created_at: int
    vector_store_id: str
    status: Literal["in_progress", "completed", "cancelled", "failed"]
    file_counts: FileCounts
