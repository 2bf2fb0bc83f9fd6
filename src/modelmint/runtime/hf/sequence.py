"""One generation in flight on the transformers engine.

The scheduler thread owns every field except `cancelled`, which the request's own task
sets when the client goes away.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from modelmint.runtime.bridge import Channel
from modelmint.runtime.engine import Meter, TokenLogprob
from modelmint.runtime.hf.detokenize import Detokenizer
from modelmint.runtime.hf.sampling import TorchSampler
from modelmint.runtime.stops import StopMatcher


@dataclass(eq=False)
class Sequence:
    prompt: list[int]
    max_new_tokens: int
    sampler: TorchSampler
    detokenizer: Detokenizer
    channel: Channel
    stops: StopMatcher
    logprobs: bool = False
    top_logprobs: int = 0
    meter: Meter = field(default_factory=Meter)
    generated: list[int] = field(default_factory=list)
    cancelled: bool = False
    held_logprobs: list[TokenLogprob] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.meter.prompt_tokens = len(self.prompt)

    @property
    def length(self) -> int:
        """Tokens whose cells it holds or is about to hold (its next position)."""
        return len(self.prompt) + len(self.generated)
