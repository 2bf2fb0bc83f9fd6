"""What fits a model: how many new tokens a request may have (what the context leaves after
the prompt), and whether every embeddings input fits its sequence limit."""

from __future__ import annotations

from collections.abc import Sequence

from modelmint.core.errors import ContextLengthExceededError


def max_new_tokens(context_length: int, prompt_tokens: int, asked: int | None) -> int:
    """`asked`, or all the room left when not asked; refused when it does not fit."""
    room = context_length - prompt_tokens
    if asked is None and room > 0:
        return room
    if asked is None or prompt_tokens + asked > context_length:
        raise ContextLengthExceededError(
            f"This model's maximum context length is {context_length} tokens. "
            f"The prompt has {prompt_tokens} tokens and max_tokens asks for "
            f"{asked if asked is not None else 'at least 1'} more. Shorten the prompt "
            "or lower max_tokens.",
            param="max_tokens" if asked is not None else "messages",
        )
    return asked


def check_inputs_fit(lengths: Sequence[int], limit: int) -> None:
    """Refuse, naming the first, an input over `limit` tokens (never truncated silently)."""
    index = next((i for i, n in enumerate(lengths) if n > limit), None)
    if index is not None:
        raise ContextLengthExceededError(
            f"Input {index} has {lengths[index]} tokens; this model accepts at most "
            f"{limit}. Split the text into smaller pieces.",
            param="input",
        )
