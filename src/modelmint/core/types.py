"""Value types shared by every room: token usage, model references, the caller."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens whose KV cache was reused, not computed

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cached_tokens + other.cached_tokens,
        )

    def to_dict(self) -> dict:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens},
        }


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A model as a caller names it, resolved to its canonical registry name."""

    name: str
    requested_as: str


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling. Without auth, every caller is the local principal."""

    org_id: str = "org_local"
    key_id: str | None = None
    scopes: frozenset[str] = field(default_factory=lambda: frozenset({"inference"}))
    allowed_models: frozenset[str] | None = None

    @classmethod
    def local(cls) -> Principal:
        return cls(scopes=frozenset({"inference", "fine_tune", "admin"}))
