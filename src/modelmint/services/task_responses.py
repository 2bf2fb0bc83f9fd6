"""The shapes of the task endpoints' answers (ask), as pydantic models for the OpenAPI
document, field for field as the services build them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from modelmint.services.responses import Shape


class TaskUsage(Shape):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: dict[str, int]


class Citation(Shape):
    file_id: str
    filename: str
    text: str = Field(description="The cited chunk")
    score: float = Field(description="The chunk's search score, in (0, 1]")


class AskObject(Shape):
    id: str
    object: Literal["ask"]
    answer: str
    citations: list[Citation] = Field(description="The chunks the answer quotes come first")
    usage: TaskUsage


class AskChunk(Shape):
    id: str
    object: Literal["ask.chunk"]
    delta: str
    citations: list[Citation] | None = Field(default=None, description="In the first chunk")
    finish_reason: Literal["stop"] | None = Field(default=None, description="In the last")
    usage: TaskUsage | None = Field(default=None, description="In the last chunk")
