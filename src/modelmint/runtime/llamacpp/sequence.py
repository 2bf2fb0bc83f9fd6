"""One generation in flight: its tokens, position, sampler and output plumbing.

The scheduler thread owns every field except `cancelled`, which the request's own task
sets when the client goes away.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field

from modelmint.runtime.bridge import Channel
from modelmint.runtime.engine import Meter, TokenLogprob
from modelmint.runtime.llamacpp.sampling import SamplerChain
from modelmint.runtime.stops import StopMatcher


@dataclass(eq=False)
class Sequence:
    prompt: list[int]
    max_new_tokens: int
    sampler: SamplerChain
    channel: Channel  # where its events go, on the caller's event loop
    stops: StopMatcher
    logprobs: bool = False
    top_logprobs: int = 0
    meter: Meter = field(default_factory=Meter)
    seq_id: int = -1
    n_past: int = 0
    pending: list[int] = field(default_factory=list)
    decoded: list[int] = field(default_factory=list)  # the tokens whose KV cells it holds
    generated: int = 0
    cancelled: bool = False
    held_logprobs: list[TokenLogprob] = field(default_factory=list)
    decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace")
    )

    def __post_init__(self) -> None:
        self.pending = list(self.prompt)
        self.meter.prompt_tokens = len(self.prompt)

    def resume_from(self, cached: list[int]) -> int:
        """Start after the longest prefix of the prompt already in this slot's cells
        (always leaving one prompt token to decode, for the first logits)."""
        common = 0
        for have, want in zip(cached, self.prompt[:-1], strict=False):
            if have != want:
                break
            common += 1
        self.n_past = common
        self.decoded = self.prompt[:common]
        self.pending = self.prompt[common:]
        return common

    @property
    def prefilling(self) -> bool:
        return self.n_past < len(self.prompt)
