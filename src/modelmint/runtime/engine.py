"""The `Engine` protocol and the value types that flow through it.

A `GenerationRequest` is measured once (`Engine.measure` tokenizes it and checks it fits:
a `Measured`); generating a `Measured` streams `TextDelta`s followed by one `Finished`,
and keeps the caller's `Meter` current. Many requests may be in flight at once. Errors a
caller can fix (context too long, queue full) are raised before the first event so the
API can answer with a proper status.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from modelmint.core.types import Usage
from modelmint.runtime.admission import AdmissionGate, Reservation

if TYPE_CHECKING:
    import numpy as np

FinishReason = Literal["stop", "length"]
CHAT_MODELS_DO_NOT_EMBED = "This is a chat model; use an embedding model with /v1/embeddings."
EMBEDDING_MODELS_DO_NOT_GENERATE = (
    "This is an embedding model; use /v1/embeddings, or pick a chat model."
)


@dataclass(frozen=True, slots=True)
class SamplingParams:
    max_tokens: int | None = None
    temperature: float = 0.7
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    repeat_penalty: float = 1.0
    logprobs: bool = False
    top_logprobs: int = 0
    prompt_logprobs: bool = False  # each prompt token's, before any new token (llama.cpp)
    json_schema: dict[str, Any] | None = None
    json_object: bool = False


@dataclass(slots=True)
class Meter:
    """What a generation has used so far. The caller makes it and the engine, its only
    writer, keeps it current, so a cancelled request can still be billed for what it
    produced."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    compute_seconds: float = 0.0  # this request's share of the engine's busy time
    cached_tokens: int = 0  # prompt tokens found in the KV cache, not computed again


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """Exactly one of `messages` (chat) or `prompt` (raw completion) is set."""

    params: SamplingParams
    messages: Sequence[Mapping[str, Any]] | None = None
    prompt: str | None = None
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class Measured:
    """A request as its engine will run it: counted once, known to fit the context."""

    request: GenerationRequest
    prompt_tokens: int  # for an upstream engine, a bound its own count cannot pass
    max_new_tokens: int
    prompt_ids: tuple[int, ...] = ()  # the tokens, from engines that tokenize locally


@dataclass(slots=True)
class TopLogprob:
    token: str
    logprob: float
    bytes: list[int]


@dataclass(slots=True)
class TokenLogprob:
    token: str
    logprob: float | None  # None only for a prompt's first token: nothing precedes it
    bytes: list[int]
    top_logprobs: list[TopLogprob] = field(default_factory=list)


@dataclass(slots=True)
class TextDelta:
    text: str
    logprobs: list[TokenLogprob] | None = None


@dataclass(slots=True)
class PromptLogprobs:
    """Every prompt token's log-probability given the tokens before it (the first has
    none), sent once when the prompt is read, before any `TextDelta`."""

    logprobs: list[TokenLogprob]


@dataclass(slots=True)
class Finished:
    reason: FinishReason
    usage: Usage


GenerationEvent = TextDelta | PromptLogprobs | Finished


@dataclass(slots=True)
class Embeddings:
    # one row per text: a float32 numpy array from local engines, lists from remote ones
    vectors: np.ndarray | list[list[float]]
    prompt_tokens: int


@dataclass(slots=True)
class EngineStats:
    running: int = 0
    waiting: int = 0


@runtime_checkable
class Engine(Protocol):
    """What every engine offers. Engines that cannot embed or generate raise."""

    kind: str
    context_length: int
    scores_prompts: bool  # honours SamplingParams.prompt_logprobs
    gate: AdmissionGate  # generation admits through it; `gate.slots` runs at once

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    @property
    def ready(self) -> bool: ...

    def stats(self) -> EngineStats: ...

    def measure(self, request: GenerationRequest) -> Measured:
        """The prompt's tokens and the most new tokens, before generating: what a budget
        must hold. Raises `ContextLengthExceededError` when they do not fit."""
        ...

    def generate(
        self, work: Measured, meter: Meter, reservation: Reservation | None = None
    ) -> AsyncIterator[GenerationEvent]:
        """The events of `work`, keeping `meter` current. `reservation` holds gate slots
        taken together for the choices of one API request (see admission.py)."""
        ...

    async def count(self, texts: Sequence[str], truncate: bool = False) -> list[int]:
        """Each embeddings input's token count, as billed (for a remote engine, a bound
        it cannot exceed). Raises `ContextLengthExceededError` for one that does not fit,
        unless `truncate`: then such an input counts the tokens the model reads of it (its
        first ones), and `embed` reads those."""
        ...

    async def embed(self, texts: Sequence[str], lengths: Sequence[int] | None = None) -> Embeddings:
        """One row per text; `lengths` from `count` spares counting again."""
        ...
