"""Stop strings on a stream of text: hold back what might be the start of a stop string.

`feed(piece)` returns the text that is safe to emit and whether a stop string was hit
(in which case the text before it is returned and generation should end).
"""

from __future__ import annotations


class StopMatcher:
    def __init__(self, stops: list[str]) -> None:
        self.stops = [stop for stop in stops if stop]
        self._held = ""
        self._longest = max((len(stop) for stop in self.stops), default=0)

    def feed(self, piece: str) -> tuple[str, bool]:
        if not self.stops:
            return piece, False
        text = self._held + piece
        # the stop that completes first wins, as it would token by token (ties: longer stop)
        hits = [(i + len(stop), i) for stop in self.stops if (i := text.find(stop)) >= 0]
        if hits:
            self._held = ""
            return text[: min(hits)[1]], True
        keep = self._partial_suffix(text)
        self._held = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep], False

    def flush(self) -> str:
        held, self._held = self._held, ""
        return held

    def _partial_suffix(self, text: str) -> int:
        """Length of the longest suffix of `text` that is a proper prefix of a stop."""
        for size in range(min(len(text), self._longest - 1), 0, -1):
            suffix = text[-size:]
            if any(stop.startswith(suffix) for stop in self.stops):
                return size
        return 0
