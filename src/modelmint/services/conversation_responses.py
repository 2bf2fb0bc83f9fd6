"""The shapes of `/v1/responses` and `/v1/conversations` answers, as pydantic models for
the OpenAPI document, following the `openai` SDK's types for the fields modelmint sends."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from modelmint.services.responses import Shape


class InputText(Shape):
    type: Literal["input_text"]
    text: str


class FileCitation(Shape):
    type: Literal["file_citation"]
    file_id: str
    filename: str
    index: int = Field(description="Where in the text the citation applies")


class OutputText(Shape):
    type: Literal["output_text"]
    text: str
    annotations: list[FileCitation]
    logprobs: list[Any]


class MessageItem(Shape):
    type: Literal["message"]
    id: str
    status: Literal["in_progress", "completed", "incomplete"]
    role: Literal["user", "assistant", "system", "developer"]
    content: list[InputText | OutputText]


class SearchResult(Shape):
    file_id: str
    filename: str
    score: float
    text: str
    attributes: dict[str, str | float | bool]


class FileSearchCall(Shape):
    id: str
    type: Literal["file_search_call"]
    status: Literal["in_progress", "searching", "completed", "incomplete", "failed"]
    queries: list[str]
    results: list[SearchResult] | None = Field(
        description='With include=["file_search_call.results"]'
    )


class InputTokensDetails(Shape):
    cached_tokens: int
    cache_write_tokens: int


class OutputTokensDetails(Shape):
    reasoning_tokens: int


class ResponseUsage(Shape):
    input_tokens: int
    input_tokens_details: InputTokensDetails
    output_tokens: int
    output_tokens_details: OutputTokensDetails
    total_tokens: int


class ConversationRef(Shape):
    id: str


class ResponseObject(Shape):
    id: str
    object: Literal["response"]
    created_at: int
    status: Literal["completed", "incomplete", "in_progress", "failed"]
    background: bool
    error: None
    incomplete_details: dict[str, str] | None
    instructions: str | None
    max_output_tokens: int | None
    model: str
    output: list[MessageItem | FileSearchCall]
    parallel_tool_calls: bool
    previous_response_id: str | None
    conversation: ConversationRef | None
    store: bool
    temperature: float | None
    top_p: float | None
    text: dict[str, Any]
    tool_choice: str
    tools: list[dict[str, Any]]
    truncation: str
    usage: ResponseUsage | None
    user: str | None
    safety_identifier: str | None
    metadata: dict[str, str]


class ResponseEvent(Shape):
    """One event of a streamed response; which fields it has depends on its `type`."""

    type: str
    sequence_number: int
    response: ResponseObject | None = None
    output_index: int | None = None
    item: MessageItem | FileSearchCall | None = None
    item_id: str | None = None
    content_index: int | None = None
    part: OutputText | None = None
    delta: str | None = None
    text: str | None = None
    logprobs: list[Any] | None = None
    annotation_index: int | None = None
    annotation: FileCitation | None = None


class ResponseDeleted(Shape):
    id: str
    object: Literal["response"]
    deleted: Literal[True]


class ItemList(Shape):
    object: Literal["list"]
    data: list[MessageItem]
    first_id: str | None
    last_id: str | None
    has_more: bool


class ConversationObject(Shape):
    id: str
    object: Literal["conversation"]
    created_at: int
    metadata: dict[str, str]


class ConversationDeleted(Shape):
    id: str
    object: Literal["conversation.deleted"]
    deleted: Literal[True]
