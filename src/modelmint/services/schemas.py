"""OpenAI-shaped request bodies, validated field by field.

Unknown fields are refused (a typo must not be silently ignored); OpenAI fields that
modelmint does not implement are refused by name with what to do instead.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from modelmint.core.errors import InvalidRequestError, UnsupportedParameterError

MAX_STOP = 4
MAX_N = 8


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # OpenAI fields that are accepted by the reference API but not implemented here.
    unsupported_fields: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _refuse_unsupported(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, why in cls.unsupported_fields.items():
                if data.get(name) not in (None, False, [], {}):
                    raise UnsupportedParameterError(
                        f"The parameter {name!r} is not supported: {why}", param=name
                    )
            where = _lone_surrogate(data) if not _encodes_as_json(data) else None
            if where is not None:
                raise InvalidRequestError(
                    f"Invalid value for {where!r}: the text holds an unpaired UTF-16 "
                    "surrogate escape (such as \\ud800); send valid Unicode text.",
                    param=where,
                )
        return data


def _encodes_as_json(data: Any) -> bool:
    """Whether the body is valid UTF-8 as a whole: one C-speed pass, so that only a body
    holding a lone surrogate is walked in Python to name where (a 2 MB schema of 200k
    enum values took 150 ms to walk, on the event loop)."""
    try:
        json.dumps(data, ensure_ascii=False, default=str).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _lone_surrogate(value: Any, path: str = "") -> str | None:
    """Path of the first string holding a lone surrogate (JSON allows them, UTF-8 does not)."""
    if isinstance(value, str):
        return None if _encodes(value) else path
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    else:
        return None
    for key, item in items:
        where = f"{path}.{key}" if path else str(key)
        if not _encodes(str(key)):
            return path or "body"
        found = _lone_surrogate(item, where)
        if found is not None:
            return found
    return None


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class TextPart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None
    name: str | None = Field(default=None, max_length=64)
    refusal: str | None = None

    @model_validator(mode="after")
    def _content_required(self) -> ChatMessage:
        if self.content is None and self.role != "assistant":
            raise ValueError(f"a {self.role} message needs content")
        return self

    def to_template(self) -> dict[str, Any]:
        role = "system" if self.role == "developer" else self.role
        content = self.content
        if isinstance(content, list):
            content = "".join(part.text for part in content)
        return {"role": role, "content": content or ""}


class JsonSchemaFormat(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    description: str | None = None
    schema_: dict[str, Any] = Field(default_factory=dict, alias="schema")
    strict: bool | None = None


class ResponseFormat(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_present(self) -> ResponseFormat:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("response_format of type json_schema needs a json_schema object")
        return self


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    include_usage: bool = False
    include_obfuscation: bool | None = None


Stop = str | Annotated[list[str], Field(max_length=MAX_STOP)] | None


class SamplingFields(StrictModel):
    """Fields shared by chat and text completions (with llama.cpp's extensions)."""

    model: str = Field(min_length=1, max_length=256)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=0, le=1000)
    min_p: float | None = Field(default=None, ge=0.0, le=1.0)
    repeat_penalty: float | None = Field(default=None, gt=0.0, le=10.0)
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    seed: int | None = Field(default=None, ge=-(2**63), le=2**64 - 1)
    stop: Stop = None
    n: int = Field(default=1, ge=1, le=MAX_N)
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = Field(default=None, max_length=256)
    metadata: dict[str, str] | None = None

    @field_validator("stop")
    @classmethod
    def _stop_list(cls, value: Stop) -> Stop:
        if isinstance(value, list) and any(not s for s in value):
            raise ValueError("stop strings must not be empty")
        return value

    def stop_list(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)


class ChatCompletionRequest(SamplingFields):
    unsupported_fields: ClassVar[dict[str, str]] = {
        "tools": "tool calling is not available for these models; describe the tool in "
        "the prompt and use response_format json_schema to get structured arguments.",
        "functions": "function calling is not available; use response_format json_schema.",
        "function_call": "function calling is not available; use response_format json_schema.",
        "logit_bias": "logit_bias is not implemented; use stop or response_format instead.",
        "audio": "this server has no audio models.",
        "prediction": "predicted outputs are not implemented.",
        "web_search_options": "this server cannot search the web.",
    }

    messages: list[ChatMessage] = Field(min_length=1, max_length=1024)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    logprobs: bool = False
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    response_format: ResponseFormat | None = None
    tool_choice: Literal["none"] | None = None
    parallel_tool_calls: bool | None = None
    tools: None = None
    functions: None = None
    function_call: None = None
    logit_bias: None = None
    audio: None = None
    prediction: None = None
    web_search_options: None = None
    modalities: list[Literal["text"]] | None = None
    store: bool | None = None
    service_tier: Literal["auto", "default"] | None = None
    reasoning_effort: None = None

    @model_validator(mode="after")
    def _check(self) -> ChatCompletionRequest:
        if self.top_logprobs and not self.logprobs:
            raise ValueError("top_logprobs needs logprobs set to true")
        if self.max_tokens and self.max_completion_tokens:
            raise ValueError("set max_tokens or max_completion_tokens, not both")
        return self

    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class CompletionRequest(SamplingFields):
    unsupported_fields: ClassVar[dict[str, str]] = {
        "suffix": "insertion (suffix) is not supported by these models; put the text "
        "after the gap into the prompt instead.",
        "logit_bias": "logit_bias is not implemented; use stop instead.",
    }

    prompt: str | list[str] = Field(default="<|endoftext|>")
    max_tokens: int | None = Field(default=16, ge=0, le=1_000_000)  # 0: score with echo
    echo: bool = False
    logprobs: int | None = Field(default=None, ge=0, le=5)
    best_of: int | None = Field(default=None, ge=1, le=1)
    suffix: None = None
    logit_bias: None = None

    @field_validator("prompt")
    @classmethod
    def _prompt_list(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and not value:
            raise ValueError("prompt must not be an empty list")
        if isinstance(value, list) and len(value) > 64:
            raise ValueError("at most 64 prompts per request")
        return value

    @model_validator(mode="after")
    def _nothing_only_with_echo(self) -> CompletionRequest:
        if self.max_tokens == 0 and not self.echo:
            raise InvalidRequestError(
                "max_tokens 0 generates nothing: set echo (with logprobs to score the "
                "prompt) or ask for at least 1 token.",
                param="max_tokens",
            )
        return self

    def prompts(self) -> list[str]:
        return [self.prompt] if isinstance(self.prompt, str) else list(self.prompt)


class EmbeddingRequest(StrictModel):
    model: str = Field(min_length=1, max_length=256)
    input: str | Annotated[list[str], Field(min_length=1, max_length=2048)]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1)
    user: str | None = Field(default=None, max_length=256)

    def inputs(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else list(self.input)


class FineTuningJobCreate(StrictModel):
    """`POST /v1/fine_tuning/jobs`: OpenAI's fields; hyperparameters are numbers or "auto"."""

    unsupported_fields: ClassVar[dict[str, str]] = {
        "integrations": "reporting to Weights & Biases is not available here; follow the "
        "job with GET /v1/fine_tuning/jobs/{id}/events or `modelmint jobs watch`.",
    }

    model: str = Field(min_length=1, max_length=256, description="The base model.")
    training_file: str = Field(min_length=1, max_length=64)
    validation_file: str | None = Field(default=None, min_length=1, max_length=64)
    suffix: str | None = Field(default=None, min_length=1, max_length=64)
    seed: int | None = Field(default=None, ge=0, le=2_147_483_647)
    metadata: dict[str, str] | None = None
    method: dict[str, Any] | None = Field(
        default=None,
        description='{"type": "supervised", "supervised": {"hyperparameters": {"n_epochs", '
        '"batch_size", "learning_rate_multiplier"}}}',
    )
    hyperparameters: dict[str, Any] | None = Field(
        default=None, description="Deprecated by OpenAI in favour of method; still accepted."
    )
    integrations: list[Any] | None = None
