"""The shapes of the task endpoints' answers (ask, classify, summarize), as pydantic
models for the OpenAPI document, field for field as the services build them."""

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


class LabelScore(Shape):
    label: str
    score: float


class Classification(Shape):
    index: int
    label: str = Field(description="The label with the highest score")
    scores: list[LabelScore] = Field(description="Every label, best first; they sum to 1")


class ClassificationList(Shape):
    object: Literal["list"]
    model: str
    data: list[Classification]
    usage: TaskUsage


class Summary(Shape):
    id: str
    object: Literal["summary"]
    model: str
    language: Literal["zh", "en"]
    summary: str
    usage: TaskUsage
