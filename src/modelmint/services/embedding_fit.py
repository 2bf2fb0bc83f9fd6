"""Texts made to fit an embeddings model: their token counts, with a text too long for the
model cut until it fits (embedded by its first part; the caller keeps the whole text)."""

from __future__ import annotations

from modelmint.core.errors import ContextLengthExceededError
from modelmint.runtime.engine import Engine


async def fitted_counts(engine: Engine, windows: list[str]) -> list[int]:
    """The texts' token counts. A text too long for the model (a chunk's window the
    estimate sized too long, a very long sentence) is cut in place to its first part that
    fits, halved until it does."""
    try:
        return await engine.count(windows) if windows else []
    except ContextLengthExceededError:
        pass
    lengths = []
    for i, window in enumerate(windows):
        while True:
            try:
                lengths.append((await engine.count([window]))[0])
                break
            except ContextLengthExceededError:
                window = window[: max(1, len(window) // 2)]
                windows[i] = window
    return lengths
