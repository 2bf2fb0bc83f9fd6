"""One generation in flight on the transformers engine: its sampler, detokenizer and
generated tokens (the rest is runtime/in_flight.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from modelmint.runtime.hf.detokenize import Detokenizer
from modelmint.runtime.hf.sampling import TorchSampler
from modelmint.runtime.in_flight import InFlight


@dataclass(eq=False, kw_only=True)
class TorchSequence(InFlight):
    sampler: TorchSampler
    detokenizer: Detokenizer
    generated: list[int] = field(default_factory=list)

    @property
    def length(self) -> int:
        """Tokens whose cells it holds or is about to hold (its next position)."""
        return len(self.prompt) + len(self.generated)
