"""One generation in flight on the llama.cpp engine: its KV sequence id, position and sampler
(the rest is runtime/in_flight.py)."""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field

from modelmint.runtime.in_flight import InFlight
from modelmint.runtime.llamacpp.prompt_cache import shared_prefix
from modelmint.runtime.llamacpp.sampling import SamplerChain


@dataclass(eq=False, kw_only=True)
class LlamaSequence(InFlight):
    sampler: SamplerChain
    seq_id: int = -1
    n_past: int = 0
    pending: list[int] = field(default_factory=list)
    decoded: list[int] = field(default_factory=list)  # the tokens whose KV cells it holds
    generated: int = 0
    decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace")
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        self.pending = list(self.prompt)

    def resume_from(self, cached: list[int]) -> int:
        """Start after the longest prefix of the prompt already in this sequence id's cells
        (always leaving one prompt token to decode, for the first logits)."""
        common = shared_prefix(cached, self.prompt[:-1])
        self.n_past = common
        self.decoded = self.prompt[:common]
        self.pending = self.prompt[common:]
        return common

    @property
    def prefilling(self) -> bool:
        return self.n_past < len(self.prompt)
