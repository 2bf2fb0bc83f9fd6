"""The request bodies of the text task endpoints, `/v1/classify` and `/v1/summarize`,
with their bounds."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_INPUTS = 100
MAX_INPUT_CHARS = 10_000
MAX_LABELS = 20
MAX_SUMMARY_CHARS = 200_000

Text = Annotated[str, Field(min_length=1, max_length=MAX_INPUT_CHARS)]
Label = Annotated[str, Field(min_length=1, max_length=100)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClassifyRequest(Strict):
    """Zero-shot with `labels` (and the model that judges them, the default when not
    named), or a trained classifier named by `model` alone."""

    input: Text | Annotated[list[Text], Field(min_length=1, max_length=MAX_INPUTS)]
    labels: list[Label] | None = Field(default=None, min_length=2, max_length=MAX_LABELS)
    model: str | None = Field(default=None, min_length=1, max_length=256)
    method: Literal["auto", "both", "embeddings", "chat", "likelihood"] = Field(
        default="auto",
        description="How labels are scored zero-shot: by embedding similarity, by the chat "
        "model's likelihood of answering each label, by both together, by the language "
        "model's likelihood of the text after each label, or the method measured best "
        "(auto: both).",
    )
    user: str | None = Field(default=None, max_length=256)

    @field_validator("labels")
    @classmethod
    def _distinct(cls, labels: list[str] | None) -> list[str] | None:
        if labels is not None and len({label.strip() for label in labels}) != len(labels):
            raise ValueError("labels must be distinct, and not only white space apart")
        if labels is not None and not all(label.strip() for label in labels):
            raise ValueError("labels must contain text")
        return labels

    @model_validator(mode="after")
    def _labels_or_classifier(self) -> ClassifyRequest:
        if self.labels is None and self.model is None:
            raise ValueError(
                "pass labels (zero-shot: at least two) or the model of a trained classifier"
            )
        return self

    def inputs(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else list(self.input)


class SummarizeRequest(Strict):
    """`input` is the text itself or the id of an uploaded file."""

    input: Annotated[str, Field(min_length=1, max_length=MAX_SUMMARY_CHARS)]
    max_words: int = Field(
        default=80,
        ge=10,
        le=1000,
        description="The summary's length at most: words, or characters for Chinese.",
    )
    language: Literal["auto", "zh", "en"] = "auto"
    model: str | None = Field(default=None, min_length=1, max_length=256)
    user: str | None = Field(default=None, max_length=256)
