"""One generation in flight: its tokens, position, sampler and output plumbing.

The scheduler thread owns every field except `cancelled`, which the request's own task
sets when the client goes away.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass, field

from modelmint.runtime.engine import Meter, TokenLogprob
from modelmint.runtime.llamacpp.sampling import SamplerChain
from modelmint.runtime.stops import StopMatcher


@dataclass(eq=False)
class Sequence:
    prompt: list[int]
    max_new_tokens: int
    sampler: SamplerChain
    emit: Callable[[object], None]
    stops: StopMatcher
    logprobs: bool = False
    top_logprobs: int = 0
    meter: Meter = field(default_factory=Meter)
    seq_id: int = -1
    n_past: int = 0
    pending: list[int] = field(default_factory=list)
    generated: int = 0
    cancelled: bool = False
    held_logprobs: list[TokenLogprob] = field(default_factory=list)
    decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace")
    )

    def __post_init__(self) -> None:
        self.pending = list(self.prompt)
        self.meter.prompt_tokens = len(self.prompt)

    @property
    def prefilling(self) -> bool:
        return self.n_past < len(self.prompt)
