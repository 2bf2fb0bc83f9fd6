"""What every batching engine keeps of one generation in flight, whatever its model.

The engine thread owns every field except `cancelled`, which the request's own task sets
when the client goes away (see StepThread.stream). Engines subclass it with their sampler
and their own position bookkeeping.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from modelmint.runtime.bridge import Channel
from modelmint.runtime.engine import Meter, TokenLogprob
from modelmint.runtime.stops import StopMatcher


@dataclass(eq=False, kw_only=True)
class InFlight:
    prompt: list[int]
    max_new_tokens: int
    channel: Channel  # where its events go, on the caller's event loop
    stops: StopMatcher
    logprobs: bool = False
    top_logprobs: int = 0
    prompt_logprobs: bool = False  # score the prompt's tokens (engines that can say so)
    meter: Meter = field(default_factory=Meter)
    cancelled: bool = False
    held_logprobs: list[TokenLogprob] = field(default_factory=list)  # not yet sent
    prompt_scores: list[TokenLogprob] = field(default_factory=list)  # of prompt[1:] so far

    def __post_init__(self) -> None:
        self.meter.prompt_tokens = len(self.prompt)
