"""The request body of `POST /v1/responses`: the subset of OpenAI's fields modelmint
serves (text in and out, multi-turn by `previous_response_id` or `conversation`, the
`file_search` tool), each bounded; a field outside it is a 400 that names it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

from modelmint.services.knowledge_schemas import (
    MAX_ASK_STORES,
    Metadata,
    RankingOptions,
)

MAX_INPUT_ITEMS = 200
INCLUDABLE = ("file_search_call.results",)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FileSearchTool(Strict):
    type: Literal["file_search"]
    vector_store_ids: list[Annotated[str, Field(max_length=64)]] = Field(
        min_length=1, max_length=MAX_ASK_STORES
    )
    max_num_results: int = Field(default=10, ge=1, le=50)
    filters: dict[str, Any] | None = None
    ranking_options: RankingOptions | None = None


class ConversationRef(Strict):
    id: str = Field(min_length=1, max_length=64)


class ResponseCreate(Strict):
    model: str = Field(default="default", min_length=1, max_length=256)
    input: str | Annotated[list[dict[str, Any]], Field(min_length=1, max_length=MAX_INPUT_ITEMS)]
    instructions: str | None = Field(default=None, max_length=100_000)
    previous_response_id: str | None = Field(default=None, max_length=64)
    conversation: str | ConversationRef | None = None
    store: StrictBool = True
    stream: StrictBool = False
    tools: list[FileSearchTool] | None = Field(default=None, max_length=1)
    tool_choice: Literal["auto", "none", "required"] = "auto"
    include: list[str] | None = Field(default=None, max_length=10)
    max_output_tokens: int | None = Field(default=None, ge=16, le=1_000_000)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    metadata: Metadata = None
    user: str | None = Field(default=None, max_length=256)
    safety_identifier: str | None = Field(default=None, max_length=256)
    parallel_tool_calls: StrictBool = True
    truncation: Literal["disabled"] = "disabled"

    @field_validator("input")
    @classmethod
    def _text(cls, value: str | list) -> str | list:
        if isinstance(value, str) and not value.strip():
            raise ValueError("input must contain text")
        return value

    @field_validator("include")
    @classmethod
    def _includable(cls, value: list[str] | None) -> list[str] | None:
        for name in value or []:
            if name not in INCLUDABLE:
                raise ValueError(f"include: {name!r} is not available; use {INCLUDABLE[0]!r}")
        return value

    @model_validator(mode="after")
    def _one_thread(self) -> ResponseCreate:
        if self.previous_response_id and self.conversation:
            raise ValueError("pass previous_response_id or conversation, not both")
        return self

    def conversation_id(self) -> str | None:
        if isinstance(self.conversation, ConversationRef):
            return self.conversation.id
        return self.conversation

    def end_user(self) -> str | None:
        return self.safety_identifier or self.user
